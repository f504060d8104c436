//! Periscope recordings (`.psr`, docs/recording.md).
//!
//! ```text
//! file    = magic "PSREC\x1a\r\n" (8 bytes), version u32 LE, header-length u32 LE, header
//! header  = MessagePack map {created: unix seconds (float), viewer: version string, protocol: int}
//! record* = meta-length u32 LE, meta, frame-length u64 LE, frame
//! meta    = MessagePack map {t: seconds since the start (float), kind: "connect" | "message" | "disconnect",
//!                            client: int, name: str, seq: int (messages)}
//! frame   = the message exactly as the protocol sends it: a MessagePack envelope (empty for connect/disconnect)
//! ```
//!
//! [`Recorder`] writes on its own thread (bounded channel, flushed at least
//! every second); [`read`] loads a file, stopping at damage with a warning.

mod reader;
mod writer;

pub use reader::{ReadError, Recording, read, read_bytes};
pub use writer::{RecordError, Recorder};

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"PSREC\x1a\r\n";
/// The format version this build writes and the newest it reads.
pub const VERSION: u32 = 1;

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Message,
    Disconnect,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Message => "message",
            Kind::Disconnect => "disconnect",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "connect" => Some(Kind::Connect),
            "message" => Some(Kind::Message),
            "disconnect" => Some(Kind::Disconnect),
            _ => None,
        }
    }
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Seconds since the recording started.
    pub t: f64,
    pub kind: Kind,
    pub client: u64,
    pub name: String,
    pub seq: Option<u64>,
    /// The MessagePack envelope (messages only; shares the file's buffer when read).
    pub frame: bytes::Bytes,
}
