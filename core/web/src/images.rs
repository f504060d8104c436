//! Remote renderers' images in the browser view: the hub forwards each
//! renderer's latest `images` and `viewport_image` (`view_images`, newest
//! wins), and the page decodes them between frames with the same reader as
//! the native viewer (`periscope_ui::images`). A `viewport_image` becomes the
//! main view's background, composited by depth; `images` are shown in the
//! side panel.

use std::collections::BTreeMap;
use std::sync::Arc;

use periscope_protocol::{Envelope, Request};
use periscope_render::Background;
use periscope_ui::images::{Decoded, ImageKey, decode, parse, parse_viewport, viewport_background};
use web_time::Instant;

struct Shown {
    name: String,
    decoded: Decoded,
    texture: Option<egui::TextureHandle>,
}

/// The images this view shows, by renderer.
#[derive(Default)]
pub struct ImageView {
    windows: BTreeMap<ImageKey, Shown>,
    viewport: BTreeMap<u64, Arc<Background>>,
}

impl ImageView {
    /// Forgets everything (a new connection: the hub sends the latest again).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Takes one forwarded message of renderer `client` (`None`: it left).
    pub fn handle(&mut self, client: u64, name: &str, message: Option<&Envelope>, z_up: bool) -> Result<(), String> {
        let Some(env) = message else {
            self.windows.retain(|k, _| k.0 != client);
            self.viewport.remove(&client);
            return Ok(());
        };
        let now = Instant::now();
        match Request::decode(env).map_err(|e| e.to_string())? {
            Some(Request::ViewportImage) => {
                let incoming = parse_viewport(client, env, now, None)?;
                let mut d = decode(&incoming)?;
                let bg = viewport_background(&mut d, z_up).ok_or("a viewport image without its camera")?;
                self.viewport.insert(client, Arc::new(bg));
            }
            Some(Request::ClearViewport) => {
                self.viewport.remove(&client);
            }
            Some(Request::Images) => {
                for incoming in parse(client, env, now)? {
                    let decoded = decode(&incoming)?;
                    self.windows.insert(incoming.key, Shown { name: name.to_owned(), decoded, texture: None });
                }
            }
            _ => return Err(format!("type {} is not an image message", env.kind)),
        }
        Ok(())
    }

    /// The main view's images, one per renderer.
    pub fn backgrounds(&self) -> Vec<Arc<Background>> {
        self.viewport.values().cloned().collect()
    }

    pub fn has_windows(&self) -> bool {
        !self.windows.is_empty()
    }

    /// The renderers' images, each scaled to the panel's width.
    pub fn show_docked(&mut self, ui: &mut egui::Ui) {
        for ((client, index), shown) in &mut self.windows {
            let d = &shown.decoded;
            let texture = shown.texture.get_or_insert_with(|| {
                let image = egui::ColorImage::from_rgba_unmultiplied([d.width, d.height], &d.rgba);
                ui.ctx().load_texture(format!("image-{client}-{index}"), image, egui::TextureOptions::LINEAR)
            });
            ui.label(format!("{} #{client} [{index}]: {}x{} {}", shown.name, d.width, d.height, d.format));
            let w = ui.available_width().min(d.width as f32);
            let h = w * d.height as f32 / d.width.max(1) as f32;
            ui.image((texture.id(), egui::vec2(w, h)));
        }
    }
}
