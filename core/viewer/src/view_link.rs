//! A view's connection to a hub (`periscope --connect URL`, and tests): a
//! named thread (`periscope-view-link`) connects with `role = "view"`, reads
//! the snapshot and change batches, decodes them into typed [`Change`]s off
//! the UI thread and hands them over through a bounded channel (when the UI
//! falls behind, the thread stops reading and the hub resyncs it). It checks
//! the sequence — a snapshot's parts in order, then batch after batch, each
//! part in order — and on a gap asks the hub for a fresh snapshot
//! (`view_resync`) instead of showing a wrong scene. The UI's messages go the
//! other way as ordinary messages of the view's client. When the hub goes
//! away (or refuses), the link says so and reconnects by itself, keeping the
//! last scene shown meanwhile.

use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use periscope_client::{ConnectOptions, Viewer};
use periscope_dispatch::StageStatus;
use periscope_protocol::{Envelope, MessageType, Reply};
use periscope_scene::Change;
use periscope_ui::stream::{StreamItem, ViewStream, resync_message};

/// Decoded messages waiting for the UI at most (then the link stops reading).
const CHANNEL: usize = 64;
/// Waits between reconnection attempts (doubling up to the last).
const RETRY: [u64; 5] = [250, 500, 1000, 2000, 4000];

/// What the link hands to the UI.
#[derive(Debug)]
pub enum LinkEvent {
    /// Connected (again): the view's client id on the hub.
    Connected { client_id: u64 },
    /// A snapshot starts: empty the mirror.
    Reset,
    /// Changes to apply, in order.
    Changes(Vec<Change>),
    /// A remote renderer's latest image message on the hub (`view_images`):
    /// the view shows it as that client's (`None`: the client left).
    Images { client: u64, name: String, message: Option<Envelope> },
    /// Another message for this view's client (errors, events, answers).
    Reply(Reply),
    /// The connection ended or could not be made; the link retries.
    Lost(String),
}

/// The link's state, for the window's status line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LinkState {
    #[default]
    Connecting,
    Connected,
    /// Disconnected, with the reason; reconnecting.
    Disconnected(String),
}

/// The UI's end of a view link.
pub struct ViewLink {
    events: Receiver<LinkEvent>,
    commands: Sender<Envelope>,
    state: Arc<Mutex<LinkState>>,
    pub url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    wake: Waker,
    /// The hub's dispatch chain, as its latest chain query answered.
    stages: Stages,
    thread: Option<JoinHandle<()>>,
}

type Stages = Arc<Mutex<Vec<StageStatus>>>;

/// How often the link asks the hub for its chain (the Server panel shows it).
const CHAIN_EVERY: Duration = Duration::from_secs(2);

/// Called by the link thread after it handed something over (the window repaints).
type Waker = Arc<Mutex<Option<Arc<dyn Fn() + Send + Sync>>>>;

/// The sending end, waking the UI after each event.
struct Events {
    tx: SyncSender<LinkEvent>,
    wake: Waker,
    stages: Stages,
}

impl Events {
    /// False when the UI is gone.
    fn send(&self, ev: LinkEvent) -> bool {
        let ok = self.tx.send(ev).is_ok();
        if let Some(w) = self.wake.lock().ok().and_then(|w| w.clone()) {
            w();
        }
        ok
    }
}

/// Where a link connects and as whom.
#[derive(Clone, Debug)]
pub struct LinkOptions {
    pub url: String,
    pub token: Option<String>,
    pub name: String,
    pub ca_cert: Option<std::path::PathBuf>,
}

impl ViewLink {
    /// Starts the link thread; it connects (and reconnects) by itself.
    pub fn start(opts: LinkOptions) -> std::io::Result<Self> {
        let (tx, events) = sync_channel(CHANNEL);
        let (commands, rx) = channel();
        let state = Arc::new(Mutex::new(LinkState::Connecting));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wake: Waker = Arc::new(Mutex::new(None));
        let stages: Stages = Arc::default();
        let url = opts.url.clone();
        let thread = std::thread::Builder::new().name("periscope-view-link".into()).spawn({
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            let tx = Events { tx, wake: Arc::clone(&wake), stages: Arc::clone(&stages) };
            move || run(opts, tx, rx, state, stop)
        })?;
        Ok(Self { events, commands, state, url, stop, wake, stages, thread: Some(thread) })
    }

    /// The hub's dispatch chain (scripts and plugins), as last reported.
    pub fn hub_stages(&self) -> Vec<StageStatus> {
        self.stages.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Calls `f` whenever the link hands something over (the window repaints).
    pub fn set_wake(&self, f: Arc<dyn Fn() + Send + Sync>) {
        if let Ok(mut w) = self.wake.lock() {
            *w = Some(f);
        }
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<LinkEvent> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting up to `timeout`.
    pub fn next_timeout(&self, timeout: Duration) -> Option<LinkEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Sends a message to the hub as this view's client (dropped while disconnected).
    pub fn send(&self, env: Envelope) {
        let _ = self.commands.send(env);
    }

    /// Asks the hub for a fresh snapshot (the mirror could not apply a change).
    pub fn resync(&self) {
        self.send(resync_message());
    }

    pub fn state(&self) -> LinkState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for ViewLink {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // The thread may be waiting to hand over an event nobody will take:
        // closing our end makes that send fail, so it ends instead of blocking the join.
        let (_, closed) = sync_channel(1);
        drop(std::mem::replace(&mut self.events, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn set(state: &Mutex<LinkState>, s: LinkState) {
    if let Ok(mut g) = state.lock() {
        *g = s;
    }
}

fn run(
    opts: LinkOptions,
    tx: Events,
    rx: Receiver<Envelope>,
    state: Arc<Mutex<LinkState>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
    let mut attempt = 0usize;
    while !stopped() {
        let connect = ConnectOptions {
            client_name: opts.name.clone(),
            token: opts.token.clone(),
            ca_cert: opts.ca_cert.clone(),
            view: true,
            ..Default::default()
        };
        let reason = match Viewer::connect_url(&opts.url, connect) {
            Ok(mut v) => {
                attempt = 0;
                set(&state, LinkState::Connected);
                tracing::info!(url = %opts.url, client = v.client_id(), "view connected");
                if !tx.send(LinkEvent::Connected { client_id: v.client_id() }) {
                    return;
                }
                serve(&mut v, &tx, &rx, &stopped)
            }
            Err(e) => e.to_string(),
        };
        if stopped() {
            return;
        }
        // Said once per disconnection, not for every attempt that follows.
        let first = !matches!(state.lock().map(|s| s.clone()), Ok(LinkState::Disconnected(_)));
        set(&state, LinkState::Disconnected(reason.clone()));
        if first {
            tracing::warn!(url = %opts.url, %reason, "view disconnected; reconnecting");
            if !tx.send(LinkEvent::Lost(reason)) {
                return;
            }
        }
        let wait = Duration::from_millis(RETRY[attempt.min(RETRY.len() - 1)]);
        attempt += 1;
        let until = Instant::now() + wait;
        while Instant::now() < until && !stopped() {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Messages typed while disconnected are not replayed later.
        while rx.try_recv().is_ok() {}
    }
}

/// Reads and forwards until the connection ends; returns why.
fn serve(v: &mut Viewer, tx: &Events, rx: &Receiver<Envelope>, stopped: &dyn Fn() -> bool) -> String {
    let mut stream = ViewStream::default();
    let mut chain_asked: Option<Instant> = None;
    loop {
        if stopped() {
            return "stopped".into();
        }
        if chain_asked.is_none_or(|t| t.elapsed() >= CHAIN_EVERY) {
            chain_asked = Some(Instant::now());
            if let Err(e) = v.send(Envelope::new(MessageType::QueryChain.as_i64())) {
                return e.to_string();
            }
        }
        loop {
            match rx.try_recv() {
                Ok(env) => {
                    if env.kind == MessageType::ViewResync.as_i64() {
                        // The window could not apply a change: what comes before the snapshot is stale.
                        stream.await_snapshot();
                    }
                    if let Err(e) = v.send(env) {
                        return e.to_string();
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return "stopped".into(),
            }
        }
        let reply = match v.recv(Duration::from_millis(20)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => return e.to_string(),
        };
        if let Reply::ChainState(state) = reply {
            if let Ok(mut s) = tx.stages.lock() {
                *s = state.stages;
            }
            continue;
        }
        let event = match stream.read(reply) {
            StreamItem::Reset(changes) => {
                if !tx.send(LinkEvent::Reset) {
                    return "stopped".into();
                }
                LinkEvent::Changes(changes)
            }
            StreamItem::Changes(changes) => LinkEvent::Changes(changes),
            StreamItem::Images { client, name, message } => LinkEvent::Images { client, name, message },
            StreamItem::Gap(_) => {
                if let Err(e) = v.send(resync_message()) {
                    return e.to_string();
                }
                continue;
            }
            StreamItem::Skip => continue,
            StreamItem::Other(reply) => LinkEvent::Reply(reply),
        };
        if !tx.send(event) {
            return "stopped".into();
        }
    }
}
