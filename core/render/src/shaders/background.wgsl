// Remote-rendered images in the main view (`background.rs`): an image drawn
// with the camera it was rendered from, composited with the local scene by
// depth. Two draws per image over a grid generated from the vertex index:
//  - far: the whole image as seen from infinitely far (directions only), at
//    the far end of the depth range: a background under everything;
//  - depth: where the image has depth, each pixel at its 3D point, with the
//    exact per-pixel depth written, so local nodes in front hide it and nodes
//    behind are hidden. When the view moves, the grid reprojects the image.

struct Bg {
    // The current view (display space -> clip).
    view_proj: mat4x4<f32>,
    // The image's camera (OpenCV axes: x right, y down, z forward) -> display space.
    cam_to_display: mat4x4<f32>,
    // fx, fy, cx, cy of the image's camera, in image pixels.
    intr: vec4<f32>,
    // Image width, height; far grid cells across, down.
    size: vec4<f32>,
    // Depth grid cells across, down.
    cells: vec4<f32>,
};

@group(0) @binding(0) var<uniform> bg: Bg;
@group(0) @binding(1) var color_tex: texture_2d<f32>;
@group(0) @binding(2) var color_samp: sampler;
@group(0) @binding(3) var depth_tex: texture_2d<f32>;

struct Out {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) valid: f32,
};

// Grid coordinates (0..=1 across the grid) of a vertex: 6 per cell, two triangles.
fn grid_point(vi: u32, grid: vec2<f32>) -> vec2<f32> {
    let cells = vec2<u32>(grid);
    let cell = vi / 6u;
    let k = vi % 6u;
    var dx = array<u32, 6>(0u, 1u, 0u, 0u, 1u, 1u);
    var dy = array<u32, 6>(0u, 0u, 1u, 1u, 0u, 1u);
    let g = vec2<u32>(cell % cells.x + dx[k], cell / cells.x + dy[k]);
    return vec2<f32>(g) / vec2<f32>(cells);
}

// The display-space direction through image pixel `p` (pixel units).
fn ray(p: vec2<f32>) -> vec3<f32> {
    let d = vec3<f32>((p.x - bg.intr.z) / bg.intr.x, (p.y - bg.intr.w) / bg.intr.y, 1.0);
    return (bg.cam_to_display * vec4<f32>(d, 0.0)).xyz;
}

fn at_infinity(p: vec2<f32>) -> vec4<f32> {
    var c = bg.view_proj * vec4<f32>(ray(p), 0.0);
    c.z = c.w * 0.999999;
    return c;
}

fn valid_depth(z: f32) -> bool {
    return z > 0.0 && z < 3.0e38;
}

fn load_depth(p: vec2<f32>) -> f32 {
    let dim = vec2<i32>(textureDimensions(depth_tex));
    let ij = clamp(vec2<i32>(floor(p)), vec2<i32>(0), dim - vec2<i32>(1));
    return textureLoad(depth_tex, ij, 0).r;
}

fn point_at(p: vec2<f32>, z: f32) -> vec4<f32> {
    let c = vec3<f32>((p.x - bg.intr.z) / bg.intr.x * z, (p.y - bg.intr.w) / bg.intr.y * z, z);
    return bg.view_proj * (bg.cam_to_display * vec4<f32>(c, 1.0));
}

@vertex
fn vs_far(@builtin(vertex_index) vi: u32) -> Out {
    let t = grid_point(vi, bg.size.zw);
    let p = t * bg.size.xy;
    return Out(at_infinity(p), t, 1.0);
}

@vertex
fn vs_depth(@builtin(vertex_index) vi: u32) -> Out {
    // Vertices at pixel centres.
    let t = grid_point(vi, bg.cells.xy);
    let p = vec2<f32>(0.5) + t * (bg.size.xy - vec2<f32>(1.0));
    let z = load_depth(p);
    let uv = p / bg.size.xy;
    if valid_depth(z) {
        return Out(point_at(p, z), uv, 1.0);
    }
    return Out(at_infinity(p), uv, 0.0);
}

@fragment
fn fs_far(i: Out) -> @location(0) vec4<f32> {
    return vec4<f32>(textureSampleLevel(color_tex, color_samp, i.uv, 0.0).rgb, 1.0);
}

struct DepthOut {
    @location(0) color: vec4<f32>,
    @builtin(frag_depth) depth: f32,
};

@fragment
fn fs_depth(i: Out) -> DepthOut {
    if i.valid < 0.999 {
        discard;
    }
    // The exact depth of this pixel's own 3D point, from the current view.
    let p = floor(i.uv * bg.size.xy) + vec2<f32>(0.5);
    let z = load_depth(p);
    if !valid_depth(z) {
        discard;
    }
    let c = point_at(p, z);
    let color = textureSampleLevel(color_tex, color_samp, i.uv, 0.0).rgb;
    return DepthOut(vec4<f32>(color, 1.0), clamp(c.z / c.w, 0.0, 1.0));
}
