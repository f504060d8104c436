//! One client connection: WebSocket handshake, hello/welcome, then reading,
//! decoding and queueing frames while writing queued replies.
//!
//! Reads and writes share this thread. The socket has a short, adaptive read
//! timeout (1 ms right after traffic, growing to 50 ms when idle) so replies
//! go out promptly without busy-waiting on idle connections. A client waiting
//! for an answer (a query), subscribed to the camera, or owning controls (or
//! subscribed to events) is latency-sensitive:
//! its socket turns non-blocking and the thread waits on the reply channel
//! instead (0.25 ms at most between socket reads), so a reply leaves the moment
//! it is queued. (A socket read timeout cannot do that: the kernel rounds it
//! up to scheduler ticks, several milliseconds.)

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use periscope_protocol::{
    DecodeLimits, Envelope, Hello, MessageType, PROTOCOL_NAME, PROTOCOL_VERSION, Reply, Request, Transfers,
    decode_value, encode_value,
};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use periscope_compat::{envelope_from_pickle, is_pickle, pickle_value};
use periscope_scene::PLUGIN_CLIENT_BASE;
use tungstenite::Bytes;

use crate::admission::Ticket;
use crate::http;
use crate::outbox::Outbox;
use crate::queue::PushError;
use crate::server::{ClientRef, Event, Session, Shared, deliver, lock};
use crate::stream::Stream;

type Ws = WebSocket<Stream>;

/// How a connection encodes its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    /// Periscope's own protocol (docs/protocol.md).
    MsgPack,
    /// The unmodified aitviewer client: pickles in, pickles out.
    Pickle,
}

impl Wire {
    fn encode(self, reply: &Reply) -> Bytes {
        match (self, reply) {
            // Encoded once for every view: shared, not copied.
            (Wire::MsgPack, Reply::Encoded { bytes, .. }) => bytes.clone(),
            (Wire::MsgPack, _) => reply.encode().into(),
            (Wire::Pickle, _) => pickle_value(&reply.to_value()).into(),
        }
    }

    fn decode(self, frame: Bytes, keep_frame: bool, transfers: &mut Transfers) -> Result<Envelope, String> {
        match self {
            // The frame is kept (shared) for plugins and the recorder, or else
            // dropped here: arrays were copied out while decoding. Arrays sent
            // in parts before it are taken from `transfers`.
            Wire::MsgPack => Envelope::decode_frame_with(frame, DecodeLimits::default(), transfers).map(|mut env| {
                if !keep_frame {
                    env.raw = None;
                }
                env
            }),
            Wire::Pickle => envelope_from_pickle(&frame),
        }
    }
}

const MAX_IDLE_WAIT: Duration = Duration::from_millis(50);
const WRITE_TIMEOUT: Duration = Duration::from_millis(20);
/// Bytes of unsent replies in the WebSocket's write buffer before the next
/// reply waits for it to drain (one reply up to `max_reply_bytes` is written
/// into an empty buffer whatever its size).
const MAX_WRITE_BUFFER: usize = 64 << 20;

/// The writing side of a connection: its outbox, and the reply waiting for
/// room in the WebSocket's write buffer.
struct Out {
    outbox: Arc<Outbox>,
    wire: Wire,
    /// An encoded reply taken from the outbox that did not fit the write
    /// buffer yet; written before anything else, never dropped.
    pending: Option<Bytes>,
    /// Bytes written into the WebSocket since its buffer was last known empty
    /// (after a flush that finished); an upper bound of what it holds.
    buffered: usize,
}

impl Out {
    /// The wire bytes of `reply`; a reply over `max_reply_bytes` in this
    /// wire (pickles weigh differently) is replaced by its error here.
    fn encode(&self, reply: &Reply, shared: &Shared) -> Bytes {
        let bytes = self.wire.encode(reply);
        let max = shared.config.max_reply_bytes;
        if bytes.len() <= max || matches!(reply, Reply::Encoded { .. }) {
            return bytes;
        }
        let n = shared.stats.replies_too_large.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                size = bytes.len(),
                max_reply_bytes = max,
                count = n,
                "reply too large: sent a reply_too_large error instead"
            );
        }
        self.wire.encode(&crate::server::too_large(reply, bytes.len(), max))
    }
}

pub(crate) fn run(stream: TcpStream, shared: Arc<Shared>, ticket: Ticket) {
    let Ok(addr) = stream.peer_addr() else { return };
    if shared.shutdown.load(Ordering::SeqCst) {
        return;
    }
    let _ = stream.set_nodelay(true);
    let handshake_timeout = Duration::from_millis(shared.config.handshake_timeout_ms.max(1));
    let _ = stream.set_read_timeout(Some(handshake_timeout));
    let _ = stream.set_write_timeout(Some(handshake_timeout));
    // Read timeouts restart with every byte: the admission reaper closes
    // connections that trickle (slowloris) or never say hello by a deadline.
    let mut stream = match Stream::new(stream, shared.tls.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot start TLS");
            return;
        }
    };
    // The request head decides: a WebSocket upgrade goes on below with the
    // bytes read handed back; a plain HTTP request is answered from the web
    // bundle and the connection ends (still under this slot and deadline).
    match http::read_head(&mut stream) {
        http::Head::Upgrade(head) => stream.unread(head),
        http::Head::Http(request) => {
            // A download is bounded by http::DOWNLOAD_DEADLINE, not the handshake's.
            ticket.handshake_done();
            let bundle = shared.config.web.then_some(&shared.web);
            let status = http::respond(&mut stream, &request, bundle);
            tracing::debug!(%addr, method = request.method, target = request.target, status, "HTTP request");
            // Listed as answered before the peer can see the end (and come back).
            stream.finish(|tcp| ticket.answered(tcp));
            http::linger(&mut stream);
            return;
        }
        http::Head::Bad(status, why) => {
            tracing::debug!(%addr, status, why, "HTTP request refused");
            http::refuse(&mut stream, status, why, false);
            // Listed as answered before the peer can see the end (and come back).
            stream.finish(|tcp| ticket.answered(tcp));
            http::linger(&mut stream);
            return;
        }
        http::Head::Gone => {
            tracing::debug!(%addr, "connection closed before its request head");
            return;
        }
    }
    let max = shared.config.max_message_bytes;
    let ws_config =
        WebSocketConfig::default().max_message_size(Some(max)).max_frame_size(Some(max)).read_buffer_size(256 << 10);
    // The write buffer is bounded by `Out` (MAX_WRITE_BUFFER, or one reply of
    // up to max_reply_bytes), not by tungstenite, which would drop a reply.
    let secured = shared.config.token.as_deref().is_some_and(|t| !t.is_empty()) || shared.tls.is_some();
    // tungstenite's callback returns its whole HTTP response as the error.
    #[allow(clippy::result_large_err)]
    let check = |req: &tungstenite::handshake::server::Request, resp| {
        let header = |name| req.headers().get(name).and_then(|v: &tungstenite::http::HeaderValue| v.to_str().ok());
        match http::check_origin(header("origin"), header("host"), secured) {
            Ok(()) => Ok(resp),
            Err(why) => {
                tracing::warn!(%addr, %why, "WebSocket refused");
                let mut refusal = tungstenite::handshake::server::ErrorResponse::new(Some(why));
                *refusal.status_mut() = tungstenite::http::StatusCode::FORBIDDEN;
                Err(refusal)
            }
        }
    };
    let mut ws = match tungstenite::accept_hdr_with_config(stream, check, Some(ws_config)) {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%addr, error = %e, "WebSocket handshake failed");
            return;
        }
    };
    ticket.upgraded();
    shared.live.fetch_add(1, Ordering::SeqCst);
    let accepted = handshake(&mut ws, addr, &shared);
    ticket.handshake_done();
    if let Some((client, outbox, wire, first)) = accepted {
        let mut out = Out { outbox, wire, pending: None, buffered: 0 };
        serve(&mut ws, &client, &mut out, &shared, first);
        lock(&shared.outboxes).remove(&client.id());
        for s in lock(&shared.sessions).values_mut().filter(|s| s.client_id == client.id()) {
            s.connected = false;
        }
        if client.is_view() {
            shared.views.fetch_sub(1, Ordering::SeqCst);
        }
        tracing::info!(client = client.id(), name = client.name(), %addr, "client disconnected");
        push_blocking(&shared, Event::Disconnected { client }, 0, None);
    }
    shared.live.fetch_sub(1, Ordering::SeqCst);
}

fn refuse(ws: &mut Ws, addr: SocketAddr, reason: String) {
    tracing::warn!(%addr, %reason, "connection refused");
    let _ = ws.send(Message::binary(encode_value(&Reply::Refused { reason: reason.clone() }.to_value())));
    let _ = ws.close(Some(CloseFrame { code: CloseCode::Policy, reason: "refused".into() }));
    let _ = ws.flush();
}

/// Reads `hello`, checks it, registers the client and sends `welcome`.
type Accepted = (ClientRef, Arc<Outbox>, Wire, Option<Bytes>);

/// Registers a new client (or resumes a session) and opens its outbox.
fn register(shared: &Shared, session: Option<&String>) -> Result<(u64, String, bool, Arc<Outbox>), String> {
    let (client_id, session, resumed) = {
        let mut sessions = lock(&shared.sessions);
        match session.and_then(|t| sessions.get_mut(t).map(|s| (t, s))) {
            Some((_, s)) if s.connected => return Err("that session is in use by a live connection".into()),
            Some((token, s)) => {
                s.connected = true;
                (s.client_id, token.clone(), true)
            }
            None => {
                let id = next_network_id(&shared.next_client)
                    .ok_or_else(|| "this viewer has given out every network client id; restart it".to_owned())?;
                let token = format!("{:032x}", rand::random::<u128>());
                sessions.insert(token.clone(), Session { client_id: id, connected: true });
                (id, token, false)
            }
        }
    };
    let outbox = Arc::new(Outbox::new(shared.config.outbox_messages, shared.config.outbox_bytes));
    lock(&shared.outboxes).insert(client_id, Arc::clone(&outbox));
    Ok((client_id, session, resumed, outbox))
}

/// The next id for a network client from `counter`: ids count from 1 and stay
/// below [`PLUGIN_CLIENT_BASE`] (the ids above are plugins' and replays',
/// `periscope_scene::ClientKind`); `None` once they are all given out (the
/// counter stops there, it never wraps into the plugins' range).
fn next_network_id(counter: &AtomicU64) -> Option<u64> {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < PLUGIN_CLIENT_BASE).then_some(n + 1)).ok()
}

/// The unmodified aitviewer client sends no hello: its first frame is already
/// a pickled message.
fn accept_aitviewer(ws: &mut Ws, addr: SocketAddr, shared: &Arc<Shared>, first: Bytes) -> Option<Accepted> {
    if !shared.config.compat_enabled() {
        tracing::warn!(
            %addr,
            "refused an aitviewer (pickle) client: server.aitviewer_compat is off (it is on by default only for loopback binds without a token)"
        );
        let reason = "aitviewer compatibility is off in this viewer's config (server.aitviewer_compat)";
        let _ = ws.close(Some(CloseFrame { code: CloseCode::Policy, reason: reason.into() }));
        let _ = ws.flush();
        return None;
    }
    if shared.live.load(Ordering::SeqCst) > shared.config.max_clients {
        let _ = ws.close(Some(CloseFrame { code: CloseCode::Again, reason: "too many clients".into() }));
        let _ = ws.flush();
        return None;
    }
    let (client_id, _, _, outbox) = register(shared, None).ok()?;
    let client = ClientRef::new(client_id, "aitviewer".into(), addr, false);
    tracing::info!(client = client_id, %addr, "aitviewer client connected (pickle protocol)");
    if !push_blocking(shared, Event::Connected { client: client.clone(), resumed: false }, 0, None) {
        return None;
    }
    Some((client, outbox, Wire::Pickle, Some(first)))
}

fn handshake(ws: &mut Ws, addr: SocketAddr, shared: &Arc<Shared>) -> Option<Accepted> {
    let hello = loop {
        match ws.read() {
            Ok(Message::Binary(bytes)) if is_pickle(&bytes) => return accept_aitviewer(ws, addr, shared, bytes),
            Ok(Message::Binary(bytes)) => {
                let env = decode_value(&bytes, DecodeLimits::default())
                    .map_err(|e| e.to_string())
                    .and_then(|v| Envelope::from_value(v).map_err(|e| e.to_string()))
                    .and_then(|env| Hello::from_envelope(&env));
                match env {
                    Ok(h) => break h,
                    Err(reason) => {
                        refuse(ws, addr, format!("bad hello: {reason}"));
                        return None;
                    }
                }
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(_) => {
                refuse(ws, addr, "the first message must be a MessagePack hello in a binary frame".into());
                return None;
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "no hello received");
                return None;
            }
        }
    };
    if hello.protocol != PROTOCOL_NAME || hello.version != PROTOCOL_VERSION {
        refuse(
            ws,
            addr,
            format!(
                "protocol mismatch: this viewer speaks {PROTOCOL_NAME} version {PROTOCOL_VERSION}, the client sent {} version {}",
                hello.protocol, hello.version
            ),
        );
        return None;
    }
    if let Some(expected) = &shared.config.token
        && hello.token.as_deref() != Some(expected.as_str())
    {
        refuse(ws, addr, "bad or missing token (server.token is set in the viewer's config)".into());
        return None;
    }
    if shared.live.load(Ordering::SeqCst) > shared.config.max_clients {
        refuse(ws, addr, format!("too many clients (server.max_clients = {})", shared.config.max_clients));
        return None;
    }
    if hello.view {
        let views = shared.views.fetch_add(1, Ordering::SeqCst);
        if views >= shared.config.max_views {
            shared.views.fetch_sub(1, Ordering::SeqCst);
            refuse(ws, addr, format!("too many views (server.max_views = {})", shared.config.max_views));
            return None;
        }
    }
    let view = hello.view;
    let unview = || {
        if view {
            shared.views.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let (client_id, session, resumed, outbox) = match register(shared, hello.session.as_ref()) {
        Ok(r) => r,
        Err(reason) => {
            unview();
            refuse(ws, addr, reason);
            return None;
        }
    };
    let welcome = Reply::Welcome {
        server: format!("periscope {}", env!("CARGO_PKG_VERSION")),
        version: PROTOCOL_VERSION,
        client_id,
        session,
        resumed,
        max_message_bytes: shared.config.max_message_bytes as u64,
        array_parts: true,
        web_view_budget_bytes: view.then(|| shared.config.web_view_budget_mb.saturating_mul(1 << 20)),
    };
    if ws.send(Message::binary(encode_value(&welcome.to_value()))).is_err() {
        lock(&shared.outboxes).remove(&client_id);
        unview();
        return None;
    }
    let client = ClientRef::new(client_id, hello.client_name, addr, view);
    tracing::info!(client = client_id, name = client.name(), %addr, resumed, "client connected");
    if !push_blocking(shared, Event::Connected { client: client.clone(), resumed }, 0, None) {
        lock(&shared.outboxes).remove(&client_id);
        unview();
        return None;
    }
    Some((client, outbox, Wire::MsgPack, None))
}

/// Pushes into the scene queue, waiting while it is full (this is the
/// backpressure) and keeping replies flowing meanwhile. False on shutdown.
fn push_blocking(shared: &Shared, mut event: Event, cost: usize, mut io: Option<(&mut Ws, &mut Out)>) -> bool {
    loop {
        match shared.queue.push_timeout(event, cost, MAX_IDLE_WAIT) {
            Ok(()) => return true,
            Err(PushError::Closed(_)) => return false,
            Err(PushError::Timeout(e)) => {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return false;
                }
                if let Some((ws, out)) = io.as_mut()
                    && !write_replies(ws, out, shared)
                {
                    return false;
                }
                event = e;
            }
        }
    }
}

/// Flushes the write buffer. `Ok(true)` when it is empty now, `Ok(false)`
/// when the socket took only part of it; `Err` when the connection is broken.
fn flush(ws: &mut Ws, out: &mut Out) -> Result<bool, ()> {
    match ws.flush() {
        Ok(()) => {
            out.buffered = 0;
            Ok(true)
        }
        Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(false),
        Err(_) => Err(()),
    }
}

/// Writes `reply` (then anything queued) when the write buffer has room,
/// else keeps it pending. False when the connection is broken.
fn write_reply(ws: &mut Ws, out: &mut Out, reply: &Reply, shared: &Shared) -> bool {
    debug_assert!(out.pending.is_none(), "the outbox is read only when nothing is pending");
    out.pending = Some(out.encode(reply, shared));
    write_pending(ws, out)
}

/// Writes the pending reply if the write buffer has room for it (or is
/// empty). False when the connection is broken; the reply stays pending
/// while the client is not reading.
fn write_pending(ws: &mut Ws, out: &mut Out) -> bool {
    let Some(len) = out.pending.as_ref().map(Bytes::len) else { return true };
    if out.buffered > 0 && out.buffered + len > MAX_WRITE_BUFFER {
        match flush(ws, out) {
            Ok(true) => {}
            Ok(false) => return true,
            Err(()) => return false,
        }
    }
    let bytes = out.pending.take().expect("checked above");
    out.buffered += len;
    match ws.write(Message::binary(bytes)) {
        // Queued (a timeout here means the frame is buffered but not all sent yet).
        Ok(()) => true,
        Err(tungstenite::Error::Io(e)) if is_timeout(&e) => true,
        Err(_) => false,
    }
}

/// Writes every queued reply the write buffer has room for and flushes.
/// False when the connection is broken.
fn write_replies(ws: &mut Ws, out: &mut Out, shared: &Shared) -> bool {
    drain_replies(ws, out, shared, |_| {})
}

/// [`write_replies`], showing each reply to `seen` first.
fn drain_replies(ws: &mut Ws, out: &mut Out, shared: &Shared, mut seen: impl FnMut(&Reply)) -> bool {
    loop {
        if !write_pending(ws, out) {
            return false;
        }
        if out.pending.is_some() {
            break; // no room: the rest waits in the outbox
        }
        let Some(reply) = out.outbox.try_recv() else { break };
        seen(&reply);
        out.pending = Some(out.encode(&reply, shared));
    }
    flush(ws, out).is_ok()
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// Per-connection state: frames read so far (the default `seq`), urgency,
/// and the arrays arriving in parts (bounded by `max_message_bytes`).
struct Conn {
    n: u64,
    urgency: Urgency,
    transfers: Transfers,
}

/// Whether this connection's replies are latency-sensitive right now.
#[derive(Default)]
struct Urgency {
    /// A request that will be answered was forwarded recently.
    answer_due: Option<Instant>,
    /// The client asked for camera updates.
    camera: bool,
    /// The client owns controls or subscribed to events: a person's change
    /// should reach it at once.
    events: bool,
}

/// How long after a request the connection keeps polling fast for its answer.
const ANSWER_WINDOW: Duration = Duration::from_secs(2);
/// Wait on the reply channel between two socket reads of an urgent connection:
/// short right after traffic, doubling up to the maximum while the client is quiet
/// (replies still leave at once; only reading a quiet client's next frame waits).
const URGENT_POLL: Duration = Duration::from_micros(250);
const URGENT_POLL_MAX: Duration = Duration::from_millis(4);

impl Urgency {
    fn note(&mut self, request: Option<&Request>) {
        match request {
            Some(Request::RequireCamera { enabled, .. }) => self.camera = *enabled,
            Some(Request::Subscribe { .. } | Request::Scene(MessageType::AddControl)) => {
                self.events = true;
                self.answer_due = Some(Instant::now() + ANSWER_WINDOW);
            }
            Some(r) if r.message_type().traits().answer.is_some() => {
                self.answer_due = Some(Instant::now() + ANSWER_WINDOW);
            }
            _ => {}
        }
    }

    fn urgent(&self) -> bool {
        self.camera || self.events || self.answer_due.is_some_and(|t| Instant::now() < t)
    }

    /// An answer went out: no longer waiting for one.
    fn replied(&mut self, reply: &Reply) {
        if MessageType::from_i64(reply.kind()).is_some_and(MessageType::is_answer) {
            self.answer_due = None;
        }
    }
}

/// Decodes one frame and queues it for the scene (or replies with the
/// decoding error). False when the connection should end.
fn handle_frame(
    ws: &mut Ws,
    client: &ClientRef,
    out: &mut Out,
    shared: &Arc<Shared>,
    bytes: Bytes,
    conn: &mut Conn,
) -> bool {
    let wire = out.wire;
    conn.n += 1;
    let n = conn.n;
    shared.stats.messages.fetch_add(1, Ordering::Relaxed);
    shared.stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    // A part of a big array (the usual form: `type` first) is copied straight
    // into its array, without decoding it into values first.
    if wire == Wire::MsgPack
        && let Some((seq, outcome)) = conn.transfers.part_frame(&bytes)
    {
        if let Err(e) = outcome {
            let kind = Some(MessageType::ArrayPart.as_i64());
            reject(client, shared, seq.unwrap_or(n), kind, "bad_value", e);
        }
        return true;
    }
    let pending = conn.transfers.bytes();
    let frame_len = bytes.len();
    // A frame that does not decode is still answered citing its own `seq`
    // (read without decoding the rest), so a sender waiting for an answer gets it.
    let peek = (wire == Wire::MsgPack).then(|| bytes.clone());
    let decoded = wire.decode(bytes, shared.keep_frames.load(Ordering::Relaxed), &mut conn.transfers);
    let header = match (&decoded, peek) {
        (Err(_), Some(frame)) => periscope_protocol::peek_header(&frame),
        _ => periscope_protocol::Header::default(),
    };
    // The queue's budget counts the arrays a message took from its parts too.
    let size = frame_len + (pending - conn.transfers.bytes());
    let is_part = matches!(&decoded, Ok(e) if e.kind == MessageType::ArrayPart.as_i64());
    if !is_part {
        // Parts are for the message right after them: any left are dropped.
        let unused = conn.transfers.clear();
        if unused > 0 {
            let text = format!("{unused} array(s) sent in parts were not used by the next message and were dropped");
            reject(client, shared, n, None, "bad_value", text);
        }
    }
    match decoded {
        Ok(mut envelope) if is_part => {
            envelope.seq.get_or_insert(n);
            if let Err(e) = conn.transfers.part(&envelope) {
                reject(client, shared, envelope.seq.unwrap_or(n), Some(envelope.kind), "bad_value", e);
            }
            true
        }
        Ok(mut envelope) => {
            envelope.seq.get_or_insert(n);
            let request = match Request::decode(&envelope) {
                Ok(r) => r,
                Err(e) => {
                    reject(client, shared, envelope.seq.unwrap_or(n), Some(envelope.kind), "bad_value", e.to_string());
                    return true;
                }
            };
            if wire == Wire::Pickle
                && let Some(t) = request.as_ref().map(Request::message_type)
                && !t.traits().aitviewer
            {
                let reason = format!("{} (type {}) is not part of aitviewer's protocol", t.name(), t.as_i64());
                reject(client, shared, envelope.seq.unwrap_or(n), Some(envelope.kind), "unsupported", reason);
                return true;
            }
            conn.urgency.note(request.as_ref());
            let newest_wins = request.as_ref().is_some_and(|r| r.message_type().traits().newest_wins);
            let kind = envelope.kind;
            let event = Event::Message {
                client: client.clone(),
                envelope,
                request,
                bytes: size,
                received: Instant::now(),
                coalesced: 0,
            };
            if !newest_wins {
                return push_blocking(shared, event, size, Some((ws, out)));
            }
            // A newest-wins message (images) still waiting for the viewer is stale
            // once a newer one of the same type arrives: replace it in place, so a
            // fast renderer never waits on a slow viewer.
            let id = client.id();
            let same = |e: &Event| {
                matches!(e, Event::Message { client, envelope, .. }
                    if client.id() == id && envelope.kind == kind)
            };
            // The replacement carries the count of frames dropped so far.
            let carry = |old: &Event, new: &mut Event| {
                if let (Event::Message { coalesced: before, .. }, Event::Message { coalesced, .. }) = (old, new) {
                    *coalesced = before + 1;
                }
            };
            match shared.queue.replace_where(event, size, same, carry) {
                Ok(_) => true,
                Err(event) => push_blocking(shared, event, size, Some((ws, out))),
            }
        }
        Err(reason) => {
            reject(client, shared, header.seq.unwrap_or(n), header.kind, "bad_message", reason);
            true
        }
    }
}

fn serve(ws: &mut Ws, client: &ClientRef, out: &mut Out, shared: &Arc<Shared>, first: Option<Bytes>) {
    let _ = ws.get_mut().tcp().set_write_timeout(Some(WRITE_TIMEOUT));
    let mut wait = Duration::from_millis(1);
    let _ = ws.get_mut().tcp().set_read_timeout(Some(wait));
    let mut conn = Conn {
        n: 0,
        urgency: Urgency::default(),
        transfers: Transfers::new(shared.config.max_message_bytes).with_budget(Arc::clone(&shared.parts)),
    };
    let mut nonblocking = false;
    let mut urgent_wait = URGENT_POLL;
    if let Some(bytes) = first
        && !handle_frame(ws, client, out, shared, bytes, &mut conn)
    {
        return;
    }
    loop {
        if let Some(reason) = out.outbox.closing() {
            shared.stats.closed_not_reading.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(client = client.id(), name = client.name(), %reason, "connection closed");
            let frame =
                CloseFrame { code: CloseCode::Policy, reason: "not reading replies (server.outbox_bytes)".into() };
            let _ = ws.close(Some(frame));
            let _ = ws.flush();
            return;
        }
        if shared.shutdown.load(Ordering::SeqCst) {
            let _ = ws.close(Some(CloseFrame { code: CloseCode::Away, reason: "viewer shutting down".into() }));
            let _ = ws.flush();
            return;
        }
        // A view is sent changes without asking: its replies go out at once
        // (not after a 50 ms idle read), like an urgent client's.
        let urgent = conn.urgency.urgent() || client.is_view();
        if urgent != nonblocking && ws.get_mut().tcp().set_nonblocking(urgent).is_ok() {
            nonblocking = urgent;
        }
        let read = ws.read();
        let active = !matches!(&read, Err(tungstenite::Error::Io(e)) if is_timeout(e));
        match read {
            Ok(Message::Binary(bytes)) => {
                if !handle_frame(ws, client, out, shared, bytes, &mut conn) {
                    return;
                }
            }
            Ok(Message::Text(_)) => {
                conn.n += 1;
                reject(
                    client,
                    shared,
                    conn.n,
                    None,
                    "bad_message",
                    "text frames are not accepted; send MessagePack in binary frames".into(),
                );
            }
            Ok(_) => {} // ping/pong are answered by tungstenite; close completes on the next read
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(tungstenite::Error::Capacity(e)) => {
                let message = format!(
                    "{e}: the message exceeds server.max_message_bytes ({} bytes); the connection is closed",
                    shared.config.max_message_bytes
                );
                reject(client, shared, conn.n + 1, None, "too_large", message);
                let _ = write_replies(ws, out, shared);
                let _ = ws.close(Some(CloseFrame { code: CloseCode::Size, reason: "message too large".into() }));
                let _ = ws.flush();
                linger(ws.get_mut().tcp());
                return;
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return,
            Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => {
                // The client process ended without closing (e.g. Ctrl-C): a normal way to go.
                tracing::debug!(client = client.id(), "connection reset without a closing handshake");
                return;
            }
            Err(e) => {
                tracing::warn!(client = client.id(), error = %e, "connection error");
                return;
            }
        }
        let mut wrote = false;
        if !drain_replies(ws, out, shared, |r| {
            wrote = true;
            conn.urgency.replied(r);
        }) {
            return;
        }
        if nonblocking {
            urgent_wait = if active || wrote { URGENT_POLL } else { (urgent_wait * 2).min(URGENT_POLL_MAX) };
            // Sleep on the reply channel, not on the socket: a reply wakes us at once.
            // (Not while a reply waits for room: the socket is what we wait on then.)
            if !active
                && out.pending.is_none()
                && let Some(reply) = out.outbox.recv_timeout(urgent_wait)
            {
                conn.urgency.replied(&reply);
                urgent_wait = URGENT_POLL;
                if !(write_reply(ws, out, &reply, shared)
                    && drain_replies(ws, out, shared, |r| conn.urgency.replied(r)))
                {
                    return;
                }
            } else if !active && out.pending.is_some() {
                std::thread::sleep(urgent_wait);
            }
            continue;
        }
        let next = if active { Duration::from_millis(1) } else { (wait * 2).min(MAX_IDLE_WAIT) };
        if next != wait {
            wait = next;
            let _ = ws.get_mut().tcp().set_read_timeout(Some(wait));
        }
    }
}

/// Replies with an error the scene never sees, and tells the scene side (for the log/UI).
fn reject(client: &ClientRef, shared: &Arc<Shared>, seq: u64, kind: Option<i64>, code: &str, reason: String) {
    shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(client = client.id(), name = client.name(), seq, code, %reason, "message rejected");
    let reply = Reply::error(Some(seq), kind, None, code, reason.clone());
    deliver(shared, client.id(), Arc::new(reply));
    // Best effort: the log line above is the record if the queue is full.
    let _ = shared.queue.push_timeout(Event::Rejected { client: client.clone(), reason }, 0, Duration::ZERO);
}

/// After refusing an oversized message, stop writing and drain what the
/// client is still sending, so closing does not reset the connection (and
/// discard the error in the client's receive buffer) before the client has
/// read it. Ends at the client's EOF, after two seconds without data, or after
/// ten seconds in all, whichever comes first.
fn linger(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last_data = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < deadline && last_data.elapsed() < Duration::from_secs(2) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => last_data = Instant::now(),
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;
    use periscope_scene::ClientKind;

    #[test]
    fn network_ids_count_from_one_and_never_reach_the_plugins() {
        let counter = AtomicU64::new(1);
        assert_eq!(next_network_id(&counter), Some(1));
        assert_eq!(next_network_id(&counter), Some(2));
        counter.store(PLUGIN_CLIENT_BASE - 1, Ordering::SeqCst);
        let last = next_network_id(&counter).unwrap();
        assert_eq!(ClientKind::of(last), ClientKind::Network);
        // The next would be the first plugin's id: refused, and it stays refused.
        assert_eq!(next_network_id(&counter), None);
        assert_eq!(next_network_id(&counter), None);
        assert_eq!(counter.load(Ordering::SeqCst), PLUGIN_CLIENT_BASE);
    }
}
