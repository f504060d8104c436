//! The scene panels: the scene tree and the selected node's properties.
//! Each is a function over a [`UiHost`] (a scene to read, a sink for the
//! messages the panel sends), so the hub's window, a view of a remote hub and
//! tests (egui_kittest) drive the same code.

use egui;
use periscope_protocol::Value;
use periscope_scene::{Node, NodeId, NodeKind, Scene, Setting, Style, set_properties_message};

use crate::UiHost;

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
pub fn scene_tree(ui: &mut egui::Ui, rt: &mut dyn UiHost) {
    ui.heading("Scene");
    ui.separator();
    let ids: Vec<NodeId> = rt.scene().nodes().map(|n| n.id).collect();
    if ids.is_empty() {
        ui.weak("No nodes yet. Connect a client, e.g.\nfrom periscope import RemoteViewer");
    }
    let mut edits = Vec::new();
    // Only the visible rows are laid out: thousands of nodes cost what a screenful does.
    let row_height = ui.spacing().interact_size.y.max(ui.text_style_height(&egui::TextStyle::Body)) + 2.0;
    let scroll = egui::ScrollArea::vertical().id_salt("tree").max_height(ui.available_height() * 0.45);
    scroll.show_rows(ui, row_height, ids.len(), |ui, rows| {
        for &id in &ids[rows] {
            let Some(node) = rt.scene().node(id) else { continue };
            let client = rt.scene().client(node.client).map(|c| c.name.clone()).unwrap_or_default();
            let (mut enabled, tag, label) = (node.enabled, kind_tag(node.kind), format!("{}  · {}", node.name, client));
            let kind = node.kind.title();
            let hide = format!("Show or hide {}", node.name);
            let edit = set_properties_message(node);
            ui.horizontal(|ui| {
                if ui.checkbox(&mut enabled, "").on_hover_text(hide).changed() {
                    edits.push(edit.with_kwarg("enabled", enabled));
                }
                ui.monospace(tag).on_hover_text(kind);
                if ui.selectable_label(rt.scene().selected() == Some(id), label).clicked() {
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
    if let Some(id) = rt.scene().selected() {
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
pub fn properties(ui: &mut egui::Ui, rt: &mut dyn UiHost, id: NodeId) {
    let frame = rt.scene().current_frame();
    let Some(node) = rt.scene().node(id) else { return };
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
            let client = rt.scene().client(node.client).map_or("?".into(), |c| format!("{} #{}", c.name, c.id));
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

/// The hub's clients as a view knows them (from the hub's changes): name,
/// id, address and whether still connected.
pub fn hub_clients(ui: &mut egui::Ui, scene: &Scene) {
    egui::Grid::new("hub-clients").num_columns(3).striped(true).show(ui, |ui| {
        ui.strong("Client");
        ui.strong("Address");
        ui.strong("State");
        ui.end_row();
        for c in scene.clients() {
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
