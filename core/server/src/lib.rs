//! The Periscope WebSocket server.
//!
//! One named thread accepts connections; one named thread per client does the
//! WebSocket handshake, the `hello`/`welcome` exchange, reads and decodes
//! frames (off the UI thread) and pushes [`Event`]s into a bounded,
//! byte-limited [`ByteQueue`]. When the queue is full the client's thread
//! stops reading, so TCP pushes back on the sender. Replies travel the other
//! way through an outbox per client, bounded by count and bytes, that the
//! scene side never blocks on (`outbox.rs` has the rule; an answer is never
//! dropped silently).

mod admission;
mod connection;
mod http;
mod outbox;
mod queue;
mod server;
mod stream;

pub use admission::AdmissionStats;
pub use http::{MAX_HEAD_BYTES, MAX_HEADERS, WebBundle, WebFile};
pub use queue::{ByteQueue, PushError, Waker};
pub use server::{
    ClientRef, Compat, DEFAULT_MAX_REPLY_BYTES, Event, Server, ServerConfig, ServerError, ServerHandle, ServerStats,
};
