//! Body-model skinning off the UI thread, and the gate that keeps each
//! client's events in order behind its skinning.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use periscope_protocol::{MessageType, Reply};
use periscope_server::Event;

use periscope_dispatch::Outbox as _;

use super::Runtime;

/// Skinning jobs in flight, and the events of their clients held meanwhile:
/// a client's messages are handled in order, so nothing it sent after a body
/// sequence is handled (a query, a screenshot) before its vertices exist.
pub(super) struct SkinWork {
    pub(super) tx: std::sync::mpsc::Sender<(periscope_scene::SkinDone, Option<u64>, i64)>,
    pub(super) rx: std::sync::mpsc::Receiver<(periscope_scene::SkinDone, Option<u64>, i64)>,
    /// Jobs in flight per client.
    pub(super) busy: HashMap<u64, usize>,
    /// Events of busy clients, in arrival order, each with its place in the
    /// arrival order of all held events.
    pub(super) held: HashMap<u64, VecDeque<(u64, Event)>>,
    /// Events held so far (the next one's place).
    pub(super) arrivals: u64,
    /// Clients with a read held until all skinning in flight is done (their
    /// later events wait behind it).
    pub(super) waiting: std::collections::HashSet<u64>,
    pub(super) held_total: usize,
}

/// Events held for busy clients beyond this stop the queue from being drained
/// (every client waits until skinning catches up; the queue's own budget then
/// pushes back on senders).
pub(super) const MAX_HELD: usize = 65_536;
/// While skinning runs, the loop looks for finished jobs this often.
pub(super) const SKIN_POLL: Duration = Duration::from_millis(2);

impl Runtime {
    /// Whether body-model skinning is still running (a headless `--screenshot`
    /// waits for it).
    pub fn skins_pending(&self) -> bool {
        !self.skins.busy.is_empty()
    }

    /// Starts the skinning jobs the last message made on the rayon pool; their
    /// client is busy until they finish.
    pub(super) fn start_skins(&mut self, seq: Option<u64>, kind: i64) {
        for job in self.scene.take_skin_jobs() {
            *self.skins.busy.entry(job.client).or_default() += 1;
            let tx = self.skins.tx.clone();
            let wake = self.queue.waker();
            rayon::spawn(move || {
                let done = job.run();
                // The runtime may be gone (shutdown): nothing to tell then.
                let _ = tx.send((done, seq, kind));
                wake();
            });
        }
    }

    /// Applies finished skinning, reports failures to the sender, and handles
    /// the events held for clients that are no longer busy.
    pub(super) fn finish_skins(&mut self) {
        while let Ok((done, seq, kind)) = self.skins.rx.try_recv() {
            let client = done.client;
            match self.scene.finish_skin(done) {
                Ok(notes) => {
                    for n in notes {
                        tracing::info!(client, seq, "{n}");
                        self.out.send(client, Reply::warning(seq, Some(kind), None, "note", n));
                    }
                }
                Err(e) => {
                    self.error(format!("client #{client} seq {seq:?}: {}", e.message));
                    self.out.send(client, Reply::error(seq, Some(kind), None, e.code, e.message));
                }
            }
            if let Some(n) = self.skins.busy.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    self.skins.busy.remove(&client);
                }
            }
            self.release_held();
        }
    }

    /// Whether `ev` from client `id`, arrived `at` (its place among held
    /// events; `u64::MAX` for one not held), must wait: for its client's own
    /// skinning, or, for a read (query, screenshot, save, video), for anyone's and for
    /// every event of another client held before it, so that a read sees every
    /// body sequence that arrived before it.
    pub(super) fn must_wait(&self, id: u64, ev: &Event, at: u64) -> bool {
        if self.skins.busy.contains_key(&id) || self.skins.waiting.contains(&id) {
            return true;
        }
        let read = matches!(ev, Event::Message { envelope, .. }
            if [MessageType::Query, MessageType::Screenshot, MessageType::SaveScene, MessageType::ExportVideo]
                .iter()
                .any(|t| t.as_i64() == envelope.kind));
        read && (!self.skins.busy.is_empty()
            || self.skins.held.iter().any(|(&other, q)| other != id && q.front().is_some_and(|(t, _)| *t < at)))
    }

    /// Handles held events in the order they arrived, each client's in order,
    /// as far as nothing they wait for is still running.
    fn release_held(&mut self) {
        if self.skins.busy.is_empty() {
            self.skins.waiting.clear();
        }
        loop {
            // The earliest front that may go now.
            let next = self
                .skins
                .held
                .iter()
                .filter_map(|(&client, q)| q.front().map(|(at, ev)| (*at, client, ev)))
                .filter(|&(at, client, ev)| !self.must_wait(client, ev, at))
                .min_by_key(|&(at, ..)| at)
                .map(|(_, client, _)| client);
            let Some(client) = next else { break };
            let queue = self.skins.held.get_mut(&client).expect("client has held events");
            let (_, ev) = queue.pop_front().expect("front exists");
            if queue.is_empty() {
                self.skins.held.remove(&client);
            }
            self.skins.held_total -= 1;
            self.handle_now(ev);
        }
    }
}
