//! What the main view does for clients, in the order asked: screenshots and
//! the view camera (`set_camera`, `query_camera`), through a [`Shooter`].

use std::sync::Arc;

use glam::Vec3;
use periscope_protocol::{MessageType, Reply, Screenshot, ViewCamera, ViewCameraState, ViewPose};
use periscope_render::{Camera, Image, SceneView, world_to_display};
use periscope_scene::Scene;

use periscope_dispatch::Outbox as _;

use super::Runtime;
use crate::images::camera::CameraModel;
use crate::screenshot::{HeadlessRenderer, ScreenshotRequest};

/// Renders a client's screenshot request: the window with its viewport and
/// camera, headless mode with an offscreen renderer. Returns the image and the
/// frame shown.
pub trait Shooter {
    /// Renders `scene` at the request's frame (the playhead when it names
    /// none; the playhead does not move).
    fn shoot(&mut self, scene: &Scene, req: &ScreenshotRequest) -> Result<(Image, usize), String>;
    /// The main view's camera now.
    fn camera(&self) -> Camera;
    /// Whether the view has a camera of its own yet (headless: not until data
    /// was framed or a camera set); a video without a path frames the data otherwise.
    fn has_camera(&self) -> bool {
        true
    }
    /// Sets the main view's camera (from code: it is kept, not refitted to new data).
    fn set_camera(&mut self, camera: Camera);
    /// The main view's size in pixels, for the camera's intrinsics.
    fn view_size(&self) -> (u32, u32);
    /// Remote-rendered images to draw into the main view (composited by depth).
    fn set_backgrounds(&mut self, list: &[Arc<periscope_render::Background>]);
    /// Display-space bounds of what `view` shows (or of one node), after
    /// bringing the GPU data in line with it.
    fn bounds(&mut self, view: SceneView<'_>, node: Option<periscope_scene::NodeId>) -> Option<(Vec3, Vec3)>;
    /// Renders `view` (the scene at a frame) from `camera` offscreen at `width` x `height` (a video
    /// frame: the main view's camera and image, and the playhead, are left alone).
    fn render_frame(&mut self, view: SceneView<'_>, camera: &Camera, width: u32, height: u32) -> Result<Image, String>;
}

/// The main view's camera as a `view_camera` answer: the fields of the image
/// windows' camera message plus `target` (world coordinates) and `ref_seq`.
pub(super) fn view_camera_reply(camera: &Camera, z_up: bool, size: (u32, u32), ref_seq: Option<u64>) -> Reply {
    Reply::ViewCamera(ViewCameraState { ref_seq, camera: view_camera(camera, z_up, size) })
}

/// The main view's camera as answers and events describe it.
pub(super) fn view_camera(camera: &Camera, z_up: bool, (w, h): (u32, u32)) -> ViewCamera {
    let target = world_to_display(z_up).inverse().transform_point3(Vec3::from(camera.target));
    ViewCamera { params: CameraModel::new(camera, z_up, w, h).params(), target: target.to_array() }
}

/// Something the main view does for a client, in the order asked.
pub(super) enum ViewWork {
    Screenshot(ScreenshotRequest),
    SetCamera { pose: ViewPose, client: u64, seq: Option<u64> },
    QueryCamera { client: u64, seq: Option<u64> },
}

pub use periscope_ui::viewport::{display_points, look_at_pose};

/// Why the camera cannot take `pose` (display-space `position`/`target`, each
/// given or kept from `camera`): the position it would end up with is on the
/// target, or infinitely far from it. The request decoder refuses both given
/// and equal; this catches one given and equal to the camera's other one,
/// which [`Camera::look`] would otherwise ignore without a word.
fn look_error(camera: &Camera, pose: &ViewPose, position: Option<Vec3>, target: Option<Vec3>) -> Option<String> {
    let eye = position.unwrap_or_else(|| camera.eye());
    let distance = eye.distance(target.unwrap_or(Vec3::from(camera.target)));
    if distance > 1e-6 && distance.is_finite() {
        return None;
    }
    let (field, value, other) = match (pose.position, pose.target) {
        (None, Some(t)) => ("target", t, "the camera's position"),
        (Some(p), None) => ("position", p, "the view's target"),
        (p, _) => ("position", p.unwrap_or_default(), "target"),
    };
    let what = if distance.is_finite() {
        format!("a point other than {other}")
    } else {
        format!("a point at a finite distance from {other}")
    };
    Some(format!("set_camera: field {field:?} must be {what}, found {value:?}"))
}

/// Headless mode renders offscreen at the requested size (or `size`).
pub struct OffscreenShooter<'a> {
    pub renderer: &'a mut HeadlessRenderer,
    pub size: (u32, u32),
}

impl Shooter for OffscreenShooter<'_> {
    fn shoot(&mut self, scene: &Scene, req: &ScreenshotRequest) -> Result<(Image, usize), String> {
        let (w, h) = (req.width.unwrap_or(self.size.0), req.height.unwrap_or(self.size.1));
        let view = SceneView::at(scene, req.frame);
        self.renderer.render(view, w, h, req.camera, req.fit).map(|img| (img, view.frame))
    }

    fn camera(&self) -> Camera {
        self.renderer.camera.unwrap_or_default()
    }

    fn has_camera(&self) -> bool {
        self.renderer.camera.is_some()
    }

    fn set_camera(&mut self, camera: Camera) {
        self.renderer.camera = Some(camera);
    }

    fn view_size(&self) -> (u32, u32) {
        self.size
    }

    fn set_backgrounds(&mut self, list: &[Arc<periscope_render::Background>]) {
        self.renderer.set_backgrounds(list);
    }

    fn bounds(&mut self, view: SceneView<'_>, node: Option<periscope_scene::NodeId>) -> Option<(Vec3, Vec3)> {
        self.renderer.bounds(view, node)
    }

    fn render_frame(&mut self, view: SceneView<'_>, camera: &Camera, width: u32, height: u32) -> Result<Image, String> {
        self.renderer.render_with(view, camera, width, height)
    }
}

/// Screenshot requests waiting beyond this are refused (a client asking faster than we render).
const MAX_PENDING_SCREENSHOTS: usize = 8;

impl Runtime {
    pub(super) fn queue_screenshot(&mut self, client: u64, seq: Option<u64>, shot: &Screenshot) {
        let waiting = self.view_work.iter().filter(|w| matches!(w, ViewWork::Screenshot(_))).count();
        if waiting >= MAX_PENDING_SCREENSHOTS {
            let message = "too many screenshot requests waiting; try again".to_owned();
            self.out.send(client, Reply::error(seq, Some(MessageType::Screenshot.as_i64()), None, "busy", message));
        } else {
            self.view_work.push(ViewWork::Screenshot(ScreenshotRequest::new(client, seq, shot)));
        }
    }

    /// Sends a rendered screenshot (or the failure) to the client that asked.
    pub fn answer_screenshot(&mut self, req: &ScreenshotRequest, result: Result<(Image, usize), String>) {
        let reply = match result {
            Ok((image, frame)) => req.reply(&image, frame),
            Err(e) => {
                self.error(format!("screenshot for client #{} failed: {e}", req.client));
                req.error(e)
            }
        };
        self.out.send(req.client, reply);
    }

    /// Queues a `set_camera`. Checked now when nothing queued moves the camera
    /// first, so the error comes before the answer to a later query (the
    /// clients' sync); otherwise when the work is carried out.
    pub(super) fn queue_set_camera(&mut self, client: u64, seq: Option<u64>, pose: &ViewPose) -> Result<(), String> {
        let queued = self.view_work.iter().any(|w| !matches!(w, ViewWork::QueryCamera { .. }));
        if !queued && let Some(camera) = &self.view_camera {
            let (position, target) = display_points(self.images.z_up, pose);
            if let Some(e) = look_error(camera, pose, position, target) {
                return Err(e);
            }
        }
        self.view_work.push(ViewWork::SetCamera { pose: *pose, client, seq });
        Ok(())
    }

    /// Queues a `query_camera` (answered in order with the other view work).
    pub(super) fn queue_query_camera(&mut self, client: u64, seq: Option<u64>) {
        self.view_work.push(ViewWork::QueryCamera { client, seq });
    }

    /// Carries out the view work queued since the last step, in arrival order.
    pub(super) fn do_view_work(&mut self, shooter: &mut dyn Shooter) {
        for work in std::mem::take(&mut self.view_work) {
            match work {
                ViewWork::Screenshot(req) => {
                    let result = shooter.shoot(&self.scene, &req);
                    self.answer_screenshot(&req, result);
                }
                ViewWork::SetCamera { pose, client, seq } => {
                    let mut camera = shooter.camera();
                    let (position, target) = display_points(self.images.z_up, &pose);
                    if let Some(e) = look_error(&camera, &pose, position, target) {
                        self.error(format!("client #{client} seq {seq:?}: {e}"));
                        let kind = Some(MessageType::SetCamera.as_i64());
                        self.out.send(client, Reply::error(seq, kind, None, "bad_value", e));
                        continue;
                    }
                    camera.look(position, target, pose.fov_y_deg.map(f32::to_radians));
                    shooter.set_camera(camera);
                    // Every view looks from there too.
                    self.scene.request_camera(pose);
                }
                ViewWork::QueryCamera { client, seq } => {
                    let reply = view_camera_reply(&shooter.camera(), self.images.z_up, shooter.view_size(), seq);
                    self.out.send(client, reply);
                }
            }
        }
    }
}
