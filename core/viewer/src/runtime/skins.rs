//! Body-model skinning off the UI thread, and the gate that keeps each
//! client's events in order behind its skinning.
//!
//! The gate ([`SkinGate`]) knows nothing of the scene: it is told when a
//! client's skinning starts and finishes, and whether an event reads the
//! scene (the message type's [`Traits::reads_scene`]), and says which events
//! go now and which held ones go next. Its rules:
//!
//! - while a client has skinning in flight, its later events are held, in order;
//! - another client's events go on, except a read (query, screenshot, save,
//!   video), which waits for all skinning in flight and for every event of
//!   another client held before it, with its client's later events behind it;
//! - held events are released in the order they arrived;
//! - at most [`MAX_HELD`] are held: beyond that the queue is not drained.
//!
//! [`Traits::reads_scene`]: periscope_protocol::Traits::reads_scene

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use periscope_protocol::Reply;
use periscope_scene::SkinDone;
use periscope_server::Event;

use periscope_dispatch::Outbox as _;

use super::Runtime;

/// Skinning jobs in flight (their results come back on `rx`) and the gate
/// that holds their clients' events meanwhile: a client's messages are handled
/// in order, so nothing it sent after a body sequence is handled (a query, a
/// screenshot) before its vertices exist.
pub(super) struct SkinWork {
    tx: Sender<(SkinDone, Option<u64>, i64)>,
    rx: Receiver<(SkinDone, Option<u64>, i64)>,
    pub(super) gate: SkinGate<Event>,
}

impl Default for SkinWork {
    fn default() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        Self { tx, rx, gate: SkinGate::default() }
    }
}

/// Events held for busy clients beyond this stop the queue from being drained
/// (every client waits until skinning catches up; the queue's own budget then
/// pushes back on senders).
pub(super) const MAX_HELD: usize = 65_536;
/// While skinning runs, the loop looks for finished jobs this often.
pub(super) const SKIN_POLL: Duration = Duration::from_millis(2);

/// Whether `ev` is a message whose answer reads the scene (its type's
/// `reads_scene` trait), so it waits for anyone's skinning.
pub(super) fn reads_scene(ev: &Event) -> bool {
    matches!(ev, Event::Message { envelope, .. }
        if periscope_protocol::traits_of(envelope.kind).is_some_and(|t| t.reads_scene))
}

/// One held event: its place in the arrival order of all held events, and
/// whether it reads the scene.
struct Held<T> {
    at: u64,
    reads: bool,
    item: T,
}

/// The ordering rules of skinning (see the module's doc), over any item `T`
/// (the runtime holds [`Event`]s; the tests hold names).
pub(super) struct SkinGate<T> {
    /// Jobs in flight per client.
    busy: HashMap<u64, usize>,
    /// Events of held clients, in arrival order.
    held: HashMap<u64, VecDeque<Held<T>>>,
    /// Events held so far (the next one's place).
    arrivals: u64,
    /// Clients with a read held until all skinning in flight is done (their
    /// later events wait behind it).
    waiting: HashSet<u64>,
    held_total: usize,
}

impl<T> Default for SkinGate<T> {
    fn default() -> Self {
        Self { busy: HashMap::new(), held: HashMap::new(), arrivals: 0, waiting: HashSet::new(), held_total: 0 }
    }
}

impl<T> SkinGate<T> {
    /// A skinning job of `client` started: the client is busy until it finishes.
    pub(super) fn started(&mut self, client: u64) {
        *self.busy.entry(client).or_default() += 1;
    }

    /// A skinning job of `client` finished (call [`Self::release`] next).
    pub(super) fn finished(&mut self, client: u64) {
        if let Some(n) = self.busy.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(&client);
            }
        }
    }

    /// Whether any skinning is in flight.
    pub(super) fn pending(&self) -> bool {
        !self.busy.is_empty()
    }

    /// Whether [`MAX_HELD`] events are held (the queue is not drained then).
    pub(super) fn full(&self) -> bool {
        self.held_total >= MAX_HELD
    }

    /// An event of `client` arrived: `Some` gives it back to be handled now,
    /// `None` holds it (behind held events of its client, or waiting for
    /// skinning) until [`Self::release`] gives it back.
    pub(super) fn admit(&mut self, client: u64, reads: bool, item: T) -> Option<T> {
        if !self.held.contains_key(&client) && !self.must_wait(client, reads, u64::MAX) {
            return Some(item);
        }
        if !self.busy.contains_key(&client) {
            self.waiting.insert(client);
        }
        let at = self.arrivals;
        self.arrivals += 1;
        self.held.entry(client).or_default().push_back(Held { at, reads, item });
        self.held_total += 1;
        None
    }

    /// Whether an event of client `id`, arrived `at` (its place among held
    /// events; `u64::MAX` for one not held), must wait: for its client's own
    /// skinning, or, for a read, for anyone's and for every event of another
    /// client held before it, so that a read sees every body sequence that
    /// arrived before it.
    fn must_wait(&self, id: u64, reads: bool, at: u64) -> bool {
        if self.busy.contains_key(&id) || self.waiting.contains(&id) {
            return true;
        }
        reads
            && (!self.busy.is_empty()
                || self.held.iter().any(|(&other, q)| other != id && q.front().is_some_and(|h| h.at < at)))
    }

    /// The next held event that may go now: of those that wait for nothing
    /// still running, the earliest to arrive (each client's in order).
    pub(super) fn release(&mut self) -> Option<T> {
        if self.busy.is_empty() {
            self.waiting.clear();
        }
        let client = self
            .held
            .iter()
            .filter_map(|(&client, q)| q.front().map(|h| (h.at, client, h.reads)))
            .filter(|&(at, client, reads)| !self.must_wait(client, reads, at))
            .min_by_key(|&(at, ..)| at)
            .map(|(_, client, _)| client)?;
        let queue = self.held.get_mut(&client).expect("client has held events");
        let held = queue.pop_front().expect("front exists");
        if queue.is_empty() {
            self.held.remove(&client);
        }
        self.held_total -= 1;
        Some(held.item)
    }
}

impl Runtime {
    /// Whether body-model skinning is still running (a headless `--screenshot`
    /// waits for it).
    pub fn skins_pending(&self) -> bool {
        self.skins.gate.pending()
    }

    /// Starts the skinning jobs the last message made on the rayon pool; their
    /// client is busy until they finish.
    pub(super) fn start_skins(&mut self, seq: Option<u64>, kind: i64) {
        for job in self.scene.take_skin_jobs() {
            self.skins.gate.started(job.client);
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
            self.skins.gate.finished(client);
            self.release_held();
        }
    }

    /// Handles held events in the order they arrived, each client's in order,
    /// as far as nothing they wait for is still running.
    fn release_held(&mut self) {
        while let Some(ev) = self.skins.gate.release() {
            self.handle_now(ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_HELD, SkinGate, reads_scene};
    use periscope_protocol::{Envelope, MessageType};
    use periscope_server::{ClientRef, Event};

    /// Admits `item` of `client`; whether it went at once.
    fn admit(gate: &mut SkinGate<&'static str>, client: u64, reads: bool, item: &'static str) -> bool {
        gate.admit(client, reads, item).is_some()
    }

    fn release_all(gate: &mut SkinGate<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| gate.release()).collect()
    }

    #[test]
    fn without_skinning_everything_goes_at_once() {
        let mut gate = SkinGate::default();
        assert!(admit(&mut gate, 1, false, "node"));
        assert!(admit(&mut gate, 2, true, "query"));
        assert!(!gate.pending());
        assert!(gate.release().is_none());
    }

    #[test]
    fn a_clients_later_events_are_held_behind_its_skinning() {
        let mut gate = SkinGate::default();
        gate.started(1);
        assert!(gate.pending());
        assert!(!admit(&mut gate, 1, false, "a1"));
        assert!(!admit(&mut gate, 1, true, "a2 query"));
        assert!(!admit(&mut gate, 1, false, "a3"));
        // Another client's non-read goes on.
        assert!(admit(&mut gate, 2, false, "b1"));
        assert_eq!(release_all(&mut gate), Vec::<&str>::new(), "nothing goes while 1 skins");
        gate.finished(1);
        assert!(!gate.pending());
        assert_eq!(release_all(&mut gate), ["a1", "a2 query", "a3"]);
    }

    #[test]
    fn two_jobs_of_one_client_both_finish_before_its_events_go() {
        let mut gate = SkinGate::default();
        gate.started(1);
        gate.started(1);
        assert!(!admit(&mut gate, 1, false, "a1"));
        gate.finished(1);
        assert!(gate.release().is_none());
        gate.finished(1);
        assert_eq!(release_all(&mut gate), ["a1"]);
    }

    #[test]
    fn other_clients_reads_wait_for_any_skinning_with_their_later_events_behind() {
        let mut gate = SkinGate::default();
        gate.started(1);
        assert!(!admit(&mut gate, 2, true, "b query"));
        assert!(!admit(&mut gate, 2, false, "b after"), "behind its client's held read");
        assert!(admit(&mut gate, 3, false, "c node"), "a third client's non-read goes on");
        assert!(release_all(&mut gate).is_empty());
        gate.finished(1);
        assert_eq!(release_all(&mut gate), ["b query", "b after"]);
    }

    #[test]
    fn held_events_are_released_in_arrival_order() {
        let mut gate = SkinGate::default();
        gate.started(1);
        gate.started(2);
        for (client, item) in [(1, "a1"), (2, "b1"), (1, "a2"), (2, "b2")] {
            assert!(!admit(&mut gate, client, false, item));
        }
        gate.finished(2);
        assert_eq!(release_all(&mut gate), ["b1", "b2"], "each client's go when it is done");
        gate.finished(1);
        assert_eq!(release_all(&mut gate), ["a1", "a2"]);

        // A read held between a busy client's events goes in its place.
        gate.started(1);
        assert!(!admit(&mut gate, 1, false, "a3"));
        assert!(!admit(&mut gate, 2, true, "b query"));
        assert!(!admit(&mut gate, 1, false, "a4"));
        gate.finished(1);
        assert_eq!(release_all(&mut gate), ["a3", "b query", "a4"]);
    }

    #[test]
    fn a_read_waits_for_skinning_that_a_released_event_starts() {
        let mut gate = SkinGate::default();
        gate.started(1);
        assert!(!admit(&mut gate, 1, false, "a1 smpl"));
        assert!(!admit(&mut gate, 2, true, "b query"));
        gate.finished(1);
        assert_eq!(gate.release(), Some("a1 smpl"));
        // Handling it started more skinning: the read, which arrived after it, waits for that too.
        gate.started(1);
        assert!(gate.release().is_none());
        gate.finished(1);
        assert_eq!(release_all(&mut gate), ["b query"]);
    }

    #[test]
    fn a_read_waits_for_another_clients_events_held_before_it() {
        let mut gate = SkinGate::default();
        gate.started(1);
        assert!(!admit(&mut gate, 1, false, "a1"));
        gate.finished(1);
        // Not released yet: a read that arrives now must not overtake it.
        assert!(!admit(&mut gate, 2, true, "b query"));
        assert!(admit(&mut gate, 3, false, "c node"), "a non-read does not wait for others");
        assert_eq!(release_all(&mut gate), ["a1", "b query"]);
    }

    #[test]
    fn at_most_max_held_events_are_held() {
        let mut gate = SkinGate::default();
        gate.started(1);
        for i in 0..MAX_HELD {
            assert!(!gate.full(), "full after {i}");
            assert!(gate.admit(1, false, i).is_none());
        }
        assert!(gate.full());
        gate.finished(1);
        assert_eq!(gate.release(), Some(0));
        assert!(!gate.full());
        assert_eq!(std::iter::from_fn(|| gate.release()).count(), MAX_HELD - 1);
    }

    #[test]
    fn reads_are_the_message_types_with_the_reads_scene_trait() {
        let message = |t: MessageType| Event::Message {
            client: ClientRef::detached(1, "test", "local"),
            envelope: Envelope::new(t.as_i64()),
            request: None,
            bytes: 0,
            received: std::time::Instant::now(),
            coalesced: 0,
        };
        for t in [MessageType::Query, MessageType::Screenshot, MessageType::SaveScene, MessageType::ExportVideo] {
            assert!(reads_scene(&message(t)), "{}", t.name());
        }
        for t in [MessageType::Smpl, MessageType::Node, MessageType::QueryChain, MessageType::SetCamera] {
            assert!(!reads_scene(&message(t)), "{}", t.name());
        }
        assert!(!reads_scene(&Event::Disconnected { client: ClientRef::detached(1, "test", "local") }));
    }
}
