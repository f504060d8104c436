//! The Periscope viewer as a library: the [`runtime::Runtime`] (scene, dispatch
//! chain, recorder, image windows) with one [`runtime::Runtime::step`] that the
//! window ([`app`]) and the headless loop (`src/main.rs`) both call, the egui
//! panels, replay and screenshots. The `periscope` binary is a thin shell
//! around it; tests drive `Runtime` directly.

pub mod app;
#[cfg(test)]
mod app_tests;
pub mod config;
pub mod export;
pub mod hub;
pub mod images;
pub mod panels;
pub mod replay;
pub mod runtime;
pub mod screenshot;
pub mod ui_host;
pub mod video_panel;
pub mod view_files;
pub mod view_link;

// The scene panels and the viewport live in `periscope-ui` (they compile for the browser).
pub use periscope_ui::{controls_panel, viewport};

/// The web view's files embedded in this binary (`core/viewer/build.rs`: the
/// bundle `make web` writes to `core/web/dist/`), served on the hub's port;
/// empty when it was built without them.
pub fn web_bundle() -> periscope_server::WebBundle {
    include!(concat!(env!("OUT_DIR"), "/web_bundle.rs"))
}
