//! Screenshot requests from clients (message 304) and `--screenshot`.
//!
//! The runtime collects requests after the dispatch chain has seen them; the
//! window answers them with its own renderer and camera, headless mode with an
//! offscreen renderer opened on first use and a camera framing the scene.

use std::path::PathBuf;

use periscope_protocol::{DType, MessageType, NdArray, OrbitView, Reply, Screenshot, ScreenshotResult};
use periscope_render::{Camera, Image, Offscreen, RenderOptions, SceneView};

/// Largest side of a requested image.
pub const MAX_SIDE: u32 = periscope_protocol::MAX_SCREENSHOT_SIDE;

/// A client's request for a rendered image.
#[derive(Clone, Debug)]
pub struct ScreenshotRequest {
    pub client: u64,
    pub seq: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Scene frame to render (the current one when `None`).
    pub frame: Option<i64>,
    /// Frame the shown data before rendering.
    pub fit: bool,
    /// An explicit camera (kept for later requests).
    pub camera: Option<Camera>,
}

/// The viewer's camera for a client's orbit view: given keys replace the defaults.
fn camera_of(v: &OrbitView) -> Camera {
    let mut cam = Camera::default();
    if let Some(t) = v.target {
        cam.target = t;
    }
    if let Some(y) = v.yaw_deg {
        cam.yaw = y.to_radians();
    }
    if let Some(p) = v.pitch_deg {
        cam.pitch = p.to_radians().clamp(-1.55, 1.55);
    }
    if let Some(d) = v.distance {
        cam.distance = d;
    }
    if let Some(f) = v.fov_y_deg {
        cam.fov_y = f.clamp(1.0, 170.0).to_radians();
    }
    cam
}

impl ScreenshotRequest {
    /// The request of `client` from its typed form (checked when it was decoded).
    pub fn new(client: u64, seq: Option<u64>, s: &Screenshot) -> Self {
        Self {
            client,
            seq,
            width: s.width,
            height: s.height,
            frame: s.frame,
            fit: s.fit,
            camera: s.camera.as_ref().map(camera_of),
        }
    }

    /// The reply carrying `image`.
    pub fn reply(&self, image: &Image, frame: usize) -> Reply {
        let shape = vec![image.height as usize, image.width as usize, 4];
        let array = NdArray::from_le_bytes(DType::U8, shape, &image.rgba).expect("shape matches the pixels");
        Reply::ScreenshotResult(ScreenshotResult {
            ref_seq: self.seq,
            width: image.width,
            height: image.height,
            frame: frame as u64,
            image: array,
        })
    }

    /// The error reply for a failed render.
    pub fn error(&self, message: String) -> Reply {
        Reply::error(self.seq, Some(MessageType::Screenshot.as_i64()), None, "render_failed", message)
    }
}

/// An offscreen renderer opened on first use (opening costs tens of milliseconds),
/// with a camera that persists between requests like a window's would.
pub struct HeadlessRenderer {
    options: RenderOptions,
    state: Option<Result<Offscreen, String>>,
    /// The kept camera (`None` until data is framed or a camera is set).
    pub camera: Option<Camera>,
    /// Remote-rendered images drawn into the view.
    backgrounds: Vec<std::sync::Arc<periscope_render::Background>>,
}

impl HeadlessRenderer {
    pub fn new(options: RenderOptions) -> Self {
        Self { options, state: None, camera: None, backgrounds: Vec::new() }
    }

    /// Remote-rendered images drawn into every later render.
    pub fn set_backgrounds(&mut self, list: &[std::sync::Arc<periscope_render::Background>]) {
        self.backgrounds = list.to_vec();
    }

    /// The offscreen renderer, opened on first use.
    fn offscreen(&mut self) -> Result<&mut Offscreen, String> {
        open_offscreen(&mut self.state, &self.options)
    }

    /// Display-space bounds of what `view` shows (or of one node).
    pub fn bounds(
        &mut self,
        view: SceneView<'_>,
        node: Option<periscope_scene::NodeId>,
    ) -> Option<(glam::Vec3, glam::Vec3)> {
        let off = self.offscreen().ok()?;
        off.renderer.prepare(view);
        off.renderer.display_bounds(node)
    }

    /// Renders `view` from `camera` (not kept), with the remote images.
    pub fn render_with(
        &mut self,
        view: SceneView<'_>,
        camera: &Camera,
        width: u32,
        height: u32,
    ) -> Result<Image, String> {
        let backgrounds = self.backgrounds.clone();
        let off = self.offscreen()?;
        off.renderer.set_backgrounds(&backgrounds);
        off.render(view, camera, width, height).map_err(|e| e.to_string())
    }

    /// Renders `view` (a scene at a frame). The camera is `camera` if given (and kept), else the kept
    /// one; it is fitted to the shown data when `fit` is set or none was kept yet.
    pub fn render(
        &mut self,
        view: SceneView<'_>,
        width: u32,
        height: u32,
        camera: Option<Camera>,
        fit: bool,
    ) -> Result<Image, String> {
        let off = open_offscreen(&mut self.state, &self.options)?;
        // Prepare first so the camera can frame the shown frame's bounds.
        off.renderer.prepare(view);
        off.renderer.set_backgrounds(&self.backgrounds);
        if camera.is_some() {
            self.camera = camera;
        } else if fit || self.camera.is_none() {
            let fitted = off.fitted_camera();
            // An empty scene keeps no camera, so the first data gets framed.
            self.camera = off.renderer.display_bounds(None).map(|_| fitted);
        }
        let cam = self.camera.unwrap_or_default();
        off.render(view, &cam, width, height).map_err(|e| e.to_string())
    }
}

/// The offscreen renderer in `state`, opened on first use.
fn open_offscreen<'a>(
    state: &'a mut Option<Result<Offscreen, String>>,
    options: &RenderOptions,
) -> Result<&'a mut Offscreen, String> {
    let off = state.get_or_insert_with(|| {
        let o = Offscreen::new(options.clone()).map_err(|e| e.to_string());
        match &o {
            Ok(o) => tracing::info!(adapter = %o.gpu.adapter, "offscreen renderer ready"),
            Err(e) => tracing::error!("offscreen rendering unavailable: {e}"),
        }
        o
    });
    off.as_mut().map_err(|e| format!("offscreen rendering unavailable: {e}"))
}

/// `--screenshot PATH`: what to write once the clients are done.
#[derive(Clone, Debug)]
pub struct ScreenshotOnExit {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub frame: Option<i64>,
}

/// Parses `WxH`.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
    let parse = |v: &str| -> Result<u32, String> {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_SIDE).contains(n))
            .ok_or_else(|| format!("size must be 1..={MAX_SIDE}, got {v:?}"))
    };
    Ok((parse(w)?, parse(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("640x480"), Ok((640, 480)));
        assert!(parse_size("640").is_err());
        assert!(parse_size("0x10").is_err());
        assert!(parse_size("10x99999").is_err());
    }

    #[test]
    fn orbit_views_become_cameras() {
        let view =
            OrbitView { target: Some([1.0, 2.0, 3.0]), yaw_deg: Some(90.0), distance: Some(5.0), ..Default::default() };
        let shot = Screenshot { height: Some(20), camera: Some(view), ..Default::default() };
        let r = ScreenshotRequest::new(1, Some(4), &shot);
        assert_eq!((r.width, r.height, r.frame, r.fit, r.seq), (None, Some(20), None, false, Some(4)));
        let c = r.camera.unwrap();
        assert_eq!((c.target, c.distance), ([1.0, 2.0, 3.0], 5.0));
        assert!((c.yaw - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
        assert_eq!(c.fov_y, Camera::default().fov_y);
    }
}
