//! The egui window: scene tree, node properties, playback bar and log.
//! Drawing the renderables in the central area is the renderer's job.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eframe::egui;
use periscope_scene::{Node, NodeId, NodeKind};

use crate::config::ViewerSection;
use crate::runtime::{Level, Runtime};

/// The window's state.
pub struct ViewerApp {
    rt: Runtime,
    cfg: ViewerSection,
    listen: SocketAddr,
    show_scripts: bool,
    last_step: Instant,
    shutdown: Arc<AtomicBool>,
}

/// Opens the window and runs until it is closed or Ctrl-C.
pub fn run(
    rt: Runtime,
    cfg: ViewerSection,
    listen: SocketAddr,
    shutdown: Arc<AtomicBool>,
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
            Ok(Box::new(ViewerApp { rt, cfg, listen, show_scripts: true, last_step: Instant::now(), shutdown }))
        }),
    )
}

/// A one-letter tag per kind (egui's default fonts have no icon glyphs for these).
fn kind_tag(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Node => "N",
        NodeKind::Meshes => "M",
        NodeKind::Spheres => "S",
        NodeKind::Lines => "L",
        NodeKind::Arrows => "A",
        NodeKind::RigidBodies => "R",
        NodeKind::Skeletons => "K",
    }
}

impl ViewerApp {
    fn step_playback(&mut self, ctx: &egui::Context) {
        let input = ctx.input(|i| {
            (i.key_pressed(egui::Key::Space), i.key_pressed(egui::Key::Period), i.key_pressed(egui::Key::Comma))
        });
        let editing = ctx.egui_wants_keyboard_input();
        if !editing {
            if input.0 {
                self.rt.scene.playing = !self.rt.scene.playing;
            }
            if input.1 {
                self.rt.scene.next_frame();
            }
            if input.2 {
                self.rt.scene.previous_frame();
            }
        }
        if self.rt.scene.playing {
            let interval = Duration::from_secs_f32(1.0 / self.cfg.playback_fps.max(1.0));
            if self.last_step.elapsed() >= interval {
                self.rt.scene.next_frame();
                self.last_step = Instant::now();
            }
            ctx.request_repaint_after(interval);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Periscope");
            ui.separator();
            ui.label(format!("ws://{}", self.listen));
            ui.separator();
            let server = self.rt.server();
            ui.label(format!("{} client(s)", server.connections()));
            ui.separator();
            ui.label(format!("{} node(s)", self.rt.scene.nodes().count()));
            ui.separator();
            let (items, bytes) = self.rt.queue().len();
            ui.label(format!("queue {items} msg / {:.1} MB", bytes as f64 / 1e6));
            ui.separator();
            ui.label(format!("{} message(s) handled", self.rt.handled));
            ui.separator();
            ui.toggle_value(&mut self.show_scripts, "Scripts");
        });
    }

    fn playback_bar(&mut self, ui: &mut egui::Ui) {
        let scene = &mut self.rt.scene;
        let n = scene.n_frames();
        ui.horizontal(|ui| {
            if ui.button("|<").on_hover_text("First frame").clicked() {
                scene.set_frame(0);
            }
            if ui.button("<").on_hover_text("Previous frame (,)").clicked() {
                scene.previous_frame();
            }
            let label = if scene.playing { "Pause" } else { "Play" };
            if ui.add(egui::Button::new(label).min_size(egui::vec2(48.0, 0.0))).on_hover_text("Space").clicked() {
                scene.playing = !scene.playing;
            }
            if ui.button(">").on_hover_text("Next frame (.)").clicked() {
                scene.next_frame();
            }
            let mut f = scene.current_frame();
            ui.spacing_mut().slider_width = (ui.available_width() - 120.0).max(100.0);
            if ui.add(egui::Slider::new(&mut f, 0..=n.saturating_sub(1)).text(format!("/ {n}"))).changed() {
                scene.set_frame(f as i64);
            }
        });
    }

    fn scene_tree(&mut self, ui: &mut egui::Ui) {
        ui.heading("Scene");
        ui.separator();
        let ids: Vec<NodeId> = self.rt.scene.nodes().map(|n| n.id).collect();
        if ids.is_empty() {
            ui.weak("No nodes yet. Connect a client, e.g.\nfrom periscope import RemoteViewer");
        }
        egui::ScrollArea::vertical().id_salt("tree").max_height(ui.available_height() * 0.5).show(ui, |ui| {
            for id in ids {
                let Some(node) = self.rt.scene.node(id) else { continue };
                let client = self.rt.scene.client(node.client).map(|c| c.name.clone()).unwrap_or_default();
                let (mut enabled, tag, label) =
                    (node.enabled, kind_tag(node.kind), format!("{}  · {}", node.name, client));
                let kind = node.kind.title();
                ui.horizontal(|ui| {
                    if ui.checkbox(&mut enabled, "").changed()
                        && let Some(n) = self.rt.scene.node_mut(id)
                    {
                        n.enabled = enabled;
                    }
                    ui.monospace(tag).on_hover_text(kind);
                    if ui.selectable_label(self.rt.scene.selected == Some(id), label).clicked() {
                        self.rt.scene.selected = Some(id);
                    }
                });
            }
        });
        ui.separator();
        if let Some(id) = self.rt.scene.selected {
            self.properties(ui, id);
        }
    }

    fn properties(&mut self, ui: &mut egui::Ui, id: NodeId) {
        let frame = self.rt.scene.current_frame();
        let Some(node) = self.rt.scene.node(id) else { return };
        let mut edit: Node = node.clone();
        let f = node.frame_for(frame);
        ui.heading("Properties");
        egui::Grid::new("props").num_columns(2).striped(true).show(ui, |ui| {
            ui.label("Name");
            ui.text_edit_singleline(&mut edit.name);
            ui.end_row();
            ui.label("Kind");
            ui.label(node.kind.title());
            ui.end_row();
            ui.label("Remote uid");
            ui.label(node.uid.map_or("-".into(), |u| u.to_string()));
            ui.end_row();
            ui.label("Frames");
            ui.label(format!("{} (showing {})", node.n_frames(), f));
            ui.end_row();
            ui.label("Enabled");
            ui.checkbox(&mut edit.enabled, "");
            ui.end_row();
            ui.label("Color");
            ui.color_edit_button_rgba_unmultiplied(&mut edit.color);
            ui.end_row();
            let p = node.position(f);
            ui.label("Position");
            ui.label(format!("{:.3}, {:.3}, {:.3}", p[0], p[1], p[2]));
            ui.end_row();
            ui.label("Scale");
            ui.add(egui::DragValue::new(&mut edit.scale).speed(0.01));
            ui.end_row();
            if node.kind == NodeKind::Meshes {
                ui.label("Flat shading");
                ui.checkbox(&mut edit.style.flat_shading, "");
                ui.end_row();
                ui.label("Edges");
                ui.checkbox(&mut edit.style.draw_edges, "");
                ui.end_row();
            }
            for name in node.attr_names() {
                let seq = node.attr(name).expect("listed");
                ui.label(name);
                ui.weak(format!("{} frame(s) of {:?}", seq.len(), seq.inner_shape()));
                ui.end_row();
            }
            ui.label("Data");
            ui.weak(format!("{:.2} MB", node.data_bytes() as f64 / 1e6));
            ui.end_row();
        });
        let changed = edit.name != node.name
            || edit.enabled != node.enabled
            || edit.color != node.color
            || edit.scale != node.scale
            || edit.style != node.style;
        if changed && let Some(n) = self.rt.scene.node_mut(id) {
            n.name = edit.name;
            n.enabled = edit.enabled;
            n.color = edit.color;
            n.scale = edit.scale;
            n.style = edit.style;
        }
    }

    fn scripts_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Scripts and plugins");
        ui.weak("Every message passes these stages in order ([dispatch] chain in config.toml). Hover for the file.");
        ui.separator();
        let stages = self.rt.stages();
        if stages.is_empty() {
            ui.weak("No stages.");
        }
        egui::ScrollArea::vertical().id_salt("stages").show(ui, |ui| {
            for s in stages {
                ui.horizontal(|ui| {
                    let (text, color) = if s.disabled.is_some() {
                        ("disabled", ui.visuals().error_fg_color)
                    } else if s.load_error.is_some() {
                        ("error", ui.visuals().warn_fg_color)
                    } else {
                        ("ok", ui.visuals().text_color())
                    };
                    ui.colored_label(color, text);
                    ui.strong(&s.name);
                    if let Some(v) = &s.version {
                        ui.weak(format!("v{v}"));
                        if let Some(file) = s.path.as_ref().and_then(|p| p.file_name()) {
                            ui.weak(file.to_string_lossy());
                        }
                    }
                    if s.path.is_some() {
                        ui.weak(format!("gen {}", s.generation));
                    }
                    ui.weak(format!("{} calls, {} failures", s.calls, s.failures));
                })
                .response
                .on_hover_text(match &s.path {
                    Some(p) => format!("{}\nfrom chain entry \"{}\"", p.display(), s.entry),
                    None => format!("from chain entry \"{}\"", s.entry),
                });
                for (label, text) in
                    [("disabled", &s.disabled), ("load error", &s.load_error), ("last error", &s.last_error)]
                {
                    if let Some(t) = text {
                        ui.colored_label(ui.visuals().error_fg_color, format!("  {label}: {t}"));
                    }
                }
            }
        });
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        ui.heading("Viewport");
        ui.weak("The 3D view draws here once the renderer is in place; the scene, frames and messages are live.");
        ui.add_space(8.0);
        ui.label(format!(
            "Frame {} of {} · {} node(s) · {} client(s) known",
            self.rt.scene.current_frame(),
            self.rt.scene.n_frames(),
            self.rt.scene.nodes().count(),
            self.rt.scene.clients().count()
        ));
        ui.add_space(8.0);
        ui.separator();
        ui.strong("Log");
        egui::ScrollArea::vertical().id_salt("log").stick_to_bottom(true).show(ui, |ui| {
            for line in self.rt.log() {
                let color = match line.level {
                    Level::Info => ui.visuals().text_color(),
                    Level::Error => ui.visuals().error_fg_color,
                };
                ui.colored_label(color, format!("{:>6.1}s  {}", line.at.elapsed().as_secs_f32(), line.text));
            }
        });
    }
}

impl eframe::App for ViewerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.shutdown.load(Ordering::SeqCst) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        self.rt.pump(Duration::from_millis(self.cfg.drain_budget_ms));
        if !self.rt.queue().is_empty() {
            ctx.request_repaint();
        }
        if let Some(again) = self.rt.poll_scripts().again_in {
            ctx.request_repaint_after(again);
        }
        self.step_playback(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("playback").show(ui, |ui| self.playback_bar(ui));
        egui::Panel::left("scene").resizable(true).default_size(300.0).show(ui, |ui| self.scene_tree(ui));
        if self.show_scripts {
            egui::Panel::right("scripts").resizable(true).default_size(340.0).show(ui, |ui| self.scripts_panel(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
    }
}
