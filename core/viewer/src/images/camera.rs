//! The camera message (type 308) a remote renderer renders its next image from.
//!
//! Conventions (docs/protocol.md, "Camera"): matrices are 4x4 float32,
//! row-major, acting on column vectors. `world_to_camera`/`camera_to_world`
//! use OpenCV's camera axes (x right, y down, z forward); `view` and
//! `projection` are OpenGL's (x right, y up, -z forward; clip z in [-1, 1]).
//! Everything is in world coordinates (the viewer's `z_up` is applied).

use glam::{Mat4, Vec3};
use periscope_protocol::{CameraParams, CameraRequest, Reply};
use periscope_render::{Camera, GL_TO_CV, world_to_display};

/// The intrinsics and extrinsics of `camera` for an image of `width` x `height` pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraModel {
    pub width: u32,
    pub height: u32,
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    /// Full fields of view, degrees.
    pub fov_x: f32,
    pub fov_y: f32,
    pub znear: f32,
    pub zfar: f32,
    pub world_to_camera: Mat4,
    pub camera_to_world: Mat4,
    pub view: Mat4,
    pub projection: Mat4,
    pub position: Vec3,
}

impl CameraModel {
    pub fn new(camera: &Camera, z_up: bool, width: u32, height: u32) -> Self {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        let view = camera.view() * world_to_display(z_up);
        let (znear, zfar) = camera.clip_planes();
        let fy = 0.5 * h / (camera.fov_y * 0.5).tan();
        let fx = fy; // square pixels
        let fov_x = 2.0 * (0.5 * w / fx).atan();
        let world_to_camera = GL_TO_CV * view;
        let camera_to_world = world_to_camera.inverse();
        Self {
            width,
            height,
            fx,
            fy,
            cx: 0.5 * w,
            cy: 0.5 * h,
            fov_x: fov_x.to_degrees(),
            fov_y: camera.fov_y.to_degrees(),
            znear,
            zfar,
            world_to_camera,
            camera_to_world,
            view,
            projection: Mat4::perspective_rh_gl(camera.fov_y, w / h, znear, zfar),
            position: camera_to_world.w_axis.truncate(),
        }
    }

    /// Its wire form (matrices row-major).
    pub fn params(&self) -> CameraParams {
        // glam is column-major: the transpose's columns are the rows.
        let m = |m: &Mat4| m.transpose().to_cols_array();
        CameraParams {
            width: self.width,
            height: self.height,
            fx: self.fx,
            fy: self.fy,
            cx: self.cx,
            cy: self.cy,
            fov_x: self.fov_x,
            fov_y: self.fov_y,
            znear: self.znear,
            zfar: self.zfar,
            world_to_camera: m(&self.world_to_camera),
            camera_to_world: m(&self.camera_to_world),
            view: m(&self.view),
            projection: m(&self.projection),
            position: self.position.to_array(),
        }
    }

    /// The wire message; `seq` numbers the viewer's camera messages to this client.
    pub fn reply(&self, seq: u64) -> Reply {
        Reply::Camera(CameraRequest { seq, params: self.params(), stream: None })
    }
}

impl From<&CameraModel> for periscope_ui::images::SourceCamera {
    fn from(m: &super::CameraModel) -> Self {
        Self {
            width: m.width as f32,
            height: m.height as f32,
            fx: m.fx,
            fy: m.fy,
            cx: m.cx,
            cy: m.cy,
            world_to_camera: m.world_to_camera,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(m: &CameraModel, p: Vec3) -> (f32, f32, f32) {
        let c = m.world_to_camera.transform_point3(p);
        (m.fx * c.x / c.z + m.cx, m.fy * c.y / c.z + m.cy, c.z)
    }

    #[test]
    fn target_is_in_front_at_the_principal_point() {
        let cam = Camera { target: [1.0, 2.0, 3.0], ..Camera::default() };
        let m = CameraModel::new(&cam, false, 640, 480);
        let (u, v, z) = project(&m, Vec3::new(1.0, 2.0, 3.0));
        assert!((u - 320.0).abs() < 1e-3 && (v - 240.0).abs() < 1e-3, "{u} {v}");
        assert!((z - cam.distance).abs() < 1e-4, "OpenCV z is the depth in front");
        assert!((m.position - cam.eye()).length() < 1e-4);
        assert!((m.camera_to_world * m.world_to_camera - Mat4::IDENTITY).abs_diff_eq(Mat4::ZERO, 1e-5));
    }

    #[test]
    fn opencv_y_points_down_and_matches_opengl_projection() {
        let cam = Camera { target: [0.0; 3], yaw: 0.0, pitch: 0.0, distance: 5.0, ..Camera::default() };
        let m = CameraModel::new(&cam, false, 400, 300);
        // A point above the target (world +y) is in the upper half: smaller v.
        let (_, v, _) = project(&m, Vec3::new(0.0, 1.0, 0.0));
        assert!(v < 150.0);
        // The OpenGL matrices put the same point at the same pixel.
        let clip = m.projection * m.view * Vec3::new(0.7, 1.0, -0.3).extend(1.0);
        let (ndc_x, ndc_y) = (clip.x / clip.w, clip.y / clip.w);
        let (u, v, _) = project(&m, Vec3::new(0.7, 1.0, -0.3));
        assert!((u - (ndc_x + 1.0) * 200.0).abs() < 1e-2, "{u} vs {ndc_x}");
        assert!((v - (1.0 - ndc_y) * 150.0).abs() < 1e-2, "{v} vs {ndc_y}");
        let fov_x = 2.0 * (200.0 / m.fx).atan().to_degrees();
        assert!((fov_x - m.fov_x).abs() < 1e-3);
    }

    #[test]
    fn z_up_world_is_upright_for_the_camera() {
        let cam = Camera { target: [0.0; 3], yaw: 0.0, pitch: 0.0, distance: 5.0, ..Camera::default() };
        let m = CameraModel::new(&cam, true, 400, 300);
        let (_, v, _) = project(&m, Vec3::new(0.0, 0.0, 1.0));
        assert!(v < 150.0, "world +z is up on the image");
    }
}
