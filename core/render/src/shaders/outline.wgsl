// The outline of the selected node: a full-screen pass over the resolved
// color target after the scene pass, reading the node's silhouette (its pick
// id, drawn just before into the id texture).

@group(0) @binding(0) var outline_ids: texture_2d<u32>;

// Pixels near (within 2 px) but outside the selected node's silhouette (its
// pick id in `outline_ids`, written just before) get the outline color.
@fragment
fn fs_outline(i: Screen) -> @location(0) vec4<f32> {
    let size = vec2<i32>(textureDimensions(outline_ids));
    let p = vec2<i32>(i.clip.xy);
    if textureLoad(outline_ids, p, 0).x != 0u {
        discard;
    }
    var near = 0.0;
    for (var y = -2; y <= 2; y++) {
        for (var x = -2; x <= 2; x++) {
            let q = clamp(p + vec2<i32>(x, y), vec2<i32>(0), size - vec2<i32>(1));
            if textureLoad(outline_ids, q, 0).x != 0u {
                near = max(near, 1.0 - f32(x * x + y * y) / 9.0);
            }
        }
    }
    if near <= 0.0 {
        discard;
    }
    // Orange, like the selection in the scene tree.
    return vec4<f32>(1.0, 0.45, 0.05, clamp(near * 1.5, 0.0, 1.0));
}

