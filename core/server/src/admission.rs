//! Admission: bounds what a peer can make the server allocate before it has
//! said who it is.
//!
//! Every accepted TCP connection gets a [`Ticket`] or is closed at once. A
//! connection holds its ticket (and its one thread) from accept to close, so
//! connection threads are bounded by `max_clients` (connections still in their
//! handshake count) plus a small slack for evicted connections still unwinding.
//! When every slot is taken and a new peer arrives, the oldest connection that
//! has not even finished its WebSocket upgrade is evicted to make room: idle
//! sockets cannot lock out a real client, which upgrades within milliseconds.
//! Before that, a connection whose HTTP answer is already written and flushed,
//! and which is only lingering for the client's close, gives way: a browser
//! fetching the page's next file at once should not find the slot of the
//! previous one taken.
//! One reaper thread closes handshakes that miss their deadline (slowloris),
//! instead of a watchdog thread per connection.

use std::collections::VecDeque;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Connections beyond `max_clients` that may still be unwinding after an
/// eviction (a handshake, or an answered HTTP connection's linger); past this,
/// new connections are refused until threads end.
pub(crate) const EVICTION_SLACK: usize = 16;

/// Counters of what admission did, for stats and benchmarks.
#[derive(Debug, Default)]
pub struct AdmissionStats {
    /// Connections given a slot.
    pub admitted: AtomicU64,
    /// Connections closed at accept because every slot was taken.
    pub refused: AtomicU64,
    /// Handshakes closed to make room for a new connection.
    pub evicted: AtomicU64,
    /// Answered HTTP connections closed early (in their linger) to make room.
    pub answered_closed: AtomicU64,
    /// Handshakes closed at their deadline.
    pub timed_out: AtomicU64,
}

struct Pending {
    id: u64,
    addr: SocketAddr,
    since: Instant,
    deadline: Instant,
    /// A second handle to the socket, to shut it down from here.
    socket: TcpStream,
    /// The WebSocket upgrade is done (only `hello` is missing).
    upgraded: bool,
}

#[derive(Default)]
struct Inner {
    /// Connections holding a ticket (handshaking or serving).
    open: usize,
    /// Connections in their handshake, oldest first.
    pending: VecDeque<Pending>,
    /// HTTP connections whose answer is written, lingering until the client
    /// closes (`Ticket::answered`), oldest first: `(id, socket)`.
    answered: VecDeque<(u64, TcpStream)>,
    next_id: u64,
    shutdown: bool,
}

/// The admission state shared by the accept thread, the reaper and the
/// connection threads.
#[derive(Default)]
pub(crate) struct Admission {
    inner: Mutex<Inner>,
    wake: Condvar,
    pub stats: AdmissionStats,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Each critical section is a few field updates that cannot be left half-done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Admission {
    /// Admits `stream` or says no (the caller drops it). `max_clients` slots are
    /// shared by handshaking and serving connections.
    pub(crate) fn admit(
        self: &Arc<Self>,
        stream: &TcpStream,
        addr: SocketAddr,
        max_clients: usize,
        handshake_timeout: Duration,
    ) -> Option<Ticket> {
        let socket = stream.try_clone().ok()?;
        let mut inner = lock(&self.inner);
        if inner.shutdown {
            return None;
        }
        if inner.open >= max_clients {
            if inner.open >= max_clients + EVICTION_SLACK {
                drop(inner);
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            // Make room: first an answered HTTP connection (its answer is
            // flushed; at worst a client still sending, e.g. past a 431, sees
            // a reset instead of a clean close), then the oldest connection
            // that has not finished its WebSocket upgrade; if every slot is a
            // real client, refuse.
            if let Some((_, old)) = inner.answered.pop_front() {
                let _ = old.shutdown(Shutdown::Both);
                self.stats.answered_closed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("an answered HTTP connection stopped lingering to admit a new connection");
            } else {
                let Some(i) = inner.pending.iter().position(|p| !p.upgraded) else {
                    drop(inner);
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    return None;
                };
                let old = inner.pending.remove(i).expect("found above");
                let _ = old.socket.shutdown(Shutdown::Both);
                self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(addr = %old.addr, "handshake evicted to admit a new connection");
            }
        }
        inner.open += 1;
        self.stats.admitted.fetch_add(1, Ordering::Relaxed);
        inner.next_id += 1;
        let id = inner.next_id;
        let since = Instant::now();
        let deadline = since + handshake_timeout;
        let first_deadline = inner.pending.is_empty();
        inner.pending.push_back(Pending { id, addr, since, deadline, socket, upgraded: false });
        drop(inner);
        if first_deadline {
            self.wake.notify_all();
        }
        Some(Ticket { admission: Arc::clone(self), id })
    }

    /// Connections holding a ticket.
    pub(crate) fn open(&self) -> usize {
        lock(&self.inner).open
    }

    /// The reaper: closes handshakes past their deadline until shutdown.
    pub(crate) fn reap(&self) {
        let mut inner = lock(&self.inner);
        while !inner.shutdown {
            let now = Instant::now();
            // Deadlines are in arrival order (one timeout for all), so expired ones are at the front.
            while inner.pending.front().is_some_and(|p| p.deadline <= now) {
                let p = inner.pending.pop_front().expect("checked");
                let ms = now.duration_since(p.since).as_millis() as u64;
                tracing::warn!(addr = %p.addr, ms, "handshake not finished in time; closing");
                // Counted first: whoever sees the socket closed sees it counted.
                self.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                let _ = p.socket.shutdown(Shutdown::Both);
            }
            let wait =
                inner.pending.front().map_or(Duration::from_secs(1), |p| p.deadline.saturating_duration_since(now));
            inner = self.wake.wait_timeout(inner, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Stops the reaper, admits no one, and closes connections still in their handshake.
    pub(crate) fn shut_down(&self) {
        let mut inner = lock(&self.inner);
        inner.shutdown = true;
        for p in inner.pending.drain(..) {
            let _ = p.socket.shutdown(Shutdown::Both);
        }
        drop(inner);
        self.wake.notify_all();
    }
}

/// A connection's slot, held from accept to close.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    id: u64,
}

impl Ticket {
    fn update(&self, f: impl FnOnce(&mut Inner, Option<usize>)) {
        let mut inner = lock(&self.admission.inner);
        let i = inner.pending.iter().position(|p| p.id == self.id);
        f(&mut inner, i);
    }

    /// The WebSocket upgrade is done: no longer evicted for a newcomer.
    pub(crate) fn upgraded(&self) {
        self.update(|inner, i| {
            if let Some(i) = i {
                inner.pending[i].upgraded = true;
            }
        });
    }

    /// The connection's HTTP answer is written; what is left is the linger
    /// for the client's close, which a newcomer may cut short when every slot
    /// is taken (through `socket`, a second handle).
    /// No longer a handshake either (one list per connection: evicted,
    /// reaped or cut short once).
    pub(crate) fn answered(&self, socket: &TcpStream) {
        let Ok(socket) = socket.try_clone() else { return };
        self.update(|inner, i| {
            if let Some(i) = i {
                inner.pending.remove(i);
            }
            inner.answered.push_back((self.id, socket));
        });
    }

    /// The handshake is over (the client was welcomed or refused): no deadline.
    pub(crate) fn handshake_done(&self) {
        self.update(|inner, i| {
            if let Some(i) = i {
                inner.pending.remove(i);
            }
        });
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.update(|inner, i| {
            if let Some(i) = i {
                inner.pending.remove(i);
            }
            inner.answered.retain(|(id, _)| *id != self.id);
            inner.open -= 1;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A listener to make socket pairs from, an admission, its address and a
    /// 60 s handshake deadline.
    fn setup() -> (TcpListener, Arc<Admission>, SocketAddr, Duration) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, Arc::new(Admission::default()), addr, Duration::from_secs(60))
    }

    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn full_slots_evict_the_oldest_unupgraded_handshake_then_refuse() {
        let (listener, adm, addr, t) = setup();
        let (_c1, s1) = pair(&listener);
        let (_c2, s2) = pair(&listener);
        let first = adm.admit(&s1, addr, 2, t).expect("room");
        let second = adm.admit(&s2, addr, 2, t).expect("room");
        second.upgraded();
        // Full: the third evicts the first (not upgraded), not the second.
        let (_c3, s3) = pair(&listener);
        let third = adm.admit(&s3, addr, 2, t).expect("evicts");
        assert_eq!(adm.stats.evicted.load(Ordering::Relaxed), 1);
        let mut buf = [0u8; 1];
        use std::io::Read as _;
        let n = (&s1).read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the evicted socket is shut down");
        drop(first);
        // Both remaining slots are upgraded or done: a fourth is refused.
        third.upgraded();
        let (_c4, s4) = pair(&listener);
        assert!(adm.admit(&s4, addr, 2, t).is_none());
        assert_eq!(adm.stats.refused.load(Ordering::Relaxed), 1);
        assert_eq!(adm.open(), 2);
        drop((second, third));
        assert_eq!(adm.open(), 0);
    }

    #[test]
    fn an_answered_http_connection_gives_way_before_a_handshake() {
        let (listener, adm, addr, t) = setup();
        let (_c1, s1) = pair(&listener);
        let (_c2, s2) = pair(&listener);
        let handshaking = adm.admit(&s1, addr, 2, t).expect("room");
        let lingering = adm.admit(&s2, addr, 2, t).expect("room");
        // As a refused (400) request: answered without handshake_done. It
        // leaves the handshakes, so it is cut short once, never also evicted.
        lingering.answered(&s2);
        assert!(lock(&adm.inner).pending.iter().all(|p| p.id != lingering.id));
        // Full: the newcomer ends the answered connection's linger, not the
        // older handshake.
        let (_c3, s3) = pair(&listener);
        let third = adm.admit(&s3, addr, 2, t).expect("makes room");
        assert_eq!(adm.stats.answered_closed.load(Ordering::Relaxed), 1);
        assert_eq!(adm.stats.evicted.load(Ordering::Relaxed), 0);
        use std::io::Read as _;
        let mut buf = [0u8; 1];
        assert_eq!((&s2).read(&mut buf).unwrap_or(0), 0, "its linger read ends at once");
        s1.set_nonblocking(true).unwrap();
        assert!((&s1).read(&mut buf).is_err(), "the handshake is untouched (would block)");
        // Its ticket unwinds as the thread ends; nothing is left behind.
        drop(lingering);
        assert_eq!(adm.open(), 2);
        assert!(lock(&adm.inner).answered.is_empty());
        drop((handshaking, third));
        assert_eq!(adm.open(), 0);
    }

    #[test]
    fn the_reaper_closes_late_handshakes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let adm = Arc::new(Admission::default());
        let reaper = {
            let a = Arc::clone(&adm);
            std::thread::spawn(move || a.reap())
        };
        let (mut c, s) = pair(&listener);
        let late = adm.admit(&s, listener.local_addr().unwrap(), 8, Duration::from_millis(50)).unwrap();
        let (_c2, s2) = pair(&listener);
        let done = adm.admit(&s2, listener.local_addr().unwrap(), 8, Duration::from_millis(50)).unwrap();
        done.handshake_done();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        use std::io::Read as _;
        assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0, "closed at the deadline");
        assert_eq!(adm.stats.timed_out.load(Ordering::Relaxed), 1, "only the late one");
        drop((late, done));
        adm.shut_down();
        reaper.join().unwrap();
    }
}
