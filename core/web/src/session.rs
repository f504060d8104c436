//! One connection of the browser view to its hub, without I/O: the hello it
//! sends, the welcome or refusal it waits for, then the view stream
//! ([`periscope_ui::stream::ViewStream`]) and the messages the page sends as
//! its client. The page's `WebSocket` (src/web.rs) feeds it bytes; tests feed
//! it the hub's real bytes from a socket on loopback.

use periscope_protocol::{DecodeLimits, Envelope, Hello, Reply, decode_value, encode_value};
use periscope_ui::stream::{StreamItem, ViewStream};

/// Where the connection is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The socket is opening, or the hello was sent and the welcome is awaited.
    Connecting,
    /// Welcomed: the view's client id on the hub.
    Viewing { client_id: u64 },
    /// The hub refused the hello (a wrong or missing token, a full hub): its reason.
    Refused(String),
    /// The hub's scene outgrew the page's budget: the stream was stopped (the
    /// page keeps what it had); the notice.
    OverBudget(String),
    /// The page shows a recording or saved scene dropped on it (this name),
    /// not the hub: the socket is closed until the person goes back.
    Local(String),
    /// The connection ended or could not be made: reconnecting.
    Lost(String),
}

/// What one message from the hub means to the page.
#[derive(Debug)]
pub enum Incoming {
    /// The hub welcomed this view; the most scene data it should hold.
    Welcome { client_id: u64, budget: Option<u64> },
    /// The hub refused this view; its reason.
    Refused(String),
    /// A view stream item.
    Stream(Box<StreamItem>),
    /// The message could not be read (the page logs it; the stream's own
    /// sequence check resyncs when changes were lost).
    Unreadable(String),
}

/// The session's state for one socket.
pub struct Session {
    name: String,
    token: Option<String>,
    stream: ViewStream,
    seq: u64,
    pub phase: Phase,
}

/// Whether a refusal is about the token (the page then asks for one).
pub fn refusal_wants_token(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("token")
}

impl Session {
    pub fn new(name: &str, token: Option<String>) -> Self {
        Self { name: name.to_owned(), token, stream: ViewStream::default(), seq: 0, phase: Phase::Connecting }
    }

    /// The hello to send once the socket is open.
    pub fn hello(&self) -> Vec<u8> {
        let mut hello = Hello::new(self.name.clone());
        hello.token = self.token.clone();
        hello.view = true;
        encode_value(&hello.to_envelope().to_value())
    }

    /// Reads one binary message from the hub.
    pub fn read(&mut self, bytes: &[u8]) -> Incoming {
        let reply = match decode_value(bytes, DecodeLimits::default()) {
            Ok(v) => match Reply::from_value(v) {
                Some(r) => r,
                None => return Incoming::Unreadable("a reply without a type".into()),
            },
            Err(e) => return Incoming::Unreadable(e.to_string()),
        };
        match (&self.phase, reply) {
            (Phase::Connecting, Reply::Welcome { client_id, web_view_budget_bytes, .. }) => {
                self.phase = Phase::Viewing { client_id };
                Incoming::Welcome { client_id, budget: web_view_budget_bytes }
            }
            (_, Reply::Refused { reason }) => {
                self.phase = Phase::Refused(reason.clone());
                Incoming::Refused(reason)
            }
            (_, reply) => Incoming::Stream(Box::new(self.stream.read(reply))),
        }
    }

    /// Ignores the stream until the next snapshot (the page asked for one).
    pub fn await_snapshot(&mut self) {
        self.stream.await_snapshot();
    }

    /// Encodes a message of this view's client, numbering it.
    pub fn encode(&mut self, mut env: Envelope) -> Vec<u8> {
        self.seq += 1;
        env.seq = Some(self.seq);
        encode_value(&env.to_value())
    }
}
