//! The Periscope WebSocket server.
//!
//! One named thread accepts connections; one named thread per client does the
//! WebSocket handshake, the `hello`/`welcome` exchange, reads and decodes
//! frames (off the UI thread) and pushes [`Event`]s into a bounded,
//! byte-limited [`ByteQueue`]. When the queue is full the client's thread
//! stops reading, so TCP pushes back on the sender. Replies travel the other
//! way through a small bounded outbox per client that the scene side never
//! blocks on.

mod admission;
mod connection;
mod queue;
mod server;
mod stream;

pub use admission::AdmissionStats;
pub use queue::{ByteQueue, PushError, Waker};
pub use server::{ClientRef, Compat, Event, Server, ServerConfig, ServerError, ServerHandle, ServerStats};
