// Point clouds on the limited tier (WebGL2: no storage buffers), appended to
// scene.wgsl: one instance per point, its position and RGBA8 color as
// per-instance vertex attributes, 6 vertices (two triangles) per instance.

@vertex
fn vs_point_instanced(
    @builtin(vertex_index) vi: u32,
    @location(0) center: vec3<f32>,
    @location(1) rgba: vec4<f32>,
) -> PointOut {
    return point_vertex(vi % 6u, center, linear(rgba));
}

// A cloud without colors of its own: the node's color.
@vertex
fn vs_point_instanced_plain(@builtin(vertex_index) vi: u32, @location(0) center: vec3<f32>) -> PointOut {
    return point_vertex(vi % 6u, center, linear(node.color));
}
