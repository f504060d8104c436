//! A turntable camera: orbit around a target, pan, zoom, fit to bounds.
//!
//! The camera lives in *display space* (y up). With `z_up` the world is
//! rotated into display space by [`world_to_display`], so a z-up dataset
//! stands upright and the turntable still spins around the world's up axis.

use glam::{Mat4, Vec3};
use serde::{Deserialize, Serialize};

/// The smallest distance the camera may zoom to, relative to world units.
const MIN_DISTANCE: f32 = 1e-4;
/// Farthest a fit moves the camera: beyond it f32 depth and matrices break down.
const MAX_FIT_DISTANCE: f32 = 1e15;
/// Pitch stays just short of the poles so the view never flips.
const MAX_PITCH: f32 = 1.55;

/// A turntable camera. Angles are radians; `yaw` 0 looks down -z.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Camera {
    /// The point the camera orbits around, in display space.
    pub target: [f32; 3],
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
    /// Vertical field of view.
    pub fov_y: f32,
}

impl Default for Camera {
    fn default() -> Self {
        Self { target: [0.0, 0.5, 0.0], yaw: 0.6, pitch: 0.35, distance: 4.0, fov_y: 45f32.to_radians() }
    }
}

/// OpenGL eye axes -> OpenCV camera axes (flip y and z); its own inverse.
pub const GL_TO_CV: Mat4 = Mat4::from_cols_array(&[1., 0., 0., 0., 0., -1., 0., 0., 0., 0., -1., 0., 0., 0., 0., 1.]);

/// The rotation taking world coordinates to display space (y up).
pub fn world_to_display(z_up: bool) -> Mat4 {
    if z_up { Mat4::from_rotation_x(-std::f32::consts::FRAC_PI_2) } else { Mat4::IDENTITY }
}

impl Camera {
    /// Camera position in display space.
    pub fn eye(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        Vec3::from(self.target) + self.distance * Vec3::new(cp * sy, sp, cp * cy)
    }

    /// Looks from `position` at `target` (display space) with vertical field
    /// of view `fov_y` (radians); what is not given stays. A position on the
    /// target keeps the current direction.
    pub fn look(&mut self, position: Option<Vec3>, target: Option<Vec3>, fov_y: Option<f32>) {
        let eye = position.unwrap_or_else(|| self.eye());
        if let Some(t) = target {
            self.target = t.to_array();
        }
        if let Some(f) = fov_y {
            self.fov_y = f.clamp(1f32.to_radians(), 170f32.to_radians());
        }
        let offset = eye - Vec3::from(self.target);
        let distance = offset.length();
        if distance > 1e-6 && distance.is_finite() {
            self.distance = distance;
            self.pitch = (offset.y / distance).clamp(-1.0, 1.0).asin().clamp(-1.55, 1.55);
            self.yaw = offset.x.atan2(offset.z);
        }
    }

    /// Near and far planes scaled with the distance so depth precision follows the zoom.
    pub fn clip_planes(&self) -> (f32, f32) {
        let near = (self.distance * 0.01).max(1e-5);
        (near, self.distance * 1000.0 + 100.0)
    }

    /// Display-space view matrix (right-handed, looking down -z).
    pub fn view(&self) -> Mat4 {
        Mat4::look_at_rh(self.eye(), Vec3::from(self.target), Vec3::Y)
    }

    /// Perspective projection with wgpu's 0..1 depth range.
    pub fn projection(&self, aspect: f32) -> Mat4 {
        let (near, far) = self.clip_planes();
        Mat4::perspective_rh(self.fov_y, aspect.max(1e-3), near, far)
    }

    /// The display-space point at pixel (`x`, `y`) of a `width` x `height`
    /// image with projection depth `depth` (0..1, as the depth buffer holds it).
    pub fn unproject(&self, x: f32, y: f32, depth: f32, width: u32, height: u32) -> Vec3 {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        let ndc = Vec3::new((x + 0.5) / w * 2.0 - 1.0, 1.0 - (y + 0.5) / h * 2.0, depth);
        (self.projection(w / h) * self.view()).inverse().project_point3(ndc)
    }

    /// Rotates around the target; `dx`, `dy` in pixels.
    pub fn orbit(&mut self, dx: f32, dy: f32) {
        self.yaw -= dx * 0.008;
        self.pitch = (self.pitch + dy * 0.008).clamp(-MAX_PITCH, MAX_PITCH);
    }

    /// Moves the target in the view plane so the point under the cursor follows it;
    /// `dx`, `dy` in pixels of a viewport `height` pixels tall.
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        let view = self.view();
        let right = Vec3::new(view.x_axis.x, view.y_axis.x, view.z_axis.x);
        let up = Vec3::new(view.x_axis.y, view.y_axis.y, view.z_axis.y);
        let per_pixel = 2.0 * self.distance * (self.fov_y * 0.5).tan() / height.max(1.0);
        let t = Vec3::from(self.target) - right * dx * per_pixel + up * dy * per_pixel;
        self.target = t.into();
    }

    /// Zooms by `steps` wheel notches (positive zooms in).
    pub fn zoom(&mut self, steps: f32) {
        self.distance = (self.distance * (-steps * 0.1).exp()).max(MIN_DISTANCE);
    }

    /// Frames a display-space bounding box, keeping the viewing direction.
    ///
    /// Bounds too large to frame in f32 (a node scaled by 1e20, say: its
    /// extent squared overflows) leave the camera as it is, so one client's
    /// huge node can never turn the view into NaN for everyone.
    pub fn fit(&mut self, min: Vec3, max: Vec3) {
        let center = (min.as_dvec3() + max.as_dvec3()) * 0.5;
        let radius = ((max.as_dvec3() - min.as_dvec3()).length() * 0.5).max(1e-3);
        let distance = radius / f64::from(self.fov_y * 0.5).sin() * 1.1;
        if !(center.is_finite() && distance.is_finite() && distance <= f64::from(MAX_FIT_DISTANCE)) {
            tracing::warn!(?min, ?max, "the shown bounds are too large to frame; the camera stays");
            return;
        }
        self.target = center.as_vec3().into();
        self.distance = (distance as f32).max(MIN_DISTANCE);
    }

    /// Centers the orbit on `point` (display space) without changing the distance.
    pub fn center_on(&mut self, point: Vec3) {
        self.target = point.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_bounds_too_large_for_f32_keeps_the_camera() {
        let mut cam = Camera::default();
        let before = (cam.target, cam.distance);
        cam.fit(Vec3::splat(-1e20), Vec3::splat(1e20));
        assert_eq!((cam.target, cam.distance), before);
        cam.fit(Vec3::splat(-1.0), Vec3::splat(1.0));
        assert!(cam.distance.is_finite() && cam.distance > 1.0);
        assert!(cam.view().is_finite());
    }

    #[test]
    fn target_projects_to_the_centre() {
        let cam = Camera::default();
        let clip = cam.projection(1.5) * cam.view() * Vec3::from(cam.target).extend(1.0);
        let ndc = clip.truncate() / clip.w;
        assert!(ndc.x.abs() < 1e-5 && ndc.y.abs() < 1e-5, "{ndc}");
        assert!(ndc.z > 0.0 && ndc.z < 1.0);
    }

    #[test]
    fn fit_contains_the_box_and_orbit_keeps_distance() {
        let mut cam = Camera::default();
        cam.fit(Vec3::splat(-10.0), Vec3::splat(10.0));
        let d = cam.eye().distance(Vec3::ZERO);
        assert!(d > 10.0 * 3f32.sqrt(), "camera inside the box: {d}");
        cam.orbit(100.0, 40.0);
        assert!((cam.eye().distance(Vec3::ZERO) - d).abs() < 1e-3);
        cam.orbit(0.0, 1e6);
        assert!(cam.pitch <= MAX_PITCH);
    }

    #[test]
    fn pan_moves_target_sideways_and_zoom_scales() {
        let mut cam = Camera { yaw: 0.0, pitch: 0.0, target: [0.0; 3], ..Camera::default() };
        cam.pan(-100.0, 0.0, 500.0);
        assert!(cam.target[0] > 0.0 && cam.target[1].abs() < 1e-6 && cam.target[2].abs() < 1e-6);
        let d = cam.distance;
        cam.zoom(1.0);
        assert!(cam.distance < d);
        cam.zoom(-1.0);
        assert!((cam.distance - d).abs() < 1e-4);
    }

    #[test]
    fn z_up_world_maps_z_to_display_y() {
        let p = world_to_display(true).transform_point3(Vec3::Z);
        assert!((p - Vec3::Y).length() < 1e-6);
    }

    #[test]
    fn look_puts_the_eye_where_asked() {
        let mut cam = Camera::default();
        cam.look(Some(Vec3::new(1.0, 2.0, 3.0)), Some(Vec3::new(0.0, 1.0, 0.0)), Some(30f32.to_radians()));
        assert!((cam.eye() - Vec3::new(1.0, 2.0, 3.0)).length() < 1e-5, "{:?}", cam.eye());
        assert_eq!(cam.target, [0.0, 1.0, 0.0]);
        assert!((cam.fov_y - 30f32.to_radians()).abs() < 1e-6);
        // Only a new target: the eye stays where it was.
        cam.look(None, Some(Vec3::ZERO), None);
        assert!((cam.eye() - Vec3::new(1.0, 2.0, 3.0)).length() < 1e-5);
    }
}
