//! Listening, client bookkeeping and the handle the scene uses to reply.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use periscope_protocol::{Envelope, MessageType, Reply, Request};

use crate::admission::{Admission, AdmissionStats};
use crate::connection;
use crate::outbox::{Offer, Outbox};
use crate::queue::ByteQueue;

/// Server settings (the `[server]` section of `config.toml`; unknown keys are refused).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Largest accepted WebSocket message; bigger ones get an error and the
    /// connection is closed with code 1009.
    pub max_message_bytes: usize,
    /// Byte budget of the queue between network threads and the scene.
    pub queue_bytes: usize,
    /// Item budget of that queue.
    pub queue_messages: usize,
    /// Connections beyond this are refused at accept; connections still in
    /// their handshake count (the oldest not yet upgraded is evicted for a newcomer).
    pub max_clients: usize,
    /// When set (and not empty), `hello` must carry this token.
    pub token: Option<String>,
    /// Replies buffered per client; past this (or `outbox_bytes`) a reply
    /// nobody waits for is dropped, and an answer becomes an `outbox_full` error.
    pub outbox_messages: usize,
    /// Bytes of replies buffered per client (encoded sizes); one reply of any
    /// allowed size still fits an empty outbox.
    pub outbox_bytes: usize,
    /// Bytes announced by arrays in parts on all connections together (each
    /// connection is also bounded by `max_message_bytes`).
    pub parts_bytes: usize,
    /// Largest reply the viewer sends (encoded bytes). A bigger one (a huge
    /// screenshot, a video's bytes) is answered by a `reply_too_large` error.
    pub max_reply_bytes: usize,
    /// Accept the unmodified aitviewer client (pickled messages, decoded by a
    /// restricted decoder). `auto`: only when bound to loopback without a token.
    pub aitviewer_compat: Compat,
    /// A connection must finish the WebSocket upgrade and its `hello` within
    /// this many milliseconds, however slowly it trickles bytes (slowloris).
    pub handshake_timeout_ms: u64,
    /// TLS (`wss://`): a PEM certificate chain and its PEM private key. Both or neither.
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    /// Connections whose hello says `role = "view"` at most (each also takes
    /// a `max_clients` slot); more are refused naming this key.
    pub max_views: usize,
    /// Answer plain HTTP GETs on this port with the web view (the files
    /// embedded in the binary). Off: every plain HTTP request gets 404;
    /// WebSocket clients are served either way.
    pub web: bool,
    /// The most scene data, in MB, a browser view holds (sent to views in
    /// their welcome); a larger scene stops the page's stream with a notice.
    pub web_view_budget_mb: u64,
}

/// Whether the aitviewer (pickle) compatibility path is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// On for a loopback bind without a token, off otherwise.
    #[default]
    Auto,
    On,
    Off,
}

impl ServerConfig {
    /// Whether aitviewer clients are accepted with these settings.
    pub fn compat_enabled(&self) -> bool {
        match self.aitviewer_compat {
            Compat::On => true,
            Compat::Off => false,
            Compat::Auto => self.host.is_loopback() && self.token.as_deref().is_none_or(str::is_empty),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8417,
            max_message_bytes: 1536 << 20,
            queue_bytes: 512 << 20,
            queue_messages: 65_536,
            max_clients: 256,
            token: None,
            outbox_messages: 4096,
            outbox_bytes: 64 << 20,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            parts_bytes: 3 << 30,
            aitviewer_compat: Compat::Auto,
            handshake_timeout_ms: 10_000,
            tls_cert: None,
            tls_key: None,
            max_views: 16,
            web: true,
            web_view_budget_mb: 1500,
        }
    }
}

/// The default `max_reply_bytes`: the largest screenshot (8192 x 8192 RGBA,
/// 256 MiB) with room to spare for its message around it.
pub const DEFAULT_MAX_REPLY_BYTES: usize = (256 << 20) + (1 << 20);

/// A connected (or formerly connected) client, cheap to clone.
#[derive(Clone, Debug)]
pub struct ClientRef(Arc<ClientMeta>);

#[derive(Debug)]
struct ClientMeta {
    id: u64,
    name: String,
    addr: SocketAddr,
    addr_text: String,
    /// The connection is a view of the scene (`hello` said `role = "view"`).
    view: bool,
}

impl ClientRef {
    pub(crate) fn new(id: u64, name: String, addr: SocketAddr, view: bool) -> Self {
        Self(Arc::new(ClientMeta { id, name, addr, addr_text: addr.to_string(), view }))
    }

    /// Whether this connection is a view (it is sent the scene and its changes).
    pub fn is_view(&self) -> bool {
        self.0.view
    }

    /// A client that is not a connection, e.g. one replayed from a recording;
    /// `origin` replaces the address in logs and the UI.
    pub fn detached(id: u64, name: &str, origin: &str) -> Self {
        let addr = SocketAddr::from(([0, 0, 0, 0], 0));
        Self(Arc::new(ClientMeta { id, name: name.to_owned(), addr, addr_text: origin.to_owned(), view: false }))
    }
    /// The viewer's id for this client (kept when a session is resumed).
    pub fn id(&self) -> u64 {
        self.0.id
    }
    /// The `client_name` from its hello.
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// `ip:port` of the connection.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }
    /// `ip:port` as text (formatted once per connection).
    pub fn addr_text(&self) -> &str {
        &self.0.addr_text
    }
}

/// What the network side tells the scene side, in per-client order.
#[derive(Debug)]
pub enum Event {
    Connected {
        client: ClientRef,
        resumed: bool,
    },
    Message {
        client: ClientRef,
        envelope: Envelope,
        /// The typed form, decoded once on the connection thread (`None` for a
        /// type number Periscope does not know: the chain still sees it).
        request: Option<Request>,
        bytes: usize,
        received: Instant,
        /// Earlier messages this one replaced while queued (newest-wins streams such as images).
        coalesced: u32,
    },
    /// A frame that could not be decoded (the sender already got an error reply).
    Rejected {
        client: ClientRef,
        reason: String,
    },
    Disconnected {
        client: ClientRef,
    },
}

impl Event {
    /// A queue key per client, so the scene serves clients in turn
    /// (`ByteQueue::with_key(budget, items, Event::queue_key)`).
    pub fn queue_key(&self) -> u64 {
        self.client().id()
    }

    pub fn client(&self) -> &ClientRef {
        match self {
            Event::Connected { client, .. }
            | Event::Message { client, .. }
            | Event::Rejected { client, .. }
            | Event::Disconnected { client } => client,
        }
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the accept thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Counters for the UI and benchmarks.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub rejected: AtomicU64,
    /// Replies nobody waited for, dropped because the client's outbox was full.
    pub replies_dropped: AtomicU64,
    /// Replies over `max_reply_bytes`, answered by a `reply_too_large` error instead.
    pub replies_too_large: AtomicU64,
    /// Answers that did not fit the client's outbox, answered by an `outbox_full` error instead.
    pub answers_replaced: AtomicU64,
    /// Connections closed because the client did not read its replies.
    pub closed_not_reading: AtomicU64,
}

pub(crate) struct Session {
    pub client_id: u64,
    pub connected: bool,
}

pub(crate) struct Shared {
    pub config: ServerConfig,
    /// Set when clients must speak TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub queue: Arc<ByteQueue<Event>>,
    pub shutdown: AtomicBool,
    pub outboxes: Mutex<HashMap<u64, Arc<Outbox>>>,
    pub sessions: Mutex<HashMap<String, Session>>,
    pub next_client: AtomicU64,
    pub live: AtomicUsize,
    /// Connections that are views (`max_views`).
    pub views: AtomicUsize,
    pub stats: ServerStats,
    /// Keep each received frame with its decoded envelope (`Envelope::raw`).
    pub keep_frames: AtomicBool,
    /// Slots for connections, taken at accept (`admission.rs`).
    pub admission: Arc<Admission>,
    /// Bytes in parts over every connection (`parts_bytes`).
    pub parts: Arc<periscope_protocol::PartsBudget>,
    /// The web view's files, served to plain HTTP requests when `config.web` is on.
    pub web: crate::http::WebBundle,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a single map operation; a panic in one
    // cannot leave the map half-updated, so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running server. Dropping it shuts it down.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

/// A cheap handle for sending replies, usable from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl Server {
    /// Binds and starts accepting. Events go to `queue`. Plain HTTP requests
    /// find no web view (see [`Server::start_with_web`]).
    pub fn start(config: ServerConfig, queue: Arc<ByteQueue<Event>>) -> Result<Self, ServerError> {
        Self::start_with_web(config, queue, crate::http::WebBundle::EMPTY)
    }

    /// [`Server::start`], answering plain HTTP GETs on the same port from
    /// `web` (when `config.web` is on; an empty bundle serves a page saying
    /// how to build the web view).
    pub fn start_with_web(
        mut config: ServerConfig,
        queue: Arc<ByteQueue<Event>>,
        web: crate::http::WebBundle,
    ) -> Result<Self, ServerError> {
        config.token = config.token.filter(|t| !t.is_empty());
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::stream::load_tls(cert, key).map_err(ServerError::Tls)?),
            (None, None) => None,
            _ => return Err(ServerError::Tls("set both server.tls_cert and server.tls_key, or neither".into())),
        };
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        if config.compat_enabled() {
            tracing::info!("aitviewer clients are accepted (pickles are decoded by a restricted decoder)");
        }
        if !config.host.is_loopback() {
            tracing::warn!(
                %local_addr,
                token = config.token.is_some(),
                tls = tls.is_some(),
                "listening on a non-loopback address: anyone who can reach it can send data to this viewer"
            );
        }
        if tls.is_some() {
            tracing::info!("TLS is on: clients connect with wss://");
        }
        let parts = periscope_protocol::PartsBudget::new(config.parts_bytes);
        let shared = Arc::new(Shared {
            web,
            tls,
            parts,
            config,
            queue,
            shutdown: AtomicBool::new(false),
            outboxes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(1),
            live: AtomicUsize::new(0),
            views: AtomicUsize::new(0),
            stats: ServerStats::default(),
            keep_frames: AtomicBool::new(true),
            admission: Arc::new(Admission::default()),
            threads: Mutex::new(Vec::new()),
        });
        {
            let admission = Arc::clone(&shared.admission);
            let reaper = std::thread::Builder::new()
                .name("periscope-handshake-reaper".into())
                .spawn(move || admission.reap())
                .map_err(ServerError::Spawn)?;
            lock(&shared.threads).push(reaper);
        }
        let s2 = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("periscope-accept".into())
            .spawn(move || accept_loop(listener, s2))
            .map_err(ServerError::Spawn)?;
        tracing::info!(%local_addr, "server listening");
        Ok(Self { shared, local_addr, accept: Some(accept) })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle { shared: Arc::clone(&self.shared) }
    }

    /// Stops accepting, closes every connection (close code 1001) and joins the threads.
    pub fn shutdown(&mut self) {
        if self.shared.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the blocking accept() with a throwaway connection.
        let _ = TcpStream::connect_timeout(&self.local_addr, Duration::from_millis(200));
        // Ends the reaper and closes connections still in their handshake.
        self.shared.admission.shut_down();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
        tracing::info!("server stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The name of a reply's type for messages (`screenshot_result`, or the number).
fn reply_name(kind: i64) -> String {
    MessageType::from_i64(kind).map_or_else(|| format!("type {kind}"), |t| t.name().to_owned())
}

/// Queues `reply` for `client` by the outbox rule (`outbox.rs`), replacing
/// a reply over `max_reply_bytes` by a `reply_too_large` error first. Never
/// blocks. True when the reply itself was queued.
pub(crate) fn deliver(shared: &Shared, client: u64, reply: Arc<Reply>) -> bool {
    let (reply, size) = weigh(shared, client, reply);
    deliver_weighed(shared, client, reply, size)
}

/// `reply` and its encoded size, or the `reply_too_large` error that replaces
/// it when it is over `max_reply_bytes`. Weighed once per reply, however many
/// clients it goes to.
fn weigh(shared: &Shared, client: u64, reply: Arc<Reply>) -> (Arc<Reply>, usize) {
    let stats = &shared.stats;
    let mut size = reply.encoded_len();
    let mut reply = reply;
    let max = shared.config.max_reply_bytes;
    // A hub's view stream is split into parts by the hub; a part bigger than
    // max_reply_bytes (one frame over it) is not an answer to cap: it goes whole.
    if size > max && !matches!(*reply, Reply::Encoded { .. }) {
        let n = stats.replies_too_large.fetch_add(1, Ordering::Relaxed) + 1;
        let error = too_large(&reply, size, max);
        // Logged at 1, 2, 4, 8, ... so a client asking again and again cannot flood the log.
        if n.is_power_of_two() {
            let kind = reply_name(reply.kind());
            tracing::warn!(
                client,
                kind,
                size,
                max_reply_bytes = max,
                count = n,
                "reply too large: sent a reply_too_large error instead"
            );
        }
        reply = Arc::new(error);
        size = reply.encoded_len();
    }
    (reply, size)
}

/// Queues an already weighed reply for `client` by the outbox rule.
fn deliver_weighed(shared: &Shared, client: u64, reply: Arc<Reply>, size: usize) -> bool {
    let Some(outbox) = lock(&shared.outboxes).get(&client).cloned() else { return false };
    let stats = &shared.stats;
    let kind = reply.kind();
    let replacement = |held: &crate::outbox::Held| {
        let message = format!(
            "the {} reply ({} bytes) did not fit in this client's outbox ({} replies, {} bytes wait unread; server.outbox_messages = {}, server.outbox_bytes = {}): the client is not reading its replies",
            reply_name(kind),
            held.size,
            held.items,
            held.bytes,
            shared.config.outbox_messages,
            shared.config.outbox_bytes
        );
        Reply::error(reply.ref_seq(), reply.request_type(), None, "outbox_full", message)
    };
    match outbox.offer(Arc::clone(&reply), size, replacement) {
        Offer::Queued => true,
        Offer::Dropped => {
            let n = stats.replies_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Logged at 1, 2, 4, 8, ... drops so a client that never reads cannot flood the log.
            if n.is_power_of_two() {
                tracing::warn!(client, dropped = n, "reply dropped: the client is not reading its replies");
            }
            false
        }
        Offer::Replaced => {
            let n = stats.answers_replaced.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    client,
                    replaced = n,
                    "an answer did not fit the client's outbox: sent an outbox_full error instead"
                );
            }
            false
        }
        Offer::Closing => false,
    }
}

/// The error that answers in place of a reply over `max_reply_bytes`.
pub(crate) fn too_large(reply: &Reply, size: usize, max: usize) -> Reply {
    let message = format!(
        "the {} reply would be {size} bytes, over server.max_reply_bytes ({max} bytes): ask for less (a smaller image, fewer frames, no return_bytes) or raise server.max_reply_bytes in the viewer's config",
        reply_name(reply.kind())
    );
    Reply::error(reply.ref_seq(), reply.request_type(), None, "reply_too_large", message)
}

impl ServerHandle {
    /// Queues `reply` for `client`. Never blocks. Returns false when the
    /// client is gone or the reply did not go as it was: a reply over
    /// `server.max_reply_bytes` becomes a `reply_too_large` error; when the
    /// client's outbox is full, a reply nobody waits for is dropped (and
    /// counted), an answer becomes an `outbox_full` error, and a client that
    /// still does not read is disconnected (see `outbox.rs`).
    pub fn send(&self, client: u64, reply: Reply) -> bool {
        deliver(&self.shared, client, Arc::new(reply))
    }

    /// [`Self::send`] of a reply shared with other clients (no copy).
    pub fn send_shared(&self, client: u64, reply: Arc<Reply>) -> bool {
        deliver(&self.shared, client, reply)
    }

    /// Views connected now.
    pub fn views(&self) -> usize {
        self.shared.views.load(Ordering::SeqCst)
    }

    /// Sends `reply` to every connected client (one shared copy); returns how many got it.
    pub fn broadcast(&self, reply: &Reply) -> usize {
        let ids: Vec<u64> = lock(&self.shared.outboxes).keys().copied().collect();
        let Some(&first) = ids.first() else { return 0 };
        let (reply, size) = weigh(&self.shared, first, Arc::new(reply.clone()));
        ids.into_iter().filter(|&id| deliver_weighed(&self.shared, id, Arc::clone(&reply), size)).count()
    }

    /// `(replies, bytes)` waiting in `client`'s outbox (`None` when it is not connected).
    pub fn outbox(&self, client: u64) -> Option<(usize, usize)> {
        lock(&self.shared.outboxes).get(&client).map(|o| o.len())
    }

    /// Number of live connections.
    /// Whether decoded messages keep their received frame (`Envelope::raw`),
    /// for plugins (which borrow `args`/`kwargs` from it) and the recorder
    /// (which writes it as it arrived). On by default. Off, a frame is dropped
    /// as soon as it is decoded, so the connection reuses its read buffer
    /// instead of allocating fresh memory for every message still queued:
    /// faster ingest, and consumers re-encode when they need bytes.
    pub fn set_keep_frames(&self, keep: bool) {
        if self.shared.keep_frames.swap(keep, Ordering::Relaxed) != keep {
            tracing::debug!(keep, "received frames are kept with their messages");
        }
    }

    /// See [`ServerHandle::set_keep_frames`].
    pub fn keeps_frames(&self) -> bool {
        self.shared.keep_frames.load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> usize {
        self.shared.live.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> &ServerStats {
        &self.shared.stats
    }

    /// What admission refused, evicted and timed out.
    pub fn admission_stats(&self) -> &AdmissionStats {
        &self.shared.admission.stats
    }

    /// Connections holding a slot (in their handshake or serving).
    pub fn open_connections(&self) -> usize {
        self.shared.admission.open()
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }
}

/// Tells a plain-WebSocket client why it was turned away (HTTP 503, which
/// WebSocket clients report), without a thread and without ever blocking: the
/// socket is non-blocking and the answer fits any empty send buffer.
fn refuse_at_accept(stream: &TcpStream, max_clients: usize) {
    use std::io::{Read, Write};
    let body = format!("too many clients (server.max_clients = {max_clients})\n");
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.set_nonblocking(true).is_ok() {
        // Read what already arrived, so closing does not reset the connection
        // (and discard the answer) because of unread request bytes.
        let mut buf = [0u8; 4096];
        let _ = (&*stream).read(&mut buf);
        let _ = (&*stream).write_all(answer.as_bytes());
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut n = 0u64;
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(addr) = stream.peer_addr() else { continue };
        let timeout = Duration::from_millis(shared.config.handshake_timeout_ms.max(1));
        let Some(ticket) = shared.admission.admit(&stream, addr, shared.config.max_clients, timeout) else {
            // Every slot is a client or a connection mid-upgrade: close at once, no thread.
            if shared.tls.is_none() {
                refuse_at_accept(&stream, shared.config.max_clients);
            }
            let refused = shared.admission.stats.refused.load(Ordering::Relaxed);
            if refused.is_power_of_two() {
                tracing::warn!(%addr, refused, max_clients = shared.config.max_clients, "connection refused at accept: every slot is taken");
            }
            continue;
        };
        n += 1;
        let s2 = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name(format!("periscope-conn-{n}"))
            .spawn(move || connection::run(stream, s2, ticket));
        match spawned {
            Ok(handle) => {
                let mut threads = lock(&shared.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
            }
            Err(e) => tracing::error!(error = %e, "cannot start a connection thread"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aitviewer_compat_auto_needs_loopback_and_no_token() {
        let base = ServerConfig::default();
        assert!(base.compat_enabled(), "loopback, no token");
        let public = ServerConfig { host: IpAddr::from([0, 0, 0, 0]), ..base.clone() };
        assert!(!public.compat_enabled(), "a non-loopback bind needs it explicitly");
        let with_token = ServerConfig { token: Some("t".into()), ..base.clone() };
        assert!(!with_token.compat_enabled(), "aitviewer clients cannot send a token");
        assert!(ServerConfig { aitviewer_compat: Compat::On, ..public }.compat_enabled());
        assert!(!ServerConfig { aitviewer_compat: Compat::Off, ..base }.compat_enabled());
    }
}
