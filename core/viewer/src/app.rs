//! The egui window: top bar, scene tree and properties, the 3D viewport,
//! server and scripts panels, log, playback bar.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eframe::egui;

use crate::config::ViewerSection;
use crate::panels;
use crate::replay::{Replay, clear_replayed};
use crate::runtime::{Level, Runtime, Shooter};
use crate::screenshot::ScreenshotRequest;
use crate::view_files::unique_path;
use crate::viewport::Viewport;
use periscope_render::{Camera, Image, SceneView};
use periscope_scene::Scene;

/// How long an error stays on screen as a toast.
const TOAST_SECS: f32 = 6.0;

/// The window's state.
pub struct ViewerApp {
    pub rt: Runtime,
    cfg: ViewerSection,
    listen: SocketAddr,
    /// `None` when eframe runs without wgpu (egui_kittest tests); the panels still work.
    pub(crate) viewport: Option<Viewport>,
    show_side: bool,
    show_log: bool,
    shutdown: Arc<AtomicBool>,
    /// Smoothed interval between frames while the window is busy, and UI time per frame.
    frame_interval: f32,
    last_frame: Option<Instant>,
    ui_ms: f32,
    /// Frames drawn since `frames_since` (logged once a second at debug level
    /// as `periscope::frames`: the web benchmark's native baseline).
    frames_drawn: u32,
    frames_since: Option<Instant>,
    /// Bytes of array data in the scene last drawn (logged when it changes, as `periscope::frames`).
    bytes_drawn: usize,
    /// A recording or saved scene being replayed.
    replay: Option<Replay>,
    /// The "Open" dialog's path text, while it is open.
    open_dialog: Option<String>,
    /// The Controls panel's edits in flight.
    controls: crate::controls_panel::ControlsPanel,
    /// The Video dialog (camera path and export).
    pub video: crate::video_panel::VideoPanel,
    /// In a view of a remote hub: the hub's camera requests applied so far,
    /// and the camera last reported to the hub (`view_moved`) and when.
    camera_requests_seen: u64,
    camera_reported: Option<(periscope_render::Camera, Instant)>,
}

/// Opens the window and runs until it is closed or Ctrl-C.
pub fn run(
    rt: Runtime,
    cfg: ViewerSection,
    listen: SocketAddr,
    shutdown: Arc<AtomicBool>,
    replay: Option<Replay>,
) -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(cfg.title.clone())
            .with_inner_size([cfg.width, cfg.height])
            .with_app_id("periscope"),
        ..Default::default()
    };
    let title = cfg.title.clone();
    eframe::run_native(
        &title,
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            rt.queue().set_waker(Arc::new(move || ctx.request_repaint()));
            let ctx = cc.egui_ctx.clone();
            rt.chain().set_wake(Arc::new(move || ctx.request_repaint()));
            let ctx = cc.egui_ctx.clone();
            rt.images.set_wake(Arc::new(move || ctx.request_repaint()));
            if let Some(link) = rt.link() {
                let ctx = cc.egui_ctx.clone();
                link.set_wake(Arc::new(move || ctx.request_repaint()));
            }
            let ctx = cc.egui_ctx.clone();
            let flag = Arc::clone(&shutdown);
            std::thread::Builder::new()
                .name("periscope-ctrlc-watch".into())
                .spawn(move || {
                    while !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    ctx.request_repaint();
                })
                .ok();
            let viewport = cc.wgpu_render_state.as_ref().map(|rs| {
                let info = rs.adapter.get_info();
                tracing::info!(adapter = %info.name, backend = ?info.backend, "renderer ready");
                Viewport::new(rs, cfg.render_options())
            });
            let mut app = ViewerApp::new(rt, cfg, listen, viewport, shutdown);
            app.replay = replay;
            Ok(Box::new(app))
        }),
    )
}

impl ViewerApp {
    pub fn new(
        rt: Runtime,
        cfg: ViewerSection,
        listen: SocketAddr,
        viewport: Option<Viewport>,
        shutdown: Arc<AtomicBool>,
    ) -> Self {
        let video = crate::video_panel::VideoPanel::new(cfg.video_width, cfg.video_height, cfg.video_fps);
        Self {
            rt,
            cfg,
            listen,
            viewport,
            show_side: true,
            show_log: true,
            shutdown,
            frame_interval: 0.0,
            last_frame: None,
            ui_ms: 0.0,
            frames_drawn: 0,
            frames_since: None,
            bytes_drawn: 0,
            replay: None,
            open_dialog: None,
            controls: Default::default(),
            video,
            camera_requests_seen: 0,
            camera_reported: None,
        }
    }

    /// The playback keys: each is a message of the viewer's client (the
    /// playhead advances in `Runtime::step` while the scene plays).
    fn playback_keys(&mut self, ctx: &egui::Context) {
        let keys_free = !ctx.egui_wants_keyboard_input() && self.open_dialog.is_none();
        periscope_ui::playback::playback_keys(ctx, &mut self.rt, keys_free);
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Periscope");
            ui.separator();
            if self.rt.server().is_some() {
                ui.label(format!("ws://{}", self.listen));
                ui.separator();
            }
            match (self.rt.server(), self.rt.link()) {
                (Some(server), _) => {
                    ui.label(format!("{} client(s)", server.connections()));
                }
                (None, Some(link)) => {
                    let clients = self.rt.scene.clients().filter(|c| c.connected).count();
                    let _ = ui.label(format!("{clients} client(s) on the hub"));
                    crate::panels::link_status(ui, link);
                }
                (None, None) => {}
            }
            ui.separator();
            ui.label(format!("{} node(s)", self.rt.scene.nodes().count()));
            ui.separator();
            if let Some(vp) = &mut self.viewport {
                if ui.button("Fit").on_hover_text("Frame the whole scene (Home)").clicked() {
                    vp.fit_all();
                }
                if ui.button("Center").on_hover_text("Frame the selected node (X, or double-click)").clicked() {
                    vp.center_on(self.rt.scene.selected());
                }
                if ui
                    .button("Screenshot")
                    .on_hover_text(format!("Save a PNG to {} (P)", self.cfg.export_dir.display()))
                    .clicked()
                {
                    vp.request_screenshot();
                }
                if ui
                    .button("Save view")
                    .on_hover_text(
                        "Save the camera (and the Video dialog's keyframes) to view.toml in the export folder",
                    )
                    .clicked()
                {
                    match crate::view_files::save_view(vp, &self.cfg.export_dir, Some(&self.video.path)) {
                        Ok(p) => self.rt.info(format!("view saved to {}", p.display())),
                        Err(e) => self.rt.error(format!("cannot save the view: {e}")),
                    }
                }
                if ui.button("Restore view").on_hover_text("Restore the camera saved with Save view").clicked() {
                    match crate::view_files::restore_view(vp, &self.cfg.export_dir) {
                        Ok((p, path)) => {
                            if let Some(path) = path {
                                self.video.path = path;
                            }
                            self.rt.info(format!("view restored from {}", p.display()))
                        }
                        Err(e) => self.rt.error(format!("cannot restore the view: {e}")),
                    }
                }
                let mut o = vp.options().clone();
                if periscope_ui::look::look_menu(ui, &mut o, vp.capabilities()) {
                    self.rt.images.z_up = o.z_up;
                    vp.set_options(o);
                }
                ui.separator();
            }
            ui.toggle_value(&mut self.video.open, "Video")
                .on_hover_text("Camera path and video export (MP4, GIF, PNG sequence)");
            let viewing = self.rt.link().is_some();
            let recording = self.rt.recording().is_some();
            let label = if recording { "Stop recording" } else { "Record" };
            let hover = if viewing {
                "A view has no messages of its own to record: record on the hub (--record or [recording] there)"
            } else {
                "Record every message to a .psr file"
            };
            if ui
                .add_enabled(!viewing, egui::Button::selectable(recording, label))
                .on_hover_text(hover)
                .on_disabled_hover_text(hover)
                .clicked()
            {
                if recording {
                    self.rt.stop_recording();
                } else {
                    let path = unique_path(&self.cfg.export_dir, "recording", "psr");
                    if let Err(e) = self.rt.start_recording(&path) {
                        self.rt.error(e);
                    }
                }
            }
            let hover = if viewing {
                "Save the hub's scene, as this view shows it (every node and frame), to a .psr file on this machine"
            } else {
                "Save every node and frame to a .psr file"
            };
            if ui.button("Save scene").on_hover_text(hover).clicked() {
                let path = unique_path(&self.cfg.export_dir, "scene", "psr");
                match crate::replay::save_scene(&self.rt.scene, &path) {
                    Ok(n) => self.rt.info(format!("scene saved to {} ({n} records)", path.display())),
                    Err(e) => self.rt.error(format!("cannot save the scene: {e}")),
                }
            }
            let hover = if viewing {
                "A view shows its hub's scene: open recordings on the hub (periscope FILE there)"
            } else {
                "Open a recording or saved scene (or drop the file here)"
            };
            if ui
                .add_enabled(!viewing, egui::Button::new("Open"))
                .on_hover_text(hover)
                .on_disabled_hover_text(hover)
                .clicked()
            {
                self.open_dialog = Some(String::new());
            }
            ui.separator();
            ui.toggle_value(&mut self.show_side, "Panels");
            ui.toggle_value(&mut self.show_log, "Log");
        });
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        let keys_free = !ui.ctx().egui_wants_keyboard_input();
        let rect = ui.available_rect_before_wrap();
        match &mut self.viewport {
            Some(vp) => {
                let viewing = self.rt.link().is_some();
                if viewing
                    && let Some((pose, n)) = self.rt.scene.camera_request()
                    && n != self.camera_requests_seen
                {
                    // The hub's `set_camera` moves every view.
                    self.camera_requests_seen = n;
                    crate::runtime::look_at_pose(&mut vp.camera, self.rt.images.z_up, &pose);
                    vp.keep_camera();
                    // Not reported back: nobody moved this view by hand.
                    self.camera_reported = Some((vp.camera, Instant::now()));
                }
                let out = vp.show(ui, &self.rt.scene, keys_free);
                if viewing {
                    let z_up = self.rt.images.z_up;
                    report_camera(&mut self.rt, vp, &mut self.camera_reported, z_up);
                }
                match out
                    .screenshot
                    .map(|img| img.and_then(|img| crate::view_files::save_screenshot(&img, &self.cfg.export_dir)))
                {
                    Some(Ok(path)) => self.rt.info(format!("screenshot saved to {}", path.display())),
                    Some(Err(e)) => self.rt.error(format!("screenshot failed: {e}")),
                    None => {}
                }
                if let Some((node, point)) = out.picked {
                    // The click is a `select` message of the viewer's own client:
                    // the chain, the recorder and event subscribers see it.
                    let to_world = periscope_render::world_to_display(self.rt.images.z_up).inverse();
                    let point = point.map(|p| to_world.transform_point3(p).to_array());
                    let node = node.and_then(|id| self.rt.scene.node(id));
                    self.rt.submit(periscope_scene::select_message(node, point));
                }
            }
            None => {
                ui.weak("No GPU renderer in this window; the scene, frames and messages are live.");
            }
        }
        self.overlay(ui, rect);
    }

    /// Frame-time readout (top right) and error toasts (bottom right) over the viewport.
    fn overlay(&self, ui: &egui::Ui, rect: egui::Rect) {
        let painter = ui.painter_at(rect);
        let font = egui::FontId::monospace(12.0);
        let mut text =
            format!("frame {}/{}   ui {:.1} ms", self.rt.scene.current_frame(), self.rt.scene.n_frames(), self.ui_ms);
        if self.frame_interval > 0.0 {
            text += &format!("   {:.0} fps", 1.0 / self.frame_interval);
        }
        if let Some(vp) = &self.viewport {
            let s = vp.stats();
            text += &format!("   render {:.1} ms   {} draws   {} tris", vp.render_ms, s.draw_calls, s.triangles);
        }
        painter.text(
            rect.right_top() + egui::vec2(-8.0, 6.0),
            egui::Align2::RIGHT_TOP,
            text,
            font.clone(),
            egui::Color32::from_gray(200),
        );
        let toasts: Vec<_> = self
            .rt
            .log()
            .rev()
            .filter(|l| l.level == Level::Error && l.at.elapsed().as_secs_f32() < TOAST_SECS)
            .take(4)
            .collect();
        let mut y = rect.bottom() - 8.0;
        for t in toasts {
            let galley = painter.layout(t.text.clone(), font.clone(), egui::Color32::WHITE, rect.width() * 0.6);
            let size = galley.size() + egui::vec2(16.0, 10.0);
            let r = egui::Rect::from_min_size(egui::pos2(rect.right() - 8.0 - size.x, y - size.y), size);
            painter.rect_filled(r, 4.0, egui::Color32::from_rgba_unmultiplied(150, 30, 30, 230));
            painter.galley(r.min + egui::vec2(8.0, 5.0), galley, egui::Color32::WHITE);
            y = r.top() - 6.0;
        }
        // Repaint once when the oldest visible toast expires; nothing in between.
        let expiry = self
            .rt
            .log()
            .filter(|l| l.level == Level::Error)
            .map(|l| TOAST_SECS - l.at.elapsed().as_secs_f32())
            .filter(|left| *left > 0.0)
            .reduce(f32::min);
        if let Some(left) = expiry {
            ui.ctx().request_repaint_after(Duration::from_secs_f32(left + 0.05));
        }
    }

    /// Draws the whole window into `ui` (used by eframe and by the kittest tests).
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        if let Some(last) = self.last_frame.replace(t0) {
            let dt = last.elapsed().as_secs_f32();
            // Only busy frames count; an idle window does not draw at all.
            self.frame_interval = if dt < 0.5 { self.frame_interval * 0.9 + dt * 0.1 } else { 0.0 };
        }
        self.frames_drawn += 1;
        let since = *self.frames_since.get_or_insert(t0);
        let seconds = t0.duration_since(since).as_secs_f64();
        if seconds >= 1.0 {
            let render_ms = self.viewport.as_ref().map_or(0.0, |vp| vp.render_ms);
            tracing::debug!(target: "periscope::frames", frames = self.frames_drawn - 1, seconds, render_ms, "frames drawn");
            (self.frames_drawn, self.frames_since) = (1, Some(t0));
        }
        if tracing::enabled!(target: "periscope::frames", tracing::Level::DEBUG) {
            let bytes = self.rt.scene.nodes().map(|n| n.data_bytes()).sum();
            if bytes != self.bytes_drawn {
                self.bytes_drawn = bytes;
                tracing::debug!(target: "periscope::frames", bytes, "drawing the scene");
            }
        }
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("playback").show(ui, |ui| periscope_ui::playback::playback_bar(ui, &mut self.rt));
        if self.replay.is_some() {
            egui::Panel::bottom("replay").show(ui, |ui| self.replay_bar(ui));
        }
        if self.show_log {
            egui::Panel::bottom("log")
                .resizable(true)
                .default_size(110.0)
                .show(ui, |ui| panels::log_panel(ui, &self.rt));
        }
        if self.show_side {
            egui::Panel::left("scene")
                .resizable(true)
                .default_size(300.0)
                .show(ui, |ui| periscope_ui::panels::scene_tree(ui, &mut self.rt));
            egui::Panel::right("side").resizable(true).default_size(330.0).show(ui, |ui| {
                egui::ScrollArea::vertical().id_salt("side").show(ui, |ui| {
                    egui::CollapsingHeader::new("Controls").default_open(true).show(ui, |ui| {
                        self.controls.show(ui, &mut self.rt);
                    });
                    if self.rt.images.windows.values().any(|w| w.docked) {
                        egui::CollapsingHeader::new("Images").default_open(true).show(ui, |ui| {
                            crate::images::window::show_docked(ui, &mut self.rt.images);
                        });
                    }
                    egui::CollapsingHeader::new("Server").default_open(true).show(ui, |ui| {
                        panels::server_panel(ui, &mut self.rt, self.listen);
                    });
                    egui::CollapsingHeader::new("Scripts and plugins").default_open(true).show(ui, |ui| {
                        panels::scripts_panel(ui, &self.rt);
                    });
                });
            });
        }
        let viewport =
            egui::CentralPanel::default().frame(egui::Frame::NONE).show(ui, |ui| self.central(ui)).response.rect;
        crate::images::window::show(ui.ctx(), &mut self.rt.images, viewport);
        self.open_dialog(ui.ctx());
        self.video.show(ui.ctx(), &mut self.rt, self.viewport.as_mut());
        self.ui_ms = t0.elapsed().as_secs_f32() * 1000.0;
    }

    /// Opens a recording or saved scene, replacing a replay in progress.
    fn open(&mut self, path: &std::path::Path, speed: f32) {
        clear_replayed(&mut self.rt.scene);
        match Replay::open(path, speed) {
            Ok(r) => {
                self.rt.info(format!("opened {}", path.display()));
                if let Some(w) = &r.warning {
                    self.rt.error(w.clone());
                }
                self.replay = Some(r);
            }
            Err(e) => self.rt.error(format!("cannot open {}: {e}", path.display())),
        }
    }

    fn replay_bar(&mut self, ui: &mut egui::Ui) {
        let Some(r) = &mut self.replay else { return };
        let mut close = false;
        let mut seek = None;
        ui.horizontal(|ui| {
            ui.strong("Replay");
            ui.label(r.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()));
            let label = if r.paused { "Play" } else { "Pause" };
            if ui.button(label).clicked() {
                r.paused = !r.paused;
            }
            let mut realtime = r.speed > 0.0;
            if ui.checkbox(&mut realtime, "real time").on_hover_text("Replay at the recorded pace").changed() {
                r.speed = if realtime { 1.0 } else { 0.0 };
            }
            if r.speed > 0.0 {
                ui.add(egui::DragValue::new(&mut r.speed).range(0.05..=32.0).speed(0.05).suffix("x"));
            }
            let (done, total) = r.records();
            let mut t = r.position();
            ui.spacing_mut().slider_width = (ui.available_width() - 220.0).max(80.0);
            if ui.add(egui::Slider::new(&mut t, 0.0..=r.duration().max(1e-3)).suffix(" s").max_decimals(2)).changed() {
                seek = Some(t);
            }
            ui.weak(format!("{done}/{total} records"));
            if ui.button("Close").clicked() {
                close = true;
            }
        });
        if let Some(t) = seek
            && let Some(r) = &mut self.replay
        {
            r.seek(&mut self.rt, t);
        }
        if close {
            clear_replayed(&mut self.rt.scene);
            self.replay = None;
        }
    }

    fn open_dialog(&mut self, ctx: &egui::Context) {
        let Some(text) = &mut self.open_dialog else { return };
        let mut open = None;
        let mut keep = true;
        egui::Window::new("Open a recording or scene").collapsible(false).resizable(false).show(ctx, |ui| {
            ui.label("Path of a .psr file (recordings and saved scenes), or drop the file on the window:");
            let r = ui.text_edit_singleline(text);
            r.request_focus();
            ui.horizontal(|ui| {
                if ui.button("Open").clicked() || (r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))) {
                    open = Some(std::path::PathBuf::from(text.trim()));
                }
                if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                    keep = false;
                }
            });
        });
        if let Some(p) = open {
            self.open_dialog = None;
            self.open(&p, 0.0);
        } else if !keep {
            self.open_dialog = None;
        }
    }

    /// Per-frame work before drawing: messages, hot reload, playback.
    pub fn tick(&mut self, ctx: &egui::Context) {
        let dropped: Vec<std::path::PathBuf> = ctx.input(|i| {
            i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()).collect()
        });
        if let Some(p) = dropped.first() {
            if self.rt.link().is_some() {
                self.rt.error(format!(
                    "{}: a view shows its hub's scene; open recordings on the hub (periscope FILE there)",
                    p.display()
                ));
            } else {
                self.open(p, 0.0);
            }
        }
        let budget = Duration::from_millis(self.cfg.drain_budget_ms);
        let size = self.screenshot_size();
        let mut shooter = WindowShooter { viewport: self.viewport.as_mut(), size };
        let step = self.rt.step(self.replay.as_mut(), Duration::ZERO, budget, &mut shooter);
        if step.more_queued {
            ctx.request_repaint();
        }
        match step.again_in {
            Some(wait) if wait.is_zero() => ctx.request_repaint(),
            Some(wait) => ctx.request_repaint_after(wait),
            None => {}
        }
        self.playback_keys(ctx);
        let n_frames = self.rt.scene.n_frames();
        let previewing =
            self.viewport.as_mut().is_some_and(|vp| self.video.step_preview(vp, self.rt.images.z_up, n_frames));
        if previewing || self.rt.exporting() {
            ctx.request_repaint();
        }
    }

    fn screenshot_size(&self) -> (u32, u32) {
        (self.cfg.screenshot_width, self.cfg.screenshot_height)
    }
}

/// Answers clients' screenshot requests with the window's renderer and camera.
struct WindowShooter<'a> {
    viewport: Option<&'a mut Viewport>,
    size: (u32, u32),
}

impl Shooter for WindowShooter<'_> {
    fn shoot(&mut self, scene: &Scene, req: &ScreenshotRequest) -> Result<(Image, usize), String> {
        let Some(vp) = self.viewport.as_deref_mut() else {
            return Err("this window has no GPU renderer".into());
        };
        let (w, h) = (req.width.unwrap_or(self.size.0), req.height.unwrap_or(self.size.1));
        if let Some(camera) = req.camera {
            vp.camera = camera;
        }
        // The scene at the asked frame; the playhead stays where it is.
        let view = SceneView::at(scene, req.frame);
        if req.fit {
            vp.prepare(view);
            vp.fit_all();
        }
        vp.capture(view, w, h).map(|img| (img, view.frame))
    }

    fn camera(&self) -> Camera {
        self.viewport.as_deref().map_or_else(Camera::default, |vp| vp.camera)
    }

    fn set_backgrounds(&mut self, list: &[std::sync::Arc<periscope_render::Background>]) {
        if let Some(vp) = self.viewport.as_deref_mut() {
            vp.set_backgrounds(list);
        }
    }

    fn set_camera(&mut self, camera: Camera) {
        if let Some(vp) = self.viewport.as_deref_mut() {
            vp.set_camera_from_code(camera);
        }
    }

    fn view_size(&self) -> (u32, u32) {
        self.viewport.as_deref().and_then(Viewport::last_size).unwrap_or(self.size)
    }

    fn bounds(
        &mut self,
        view: SceneView<'_>,
        node: Option<periscope_scene::NodeId>,
    ) -> Option<(glam::Vec3, glam::Vec3)> {
        self.viewport.as_deref_mut().and_then(|vp| vp.bounds(view, node))
    }

    fn render_frame(&mut self, view: SceneView<'_>, camera: &Camera, width: u32, height: u32) -> Result<Image, String> {
        let vp = self.viewport.as_deref_mut().ok_or("this window has no GPU renderer")?;
        vp.render_frame(view, camera, width, height)
    }
}

impl eframe::App for ViewerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.shutdown.load(Ordering::SeqCst) {
            self.rt.stop_recording();
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        self.tick(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }
}

/// In a view of a remote hub: tells the hub when a person moved this view's
/// camera (`view_moved`, at most every 33 ms, the newest camera winning), so
/// its remote renderers follow this view while it is the one in use.
fn report_camera(
    rt: &mut Runtime,
    vp: &Viewport,
    reported: &mut Option<(periscope_render::Camera, Instant)>,
    z_up: bool,
) {
    let Some(size) = vp.last_size() else { return };
    if reported.is_some_and(|(c, at)| c == vp.camera || at.elapsed() < Duration::from_millis(33)) {
        return;
    }
    let camera = vp.camera;
    *reported = Some((camera, Instant::now()));
    let env = periscope_ui::viewport::view_moved_message(&camera, size, z_up);
    rt.submit(env);
}
