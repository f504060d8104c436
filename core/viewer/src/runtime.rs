//! The part of the viewer shared by the window and `--headless`: drains the
//! server's queue, runs the dispatch chain, keeps a short log for the UI.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use periscope_dispatch::{Chain, ClientCtx, Incoming, Outbox, PollResult, StageStatus};
use periscope_protocol::Reply;
use periscope_scene::Scene;
use periscope_server::{ByteQueue, Event, ServerHandle};

/// Lines kept for the UI's log panel.
const LOG_LINES: usize = 500;

/// How serious a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// One line of the UI log.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: Instant,
    pub level: Level,
    pub text: String,
}

/// Sends replies through the server.
struct ServerOutbox(ServerHandle);

impl Outbox for ServerOutbox {
    fn send(&self, client: u64, reply: Reply) -> bool {
        self.0.send(client, reply)
    }
    fn broadcast(&self, reply: &Reply) -> usize {
        self.0.broadcast(reply)
    }
}

/// The scene, the chain and the queue they drain.
pub struct Runtime {
    pub scene: Scene,
    chain: Chain,
    queue: Arc<ByteQueue<Event>>,
    out: ServerOutbox,
    log: VecDeque<LogLine>,
    /// Messages handled since start.
    pub handled: u64,
    /// Load errors already shown in the log.
    load_errors: Vec<String>,
}

impl Runtime {
    pub fn new(scene: Scene, chain: Chain, queue: Arc<ByteQueue<Event>>, server: ServerHandle) -> Self {
        let load_errors: Vec<String> = chain.status().into_iter().filter_map(|s| s.load_error).collect();
        let mut rt = Self {
            scene,
            chain,
            queue,
            out: ServerOutbox(server),
            log: VecDeque::new(),
            handled: 0,
            load_errors: Vec::new(),
        };
        // Scripts were loaded before the log existed: show their errors now.
        for e in &load_errors {
            rt.note(Level::Error, e.clone());
        }
        rt.load_errors = load_errors;
        rt
    }

    pub fn server(&self) -> &ServerHandle {
        &self.out.0
    }

    pub fn queue(&self) -> &ByteQueue<Event> {
        &self.queue
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Every stage's state, for the Scripts panel.
    pub fn stages(&self) -> Vec<StageStatus> {
        self.chain.status()
    }

    /// Applies settled script and plugin changes (hot reload); notes what
    /// changed and any new load errors in the log. Cheap when nothing changed.
    pub fn poll_scripts(&mut self) -> PollResult {
        let r = self.chain.poll(&mut self.scene);
        if !r.rescanned {
            return r;
        }
        if r.changed {
            let names = self.chain.stage_names().join(", ");
            self.note(Level::Info, format!("scripts reloaded; chain: {names}"));
        }
        let errors: Vec<String> = self.chain.status().into_iter().filter_map(|s| s.load_error).collect();
        let seen = std::mem::replace(&mut self.load_errors, errors.clone());
        for e in errors.into_iter().filter(|e| !seen.contains(e)) {
            self.note(Level::Error, e);
        }
        r
    }

    /// Handles queued events for up to `budget`; returns how many.
    pub fn pump(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut n = 0;
        while let Some(ev) = self.queue.try_pop() {
            self.handle(ev);
            n += 1;
            if start.elapsed() >= budget {
                break;
            }
        }
        n
    }

    /// Waits up to `timeout` for one event, then handles whatever else is queued.
    pub fn pump_blocking(&mut self, timeout: Duration, budget: Duration) -> usize {
        match self.queue.pop_timeout(timeout) {
            Some(ev) => {
                self.handle(ev);
                1 + self.pump(budget)
            }
            None => 0,
        }
    }

    fn note(&mut self, level: Level, text: String) {
        if self.log.len() >= LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { at: Instant::now(), level, text });
    }

    /// Recent log lines, oldest first.
    pub fn log(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.log.iter()
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Connected { client, resumed } => {
                self.scene.client_connected(client.id(), client.name(), client.addr_text());
                let how = if resumed { "resumed" } else { "connected" };
                self.note(Level::Info, format!("{} #{} {how} from {}", client.name(), client.id(), client.addr()));
            }
            Event::Disconnected { client } => {
                self.scene.client_disconnected(client.id());
                self.note(Level::Info, format!("{} #{} disconnected", client.name(), client.id()));
            }
            Event::Rejected { client, reason } => {
                self.note(Level::Error, format!("{} #{}: {reason}", client.name(), client.id()));
            }
            Event::Message { client, envelope, .. } => {
                self.handled += 1;
                let msg = Incoming {
                    envelope: &envelope,
                    client: ClientCtx { id: client.id(), name: client.name(), addr: client.addr_text() },
                };
                let report = self.chain.run(&msg, &mut self.scene, &self.out);
                for e in report.errors {
                    self.note(Level::Error, format!("{} #{} seq {:?}: {e}", client.name(), client.id(), envelope.seq));
                }
            }
        }
    }
}
