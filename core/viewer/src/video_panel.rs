//! The window's Video dialog: a camera path (keyframes added from the view,
//! retimed, reordered, deleted, previewed; saved with *Save view*) and the
//! export with a progress bar and Cancel. The export itself is the runtime's
//! job ([`crate::export`]): rendered a frame per UI frame, encoded on its own
//! thread, so the window stays responsive.

use std::time::Instant;

use eframe::egui;
use glam::Vec3;
use periscope_render::{Camera, world_to_display};
use periscope_video::{CameraPath, Follow, Keyframe, NodeRef, Orbit, PathContext, VideoFormat};

use crate::export::{ExportCamera, ExportRequest};
use crate::runtime::Runtime;
use crate::viewport::Viewport;

/// Where the video's camera comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraMode {
    /// The view's camera as it is when the export starts.
    Current,
    /// Around everything shown.
    Orbit,
    /// The keyframes below.
    Keyframes,
    /// Following the node selected when the export starts.
    FollowSelected,
}

pub struct VideoPanel {
    pub open: bool,
    /// Keyframes (world coordinates, seconds).
    pub path: CameraPath,
    pub mode: CameraMode,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub all_frames: bool,
    pub start: i64,
    pub stop: i64,
    pub orbit_turns: f32,
    /// A running preview of the path, and when it started.
    preview: Option<Instant>,
}

impl VideoPanel {
    pub fn new(width: u32, height: u32, fps: f64) -> Self {
        Self {
            open: false,
            path: CameraPath::default(),
            mode: CameraMode::Orbit,
            name: "video.mp4".into(),
            width,
            height,
            fps,
            all_frames: true,
            start: 0,
            stop: 1,
            orbit_turns: 1.0,
            preview: None,
        }
    }

    /// The keyframe for the view's camera now, `time` seconds in.
    fn keyframe_of(camera: &Camera, z_up: bool, time: f32) -> Keyframe {
        let to_world = world_to_display(z_up).inverse();
        Keyframe {
            time: Some(time),
            frame: None,
            position: to_world.transform_point3(camera.eye()).into(),
            target: to_world.transform_point3(Vec3::from(camera.target)).into(),
            fov: Some(camera.fov_y.to_degrees()),
        }
    }

    /// The camera path the chosen mode means (`None`: the current camera).
    fn camera_path(&self, selected: Option<periscope_scene::NodeId>) -> Result<Option<CameraPath>, String> {
        Ok(match self.mode {
            CameraMode::Current => None,
            CameraMode::Orbit => Some(CameraPath {
                orbit: Some(Orbit { turns: Some(self.orbit_turns), ..Default::default() }),
                ..Default::default()
            }),
            CameraMode::Keyframes => {
                if self.path.keyframes.is_empty() {
                    return Err("add a keyframe first (Add from view)".into());
                }
                Some(CameraPath { keyframes: self.path.keyframes.clone(), ..self.path.clone() })
            }
            CameraMode::FollowSelected => {
                let id = selected.ok_or("select the node to follow first")?;
                Some(CameraPath {
                    follow: Some(Follow { node: NodeRef::Id(id), offset: None, fov: None }),
                    ..Default::default()
                })
            }
        })
    }

    fn frames(&self, n_frames: usize) -> Vec<i64> {
        if self.all_frames {
            (0..n_frames.max(1) as i64).collect()
        } else {
            (self.start..self.stop.max(self.start + 1)).collect()
        }
    }

    /// Moves the view along the path while previewing; true while it runs.
    pub fn step_preview(&mut self, vp: &mut Viewport, z_up: bool, n_frames: usize) -> bool {
        let Some(started) = self.preview else { return false };
        let t = started.elapsed().as_secs_f32();
        let frames = self.frames(n_frames);
        let duration = frames.len().saturating_sub(1) as f32 / self.fps as f32;
        let keys = self.path.keyframe_times(self.fps as f32, &frames, duration);
        let end = keys.last().map_or(0.0, |k| k.0).max(duration);
        let ctx = PathContext { to_display: world_to_display(z_up), scene_bounds: vp.last_bounds(), node_bounds: None };
        if let Some(pose) = self.path.pose(&keys, t, (t / end.max(1e-3)).min(1.0), &ctx) {
            let mut cam = vp.camera;
            cam.look(Some(pose.position), Some(pose.target), Some(pose.fov_y.to_radians()));
            vp.set_camera_from_code(cam);
        }
        if t > end {
            self.preview = None;
        }
        true
    }

    /// The dialog.
    pub fn show(&mut self, ctx: &egui::Context, rt: &mut Runtime, mut vp: Option<&mut Viewport>) {
        if !self.open {
            return;
        }
        let mut open = self.open;
        let z_up = rt.images.z_up;
        egui::Window::new("Video").open(&mut open).resizable(false).default_width(360.0).show(ctx, |ui| {
            ui.heading("Camera");
            ui.horizontal_wrapped(|ui| {
                ui.radio_value(&mut self.mode, CameraMode::Current, "Current view");
                ui.radio_value(&mut self.mode, CameraMode::Orbit, "Orbit");
                ui.radio_value(&mut self.mode, CameraMode::Keyframes, "Keyframes");
                ui.radio_value(&mut self.mode, CameraMode::FollowSelected, "Follow selected");
            });
            if self.mode == CameraMode::Orbit {
                ui.add(egui::Slider::new(&mut self.orbit_turns, -3.0..=3.0).text("turns"));
            }
            if self.mode == CameraMode::Keyframes {
                self.keyframes_ui(ui, vp.take(), z_up);
            }
            ui.separator();
            ui.heading("Output");
            ui.horizontal(|ui| {
                ui.label("File");
                ui.text_edit_singleline(&mut self.name);
            })
            .response
            .on_hover_text(".mp4 (H.264), .gif, or .png for a folder of PNGs; in the export folder");
            ui.horizontal(|ui| {
                ui.label("Size");
                ui.add(egui::DragValue::new(&mut self.width).range(16..=8192));
                ui.label("x");
                ui.add(egui::DragValue::new(&mut self.height).range(16..=8192));
                ui.label("fps");
                ui.add(egui::DragValue::new(&mut self.fps).range(1.0..=240.0).speed(0.5));
            });
            ui.horizontal(|ui| {
                ui.checkbox(&mut self.all_frames, "All frames");
                if !self.all_frames {
                    ui.add(egui::DragValue::new(&mut self.start).range(0..=i64::MAX).prefix("from "));
                    ui.add(egui::DragValue::new(&mut self.stop).range(1..=i64::MAX).prefix("to "));
                }
            });
            match rt.export_progress() {
                Some((done, total, path)) => {
                    let label = format!(
                        "{} {done}/{total}",
                        path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    );
                    ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(label));
                    if ui.button("Cancel").clicked() {
                        rt.cancel_export();
                    }
                }
                None => {
                    if ui.button("Export video").clicked() {
                        self.start_export(rt);
                    }
                    match &rt.last_export {
                        Some(Ok(done)) => {
                            ui.weak(format!("wrote {} ({} frames)", done.written.path.display(), done.written.frames));
                        }
                        Some(Err(e)) => {
                            ui.colored_label(egui::Color32::LIGHT_RED, e);
                        }
                        None => {}
                    }
                }
            }
        });
        self.open = open;
    }

    fn keyframes_ui(&mut self, ui: &mut egui::Ui, vp: Option<&mut Viewport>, z_up: bool) {
        let mut remove = None;
        let mut swap = None;
        let mut go = None;
        egui::Grid::new("keyframes").num_columns(5).show(ui, |ui| {
            for (i, k) in self.path.keyframes.iter_mut().enumerate() {
                ui.label(format!("#{}", i + 1));
                let mut t = k.time.unwrap_or(0.0);
                if ui.add(egui::DragValue::new(&mut t).range(0.0..=3600.0).speed(0.05).suffix(" s")).changed() {
                    k.time = Some(t);
                    k.frame = None;
                }
                if ui.small_button("View").on_hover_text("Look from this keyframe").clicked() {
                    go = Some(i);
                }
                ui.horizontal(|ui| {
                    if ui.small_button("^").on_hover_text("Earlier").clicked() && i > 0 {
                        swap = Some(i - 1);
                    }
                    if ui.small_button("x").on_hover_text("Delete").clicked() {
                        remove = Some(i);
                    }
                });
                ui.end_row();
            }
        });
        if let Some(i) = remove {
            self.path.keyframes.remove(i);
        }
        if let Some(i) = swap {
            // Swap places and times, so the order in time follows the list.
            let (a, b) = (self.path.keyframes[i].time, self.path.keyframes[i + 1].time);
            self.path.keyframes.swap(i, i + 1);
            self.path.keyframes[i].time = a;
            self.path.keyframes[i + 1].time = b;
        }
        let Some(vp) = vp else { return };
        if let Some(i) = go {
            let k = &self.path.keyframes[i];
            let d = world_to_display(z_up);
            let mut cam = vp.camera;
            cam.look(
                Some(d.transform_point3(Vec3::from(k.position))),
                Some(d.transform_point3(Vec3::from(k.target))),
                k.fov.map(f32::to_radians),
            );
            vp.set_camera_from_code(cam);
        }
        ui.horizontal(|ui| {
            if ui
                .button("Add from view")
                .on_hover_text("A keyframe where the camera is now, 1 s after the last")
                .clicked()
            {
                let t = self.path.keyframes.iter().filter_map(|k| k.time).fold(-1.0f32, f32::max) + 1.0;
                self.path.keyframes.push(Self::keyframe_of(&vp.camera, z_up, t.max(0.0)));
            }
            let previewing = self.preview.is_some();
            if ui
                .add_enabled(
                    !self.path.keyframes.is_empty(),
                    egui::Button::new(if previewing { "Stop" } else { "Preview" }),
                )
                .clicked()
            {
                self.preview = if previewing { None } else { Some(Instant::now()) };
            }
            use periscope_video::Interpolation;
            let mut smooth = self.path.interpolation == Interpolation::Spline;
            if ui
                .checkbox(&mut smooth, "Smooth")
                .on_hover_text("A spline through the keyframes (off: eased straight lines)")
                .changed()
            {
                self.path.interpolation = if smooth { Interpolation::Spline } else { Interpolation::Linear };
            }
        });
        ui.weak("Save view stores the keyframes with the camera.");
    }

    /// Queues the export the dialog describes (errors go to the dialog and the log).
    pub fn start_export(&mut self, rt: &mut Runtime) {
        let result = (|| -> Result<ExportRequest, String> {
            let name = self.name.trim();
            crate::export::check_plain_file_name(name)
                .map_err(|e| format!("{e}: give a plain file name (it goes into the export folder)"))?;
            let path = rt.export_dir().join(name);
            VideoFormat::from_path(&path).map_err(|e| e.to_string())?;
            let camera = match self.camera_path(rt.scene.selected())? {
                Some(p) => ExportCamera::Path(p),
                None => ExportCamera::Current,
            };
            Ok(ExportRequest {
                reply_to: None,
                path,
                fps: self.fps,
                frames: Some(self.frames(rt.scene.n_frames())),
                width: self.width,
                height: self.height,
                camera,
                return_bytes: false,
            })
        })();
        match result.and_then(|req| rt.queue_export(req)) {
            Ok(()) => rt.last_export = None,
            Err(e) => {
                rt.error(format!("video export: {e}"));
                rt.last_export = Some(Err(e));
            }
        }
    }
}
