//! One egui window per remote image: the picture, its statistics, Pause and
//! "Read remote", and camera control by dragging in the picture.

use eframe::egui;

use super::{ImageHub, ImageKey};

/// Draws every image window; uploads new images to their textures in place.
/// New windows open cascaded over `area` (the 3D viewport), not over the panels.
pub fn show(ctx: &egui::Context, hub: &mut ImageHub, area: egui::Rect) {
    let keys: Vec<ImageKey> = hub.windows.keys().copied().collect();
    for (k, key) in keys.into_iter().enumerate() {
        let (client_id, index) = key;
        let Some(client) = hub.clients.get(&client_id) else { continue };
        let title = format!("{} #{client_id} · image {index}", client.name);
        let size = client.size;
        let Some(w) = hub.windows.get_mut(&key) else { continue };
        if let Some(d) = w.pending.take() {
            let image = egui::ColorImage::from_rgba_unmultiplied([d.width, d.height], &d.rgba);
            match &mut w.texture {
                // Same size: egui-wgpu writes into the existing texture.
                Some(t) => t.set(image, egui::TextureOptions::LINEAR),
                None => {
                    w.texture = Some(ctx.load_texture(
                        format!("remote-{client_id}-{index}"),
                        image,
                        egui::TextureOptions::LINEAR,
                    ))
                }
            }
        }
        let stats = format!(
            "{}x{} {} · {:.0} fps · decode {:.1} ms · latency {} · camera rtt {} · dropped {}{}",
            w.width,
            w.height,
            w.format,
            w.fps,
            w.decode_ms,
            w.latency_ms.map_or("-".into(), |l| format!("{l:.0} ms")),
            w.camera_rtt_ms.map_or("-".into(), |l| format!("{l:.0} ms")),
            w.dropped,
            if w.errors > 0 { format!(" · {} bad", w.errors) } else { String::new() },
        );
        let texture = w.texture.as_ref().map(|t| (t.id(), t.size_vec2()));
        // Open at the size the renderer is asked to render (the camera's size), then the user resizes.
        let native = egui::vec2(size[0] as f32, size[1] as f32) / ctx.pixels_per_point();
        let mut changed_camera = None;
        let mut new_size = None;
        let mut toggle_pause = false;
        let mut read_remote = false;
        let client = hub.clients.get(&client_id).expect("checked above");
        let (paused, reading, mut camera) = (client.paused, client.reading, client.camera);
        egui::Window::new(title)
            .id(egui::Id::unique(("remote-image", client_id, index)))
            .default_pos(area.min + egui::vec2(16.0, 16.0) + egui::vec2(36.0, 36.0) * k as f32)
            .default_size(native + egui::vec2(0.0, 28.0))
            .min_size(egui::vec2(160.0, 120.0))
            .resizable(true)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.weak(stats);
                    if ui.selectable_label(paused, "Pause").on_hover_text("Stop accepting images").clicked() {
                        toggle_pause = true;
                    }
                    if !reading && ui.button("Read remote").on_hover_text("Show the renderer's next image").clicked() {
                        read_remote = true;
                    }
                });
                let avail = ui.available_size().max(egui::vec2(32.0, 24.0));
                let (rect, response) = ui.allocate_exact_size(avail, egui::Sense::click_and_drag());
                if let Some((id, size)) = texture {
                    // Keep the aspect ratio, centred.
                    let scale = (rect.width() / size.x).min(rect.height() / size.y);
                    let shown = egui::Rect::from_center_size(rect.center(), size * scale);
                    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                    ui.painter().image(id, shown, uv, egui::Color32::WHITE);
                } else {
                    ui.painter().text(
                        rect.center(),
                        egui::Align2::CENTER_CENTER,
                        "waiting for the first image",
                        egui::FontId::proportional(14.0),
                        ui.visuals().weak_text_color(),
                    );
                }
                let delta = response.drag_delta();
                if response.dragged_by(egui::PointerButton::Secondary)
                    || response.dragged_by(egui::PointerButton::Middle)
                    || (ui.input(|i| i.modifiers.shift) && response.dragged_by(egui::PointerButton::Primary))
                {
                    camera.pan(delta.x, delta.y, rect.height());
                } else if response.dragged_by(egui::PointerButton::Primary) {
                    camera.orbit(delta.x, delta.y);
                }
                if response.hovered() {
                    let scroll = ui.input(|i| i.smooth_scroll_delta.y);
                    if scroll != 0.0 {
                        camera.zoom(scroll / 50.0);
                    }
                }
                changed_camera = Some(camera);
                if index == 0 {
                    let ppp = ui.pixels_per_point();
                    new_size = Some([(rect.width() * ppp).round() as u32, (rect.height() * ppp).round() as u32]);
                }
            });
        if let Some(c) = changed_camera {
            hub.set_camera(client_id, c);
        }
        if let Some(s) = new_size {
            hub.set_size(client_id, s);
        }
        if let Some(c) = hub.clients.get_mut(&client_id) {
            c.paused ^= toggle_pause;
        }
        if read_remote {
            hub.read_remote(Some(client_id));
        }
    }
}
