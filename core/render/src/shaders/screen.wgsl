// The full-screen triangle both overlay passes (outline.wgsl, ssao.wgsl)
// draw; prepended to each.

struct Screen {
    @builtin(position) clip: vec4<f32>,
};

@vertex
fn vs_screen(@builtin(vertex_index) vi: u32) -> Screen {
    // One triangle covering the target.
    let xy = vec2<f32>(f32((vi << 1u) & 2u), f32(vi & 2u)) * 2.0 - vec2<f32>(1.0);
    var o: Screen;
    o.clip = vec4<f32>(xy, 0.0, 1.0);
    return o;
}
