// Screen-space ambient occlusion: a full-screen pass after the scene pass
// that darkens the resolved image where nearby geometry (in the depth
// buffer, sample 0) is in front of a pixel's surroundings: creases, contact
// with the ground, the inside of a body's arms.

struct Params {
    // x: near plane, y: far plane, z: the projection's y scale, w: target height (pixels).
    proj: vec4<f32>,
    // x: radius (display units), y: strength (0..1), z: depth difference that still counts (display units), w: unused.
    ao: vec4<f32>,
};

@group(0) @binding(0) var depth_ms: texture_depth_multisampled_2d;
@group(0) @binding(1) var<uniform> params: Params;

// Distance from the eye along the view axis for a depth-buffer value (0..1,
// perspective, wgpu's range).
fn linear_depth(d: f32) -> f32 {
    let n = params.proj.x;
    let f = params.proj.y;
    return n * f / (f - d * (f - n));
}

// Linear depth change per pixel along `step` around `p`.
fn slope(p: vec2<i32>, z: f32, step: vec2<i32>, size: vec2<i32>) -> f32 {
    let a = linear_depth(textureLoad(depth_ms, clamp(p + step, vec2<i32>(0), size - vec2<i32>(1)), 0)) - z;
    let b = z - linear_depth(textureLoad(depth_ms, clamp(p - step, vec2<i32>(0), size - vec2<i32>(1)), 0));
    return select(b, a, abs(a) < abs(b));
}

@fragment
fn fs_ssao(i: Screen) -> @location(0) vec4<f32> {
    let size = vec2<i32>(textureDimensions(depth_ms));
    let p = vec2<i32>(i.clip.xy);
    let d = textureLoad(depth_ms, p, 0);
    if d >= 1.0 {
        return vec4<f32>(1.0);
    }
    let z = linear_depth(d);
    // The radius in pixels at this depth.
    let r = params.ao.x * params.proj.z * 0.5 * params.proj.w / z;
    if r < 1.0 {
        return vec4<f32>(1.0);
    }
    // The surface's slope in screen space (the smaller of the one-sided
    // differences, so a silhouette next to the pixel does not count): a
    // sample is an occluder only if it is in front of that plane, so flat
    // surfaces seen at a grazing angle stay unoccluded.
    let gx = slope(p, z, vec2<i32>(1, 0), size);
    let gy = slope(p, z, vec2<i32>(0, 1), size);
    var occlusion = 0.0;
    let n = 16;
    for (var k = 0; k < n; k++) {
        // A spiral: angles spread by the golden angle, radii growing.
        let t = (f32(k) + 0.5) / f32(n);
        let a = f32(k) * 2.39996 + f32((p.x * 7 + p.y * 13) % 8) * 0.785;
        let q = clamp(p + vec2<i32>(vec2<f32>(cos(a), sin(a)) * r * t), vec2<i32>(0), size - vec2<i32>(1));
        let zs = linear_depth(textureLoad(depth_ms, q, 0));
        let off = vec2<f32>(q - p);
        let dz = z + gx * off.x + gy * off.y - zs;
        // In front of the pixel by more than a bias, and not so far in front
        // that it is a different object (range check).
        if dz > 0.02 * params.ao.x && dz < params.ao.z {
            occlusion += 1.0 - dz / params.ao.z;
        }
    }
    let ao = 1.0 - params.ao.y * occlusion / f32(n);
    return vec4<f32>(ao, ao, ao, 1.0);
}
