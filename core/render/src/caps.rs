//! What the device can do: the renderer runs on full WebGPU/Vulkan/Metal
//! devices ([`Tier::Full`]) and on WebGL2-class ones ([`Tier::Limited`]: the
//! browser's fallback, wgpu's `Limits::downlevel_webgl2_defaults()`). The tier
//! is read from the device once, when the [`crate::Renderer`] (or a
//! [`crate::RenderTarget`]) is made; nothing a limited device cannot do is
//! ever created on it, and a look option it cannot draw is skipped.

/// How much of the renderer a device runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// WebGPU, Vulkan, Metal, DX12: storage buffers, texture views in other
    /// formats, multisampled depth the shaders read, depth read back.
    Full,
    /// WebGL2-class (wgpu's GL backend, or a device without storage buffers
    /// in the vertex stage): point clouds drawn from instanced vertex
    /// buffers, no ambient occlusion, no depth under the picked pixel,
    /// textures at most [`Capabilities::max_texture`] on a side.
    Limited,
}

impl Tier {
    /// The tier of `device`: limited on the GL backend (WebGL2 in the browser,
    /// whose downlevel flags lack texture view formats, multisampled depth
    /// sampling and depth copies) and wherever the vertex stage has fewer than
    /// two storage buffers (the point clouds' full path needs two).
    pub fn of(device: &wgpu::Device) -> Self {
        let gl = device.adapter_info().backend == wgpu::Backend::Gl;
        if gl || device.limits().max_storage_buffers_per_shader_stage < 2 { Tier::Limited } else { Tier::Full }
    }
}

/// Why an effect is off on the limited tier (shown as hover text in the Look menu).
pub const NO_SSAO: &str =
    "Ambient occlusion reads the multisampled depth buffer in a shader: WebGPU or native only, not WebGL2";
/// Why the depth under a clicked pixel is unknown on the limited tier.
pub const NO_PICK_DEPTH: &str = "WebGL2 cannot copy a depth buffer back: the clicked point is not known";

/// What the renderer can draw on a device, and for what it cannot, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub tier: Tier,
    /// Shadows from the key light (a depth map sampled with comparisons).
    pub shadows: Result<(), &'static str>,
    /// Screen-space ambient occlusion.
    pub ssao: Result<(), &'static str>,
    /// The selection outline (node ids drawn into an integer texture).
    pub outline: Result<(), &'static str>,
    /// The depth under a picked pixel ([`crate::RenderTarget::read_pick_depth`]).
    pub pick_depth: Result<(), &'static str>,
    /// Largest texture side: render targets, the shadow map and remote images
    /// are clamped (or scaled down) to it.
    pub max_texture: u32,
    /// Side of the shadow map in texels (2048, or less where textures are smaller).
    pub shadow_map: u32,
}

/// Side of the shadow map when the device allows it.
pub(crate) const SHADOW_SIZE: u32 = 2048;

impl Capabilities {
    /// What `device` supports.
    pub fn of(device: &wgpu::Device) -> Self {
        let tier = Tier::of(device);
        let max_texture = device.limits().max_texture_dimension_2d;
        let limited = tier == Tier::Limited;
        Self {
            tier,
            shadows: Ok(()),
            ssao: if limited { Err(NO_SSAO) } else { Ok(()) },
            outline: Ok(()),
            pick_depth: if limited { Err(NO_PICK_DEPTH) } else { Ok(()) },
            max_texture,
            shadow_map: SHADOW_SIZE.min(max_texture),
        }
    }

    /// `options` with what this device cannot draw switched off (what the
    /// renderer actually draws).
    pub fn effective(&self, options: &crate::RenderOptions) -> crate::RenderOptions {
        let mut o = options.clone();
        o.shadows &= self.shadows.is_ok();
        o.ssao &= self.ssao.is_ok();
        o.outline &= self.outline.is_ok();
        o
    }
}

/// WGSL sources of every pipeline the limited tier builds, with the entry
/// points it uses (for the GLSL ES check below).
#[cfg(test)]
pub(crate) fn limited_shaders() -> Vec<(String, Vec<(naga::ShaderStage, &'static str)>)> {
    use naga::ShaderStage::{Fragment as F, Vertex as V};
    let screen = include_str!("shaders/screen.wgsl");
    vec![
        (
            crate::renderer::scene_shader(Tier::Limited),
            vec![
                (V, "vs_mesh"),
                (V, "vs_edges"),
                (V, "vs_sphere"),
                (V, "vs_tube"),
                (V, "vs_line"),
                (V, "vs_point_instanced"),
                (V, "vs_point_instanced_plain"),
                (F, "fs_lit"),
                (F, "fs_pick"),
                (F, "fs_flat"),
                (F, "fs_grid"),
                (F, "fs_ground"),
                (F, "fs_point"),
                (F, "fs_point_pick"),
            ],
        ),
        (format!("{screen}{}", include_str!("shaders/outline.wgsl")), vec![(V, "vs_screen"), (F, "fs_outline")]),
        (format!("{screen}{}", include_str!("shaders/encode.wgsl")), vec![(V, "vs_screen"), (F, "fs_encode")]),
        (
            include_str!("shaders/background.wgsl").to_string(),
            vec![(V, "vs_far"), (V, "vs_depth"), (F, "fs_far"), (F, "fs_depth")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WebGL2's shading language, as wgpu's GL backend writes it in the browser.
    fn to_webgl2(source: &str, stage: naga::ShaderStage, entry: &str) -> Result<String, String> {
        use naga::back::glsl;
        let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
        let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .map_err(|e| format!("{e:?}"))?;
        let options = glsl::Options {
            version: glsl::Version::Embedded { version: 300, is_webgl: true },
            writer_flags: glsl::WriterFlags::ADJUST_COORDINATE_SPACE | glsl::WriterFlags::FORCE_POINT_SIZE,
            ..Default::default()
        };
        let pipeline = glsl::PipelineOptions { shader_stage: stage, entry_point: entry.into(), multiview: None };
        let mut out = String::new();
        let policies = naga::proc::BoundsCheckPolicies::default();
        glsl::Writer::new(&mut out, &module, &info, &options, &pipeline, policies)
            .and_then(|mut w| w.write())
            .map_err(|e| format!("{e:?}"))?;
        Ok(out)
    }

    #[test]
    fn the_limited_tier_shaders_translate_to_webgl2_glsl() {
        for (source, entries) in limited_shaders() {
            assert!(!source.contains("var<storage"), "a limited-tier shader declares a storage buffer");
            for (stage, entry) in entries {
                let glsl = to_webgl2(&source, stage, entry).unwrap_or_else(|e| panic!("{entry}: {e}"));
                assert!(glsl.starts_with("#version 300 es"), "{entry}: {}", &glsl[..40.min(glsl.len())]);
                assert!(!glsl.contains(" buffer "), "{entry} uses a storage buffer:\n{glsl}");
            }
        }
    }

    #[test]
    fn the_full_tier_point_shader_would_not_run_on_webgl2() {
        // The reason the limited tier has its own point path: the storage
        // buffers do not exist in GLSL ES 3.0.
        let source = crate::renderer::scene_shader(Tier::Full);
        let glsl = to_webgl2(&source, naga::ShaderStage::Vertex, "vs_point");
        assert!(glsl.is_err() || glsl.as_deref().is_ok_and(|g| g.contains("buffer")), "{glsl:?}");
    }
}
