//! Remote-rendered images in the main view, composited with the local scene
//! by depth (`shaders/background.wgsl`). A [`Background`] is an image with the
//! camera it was rendered from and, optionally, its depth (z along the
//! camera's viewing axis, OpenCV convention; 0, inf or NaN = empty). It is
//! drawn twice: at infinity under everything, then (where it has depth) each
//! pixel at its 3D point with its exact depth, so local nodes in front of it
//! hide it and nodes behind it are hidden. When the view has moved since the
//! image was rendered, the grid reprojects it until the next image arrives.

use glam::Mat4;

use crate::camera::{Camera, GL_TO_CV};
use crate::target::{COLOR_FORMAT, MSAA_SAMPLES};

/// Grid cells across the larger side of the image for the far draw (the
/// mapping is projective, so a coarse grid is exact).
const FAR_CELLS: u32 = 16;
/// At most this many grid cells across the larger side for the depth draw;
/// depth is still exact per pixel (the fragment shader reads it), the grid
/// only decides where a moved view sees each part of the image.
const DEPTH_CELLS: u32 = 64;

/// An image for the main view and the camera it was rendered from.
#[derive(Clone, Debug, PartialEq)]
pub struct Background {
    pub width: u32,
    pub height: u32,
    /// RGBA8, sRGB-encoded, rows top to bottom.
    pub rgba: Vec<u8>,
    /// Per pixel, z along the viewing axis in world units (OpenCV); 0, inf or NaN: nothing there.
    pub depth: Option<std::sync::Arc<Vec<f32>>>,
    /// Intrinsics in image pixels.
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    /// The image's camera (OpenCV axes) to display space.
    pub camera_to_display: Mat4,
}

impl Background {
    /// An image rendered from `camera` (display space) at `width` x `height`,
    /// with the intrinsics the viewer sends for that camera.
    pub fn from_camera(camera: &Camera, width: u32, height: u32, rgba: Vec<u8>, depth: Option<Vec<f32>>) -> Self {
        let depth = depth.map(std::sync::Arc::new);
        let fy = 0.5 * height as f32 / (camera.fov_y * 0.5).tan();
        Self {
            width,
            height,
            rgba,
            depth,
            fx: fy,
            fy,
            cx: 0.5 * width as f32,
            cy: 0.5 * height as f32,
            camera_to_display: (GL_TO_CV * camera.view()).inverse(),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BgUniform {
    view_proj: [[f32; 4]; 4],
    cam_to_display: [[f32; 4]; 4],
    intr: [f32; 4],
    size: [f32; 4],
    cells: [f32; 4],
}

/// One uploaded background.
struct GpuBackground {
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    has_depth: bool,
    far_cells: (u32, u32),
    depth_cells: (u32, u32),
    /// Size and intrinsics as uploaded (scaled down when the image is larger
    /// than the device's largest texture).
    size: (u32, u32),
    intr: [f32; 4],
    source: std::sync::Arc<Background>,
}

/// `bg`'s color and depth scaled down (nearest pixel) to fit in `max` texels
/// on a side, with the scale; `None` when it fits as it is.
#[allow(clippy::type_complexity)]
fn fit(bg: &Background, max: u32) -> Option<(u32, u32, Vec<u8>, Option<Vec<f32>>, [f32; 2])> {
    let (w, h) = (bg.width.max(1), bg.height.max(1));
    if w <= max && h <= max {
        return None;
    }
    let s = max as f64 / w.max(h) as f64;
    let (nw, nh) = (((w as f64 * s).floor() as u32).clamp(1, max), ((h as f64 * s).floor() as u32).clamp(1, max));
    // Source pixel of each destination column and row (centre to centre).
    let xs: Vec<usize> =
        (0..nw).map(|x| (((x as f64 + 0.5) * w as f64 / nw as f64) as usize).min(w as usize - 1)).collect();
    let ys: Vec<usize> =
        (0..nh).map(|y| (((y as f64 + 0.5) * h as f64 / nh as f64) as usize).min(h as usize - 1)).collect();
    let mut rgba = Vec::with_capacity(nw as usize * nh as usize * 4);
    for &y in &ys {
        for &x in &xs {
            let i = (y * w as usize + x) * 4;
            rgba.extend_from_slice(bg.rgba.get(i..i + 4).unwrap_or(&[0; 4]));
        }
    }
    let depth = bg.depth.as_ref().map(|d| {
        ys.iter().flat_map(|&y| xs.iter().map(move |&x| d.get(y * w as usize + x).copied().unwrap_or(0.0))).collect()
    });
    tracing::debug!(w, h, nw, nh, max, "remote image scaled down to the device's largest texture");
    Some((nw, nh, rgba, depth, [nw as f32 / w as f32, nh as f32 / h as f32]))
}

/// The pipelines and the uploaded backgrounds.
pub(crate) struct Backgrounds {
    layout: wgpu::BindGroupLayout,
    far: wgpu::RenderPipeline,
    depth: wgpu::RenderPipeline,
    sampler: wgpu::Sampler,
    list: Vec<GpuBackground>,
}

/// Cells across and down for a grid of at most `max` cells on the larger side.
fn cells(width: u32, height: u32, max: u32) -> (u32, u32) {
    let scale = max as f32 / width.max(height).max(1) as f32;
    let f = |n: u32| ((n as f32 * scale).round() as u32).clamp(1, n.max(1));
    (f(width), f(height))
}

impl Backgrounds {
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("periscope background shader"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shaders/background.wgsl").into()),
        });
        let texture_entry = |binding, filterable| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("periscope background"),
            entries: &[
                crate::pipeline::uniform_entry(0),
                texture_entry(1, true),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                texture_entry(3, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("periscope background"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |label: &str, vs: &str, fs: &str| {
            crate::pipeline::build(
                device,
                &crate::pipeline::PipelineDesc {
                    label,
                    layout: &pipeline_layout,
                    shader: &shader,
                    vs,
                    fs,
                    buffers: &[],
                    topology: wgpu::PrimitiveTopology::TriangleList,
                    cull: None,
                    format: COLOR_FORMAT,
                    samples: MSAA_SAMPLES,
                    blend: None,
                    depth_write: true,
                },
            )
        };
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("periscope background"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        Self {
            far: pipeline("periscope background (far)", "vs_far", "fs_far"),
            depth: pipeline("periscope background (depth)", "vs_depth", "fs_depth"),
            layout,
            sampler,
            list: Vec::new(),
        }
    }

    /// Uploads `list` (only images that changed are uploaded again).
    pub(crate) fn set(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, list: &[std::sync::Arc<Background>]) {
        let mut old = std::mem::take(&mut self.list);
        for bg in list {
            if let Some(i) = old.iter().position(|g| std::sync::Arc::ptr_eq(&g.source, bg)) {
                self.list.push(old.swap_remove(i));
                continue;
            }
            self.list.push(self.upload(device, queue, bg));
        }
    }

    fn upload(&self, device: &wgpu::Device, queue: &wgpu::Queue, bg: &std::sync::Arc<Background>) -> GpuBackground {
        let texture = |label, format, w: u32, h: u32, bytes: &[u8], bpp: u32| {
            let size = wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 };
            let t = device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            queue.write_texture(
                t.as_image_copy(),
                bytes,
                wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(w * bpp), rows_per_image: Some(h) },
                size,
            );
            t.create_view(&Default::default())
        };
        let scaled = fit(bg, device.limits().max_texture_dimension_2d);
        let (w, h, rgba, depth_data, scale) = match &scaled {
            Some((w, h, rgba, depth, scale)) => (*w, *h, rgba.as_slice(), depth.as_deref(), *scale),
            None => (
                bg.width.max(1),
                bg.height.max(1),
                bg.rgba.as_slice(),
                bg.depth.as_deref().map(Vec::as_slice),
                [1.0; 2],
            ),
        };
        let color = texture("periscope background color", COLOR_FORMAT, w, h, rgba, 4);
        let (depth, has_depth) = match depth_data {
            Some(d) => {
                let bytes: &[u8] = bytemuck::cast_slice(d);
                (texture("periscope background depth", wgpu::TextureFormat::R32Float, w, h, bytes, 4), true)
            }
            None => (texture("periscope background depth", wgpu::TextureFormat::R32Float, 1, 1, &[0; 4], 4), false),
        };
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("periscope background"),
            size: std::mem::size_of::<BgUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope background"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(&color) },
                wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::Sampler(&self.sampler) },
                wgpu::BindGroupEntry { binding: 3, resource: wgpu::BindingResource::TextureView(&depth) },
            ],
        });
        GpuBackground {
            uniform,
            bind_group,
            has_depth,
            far_cells: cells(w, h, FAR_CELLS),
            // Vertices sit at pixel centres: at most one cell per pixel step.
            depth_cells: cells(w.saturating_sub(1).max(1), h.saturating_sub(1).max(1), DEPTH_CELLS),
            size: (w, h),
            intr: [bg.fx * scale[0], bg.fy * scale[1], bg.cx * scale[0], bg.cy * scale[1]],
            source: std::sync::Arc::clone(bg),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Writes each background's uniform for the view `view_proj` (display
    /// space); call before the pass that [`Self::draw`]s them.
    pub(crate) fn prepare(&self, queue: &wgpu::Queue, view_proj: Mat4) {
        for g in &self.list {
            let u = BgUniform {
                view_proj: view_proj.to_cols_array_2d(),
                cam_to_display: g.source.camera_to_display.to_cols_array_2d(),
                intr: g.intr,
                size: [g.size.0 as f32, g.size.1 as f32, g.far_cells.0 as f32, g.far_cells.1 as f32],
                cells: [g.depth_cells.0 as f32, g.depth_cells.1 as f32, 0.0, 0.0],
            };
            queue.write_buffer(&g.uniform, 0, bytemuck::bytes_of(&u));
        }
    }

    /// Draws every background (far, then with depth); returns the draw calls.
    pub(crate) fn draw(&self, pass: &mut wgpu::RenderPass<'_>) -> u32 {
        let mut draws = 0;
        for g in &self.list {
            pass.set_bind_group(0, &g.bind_group, &[]);
            pass.set_pipeline(&self.far);
            pass.draw(0..g.far_cells.0 * g.far_cells.1 * 6, 0..1);
            draws += 1;
            if g.has_depth {
                pass.set_pipeline(&self.depth);
                pass.draw(0..g.depth_cells.0 * g.depth_cells.1 * 6, 0..1);
                draws += 1;
            }
        }
        draws
    }
}
