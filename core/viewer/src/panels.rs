//! The side panels: scene tree, node properties, server, scripts, log.
//! Each is a function over the [`Runtime`] so tests can drive it with egui_kittest.

use eframe::egui;
use periscope_protocol::Value;
use periscope_scene::{Node, NodeId, NodeKind, Setting, Style, set_properties_message};

use crate::runtime::{Level, Runtime};

/// A one-letter tag per kind (egui's default fonts have no icon glyphs for these).
pub fn kind_tag(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Node => "N",
        NodeKind::Meshes => "M",
        NodeKind::Spheres => "S",
        NodeKind::Lines => "L",
        NodeKind::Arrows => "A",
        NodeKind::RigidBodies => "R",
        NodeKind::Skeletons => "K",
        NodeKind::Smpl => "B",
        NodeKind::PointClouds => "P",
    }
}

/// The scene tree and, below it, the selected node's properties.
pub fn scene_tree(ui: &mut egui::Ui, rt: &mut Runtime) {
    ui.heading("Scene");
    ui.separator();
    let ids: Vec<NodeId> = rt.scene.nodes().map(|n| n.id).collect();
    if ids.is_empty() {
        ui.weak("No nodes yet. Connect a client, e.g.\nfrom periscope import RemoteViewer");
    }
    let mut edits = Vec::new();
    // Only the visible rows are laid out: thousands of nodes cost what a screenful does.
    let row_height = ui.spacing().interact_size.y.max(ui.text_style_height(&egui::TextStyle::Body)) + 2.0;
    let scroll = egui::ScrollArea::vertical().id_salt("tree").max_height(ui.available_height() * 0.45);
    scroll.show_rows(ui, row_height, ids.len(), |ui, rows| {
        for &id in &ids[rows] {
            let Some(node) = rt.scene.node(id) else { continue };
            let client = rt.scene.client(node.client).map(|c| c.name.clone()).unwrap_or_default();
            let (mut enabled, tag, label) = (node.enabled, kind_tag(node.kind), format!("{}  · {}", node.name, client));
            let kind = node.kind.title();
            let hide = format!("Show or hide {}", node.name);
            let edit = set_properties_message(node);
            ui.horizontal(|ui| {
                if ui.checkbox(&mut enabled, "").on_hover_text(hide).changed() {
                    edits.push(edit.with_kwarg("enabled", enabled));
                }
                ui.monospace(tag).on_hover_text(kind);
                if ui.selectable_label(rt.scene.selected() == Some(id), label).clicked() {
                    edits.push(periscope_scene::select_message(Some(node), None));
                }
            });
        }
    });
    // Edits are messages of the local viewer client: they pass the chain and are recorded.
    for e in edits {
        rt.submit(e);
    }
    ui.separator();
    if let Some(id) = rt.scene.selected() {
        properties(ui, rt, id);
    }
}

/// Row-major rotation -> XYZ Euler angles in degrees (R = Rz * Ry * Rx).
fn euler_deg(r: [f32; 9]) -> [f32; 3] {
    let sy = -r[6].clamp(-1.0, 1.0);
    let y = sy.asin();
    let (x, z) = if sy.abs() < 0.9999 { (r[7].atan2(r[8]), r[3].atan2(r[0])) } else { ((-r[5]).atan2(r[4]), 0.0) };
    [x.to_degrees(), y.to_degrees(), z.to_degrees()]
}

/// XYZ Euler angles in degrees -> row-major rotation (R = Rz * Ry * Rx).
fn rotation_from_euler(e: [f32; 3]) -> [f32; 9] {
    let [x, y, z] = e.map(f32::to_radians);
    let (sx, cx) = x.sin_cos();
    let (sy, cy) = y.sin_cos();
    let (sz, cz) = z.sin_cos();
    [
        cz * cy,
        cz * sy * sx - sz * cx,
        cz * sy * cx + sz * sx,
        sz * cy,
        sz * sy * sx + cz * cx,
        sz * sy * cx - cz * sx,
        -sy,
        cy * sx,
        cy * cx,
    ]
}

fn vec3_edit(ui: &mut egui::Ui, v: &mut [f32; 3], speed: f64) -> bool {
    let mut changed = false;
    ui.horizontal(|ui| {
        for c in v.iter_mut() {
            changed |= ui.add(egui::DragValue::new(c).speed(speed).max_decimals(3)).changed();
        }
    });
    changed
}

/// The selected node's properties, editable live.
pub fn properties(ui: &mut egui::Ui, rt: &mut Runtime, id: NodeId) {
    let frame = rt.scene.current_frame();
    let Some(node) = rt.scene.node(id) else { return };
    let mut edit: Node = node.clone();
    let f = node.frame_for(frame);
    let mut position = node.position(f);
    let mut euler = euler_deg(node.rotation(f));
    let (mut set_position, mut set_rotation) = (false, false);
    ui.heading("Properties");
    egui::ScrollArea::vertical().id_salt("props").show(ui, |ui| {
        egui::Grid::new("props").num_columns(2).striped(true).show(ui, |ui| {
            ui.label("Name");
            ui.text_edit_singleline(&mut edit.name);
            ui.end_row();
            ui.label("Kind");
            ui.label(node.kind.title());
            ui.end_row();
            ui.label("Client / uid");
            let client = rt.scene.client(node.client).map_or("?".into(), |c| format!("{} #{}", c.name, c.id));
            ui.label(format!("{client} / {}", node.uid.map_or("-".into(), |u| u.to_string())));
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
            ui.label("Position");
            set_position = vec3_edit(ui, &mut position, 0.01);
            ui.end_row();
            ui.label("Rotation (XYZ°)");
            set_rotation = vec3_edit(ui, &mut euler, 0.5);
            ui.end_row();
            ui.label("Scale");
            ui.add(egui::DragValue::new(&mut edit.scale).speed(0.01).range(1e-6..=1e6));
            ui.end_row();
            for s in node.kind.settings() {
                ui.label(s.name());
                let st = &mut edit.style;
                match s {
                    Setting::FlatShading => ui.checkbox(&mut st.flat_shading, ""),
                    Setting::DrawEdges => ui.checkbox(&mut st.draw_edges, ""),
                    Setting::Radius => ui.add(egui::DragValue::new(&mut st.radius).speed(0.001).range(0.0..=1e6)),
                    Setting::RBase => ui.add(egui::DragValue::new(&mut st.r_base).speed(0.001).range(0.0..=1e6)),
                    Setting::RHead => ui.add(egui::DragValue::new(&mut st.r_head).speed(0.001).range(0.0..=1e6)),
                    Setting::P => ui.add(egui::Slider::new(&mut st.p, 0.0..=1.0)),
                    Setting::Length => ui.add(egui::DragValue::new(&mut st.length).speed(0.005).range(0.0..=1e6)),
                    Setting::RTip => ui.weak(st.r_tip.map_or("same as r_base".into(), |r| r.to_string())),
                    Setting::Mode => ui.weak(format!("{:?}", st.mode)),
                    Setting::ModelType => ui.weak(&st.model_type),
                    Setting::Gender => ui.weak(&st.gender),
                    Setting::NumBetas => ui.weak(st.num_betas.map_or("all".into(), |n| n.to_string())),
                    Setting::ShowSkeleton => ui.checkbox(&mut st.show_skeleton, ""),
                    Setting::PointSize => {
                        ui.add(egui::DragValue::new(&mut st.point_size).speed(0.1).range(0.5..=256.0))
                    }
                    Setting::PointSizeWorld => match &mut st.point_size_world {
                        Some(w) => ui.add(egui::DragValue::new(w).speed(0.001).range(1e-6..=1e6)),
                        None => ui.weak("pixels (point_size)"),
                    },
                };
                ui.end_row();
            }
            for name in node.attr_names() {
                let seq = node.attr(name).expect("listed");
                ui.label(name);
                ui.weak(format!("{} frame(s) of {:?}", seq.len(), seq.frame_shape(f)));
                ui.end_row();
            }
            ui.label("Data");
            ui.weak(format!("{:.2} MB", node.data_bytes() as f64 / 1e6));
            ui.end_row();
        });
    });
    let mut msg = set_properties_message(node);
    let n_kwargs = msg.kwargs.len();
    if edit.name != node.name {
        msg = msg.with_kwarg("name", edit.name.as_str());
    }
    if edit.enabled != node.enabled {
        msg = msg.with_kwarg("enabled", edit.enabled);
    }
    if edit.color != node.color {
        msg = msg.with_kwarg("color", Value::from(edit.color.to_vec()));
    }
    if edit.scale != node.scale {
        msg = msg.with_kwarg("scale", edit.scale);
    }
    if set_position {
        msg = msg.with_kwarg("position", Value::from(position.to_vec()));
    }
    if set_rotation {
        msg = msg.with_kwarg("rotation", Value::from(rotation_from_euler(euler).to_vec()));
    }
    for &s in node.kind.settings() {
        if let Some(v) = style_value(&edit.style, s).filter(|v| Some(v) != style_value(&node.style, s).as_ref()) {
            msg = msg.with_kwarg(s.name(), v);
        }
    }
    if msg.kwargs.len() > n_kwargs {
        rt.submit(msg);
    }
}

/// The value of a setting the panel edits, as a message carries it.
fn style_value(st: &Style, s: Setting) -> Option<Value> {
    Some(match s {
        Setting::FlatShading => st.flat_shading.into(),
        Setting::DrawEdges => st.draw_edges.into(),
        Setting::Radius => st.radius.into(),
        Setting::RBase => st.r_base.into(),
        Setting::RHead => st.r_head.into(),
        Setting::P => st.p.into(),
        Setting::Length => st.length.into(),
        Setting::ShowSkeleton => st.show_skeleton.into(),
        Setting::PointSize => st.point_size.into(),
        Setting::PointSizeWorld => st.point_size_world?.into(),
        Setting::RTip | Setting::Mode | Setting::ModelType | Setting::Gender | Setting::NumBetas => return None,
    })
}

/// The server: address, clients with their rates and errors, totals.
pub fn server_panel(ui: &mut egui::Ui, rt: &mut Runtime, listen: std::net::SocketAddr) {
    rt.sample_rates();
    let Some(server) = rt.server() else {
        hub_panel(ui, rt);
        return;
    };
    let stats = server.stats();
    use std::sync::atomic::Ordering::Relaxed;
    egui::Grid::new("server").num_columns(2).show(ui, |ui| {
        ui.label("Listening");
        ui.monospace(format!("ws://{listen}"));
        ui.end_row();
        ui.label("Connections");
        ui.label(server.connections().to_string());
        ui.end_row();
        ui.label("Received");
        ui.label(format!(
            "{} messages, {:.1} MB",
            stats.messages.load(Relaxed),
            stats.bytes.load(Relaxed) as f64 / 1e6
        ));
        ui.end_row();
        ui.label("Rejected");
        ui.label(stats.rejected.load(Relaxed).to_string());
        ui.end_row();
        let (items, bytes) = rt.queue().len();
        ui.label("Queue");
        ui.label(format!("{items} messages, {:.1} MB", bytes as f64 / 1e6));
        ui.end_row();
        ui.label("Views");
        ui.label(format!("{} (snapshots sent: {})", rt.hub().len(), rt.hub().resyncs));
        ui.end_row();
    });
    ui.add_space(4.0);
    // Network clients only: plugins and replayed recordings have no traffic here.
    let clients: Vec<_> = rt.scene.clients().filter(|c| crate::runtime::is_network_client(c.id)).cloned().collect();
    if clients.is_empty() {
        ui.weak("No clients yet.");
    }
    egui::Grid::new("clients").num_columns(5).striped(true).show(ui, |ui| {
        if !clients.is_empty() {
            for h in ["Client", "Address", "msg/s", "MB/s", "Errors"] {
                ui.strong(h);
            }
            ui.end_row();
        }
        for c in clients {
            let s = rt.client_stats(c.id);
            let name = format!("{} #{}", c.name, c.id);
            if c.connected {
                ui.label(name)
            } else {
                ui.weak(format!("{name} (gone)"))
            };
            ui.monospace(&c.addr);
            ui.label(format!("{:.0}", s.rate_messages));
            ui.label(format!("{:.1}", s.rate_bytes / 1e6));
            if s.errors > 0 {
                ui.colored_label(ui.visuals().error_fg_color, s.errors.to_string());
            } else {
                ui.label("0");
            }
            ui.end_row();
        }
    });
}

/// Every stage of the dispatch chain with its state and errors.
pub fn scripts_panel(ui: &mut egui::Ui, rt: &Runtime) {
    ui.weak("Every message passes these stages in order ([dispatch] chain in config.toml). Hover for the file.");
    let stages = rt.stages();
    if stages.is_empty() {
        ui.weak("No stages.");
    }
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
        for (label, text) in [("disabled", &s.disabled), ("load error", &s.load_error), ("last error", &s.last_error)] {
            if let Some(t) = text {
                ui.colored_label(ui.visuals().error_fg_color, format!("  {label}: {t}"));
            }
        }
    }
}

/// The log, newest at the bottom.
pub fn log_panel(ui: &mut egui::Ui, rt: &Runtime) {
    egui::ScrollArea::vertical().id_salt("log").stick_to_bottom(true).auto_shrink([false, false]).show(ui, |ui| {
        for line in rt.log() {
            let color = match line.level {
                Level::Info => ui.visuals().text_color(),
                Level::Error => ui.visuals().error_fg_color,
            };
            ui.colored_label(color, format!("{}  {}", line.clock, line.text))
                .on_hover_text("UTC, like the terminal log");
        }
    });
}

/// The link's state in the top bar of a view (`--connect`).
pub fn link_status(ui: &mut egui::Ui, link: &crate::view_link::ViewLink) {
    use crate::view_link::LinkState;
    match link.state() {
        LinkState::Connected => ui.label(format!("view of {}", link.url)),
        LinkState::Connecting => ui.colored_label(egui::Color32::YELLOW, format!("connecting to {}", link.url)),
        LinkState::Disconnected(why) => ui
            .colored_label(egui::Color32::LIGHT_RED, "disconnected — reconnecting")
            .on_hover_text(format!("{}: {why}", link.url)),
    };
}

/// A view's Server panel: the hub it shows and the hub's clients.
fn hub_panel(ui: &mut egui::Ui, rt: &Runtime) {
    if let Some(link) = rt.link() {
        link_status(ui, link);
    }
    ui.add_space(4.0);
    egui::Grid::new("hub-clients").num_columns(3).striped(true).show(ui, |ui| {
        ui.strong("Client");
        ui.strong("Address");
        ui.strong("State");
        ui.end_row();
        for c in rt.scene.clients() {
            ui.label(format!("{} #{}", c.name, c.id));
            ui.monospace(&c.addr);
            ui.label(if c.connected { "connected" } else { "gone" });
            ui.end_row();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euler_round_trips() {
        for e in [[10.0, 20.0, 30.0], [-45.0, 5.0, 170.0], [0.0, 0.0, 0.0]] {
            let back = euler_deg(rotation_from_euler(e));
            for k in 0..3 {
                assert!((back[k] - e[k]).abs() < 1e-3, "{e:?} -> {back:?}");
            }
        }
    }
}
