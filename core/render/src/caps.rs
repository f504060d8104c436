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
