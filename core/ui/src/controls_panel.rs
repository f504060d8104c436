//! The Controls panel: the sliders, checkboxes, dropdowns, text fields,
//! numbers, colors and buttons that clients, scripts and plugins defined
//! (`periscope-scene`'s `controls.rs`), one collapsible section per owner,
//! folders inside. A change is a `set_control` message of the viewer's own
//! client ([`UiHost::submit`]): it passes the chain and the recorder, and the
//! owner gets an event. Sliders, numbers and colors send while dragging at
//! most every [`SEND_INTERVAL`], the newest value winning, and always the last
//! one.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use web_time::Instant;

use egui;
use periscope_protocol::Value;
use periscope_scene::{Control, ControlId, ControlKind, ControlValue, set_control_message};

use crate::UiHost;

/// Continuous edits (dragging) are sent at most this often per control.
pub const SEND_INTERVAL: Duration = Duration::from_millis(10);

/// Edits in flight and text being typed.
#[derive(Default)]
pub struct ControlsPanel {
    /// The newest value of a control being dragged, not sent yet.
    pending: HashMap<ControlId, Value>,
    last_sent: HashMap<ControlId, Instant>,
    /// Text fields being edited (sent on Enter or when focus leaves).
    editing: HashMap<ControlId, String>,
}

/// A value the person set, and whether it may wait ([`SEND_INTERVAL`]).
struct Edit {
    id: ControlId,
    value: Value,
    continuous: bool,
}

impl ControlsPanel {
    /// Draws every visible control; sends what changed.
    pub fn show(&mut self, ui: &mut egui::Ui, rt: &mut dyn UiHost) {
        let controls = rt.scene().controls();
        if controls.iter().all(|c| !c.visible) {
            ui.weak("No controls. A client adds them with v.gui.add_slider(...), a script with add_slider(...).");
            self.flush(ui, rt, true);
            return;
        }
        // Owner -> folder -> controls, in creation order (borrowed: a dropdown's
        // options are not copied every frame).
        let mut owners: BTreeMap<u64, BTreeMap<&str, Vec<&Control>>> = BTreeMap::new();
        for c in controls.iter().filter(|c| c.visible) {
            owners.entry(c.client).or_default().entry(c.folder.as_str()).or_default().push(c);
        }
        let mut edits = Vec::new();
        for (owner, folders) in owners {
            let info = rt.scene().client(owner);
            let connected = info.is_none_or(|c| c.connected);
            let name = info.map_or_else(|| "viewer".to_owned(), |c| c.name.clone());
            let title = if connected { format!("{name} #{owner}") } else { format!("{name} #{owner} (disconnected)") };
            egui::CollapsingHeader::new(title).id_salt(("controls", owner)).default_open(true).show(ui, |ui| {
                ui.add_enabled_ui(connected, |ui| {
                    for (folder, list) in &folders {
                        if folder.is_empty() {
                            for c in list {
                                self.control(ui, c, &mut edits);
                            }
                        } else {
                            egui::CollapsingHeader::new(*folder)
                                .id_salt(("folder", owner, folder))
                                .default_open(true)
                                .show(ui, |ui| {
                                    for c in list {
                                        self.control(ui, c, &mut edits);
                                    }
                                });
                        }
                    }
                });
            });
        }
        let dragging = ui.input(|i| i.pointer.any_down());
        for e in edits {
            if e.continuous && dragging {
                self.pending.insert(e.id, e.value);
            } else {
                self.pending.remove(&e.id);
                self.send(rt, e.id, e.value);
            }
        }
        self.flush(ui, rt, !dragging);
    }

    /// Sends pending values whose interval has passed (all of them when
    /// `all`, e.g. the drag ended); asks for a repaint when some must wait.
    fn flush(&mut self, ui: &egui::Ui, rt: &mut dyn UiHost, all: bool) {
        let mut wait: Option<Duration> = None;
        let ids: Vec<ControlId> = self.pending.keys().copied().collect();
        for id in ids {
            let since = self.last_sent.get(&id).map_or(SEND_INTERVAL, Instant::elapsed);
            if all || since >= SEND_INTERVAL {
                if let Some(v) = self.pending.remove(&id) {
                    self.send(rt, id, v);
                }
            } else {
                let left = SEND_INTERVAL - since;
                wait = Some(wait.map_or(left, |w| w.min(left)));
            }
        }
        if let Some(w) = wait {
            ui.ctx().request_repaint_after(w);
        }
    }

    fn send(&mut self, rt: &mut dyn UiHost, id: ControlId, value: Value) {
        let Some(c) = rt.scene().controls().get(id) else { return };
        let msg = set_control_message(c, value);
        self.last_sent.insert(id, Instant::now());
        rt.submit(msg);
    }

    /// One control's widget; what the person changed goes into `edits`.
    fn control(&mut self, ui: &mut egui::Ui, c: &Control, edits: &mut Vec<Edit>) {
        let id = c.id;
        let shown = self.pending.get(&id).cloned();
        let mut edit = |value: Value, continuous: bool| edits.push(Edit { id, value, continuous });
        ui.add_enabled_ui(!c.disabled, |ui| match c.kind {
            ControlKind::Slider | ControlKind::Number => {
                let mut x = shown.as_ref().and_then(Value::as_f64).unwrap_or_else(|| c.value.as_f64());
                let before = x;
                let response = if c.kind == ControlKind::Slider {
                    let (lo, hi) = (c.min.unwrap_or(0.0), c.max.unwrap_or(1.0));
                    let mut s = egui::Slider::new(&mut x, lo..=hi).text(c.label.as_str()).logarithmic(c.log);
                    if let Some(step) = c.step {
                        s = s.step_by(step);
                    }
                    if c.integer {
                        s = s.integer();
                    }
                    ui.add(s)
                } else {
                    ui.horizontal(|ui| {
                        let (lo, hi) = (c.min.unwrap_or(f64::NEG_INFINITY), c.max.unwrap_or(f64::INFINITY));
                        let mut d = egui::DragValue::new(&mut x).range(lo..=hi).speed(c.step.unwrap_or(0.1));
                        if c.integer {
                            d = d.fixed_decimals(0);
                        }
                        let r = ui.add(d);
                        ui.label(c.label.as_str());
                        r
                    })
                    .inner
                };
                if x != before {
                    let v = if c.integer { Value::Int(x.round() as i64) } else { Value::Float(x) };
                    edit(v, response.dragged());
                }
            }
            ControlKind::Checkbox => {
                let mut b = matches!(c.value, ControlValue::Bool(true));
                if ui.checkbox(&mut b, c.label.as_str()).changed() {
                    edit(Value::Bool(b), false);
                }
            }
            ControlKind::Button => {
                if ui.button(c.label.as_str()).clicked() {
                    edit(Value::Bool(true), false);
                }
            }
            ControlKind::Dropdown => {
                let current = match &c.value {
                    ControlValue::Text(s) => s.clone(),
                    _ => String::new(),
                };
                let mut chosen = None;
                egui::ComboBox::new(("dropdown", id), c.label.as_str()).selected_text(current.as_str()).show_ui(
                    ui,
                    |ui| {
                        for o in &c.options {
                            if ui.selectable_label(*o == current, o.as_str()).clicked() && *o != current {
                                chosen = Some(o.clone());
                            }
                        }
                    },
                );
                if let Some(o) = chosen {
                    edit(Value::from(o), false);
                }
            }
            ControlKind::Text => {
                let value = match &c.value {
                    ControlValue::Text(s) => s.clone(),
                    _ => String::new(),
                };
                ui.horizontal(|ui| {
                    let text = self.editing.entry(id).or_insert_with(|| value.clone());
                    let r = ui.add(egui::TextEdit::singleline(text).desired_width(200.0));
                    ui.label(c.label.as_str());
                    if r.lost_focus() {
                        let text = self.editing.remove(&id).unwrap_or_default();
                        if text != value {
                            edit(Value::from(text), false);
                        }
                    } else if !r.has_focus() {
                        // Not being edited: follow the control's value.
                        self.editing.insert(id, value);
                    }
                });
            }
            ControlKind::Color => {
                let mut rgb = match (&shown, &c.value) {
                    (Some(Value::Array(a)), _) if a.len() == 3 => {
                        [0, 1, 2].map(|i| a[i].as_f64().unwrap_or(0.0) as f32)
                    }
                    (_, ControlValue::Color(rgb)) => *rgb,
                    _ => [1.0; 3],
                };
                ui.horizontal(|ui| {
                    let r = ui.color_edit_button_rgb(&mut rgb);
                    ui.label(c.label.as_str());
                    if r.changed() {
                        edit(Value::from(rgb.map(|x| x.clamp(0.0, 1.0)).to_vec()), true);
                    }
                });
            }
        });
    }
}
