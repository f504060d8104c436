//! One egui window per remote image: the picture, its statistics, Pause,
//! "Read remote" and Dock, and camera control by dragging in the picture.
//!
//! New windows are tiled side by side over the 3D view (not piled on each
//! other), sized to the image's aspect ratio; a window's place is remembered
//! per renderer name and image index, so a renderer that reconnects finds its
//! windows where the person left them. A docked image moves into the side
//! panel ([`show_docked`]).

use eframe::egui;

use super::{ImageHub, ImageKey};

/// Uploads decoded images to their textures (in place when the size is the same).
fn upload(ctx: &egui::Context, hub: &mut ImageHub) {
    for (&(client_id, index), w) in &mut hub.windows {
        let Some(d) = w.pending.take() else { continue };
        let image = egui::ColorImage::from_rgba_unmultiplied([d.width, d.height], &d.rgba);
        match &mut w.texture {
            Some(t) => t.set(image, egui::TextureOptions::LINEAR),
            None => {
                w.texture =
                    Some(ctx.load_texture(format!("remote-{client_id}-{index}"), image, egui::TextureOptions::LINEAR))
            }
        }
    }
}

/// What the person did in one image's UI.
#[derive(Default)]
struct Actions {
    camera: Option<periscope_render::Camera>,
    size: Option<[u32; 2]>,
    toggle_pause: bool,
    read_remote: bool,
    toggle_dock: bool,
}

/// The statistics line, buttons and the picture (aspect kept, centred) with
/// camera input, inside `ui`.
fn image_ui(ui: &mut egui::Ui, hub: &ImageHub, key: ImageKey) -> Actions {
    let mut act = Actions::default();
    let (client_id, index) = key;
    let (Some(w), Some(client)) = (hub.windows.get(&key), hub.clients.get(&client_id)) else { return act };
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
    let (paused, reading, mut camera) = (client.paused, client.reading, client.camera);
    ui.horizontal_wrapped(|ui| {
        ui.weak(stats);
        if ui.selectable_label(paused, "Pause").on_hover_text("Stop accepting images").clicked() {
            act.toggle_pause = true;
        }
        if !reading && ui.button("Read remote").on_hover_text("Show the renderer's next image").clicked() {
            act.read_remote = true;
        }
        let dock = if w.docked { "Undock" } else { "Dock" };
        if ui.button(dock).on_hover_text("Show this image in the side panel, or as a window again").clicked() {
            act.toggle_dock = true;
        }
    });
    let avail = ui.available_size().max(egui::vec2(32.0, 24.0));
    // Docked images take the panel's width at the image's aspect ratio.
    let avail = match (w.docked, texture) {
        (true, Some((_, size))) => egui::vec2(avail.x, avail.x * size.y / size.x.max(1.0)),
        (true, None) => egui::vec2(avail.x, avail.x * 0.75),
        _ => avail,
    };
    let (rect, response) = ui.allocate_exact_size(avail, egui::Sense::click_and_drag());
    if let Some((id, size)) = texture {
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
    act.camera = Some(camera);
    if index == 0 {
        let ppp = ui.pixels_per_point();
        act.size = Some([(rect.width() * ppp).round() as u32, (rect.height() * ppp).round() as u32]);
    }
    act
}

fn apply(hub: &mut ImageHub, key: ImageKey, act: Actions) {
    let client_id = key.0;
    if let Some(c) = act.camera {
        hub.set_camera(client_id, c);
    }
    if let Some(s) = act.size {
        hub.set_size(client_id, s);
    }
    if let Some(c) = hub.clients.get_mut(&client_id) {
        c.paused ^= act.toggle_pause;
    }
    if act.read_remote {
        hub.read_remote(Some(client_id));
    }
    if act.toggle_dock
        && let Some(w) = hub.windows.get_mut(&key)
    {
        w.docked = !w.docked;
    }
}

/// Where tile `k` of `n` goes in `area`, and the largest size there with the
/// aspect ratio of `native`: of every grid of columns and rows, the one that
/// shows the images largest (the squarest one when several tie).
pub fn tile(area: egui::Rect, n: usize, k: usize, native: egui::Vec2) -> (egui::Pos2, egui::Vec2) {
    const GAP: f32 = 12.0;
    // Room for the title bar and the statistics line.
    const CHROME: f32 = 56.0;
    let n = n.max(1);
    let layout = |cols: usize| {
        let rows = n.div_ceil(cols);
        let cell = egui::vec2(area.width() / cols as f32, area.height() / rows as f32) - egui::vec2(GAP, GAP);
        let room = (cell - egui::vec2(0.0, CHROME)).max(egui::vec2(80.0, 60.0));
        let scale = (room.x / native.x.max(1.0)).min(room.y / native.y.max(1.0)).min(1.0);
        (cell, scale)
    };
    let square = (n as f32 * area.width() / area.height().max(1.0)).sqrt();
    let cols = (1..=n)
        .max_by(|&a, &b| {
            let (sa, sb) = (layout(a).1, layout(b).1);
            sa.total_cmp(&sb).then_with(|| (b as f32 - square).abs().total_cmp(&(a as f32 - square).abs()))
        })
        .unwrap_or(1);
    let (cell, scale) = layout(cols);
    let origin = area.min + egui::vec2((k % cols) as f32, (k / cols) as f32) * (cell + egui::vec2(GAP, GAP));
    (origin + egui::vec2(GAP / 2.0, GAP / 2.0), native * scale + egui::vec2(0.0, 28.0))
}

/// Draws every undocked image window; new windows open tiled over `area`
/// (the 3D viewport), not over the panels.
pub fn show(ctx: &egui::Context, hub: &mut ImageHub, area: egui::Rect) {
    upload(ctx, hub);
    let floating: Vec<ImageKey> = hub.windows.iter().filter(|(_, w)| !w.docked).map(|(k, _)| *k).collect();
    let n = floating.len();
    for (k, key) in floating.into_iter().enumerate() {
        let (client_id, index) = key;
        let Some(client) = hub.clients.get(&client_id) else { continue };
        let title = format!("{} #{client_id} · image {index}", client.name);
        let native = hub.windows[&key]
            .texture
            .as_ref()
            .map_or(egui::vec2(client.size[0] as f32, client.size[1] as f32) / ctx.pixels_per_point(), |t| {
                t.size_vec2() / ctx.pixels_per_point()
            });
        let (pos, size) = tile(area, n, k, native);
        let mut act = Actions::default();
        egui::Window::new(title)
            // By renderer name and index: a reconnected renderer finds its windows where they were.
            .id(egui::Id::unique(("remote-image", client.name.as_str(), index)))
            .default_pos(pos)
            .default_size(size)
            .min_size(egui::vec2(160.0, 120.0))
            .resizable(true)
            .show(ctx, |ui| act = image_ui(ui, hub, key));
        apply(hub, key, act);
    }
}

/// Draws the docked images (in the side panel).
pub fn show_docked(ui: &mut egui::Ui, hub: &mut ImageHub) {
    let docked: Vec<ImageKey> = hub.windows.iter().filter(|(_, w)| w.docked).map(|(k, _)| *k).collect();
    for key in docked {
        let Some(client) = hub.clients.get(&key.0) else { continue };
        let title = format!("{} #{} · image {}", client.name, key.0, key.1);
        let mut act = Actions::default();
        egui::CollapsingHeader::new(title).id_salt(("docked", key)).default_open(true).show(ui, |ui| {
            act = image_ui(ui, hub, key);
        });
        apply(hub, key, act);
    }
}
