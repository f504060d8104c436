//! One client's outbox: the replies the scene side queued that the
//! connection thread has not written yet, bounded by count and by bytes.
//!
//! The rule (docs/protocol.md, "Limits: replies and parts"):
//! - A reply fits while fewer than `outbox_messages` replies and at most
//!   `outbox_bytes` bytes wait; one reply of any allowed size (up to
//!   `max_reply_bytes`) is admitted into an empty outbox.
//! - A reply that does not fit and answers nobody's request (events, camera
//!   updates, warnings, errors about fire-and-forget messages) is dropped and
//!   counted.
//! - An answer that does not fit (a sender waits for it) is replaced by a
//!   small `outbox_full` error citing its request, admitted beyond the
//!   bounds while fewer than [`ANSWER_RESERVE`] such errors wait.
//! - Past that reserve, the client is evidently not reading: the connection
//!   is closed (and logged), so its waiting calls fail instead of hanging.
//!
//! Replies are shared (`Arc`): a broadcast queues one reply for every client
//! without copying its payload.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use periscope_protocol::Reply;

/// Small errors replacing answers that may wait beyond the outbox's bounds
/// (their bytes are not counted: each is a short text).
pub(crate) const ANSWER_RESERVE: usize = 64;

pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    ready: Condvar,
    max_items: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// Each reply with its size; a replacement error weighs 0.
    items: VecDeque<(Arc<Reply>, usize)>,
    bytes: usize,
    /// Replacement errors waiting (their size is 0, no other reply's is).
    replacements: usize,
    /// Why the connection must close (set once, when the reserve ran out).
    closing: Option<String>,
}

/// What [`Outbox::offer`] did with a reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Queued,
    /// An answer did not fit; this error took its place.
    Replaced,
    /// A reply nobody waits for did not fit.
    Dropped,
    /// An answer did not fit even as an error: the connection closes.
    Closing,
}

impl Outbox {
    pub(crate) fn new(max_items: usize, max_bytes: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), ready: Condvar::new(), max_items: max_items.max(1), max_bytes }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section is a single push or pop.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `reply` (`size` bytes encoded) by the rule above; `replacement`
    /// builds the error that takes an answer's place when it does not fit.
    pub(crate) fn offer(&self, reply: Arc<Reply>, size: usize, replacement: impl FnOnce(&Held) -> Reply) -> Offer {
        let mut inner = self.lock();
        if inner.closing.is_some() {
            return Offer::Closing;
        }
        let size = size.max(1);
        let fits = inner.items.is_empty()
            || (inner.items.len() < self.max_items && inner.bytes.saturating_add(size) <= self.max_bytes);
        let outcome = if fits {
            inner.items.push_back((reply, size));
            inner.bytes += size;
            Offer::Queued
        } else if !reply.answers_request() {
            Offer::Dropped
        } else if inner.replacements < ANSWER_RESERVE {
            let seen = Held { items: inner.items.len(), bytes: inner.bytes, size };
            inner.items.push_back((Arc::new(replacement(&seen)), 0));
            inner.replacements += 1;
            Offer::Replaced
        } else {
            inner.closing = Some(format!(
                "the client is not reading its replies: {} replies ({} bytes) wait unread, and answers no longer fit even as errors (server.outbox_messages = {}, server.outbox_bytes = {})",
                inner.items.len(),
                inner.bytes,
                self.max_items,
                self.max_bytes
            ));
            Offer::Closing
        };
        drop(inner);
        if outcome != Offer::Dropped {
            self.ready.notify_one();
        }
        outcome
    }

    /// The next reply, without waiting.
    pub(crate) fn try_recv(&self) -> Option<Arc<Reply>> {
        let mut inner = self.lock();
        let (reply, size) = inner.items.pop_front()?;
        inner.bytes -= size;
        if size == 0 {
            inner.replacements -= 1;
        }
        if inner.items.is_empty() && inner.items.capacity() > 1024 {
            // A burst is over: give its memory back.
            inner.items = VecDeque::new();
        }
        Some(reply)
    }

    /// The next reply, waiting up to `timeout` (less when the connection must close).
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Option<Arc<Reply>> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.items.is_empty() && inner.closing.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            inner = self.ready.wait_timeout(inner, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(inner);
        self.try_recv()
    }

    /// Why the connection must close, once the reserve ran out.
    pub(crate) fn closing(&self) -> Option<String> {
        self.lock().closing.clone()
    }

    /// `(replies, bytes)` waiting.
    pub(crate) fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.items.len(), inner.bytes)
    }
}

/// What the outbox held when an answer did not fit (for the error's text).
pub(crate) struct Held {
    pub items: usize,
    pub bytes: usize,
    /// The answer's size.
    pub size: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use periscope_protocol::{Event, NdArray, ScreenshotResult, SelectEvent};

    fn answer(seq: u64, bytes: usize) -> Arc<Reply> {
        Arc::new(Reply::ScreenshotResult(ScreenshotResult {
            ref_seq: Some(seq),
            width: 1,
            height: 1,
            frame: 0,
            image: NdArray::from_u8(vec![bytes], vec![0; bytes]),
        }))
    }

    fn event() -> Arc<Reply> {
        Arc::new(Reply::Event(Event::Select(SelectEvent::default())))
    }

    fn error(_: &Held) -> Reply {
        Reply::error(None, None, None, "outbox_full", "full")
    }

    #[test]
    fn bytes_and_count_bound_the_outbox_and_answers_are_never_silent() {
        let o = Outbox::new(4, 100);
        // One big reply fits an empty outbox; then the bytes are spent.
        assert_eq!(o.offer(answer(1, 500), 500, error), Offer::Queued);
        assert_eq!(o.offer(event(), 10, error), Offer::Dropped);
        assert_eq!(o.offer(answer(2, 10), 10, error), Offer::Replaced);
        assert_eq!(o.len(), (2, 500));
        assert!(o.try_recv().is_some());
        assert!(o.try_recv().is_some());
        // Count: four small replies, then answers become errors up to the reserve.
        for _ in 0..4 {
            assert_eq!(o.offer(event(), 1, error), Offer::Queued);
        }
        for _ in 0..ANSWER_RESERVE {
            assert_eq!(o.offer(answer(3, 1), 1, error), Offer::Replaced);
        }
        assert_eq!(o.offer(answer(4, 1), 1, error), Offer::Closing);
        assert!(o.closing().unwrap().contains("server.outbox_bytes = 100"));
        assert_eq!(o.offer(event(), 1, error), Offer::Closing);
        assert_eq!(o.len(), (4 + ANSWER_RESERVE, 4));
    }
}
