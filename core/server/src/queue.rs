//! A bounded, byte-limited queue between the network threads and the scene.
//!
//! Producers block while the queue holds more than its byte or item budget, so
//! a fast sender stops being read and TCP pushes back on it. One item larger
//! than the whole budget is still admitted when the queue is empty, so a
//! single big (but allowed) message never deadlocks.
//!
//! Items are FIFO per key (per client) and the consumer takes keys in turn
//! (round robin), so a client flooding the queue delays another client's next
//! message by at most one of its own, not by everything it queued.
//!
//! Admission is fair too: a key with nothing queued may always push one item,
//! even over budget. Otherwise a quiet client's single message would compete
//! for each freed slot with every blocked flooder and could wait for seconds.
//! This does not raise the memory bound: a blocked producer holds its item in
//! memory anyway, so the queue may exceed its budget by at most one item per
//! producer (per connection).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Called when a push makes the queue non-empty, e.g. to wake the UI (`egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

struct Inner<T> {
    /// Per key, its items in order.
    queues: HashMap<u64, VecDeque<(T, usize)>>,
    /// Keys with items, in the order they are served.
    turns: VecDeque<u64>,
    items: usize,
    bytes: usize,
    closed: bool,
}

impl<T> Inner<T> {
    fn pop(&mut self) -> Option<(T, usize)> {
        let key = self.turns.pop_front()?;
        let q = self.queues.get_mut(&key)?;
        let item = q.pop_front()?;
        if q.is_empty() {
            self.queues.remove(&key);
        } else {
            self.turns.push_back(key);
        }
        self.items -= 1;
        self.bytes -= item.1;
        Some(item)
    }
}

/// A multi-producer, single-consumer queue bounded by bytes and by count.
pub struct ByteQueue<T> {
    inner: Mutex<Inner<T>>,
    not_full: Condvar,
    not_empty: Condvar,
    max_bytes: usize,
    max_items: usize,
    waker: Mutex<Option<Waker>>,
    key: fn(&T) -> u64,
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
    /// A plain FIFO (every item has the same key).
    pub fn new(max_bytes: usize, max_items: usize) -> Self {
        Self::with_key(max_bytes, max_items, |_| 0)
    }

    /// FIFO per `key(item)`, keys served in turn.
    pub fn with_key(max_bytes: usize, max_items: usize, key: fn(&T) -> u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                queues: HashMap::new(),
                turns: VecDeque::new(),
                items: 0,
                bytes: 0,
                closed: false,
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
            max_bytes,
            max_items: max_items.max(1),
            waker: Mutex::new(None),
            key,
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

    /// The waker set now (a no-op when none), for work finished on another
    /// thread that the consumer must come and see.
    pub fn waker(&self) -> Waker {
        let w = self.waker.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Arc::new(move || {
            if let Some(w) = &w {
                w();
            }
        })
    }

    fn fits(&self, inner: &Inner<T>, key: u64, cost: usize) -> bool {
        inner.items == 0
            || !inner.queues.contains_key(&key)
            || (inner.bytes + cost <= self.max_bytes && inner.items < self.max_items)
    }

    /// Pushes `item` (weighing `cost` bytes), waiting up to `timeout` for room.
    pub fn push_timeout(&self, item: T, cost: usize, timeout: Duration) -> Result<(), PushError<T>> {
        let deadline = Instant::now() + timeout;
        let key = (self.key)(&item);
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return Err(PushError::Closed(item));
            }
            if self.fits(&inner, key, cost) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PushError::Timeout(item));
            }
            inner = self.not_full.wait_timeout(inner, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let was_empty = inner.items == 0;
        let q = inner.queues.entry(key).or_default();
        q.push_back((item, cost));
        if q.len() == 1 {
            inner.turns.push_back(key);
        }
        inner.items += 1;
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

    /// Newest wins: swaps `item` in for the first queued item of its key that
    /// `same` matches, keeping its place in line, and returns the replaced item;
    /// `carry` may move state (e.g. a drop count) from the old item into the new
    /// one first. Never waits. When nothing matches (or the queue is closed)
    /// the item is handed back.
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
        let key = (self.key)(&item);
        let Some(q) = inner.queues.get_mut(&key) else { return Err(item) };
        let Some(pos) = q.iter().position(|(t, _)| same(t)) else { return Err(item) };
        carry(&q[pos].0, &mut item);
        let (old, old_cost) = std::mem::replace(&mut q[pos], (item, cost));
        inner.bytes = inner.bytes - old_cost + cost;
        drop(inner);
        // The replacement may be smaller: a blocked producer may fit now.
        self.not_full.notify_all();
        Ok(old)
    }

    /// Pops the next item without waiting.
    pub fn try_pop(&self) -> Option<T> {
        let mut inner = self.lock();
        let (item, _) = inner.pop()?;
        drop(inner);
        self.not_full.notify_all();
        Some(item)
    }

    /// Pops the next item, waiting up to `timeout` for one.
    pub fn pop_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.items == 0 {
            let now = Instant::now();
            if now >= deadline || inner.closed {
                return None;
            }
            inner = self.not_empty.wait_timeout(inner, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let (item, _) = inner.pop()?;
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
        (inner.items, inner.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.lock().items == 0
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
    fn keys_take_turns_and_keep_their_own_order() {
        let q = ByteQueue::with_key(1000, 100, |t: &(u64, u32)| t.0);
        for i in 0..5 {
            q.push_timeout((1, i), 1, Duration::ZERO).unwrap();
        }
        q.push_timeout((2, 0), 1, Duration::ZERO).unwrap();
        q.push_timeout((2, 1), 1, Duration::ZERO).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| q.try_pop()).collect();
        // Client 2's first message waits behind one of client 1's, not all five.
        assert_eq!(order, [(1, 0), (2, 0), (1, 1), (2, 1), (1, 2), (1, 3), (1, 4)]);
        assert_eq!(q.len(), (0, 0));
    }

    #[test]
    fn a_key_with_nothing_queued_is_admitted_over_budget() {
        let q = ByteQueue::with_key(100, 2, |t: &(u64, u32)| t.0);
        q.push_timeout((1, 0), 60, Duration::ZERO).unwrap();
        q.push_timeout((1, 1), 40, Duration::ZERO).unwrap();
        // Full for key 1 (bytes and count), but key 2 has nothing queued.
        assert!(matches!(q.push_timeout((1, 2), 1, Duration::ZERO), Err(PushError::Timeout(_))));
        q.push_timeout((2, 0), 50, Duration::ZERO).unwrap();
        assert!(matches!(q.push_timeout((2, 1), 1, Duration::ZERO), Err(PushError::Timeout(_))));
        assert_eq!(q.len(), (3, 150));
        // Served in turn: key 2 waits behind one item of key 1.
        assert_eq!([q.try_pop(), q.try_pop()], [Some((1, 0)), Some((2, 0))]);
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
