//! What the renderer draws into: a color texture (sRGB), a node-id texture
//! for picking and a depth buffer; plus reading them back to the CPU.

use std::path::Path;

use crate::RenderError;

/// Color format of the target. Stored bytes are sRGB-encoded, ready for PNG.
pub const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
/// The same bytes viewed without sRGB decoding: what egui expects to sample.
pub const COLOR_FORMAT_LINEAR_VIEW: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
pub const ID_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R32Uint;
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Multisampling of the color pass. WebGPU guarantees 4x for these formats.
pub const MSAA_SAMPLES: u32 = 4;

/// An RGBA8 image read back from the GPU (sRGB-encoded, rows top to bottom).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Image {
    /// The pixel at (`x`, `y`), `x` to the right and `y` down from the top left.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2], self.rgba[i + 3]]
    }

    /// PNG-encodes the image.
    pub fn encode_png(&self) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
            let mut w = enc.write_header().map_err(|e| RenderError::Png(e.to_string()))?;
            w.write_image_data(&self.rgba).map_err(|e| RenderError::Png(e.to_string()))?;
        }
        Ok(out)
    }

    /// Writes the image as a PNG file, creating the parent directory.
    pub fn save_png(&self, path: &Path) -> Result<(), RenderError> {
        let bytes = self.encode_png()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| RenderError::Io(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, bytes).map_err(|e| RenderError::Io(format!("{}: {e}", path.display())))
    }
}

/// Textures the renderer draws into: a multisampled color pass resolved into
/// `color`, and a single-sampled pick pass (node ids) drawn only when picking.
pub struct RenderTarget {
    pub color: wgpu::Texture,
    pub color_view: wgpu::TextureView,
    /// `color`'s bytes as plain `Rgba8Unorm`, for showing them through egui: a
    /// view of `color` on the full tier, a separate texture the renderer
    /// copies the image into on the limited tier (WebGL2 has no view formats).
    pub color_view_linear: wgpu::TextureView,
    /// The device's tier when the target was made.
    pub tier: crate::Tier,
    pub msaa_view: wgpu::TextureView,
    pub depth_view: wgpu::TextureView,
    pub id: wgpu::Texture,
    pub id_view: wgpu::TextureView,
    pub pick_depth_view: wgpu::TextureView,
    pick_depth: wgpu::Texture,
    pub width: u32,
    pub height: u32,
}

impl RenderTarget {
    /// Largest target kept between renders (4096 x 2048 pixels, ~300 MB of
    /// multisampled color, depth and ids): a bigger one (an 8192² screenshot
    /// takes ~3 GB) is made for its render and freed after it, so one such
    /// request does not hold gigabytes for the rest of the run.
    pub const MAX_KEPT_PIXELS: u64 = 4096 * 2048;

    /// Whether a target of this size is worth keeping for the next render.
    pub fn worth_keeping(&self) -> bool {
        u64::from(self.width) * u64::from(self.height) <= Self::MAX_KEPT_PIXELS
    }

    /// A target of `width` x `height` pixels (at least 1x1, at most the
    /// device's largest texture on each side: callers that must not be
    /// clamped check `max_texture_dimension_2d` first).
    pub fn new(device: &wgpu::Device, width: u32, height: u32) -> Self {
        let max = device.limits().max_texture_dimension_2d;
        let (width, height) = (width.clamp(1, max), height.clamp(1, max));
        let tier = crate::Tier::of(device);
        let full = tier == crate::Tier::Full;
        let size = wgpu::Extent3d { width, height, depth_or_array_layers: 1 };
        let texture = |label, format, usage, view_formats: &[wgpu::TextureFormat], sample_count| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats,
            })
        };
        use wgpu::TextureUsages as U;
        let linear_view: &[wgpu::TextureFormat] = if full { &[COLOR_FORMAT_LINEAR_VIEW] } else { &[] };
        let color = texture(
            "periscope color",
            COLOR_FORMAT,
            U::RENDER_ATTACHMENT | U::TEXTURE_BINDING | U::COPY_SRC,
            linear_view,
            1,
        );
        let msaa = texture("periscope color (msaa)", COLOR_FORMAT, U::RENDER_ATTACHMENT, &[], MSAA_SAMPLES);
        // Sampled by ambient occlusion (full tier only: WebGL2 cannot bind a
        // multisampled texture).
        let depth_usage = if full { U::RENDER_ATTACHMENT | U::TEXTURE_BINDING } else { U::RENDER_ATTACHMENT };
        let depth = texture("periscope depth", DEPTH_FORMAT, depth_usage, &[], MSAA_SAMPLES);
        // Read back when picking, sampled by the selection outline.
        let id = texture("periscope ids", ID_FORMAT, U::RENDER_ATTACHMENT | U::COPY_SRC | U::TEXTURE_BINDING, &[], 1);
        // Read back when picking (full tier only: WebGL2 cannot copy depth).
        let pick_usage = if full { U::RENDER_ATTACHMENT | U::COPY_SRC } else { U::RENDER_ATTACHMENT };
        let pick_depth = texture("periscope pick depth", DEPTH_FORMAT, pick_usage, &[], 1);
        let color_view = color.create_view(&Default::default());
        let color_view_linear = if full {
            color.create_view(&wgpu::TextureViewDescriptor {
                format: Some(COLOR_FORMAT_LINEAR_VIEW),
                ..Default::default()
            })
        } else {
            texture(
                "periscope color (for egui)",
                COLOR_FORMAT_LINEAR_VIEW,
                U::RENDER_ATTACHMENT | U::TEXTURE_BINDING,
                &[],
                1,
            )
            .create_view(&Default::default())
        };
        Self {
            color_view,
            color_view_linear,
            tier,
            msaa_view: msaa.create_view(&Default::default()),
            depth_view: depth.create_view(&Default::default()),
            id_view: id.create_view(&Default::default()),
            pick_depth_view: pick_depth.create_view(&Default::default()),
            color,
            id,
            pick_depth,
            width,
            height,
        }
    }

    /// Reads the whole color texture back (blocks until the GPU is done).
    pub fn read_color(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Image, RenderError> {
        let size = (self.width, self.height);
        let rows = read_region(device, queue, &self.color, wgpu::TextureAspect::All, (0, 0), size, 4)?;
        Ok(Image { width: self.width, height: self.height, rgba: rows })
    }

    /// The pick id under pixel (`x`, `y`) of the last pick pass
    /// ([`crate::Renderer::render_pick`]): 0 for background.
    pub fn read_id(&self, device: &wgpu::Device, queue: &wgpu::Queue, x: u32, y: u32) -> Result<u32, RenderError> {
        if x >= self.width || y >= self.height {
            return Ok(0);
        }
        let px = read_region(device, queue, &self.id, wgpu::TextureAspect::All, (x, y), (1, 1), 4)?;
        Ok(u32::from_le_bytes([px[0], px[1], px[2], px[3]]))
    }

    /// The depth (0 near .. 1 far, the projection's) under pixel (`x`, `y`) of
    /// the last pick pass; 1 for background. [`RenderError::Unavailable`] on
    /// the limited tier ([`crate::Capabilities::pick_depth`]).
    pub fn read_pick_depth(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        x: u32,
        y: u32,
    ) -> Result<f32, RenderError> {
        if self.tier == crate::Tier::Limited {
            return Err(RenderError::Unavailable(crate::caps::NO_PICK_DEPTH));
        }
        if x >= self.width || y >= self.height {
            return Ok(1.0);
        }
        let px = read_region(device, queue, &self.pick_depth, wgpu::TextureAspect::DepthOnly, (x, y), (1, 1), 4)?;
        Ok(f32::from_le_bytes([px[0], px[1], px[2], px[3]]))
    }
}

/// A texture region being copied to a buffer: wgpu pads each row to
/// `COPY_BYTES_PER_ROW_ALIGNMENT`.
struct Region {
    buffer: wgpu::Buffer,
    /// Bytes of one row without, and with, wgpu's padding.
    row: u32,
    padded: u32,
}

impl Region {
    /// Copies `width` x `height` pixels at (`x`, `y`) of `texture` into a new
    /// buffer and submits the copy.
    #[allow(clippy::too_many_arguments)]
    fn copy(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        texture: &wgpu::Texture,
        aspect: wgpu::TextureAspect,
        (x, y): (u32, u32),
        (width, height): (u32, u32),
        bytes_per_pixel: u32,
    ) -> Self {
        let row = width * bytes_per_pixel;
        let padded = row.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("periscope readback"),
            size: u64::from(padded) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        enc.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo { texture, mip_level: 0, origin: wgpu::Origin3d { x, y, z: 0 }, aspect },
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        );
        queue.submit([enc.finish()]);
        Self { buffer, row, padded }
    }

    /// The rows without padding, once the buffer is mapped; unmaps it.
    fn rows(&self) -> Result<Vec<u8>, RenderError> {
        let mapped = self.buffer.slice(..).get_mapped_range().map_err(|e| RenderError::Gpu(e.to_string()))?;
        let mut out = Vec::with_capacity(mapped.len() / self.padded as usize * self.row as usize);
        for r in mapped.chunks_exact(self.padded as usize) {
            out.extend_from_slice(&r[..self.row as usize]);
        }
        drop(mapped);
        self.buffer.unmap();
        Ok(out)
    }
}

/// Copies a region of a texture to the CPU, removing wgpu's row padding
/// (blocks until the GPU is done).
fn read_region(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    aspect: wgpu::TextureAspect,
    at: (u32, u32),
    size: (u32, u32),
    bytes_per_pixel: u32,
) -> Result<Vec<u8>, RenderError> {
    let region = Region::copy(device, queue, texture, aspect, at, size, bytes_per_pixel);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    region.buffer.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| RenderError::Gpu(e.to_string()))?;
    rx.recv()
        .map_err(|_| RenderError::Gpu("readback callback dropped".into()))?
        .map_err(|e| RenderError::Gpu(e.to_string()))?;
    region.rows()
}

/// A read from a target that does not wait for the GPU: the browser cannot
/// block on a buffer mapping (its callback runs from the page's event loop,
/// after the current frame), so the web view starts a read (the pick id
/// under a click, a screenshot) and takes the answer a frame or two later.
pub struct PendingRead<T> {
    region: Region,
    done: std::sync::Arc<std::sync::Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>,
    /// Turns the unpadded rows into the answer.
    finish: fn(Vec<u8>, u32, u32) -> T,
    size: (u32, u32),
}

impl<T> PendingRead<T> {
    fn start(region: Region, size: (u32, u32), finish: fn(Vec<u8>, u32, u32) -> T) -> Self {
        let done = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = std::sync::Arc::clone(&done);
        region.buffer.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            if let Ok(mut s) = slot.lock() {
                *s = Some(r);
            }
        });
        Self { region, done, finish, size }
    }

    /// The answer once the GPU delivered it (`None`: not yet). Natively this
    /// also lets wgpu deliver finished mappings without waiting.
    pub fn poll(&self, device: &wgpu::Device) -> Option<Result<T, RenderError>> {
        let _ = device.poll(wgpu::PollType::Poll);
        let result = self.done.lock().ok()?.take()?;
        Some(
            result
                .map_err(|e| RenderError::Gpu(e.to_string()))
                .and_then(|()| self.region.rows())
                .map(|rows| (self.finish)(rows, self.size.0, self.size.1)),
        )
    }
}

impl RenderTarget {
    /// Starts reading the pick id under pixel (`x`, `y`) of the last pick
    /// pass; `None` outside the target.
    pub fn begin_read_id(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        x: u32,
        y: u32,
    ) -> Option<PendingRead<u32>> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let region = Region::copy(device, queue, &self.id, wgpu::TextureAspect::All, (x, y), (1, 1), 4);
        Some(PendingRead::start(region, (1, 1), |px, _, _| u32::from_le_bytes([px[0], px[1], px[2], px[3]])))
    }

    /// Starts reading the whole color texture (what [`Self::read_color`]
    /// returns, without waiting).
    pub fn begin_read_color(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> PendingRead<Image> {
        let size = (self.width, self.height);
        let region = Region::copy(device, queue, &self.color, wgpu::TextureAspect::All, (0, 0), size, 4);
        PendingRead::start(region, size, |rgba, width, height| Image { width, height, rgba })
    }
}
