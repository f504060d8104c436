//! The Look menu: how the scene looks ([`RenderOptions`]), one checkbox per
//! option. An option the device cannot draw ([`Capabilities`], e.g. ambient
//! occlusion on WebGL2) is shown greyed out and unchecked, with the reason as
//! hover text; its value in the options is left as it was (the renderer
//! skips it). The same menu serves the native window and the browser.

use egui;
use periscope_render::{Capabilities, RenderOptions};

/// One option: its label, hover text, the field, and whether the device draws it.
type Item = (&'static str, &'static str, fn(&mut RenderOptions) -> &mut bool, Result<(), &'static str>);

/// The menu's items (for inside a `ui.menu_button`); returns whether
/// `options` changed.
pub fn look_items(ui: &mut egui::Ui, options: &mut RenderOptions, caps: &Capabilities) -> bool {
    let items: [Item; 6] = [
        ("Shadows", "The key light casts soft shadows", |o| &mut o.shadows, caps.shadows),
        ("Ground", "A ground plane that receives shadows", |o| &mut o.ground, Ok(())),
        ("Grid", "The ground grid", |o| &mut o.grid, Ok(())),
        ("Outline selection", "An orange outline around the selected node", |o| &mut o.outline, caps.outline),
        ("Ambient occlusion", "Darken creases and contact areas", |o| &mut o.ssao, caps.ssao),
        ("Z up", "The data's up axis is +z", |o| &mut o.z_up, Ok(())),
    ];
    let mut changed = false;
    for (label, hover, field, available) in items {
        match available {
            Ok(()) => changed |= ui.checkbox(field(options), label).on_hover_text(hover).changed(),
            Err(why) => {
                let mut drawn = false;
                ui.add_enabled(false, egui::Checkbox::new(&mut drawn, label)).on_disabled_hover_text(why);
            }
        }
    }
    changed
}

/// A "Look" menu button with [`look_items`]; returns whether `options` changed.
pub fn look_menu(ui: &mut egui::Ui, options: &mut RenderOptions, caps: &Capabilities) -> bool {
    ui.menu_button("Look", |ui| look_items(ui, options, caps)).inner.unwrap_or(false)
}
