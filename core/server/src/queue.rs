//! A bounded, byte-limited FIFO between the network threads and the scene.
//!
//! Producers block while the queue holds more than its byte or item budget, so
//! a fast sender stops being read and TCP pushes back on it. One item larger
//! than the whole budget is still admitted when the queue is empty, so a
//! single big (but allowed) message never deadlocks.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Called when a push makes the queue non-empty, e.g. to wake the UI (`egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

struct Inner<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    closed: bool,
}

/// A multi-producer, single-consumer queue bounded by bytes and by count.
pub struct ByteQueue<T> {
    inner: Mutex<Inner<T>>,
    not_full: Condvar,
    not_empty: Condvar,
    max_bytes: usize,
    max_items: usize,
    waker: Mutex<Option<Waker>>,
}

/// The outcome of a timed push.
#[derive(Debug)]
pub enum PushError<T> {
    /// Still full after the timeout; the item is handed back.
    Timeout(T),
    /// The consumer is gone.
    Closed(T),
}

impl<T> ByteQueue<T> {
    pub fn new(max_bytes: usize, max_items: usize) -> Self {
        Self {
            inner: Mutex::new(Inner { items: VecDeque::new(), bytes: 0, closed: false }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
            max_bytes,
            max_items: max_items.max(1),
            waker: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (every mutation is a single push/pop), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the function called after each push.
    pub fn set_waker(&self, waker: Waker) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(waker);
    }

    fn fits(&self, inner: &Inner<T>, cost: usize) -> bool {
        inner.items.is_empty() || (inner.bytes + cost <= self.max_bytes && inner.items.len() < self.max_items)
    }

    /// Pushes `item` (weighing `cost` bytes), waiting up to `timeout` for room.
    pub fn push_timeout(&self, item: T, cost: usize, timeout: Duration) -> Result<(), PushError<T>> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return Err(PushError::Closed(item));
            }
            if self.fits(&inner, cost) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PushError::Timeout(item));
            }
            inner = self.not_full.wait_timeout(inner, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let was_empty = inner.items.is_empty();
        inner.items.push_back((item, cost));
        inner.bytes += cost;
        drop(inner);
        self.not_empty.notify_one();
        // Only the empty -> non-empty transition wakes the consumer; it keeps
        // draining (and asks for another pass) while items remain.
        if was_empty && let Some(w) = self.waker.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w();
        }
        Ok(())
    }

    /// Newest wins: swaps `item` in for the first queued item that `same` matches,
    /// keeping its place in line, and returns the replaced item; `carry` may move
    /// state (e.g. a drop count) from the old item into the new one first.
    /// Never waits. When nothing matches (or the queue is closed) the item is handed back.
    pub fn replace_where(
        &self,
        mut item: T,
        cost: usize,
        same: impl Fn(&T) -> bool,
        carry: impl FnOnce(&T, &mut T),
    ) -> Result<T, T> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(item);
        }
        let Some(pos) = inner.items.iter().position(|(t, _)| same(t)) else { return Err(item) };
        carry(&inner.items[pos].0, &mut item);
        let (old, old_cost) = std::mem::replace(&mut inner.items[pos], (item, cost));
        inner.bytes = inner.bytes - old_cost + cost;
        drop(inner);
        // The replacement may be smaller: a blocked producer may fit now.
        self.not_full.notify_all();
        Ok(old)
    }

    /// Pops the oldest item without waiting.
    pub fn try_pop(&self) -> Option<T> {
        let mut inner = self.lock();
        let (item, cost) = inner.items.pop_front()?;
        inner.bytes -= cost;
        drop(inner);
        self.not_full.notify_all();
        Some(item)
    }

    /// Pops the oldest item, waiting up to `timeout` for one.
    pub fn pop_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.items.is_empty() {
            let now = Instant::now();
            if now >= deadline || inner.closed {
                return None;
            }
            inner = self.not_empty.wait_timeout(inner, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let (item, cost) = inner.items.pop_front()?;
        inner.bytes -= cost;
        drop(inner);
        self.not_full.notify_all();
        Some(item)
    }

    /// Refuses further pushes and wakes every waiter.
    pub fn close(&self) {
        self.lock().closed = true;
        self.not_full.notify_all();
        self.not_empty.notify_all();
    }

    /// `(items, bytes)` currently queued.
    pub fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.items.len(), inner.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_where_keeps_the_place_and_the_byte_count() {
        let q = ByteQueue::new(100, 10);
        q.push_timeout(("a", 1), 10, Duration::ZERO).unwrap();
        q.push_timeout(("b", 1), 20, Duration::ZERO).unwrap();
        q.push_timeout(("c", 1), 30, Duration::ZERO).unwrap();
        let carry = |old: &(&str, u32), new: &mut (&str, u32)| new.1 += old.1;
        assert_eq!(q.replace_where(("b", 2), 5, |t| t.0 == "b", carry), Ok(("b", 1)));
        assert_eq!(q.len(), (3, 45));
        assert_eq!(q.replace_where(("z", 1), 5, |t| t.0 == "z", carry), Err(("z", 1)));
        assert_eq!([q.try_pop(), q.try_pop(), q.try_pop()], [Some(("a", 1)), Some(("b", 3)), Some(("c", 1))]);
    }

    #[test]
    fn byte_budget_blocks_then_frees() {
        let q = ByteQueue::new(100, 10);
        q.push_timeout(1, 60, Duration::ZERO).unwrap();
        assert!(matches!(q.push_timeout(2, 60, Duration::from_millis(10)), Err(PushError::Timeout(2))));
        assert_eq!(q.try_pop(), Some(1));
        q.push_timeout(2, 60, Duration::ZERO).unwrap();
        assert_eq!(q.len(), (1, 60));
    }

    #[test]
    fn oversized_item_admitted_when_empty() {
        let q = ByteQueue::new(10, 10);
        q.push_timeout("big", 1_000, Duration::ZERO).unwrap();
        assert!(q.push_timeout("small", 1, Duration::ZERO).is_err());
    }

    #[test]
    fn count_budget_and_close() {
        let q = ByteQueue::new(usize::MAX, 2);
        q.push_timeout(1, 0, Duration::ZERO).unwrap();
        q.push_timeout(2, 0, Duration::ZERO).unwrap();
        assert!(matches!(q.push_timeout(3, 0, Duration::ZERO), Err(PushError::Timeout(3))));
        q.close();
        assert!(matches!(q.push_timeout(3, 0, Duration::ZERO), Err(PushError::Closed(3))));
    }

    #[test]
    fn blocked_producer_resumes_when_consumer_pops() {
        let q = Arc::new(ByteQueue::new(10, 10));
        q.push_timeout(0, 10, Duration::ZERO).unwrap();
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || q2.push_timeout(1, 10, Duration::from_secs(10)).is_ok());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(q.pop_timeout(Duration::from_secs(1)), Some(0));
        assert!(t.join().unwrap());
        assert_eq!(q.pop_timeout(Duration::from_secs(1)), Some(1));
    }
}
