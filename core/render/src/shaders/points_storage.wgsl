// Point clouds on the full tier, appended to scene.wgsl: the points are read
// from storage buffers, one plain draw of 6 vertices per point (software
// rasterizers run that in large batches).

// The cloud's points, xyz after xyz, and RGBA8 colors (node.params.z = 1 when
// there are colors); one plain draw of 6 vertices per point.
@group(2) @binding(0) var<storage, read> point_xyz: array<f32>;
@group(2) @binding(1) var<storage, read> point_rgba: array<u32>;

@vertex
fn vs_point(@builtin(vertex_index) vi: u32) -> PointOut {
    let i = vi / 6u;
    let center = vec3<f32>(point_xyz[3u * i], point_xyz[3u * i + 1u], point_xyz[3u * i + 2u]);
    var color = node.color;
    if node.params.z > 0.5 {
        color = unpack4x8unorm(point_rgba[i]);
    }
    return point_vertex(vi % 6u, center, linear(color));
}
