
// The limited tier's last pass (WebGL2 has no texture views in another
// format): the resolved sRGB image, decoded by the texture fetch, encoded
// again into a plain `Rgba8Unorm` texture, the bytes egui shows.

@group(0) @binding(0) var color_srgb: texture_2d<f32>;

fn encode_srgb(c: vec3<f32>) -> vec3<f32> {
    let lo = c * 12.92;
    let hi = 1.055 * pow(c, vec3<f32>(1.0 / 2.4)) - vec3<f32>(0.055);
    return select(hi, lo, c <= vec3<f32>(0.0031308));
}

@fragment
fn fs_encode(i: Screen) -> @location(0) vec4<f32> {
    let c = textureLoad(color_srgb, vec2<i32>(i.clip.xy), 0);
    return vec4<f32>(encode_srgb(c.rgb), c.a);
}
