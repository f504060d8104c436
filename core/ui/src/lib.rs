//! Periscope's user interface pieces that need nothing but a scene: the scene
//! tree and properties ([`panels`]), the Controls panel ([`controls_panel`]),
//! the Look menu ([`look`]) and the 3D viewport ([`viewport`]). They read a [`Scene`] — the hub's own,
//! or a view's mirror of a remote hub — and send what a person does as
//! messages through one [`UiHost::submit`]: `Runtime::submit` in the hub's
//! window (the message passes the dispatch chain and the recorder), the link
//! to the hub in `periscope --connect`, and next the browser. This crate
//! depends on scene, render and protocol only (no server, dispatch, SMPL,
//! video or threads of its own), so it compiles for
//! `wasm32-unknown-unknown` as it is (CI checks it).

pub mod controls_panel;
pub mod images;
pub mod look;
pub mod panels;
pub mod playback;
pub mod stream;
pub mod viewport;

use periscope_protocol::Envelope;
use periscope_scene::Scene;

/// What the panels need from whoever shows them.
pub trait UiHost {
    /// The scene to show.
    fn scene(&self) -> &Scene;
    /// Carries out a person's edit: a message of this window's client.
    fn submit(&mut self, envelope: Envelope);
}
