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

/// Decoded image bytes the page holds at most (all renderers' windows and
/// main-view images together): an image that would pass it is refused, not
/// decoded. A PNG of a few KB can declare 16384x16384 pixels (1 GiB).
pub const IMAGE_BUDGET: usize = 256 << 20;

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
    /// Bytes the decoded images hold, but those at `except` (about to be replaced).
    fn held(&self, except_window: &[ImageKey], except_viewport: Option<u64>) -> usize {
        let windows: usize =
            self.windows.iter().filter(|(k, _)| !except_window.contains(k)).map(|(_, s)| s.decoded.rgba.len()).sum();
        let viewport: usize = self
            .viewport
            .iter()
            .filter(|(c, _)| Some(**c) != except_viewport)
            .map(|(_, b)| b.rgba.len() + b.depth.as_ref().map_or(0, |d| d.len() * 4))
            .sum();
        windows + viewport
    }

    fn check(&self, wanted: usize, held: usize) -> Result<(), String> {
        if held + wanted > IMAGE_BUDGET {
            return Err(format!(
                "refused: decoded, it would take the page's images to {} MiB, over its {} MiB for images",
                (held + wanted) >> 20,
                IMAGE_BUDGET >> 20
            ));
        }
        Ok(())
    }

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
                self.check(incoming.decoded_bytes(), self.held(&[], Some(client)))?;
                let mut d = decode(&incoming)?;
                let bg = viewport_background(&mut d, z_up).ok_or("a viewport image without its camera")?;
                self.viewport.insert(client, Arc::new(bg));
            }
            Some(Request::ClearViewport) => {
                self.viewport.remove(&client);
            }
            Some(Request::Images) => {
                let list = parse(client, env, now)?;
                let keys: Vec<ImageKey> = list.iter().map(|i| i.key).collect();
                self.check(list.iter().map(|i| i.decoded_bytes()).sum(), self.held(&keys, None))?;
                for incoming in list {
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
