//! The playback bar and keys: every action is a message of the window's
//! client (`set_frame`, `next_frame`, `previous_frame`, `playback`, `select`),
//! so the hub's chain, its recorder and every other view see it.

use periscope_protocol::limits::MAX_PLAYBACK_FPS;
use periscope_protocol::{Envelope, MessageType, Value};

use crate::UiHost;

fn set_frame(f: i64) -> Envelope {
    Envelope::new(MessageType::SetFrame.as_i64()).with_arg(Value::Int(f))
}

/// The bar: first, previous, play/pause, next, fps and the frame slider.
pub fn playback_bar(ui: &mut egui::Ui, host: &mut dyn UiHost) {
    let scene = host.scene();
    let n = scene.n_frames();
    let mut send = Vec::new();
    ui.horizontal(|ui| {
        if ui.button("|<").on_hover_text("First frame").clicked() {
            send.push(set_frame(0));
        }
        if ui.button("<").on_hover_text("Previous frame (,)").clicked() {
            send.push(Envelope::new(MessageType::PreviousFrame.as_i64()));
        }
        let label = if scene.playing() { "Pause" } else { "Play" };
        if ui.add(egui::Button::new(label).min_size(egui::vec2(48.0, 0.0))).on_hover_text("Space").clicked() {
            send.push(periscope_scene::playback_message(Some(!scene.playing()), None));
        }
        if ui.button(">").on_hover_text("Next frame (.)").clicked() {
            send.push(Envelope::new(MessageType::NextFrame.as_i64()));
        }
        let mut fps = scene.fps();
        let drag = egui::DragValue::new(&mut fps)
            .range(1.0..=MAX_PLAYBACK_FPS)
            .clamp_existing_to_range(false)
            .suffix(" fps")
            .speed(0.5);
        if ui.add(drag).on_hover_text("Playback speed").changed() && fps != scene.fps() {
            send.push(periscope_scene::playback_message(None, Some(fps)));
        }
        let mut f = scene.current_frame();
        ui.spacing_mut().slider_width = (ui.available_width() - 120.0).max(100.0);
        if ui.add(egui::Slider::new(&mut f, 0..=n.saturating_sub(1)).text(format!("/ {n}"))).changed() {
            send.push(set_frame(f as i64));
        }
    });
    for env in send {
        host.submit(env);
    }
}

/// Space plays or pauses, `.` and `,` step, Escape clears the selection.
/// `keys_free`: no text field has the keyboard.
pub fn playback_keys(ctx: &egui::Context, host: &mut dyn UiHost, keys_free: bool) {
    if !keys_free {
        return;
    }
    let (space, next, prev, esc) = ctx.input(|i| {
        (
            i.key_pressed(egui::Key::Space),
            i.key_pressed(egui::Key::Period),
            i.key_pressed(egui::Key::Comma),
            i.key_pressed(egui::Key::Escape),
        )
    });
    if space {
        let playing = host.scene().playing();
        host.submit(periscope_scene::playback_message(Some(!playing), None));
    }
    if next {
        host.submit(Envelope::new(MessageType::NextFrame.as_i64()));
    }
    if prev {
        host.submit(Envelope::new(MessageType::PreviousFrame.as_i64()));
    }
    if esc {
        host.submit(periscope_scene::select_message(None, None));
    }
}
