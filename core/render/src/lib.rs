//! Periscope's renderer: wgpu pipelines for every built-in renderable.
//!
//! The same [`Renderer`] draws into a [`RenderTarget`] for the window (which
//! shows the target as an egui image) and for offscreen screenshots
//! ([`Offscreen`]). GPU data per node is built from the scene in
//! [`Renderer::prepare`] only when a node's data or shown frame changed, and
//! freed when the node is deleted. What is drawn is a [`SceneView`]: the scene
//! at one frame (its playhead, or another one for screenshots and videos).
//! It runs on full WebGPU/Vulkan devices and on WebGL2-class ones
//! ([`Tier`], [`Capabilities`]: [`Renderer::capabilities`]).

mod background;
mod camera;
mod caps;
pub mod extract;
mod gpu;
mod pipeline;
mod primitives;
mod renderer;
mod target;
mod view;

pub use background::Background;
pub use camera::{Camera, GL_TO_CV, world_to_display};
pub use caps::{Capabilities, NO_PICK_DEPTH, NO_SSAO, Tier};
pub use gpu::{Gpu, Offscreen};
pub use renderer::{FrameStats, RenderOptions, Renderer};
pub use target::{COLOR_FORMAT, COLOR_FORMAT_LINEAR_VIEW, Image, PendingRead, RenderTarget};
pub use view::SceneView;
pub use wgpu;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no graphics adapter: {0}")]
    NoAdapter(String),
    #[error("GPU error: {0}")]
    Gpu(String),
    #[error("image size {width}x{height} is outside 1..={max}")]
    Size { width: u32, height: u32, max: u32 },
    #[error("PNG encoding failed: {0}")]
    Png(String),
    #[error("cannot write {0}")]
    Io(String),
    /// The device's tier cannot do this ([`Capabilities`]).
    #[error("not available on this device: {0}")]
    Unavailable(&'static str),
}
