//! Periscope in the browser: the same viewer (scene tree, properties,
//! controls, playback, Look menu, composited main view, picking) compiled to
//! WebAssembly, a view of the hub that served the page. `make web` builds the
//! bundle into core/web/dist; the `periscope` binary embeds it and serves it
//! from its own port (docs/web.md).
//!
//! [`session`] and [`app`] are plain Rust (checked and tested natively);
//! `web` is the page's side: the browser `WebSocket` and eframe's web runner.

pub mod app;
pub mod images;
pub mod session;

#[cfg(target_arch = "wasm32")]
mod web;

pub use app::{Backend, Link, SocketEvent, WebApp};
