//! A wgpu device without a window, and [`Offscreen`]: scene in, image out.

use crate::SceneView;

use crate::RenderError;
use crate::camera::Camera;
use crate::renderer::{RenderOptions, Renderer};
use crate::target::{Image, RenderTarget};

/// A device and queue with no surface, for offscreen rendering.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Adapter name and backend, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)".
    pub adapter: String,
}

impl Gpu {
    /// Opens the best adapter wgpu finds (`WGPU_BACKEND` and friends are honoured).
    /// On machines without a GPU that is Mesa's software Vulkan (lavapipe).
    pub fn headless() -> Result<Self, RenderError> {
        Self::open(None)
    }

    /// Like [`Self::headless`], with exactly `limits` (not raised to the
    /// adapter's): `wgpu::Limits::downlevel_webgl2_defaults()` gives a device
    /// like the browser's WebGL2 fallback, on which the renderer runs its
    /// limited tier ([`crate::Tier`]). A device without storage buffers may be
    /// a downlevel adapter (GL); the limited tier needs nothing more.
    pub fn headless_with(limits: wgpu::Limits) -> Result<Self, RenderError> {
        Self::open(Some(limits))
    }

    fn open(limits: Option<wgpu::Limits>) -> Result<Self, RenderError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance),
            ..Default::default()
        }))
        .map_err(|e| {
            RenderError::NoAdapter(format!(
                "{e}; without a GPU install Mesa's software Vulkan (Debian: apt install mesa-vulkan-drivers)"
            ))
        })?;
        let info = adapter.get_info();
        // The renderer uses what every WebGPU implementation has (texture view
        // formats, sampling multisampled depth, ...); a downlevel adapter (GL)
        // would fail validation, which wgpu turns into a panic.
        let caps = adapter.get_downlevel_capabilities();
        let limited = limits.as_ref().is_some_and(|l| l.max_storage_buffers_per_shader_stage < 2);
        if !caps.is_webgpu_compliant() && !limited {
            let missing = wgpu::DownlevelFlags::compliant() - caps.flags;
            return Err(RenderError::NoAdapter(format!(
                "{} ({:?}) lacks {missing:?}: the renderer needs Vulkan, Metal or DX12 \
                 (without a GPU: Mesa's software Vulkan, Debian: apt install mesa-vulkan-drivers)",
                info.name, info.backend
            )));
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("periscope offscreen"),
            required_limits:
                limits.unwrap_or_else(|| wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits())),
            ..Default::default()
        }))
        .map_err(|e| RenderError::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let adapter = format!("{} ({:?})", info.name, info.backend);
        tracing::debug!(%adapter, "offscreen device ready");
        Ok(Self { device, queue, adapter })
    }
}

/// Renders scenes to images without a window: screenshots, tests, benchmarks.
pub struct Offscreen {
    pub gpu: Gpu,
    pub renderer: Renderer,
    target: Option<RenderTarget>,
}

impl Offscreen {
    /// Opens a headless device and builds the renderer.
    pub fn new(options: RenderOptions) -> Result<Self, RenderError> {
        Ok(Self::with_gpu(Gpu::headless()?, options))
    }

    /// Builds the renderer on `gpu` (e.g. [`Gpu::headless_with`] WebGL2 limits).
    pub fn with_gpu(gpu: Gpu, options: RenderOptions) -> Self {
        let renderer = Renderer::new(&gpu.device, &gpu.queue, options);
        Self { gpu, renderer, target: None }
    }

    fn target(&mut self, width: u32, height: u32) -> Result<&RenderTarget, RenderError> {
        let max = self.gpu.device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(RenderError::Size { width, height, max });
        }
        if self.target.as_ref().is_none_or(|t| (t.width, t.height) != (width, height)) {
            self.target = Some(RenderTarget::new(&self.gpu.device, width, height));
        }
        Ok(self.target.as_ref().expect("just set"))
    }

    /// Syncs with `scene` and draws it from `camera` (without reading it back).
    pub fn draw<'a>(
        &mut self,
        view: impl Into<SceneView<'a>>,
        camera: &Camera,
        width: u32,
        height: u32,
    ) -> Result<(), RenderError> {
        self.renderer.prepare(view);
        self.target(width, height)?;
        let target = self.target.as_ref().expect("created above");
        self.renderer.render(target, camera);
        Ok(())
    }

    /// Draws `scene` and reads the image back.
    pub fn render<'a>(
        &mut self,
        view: impl Into<SceneView<'a>>,
        camera: &Camera,
        width: u32,
        height: u32,
    ) -> Result<Image, RenderError> {
        self.draw(view, camera, width, height)?;
        let image = self.target.as_ref().expect("drawn").read_color(&self.gpu.device, &self.gpu.queue);
        if !self.target.as_ref().is_some_and(RenderTarget::worth_keeping) {
            self.target = None;
        }
        image
    }

    /// The node drawn at pixel (`x`, `y`) seen from `camera`, if any.
    pub fn pick(&mut self, camera: &Camera, x: u32, y: u32) -> Result<Option<periscope_scene::NodeId>, RenderError> {
        let Some(t) = &self.target else { return Ok(None) };
        self.renderer.render_pick(t, camera);
        let id = t.read_id(&self.gpu.device, &self.gpu.queue, x, y)?;
        Ok(self.renderer.node_for_pick(id))
    }

    /// The size of the target kept for the next render, if one is kept.
    pub fn kept_target(&self) -> Option<(u32, u32)> {
        self.target.as_ref().map(|t| (t.width, t.height))
    }

    /// What the last render drew (draw calls, triangles).
    pub fn stats(&self) -> crate::FrameStats {
        self.renderer.stats()
    }

    /// Waits until the GPU finished the submitted work (for benchmarks).
    pub fn wait(&self) -> Result<(), RenderError> {
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| RenderError::Gpu(e.to_string()))
    }

    /// A camera framing every enabled node (the default camera when the scene is empty).
    pub fn fitted_camera(&self) -> Camera {
        let mut cam = Camera::default();
        if let Some((lo, hi)) = self.renderer.display_bounds(None) {
            cam.fit(lo, hi);
        }
        cam
    }
}
