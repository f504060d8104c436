//! Reading a hub's view stream, without I/O: the same for `periscope
//! --connect` (a thread with a tungstenite socket) and the browser (a
//! `WebSocket`'s callbacks). [`ViewStream::read`] takes each reply the hub sent
//! to a view and says what it means: a snapshot starts (empty the mirror),
//! changes to apply, a remote renderer's image, another reply, or a gap in the
//! sequence (ask the hub for a fresh snapshot with [`resync_message`]).
//! docs/protocol.md, "Views", describes the sequence.

use periscope_protocol::{Envelope, MessageType, Reply, Value};
use periscope_scene::Change;
use periscope_scene::changes::list_from_wire;

/// What one reply from the hub means to a view.
#[derive(Debug)]
pub enum StreamItem {
    /// A snapshot starts: empty the mirror, then apply these changes.
    Reset(Vec<Change>),
    /// Changes to apply, in order.
    Changes(Vec<Change>),
    /// A remote renderer's latest image message on the hub (`view_images`):
    /// the view shows it as that client's (`None`: the client left).
    Images { client: u64, name: String, message: Option<Envelope> },
    /// A gap or an unreadable change: the view must ask for a snapshot
    /// ([`resync_message`]); what follows until then is ignored.
    Gap(String),
    /// Nothing to do (a part superseded by the snapshot being waited for, or
    /// an image message that could not be read, logged here).
    Skip,
    /// Another reply for this view's client (errors, events, answers).
    Other(Reply),
}

/// Asks the hub for a fresh snapshot.
pub fn resync_message() -> Envelope {
    Envelope::new(MessageType::ViewResync.as_i64())
}

/// Where the reader is in the hub's sequence.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Waiting for part 0 of a snapshot (after connecting or a gap).
    Snapshot,
    /// Part `part` of the snapshot that is followed by batch `next`.
    SnapshotPart { next: u64, part: u64 },
    /// Part `part` of batch `batch`.
    Batch { batch: u64, part: u64 },
}

/// A view's reader of the hub's stream; one per connection.
#[derive(Debug)]
pub struct ViewStream {
    expect: Expect,
}

impl Default for ViewStream {
    fn default() -> Self {
        Self { expect: Expect::Snapshot }
    }
}

fn field_u64(r: &[(String, Value)], key: &str) -> Option<u64> {
    r.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.as_i64()).and_then(|x| u64::try_from(x).ok())
}

fn field_bool(r: &[(String, Value)], key: &str) -> bool {
    r.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.as_bool()).unwrap_or(false)
}

impl Expect {
    /// Checks one message's place in the sequence: `Ok(true)` when it starts a
    /// snapshot, `Ok(false)` when it follows on, `Err` on a gap.
    fn next(&mut self, kind: MessageType, f: &[(String, Value)]) -> Result<bool, String> {
        let part = field_u64(f, "part").ok_or("a view message without \"part\"")?;
        let last = field_bool(f, "last");
        match kind {
            MessageType::ViewSnapshot => {
                let next = field_u64(f, "next").ok_or("a snapshot without \"next\"")?;
                let start = part == 0;
                let ok = start || *self == Expect::SnapshotPart { next, part };
                if !ok {
                    return Err(format!("snapshot part {part} came out of order ({self:?})"));
                }
                *self = if last {
                    Expect::Batch { batch: next, part: 0 }
                } else {
                    Expect::SnapshotPart { next, part: part + 1 }
                };
                Ok(start)
            }
            _ => {
                let batch = field_u64(f, "batch").ok_or("a change batch without \"batch\"")?;
                if *self != (Expect::Batch { batch, part }) {
                    return Err(format!("change batch {batch} part {part} came out of order ({self:?})"));
                }
                *self = if last {
                    Expect::Batch { batch: batch + 1, part: 0 }
                } else {
                    Expect::Batch { batch, part: part + 1 }
                };
                Ok(false)
            }
        }
    }
}

impl ViewStream {
    /// What `reply` means. After a [`StreamItem::Gap`] the reader waits for
    /// the next snapshot by itself; the caller sends [`resync_message`].
    pub fn read(&mut self, reply: Reply) -> StreamItem {
        let kind = MessageType::from_i64(reply.kind());
        let Reply::Other { fields, .. } = &reply else { return StreamItem::Other(reply) };
        match kind {
            Some(MessageType::ViewImages) => images(fields),
            Some(kind @ (MessageType::ViewSnapshot | MessageType::ViewChanges)) => self.changes(kind, fields),
            _ => StreamItem::Other(reply),
        }
    }

    fn changes(&mut self, kind: MessageType, fields: &[(String, Value)]) -> StreamItem {
        if self.expect == Expect::Snapshot
            && !(kind == MessageType::ViewSnapshot && field_u64(fields, "part") == Some(0))
        {
            return StreamItem::Skip; // waiting for a snapshot: what came before it is superseded
        }
        let start = match self.expect.next(kind, fields) {
            Ok(start) => start,
            Err(gap) => return self.gap(gap),
        };
        let changes = match fields.iter().find(|(k, _)| k == "changes").map(|(_, c)| list_from_wire(c)) {
            Some(Ok(c)) => c,
            Some(Err(e)) => return self.gap(format!("an unreadable change: {e}")),
            None => Vec::new(),
        };
        if start { StreamItem::Reset(changes) } else { StreamItem::Changes(changes) }
    }

    /// Ignores what comes until the next snapshot: the caller could not apply
    /// a change and asked for one ([`resync_message`]).
    pub fn await_snapshot(&mut self) {
        self.expect = Expect::Snapshot;
    }

    fn gap(&mut self, why: String) -> StreamItem {
        tracing::warn!(%why, "view stream gap: asking the hub for a snapshot");
        self.expect = Expect::Snapshot;
        StreamItem::Gap(why)
    }
}

fn images(fields: &[(String, Value)]) -> StreamItem {
    let client = field_u64(fields, "client").unwrap_or(0);
    let name = fields.iter().find(|(k, _)| k == "client_name").and_then(|(_, v)| v.as_str()).unwrap_or("");
    let message = match fields.iter().find(|(k, _)| k == "message") {
        _ if field_bool(fields, "gone") => None,
        Some((_, m)) => match Envelope::from_value(m.clone()) {
            Ok(env) => Some(env),
            Err(e) => {
                tracing::warn!(error = %e, "an unreadable image message from the hub");
                return StreamItem::Skip;
            }
        },
        None => return StreamItem::Skip,
    };
    StreamItem::Images { client, name: name.to_owned(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn reply(kind: MessageType, fields: Vec<(String, Value)>) -> Reply {
        Reply::Other { kind: kind.as_i64(), fields }
    }

    #[test]
    fn the_sequence_is_checked_and_a_gap_is_an_error() {
        let mut e = Expect::Snapshot;
        let snap = |part: u64, last: bool| {
            f(&[("next", Value::from(7u64)), ("part", Value::from(part)), ("last", Value::Bool(last))])
        };
        let batch = |b: u64, part: u64, last: bool| {
            f(&[("batch", Value::from(b)), ("part", Value::from(part)), ("last", Value::Bool(last))])
        };
        assert_eq!(e.next(MessageType::ViewSnapshot, &snap(0, false)), Ok(true));
        assert_eq!(e.next(MessageType::ViewSnapshot, &snap(1, true)), Ok(false));
        assert_eq!(e.next(MessageType::ViewChanges, &batch(7, 0, false)), Ok(false));
        assert_eq!(e.next(MessageType::ViewChanges, &batch(7, 1, true)), Ok(false));
        assert!(
            e.next(MessageType::ViewChanges, &batch(9, 0, true)).unwrap_err().contains("batch 9"),
            "batch 8 missed"
        );
        let mut e = Expect::Snapshot;
        e.next(MessageType::ViewSnapshot, &snap(0, false)).unwrap();
        assert!(e.next(MessageType::ViewSnapshot, &snap(2, true)).is_err(), "part 1 missed");
    }

    #[test]
    fn the_reader_skips_to_a_snapshot_and_waits_for_one_after_a_gap() {
        let mut s = ViewStream::default();
        let batch = |b: u64| {
            reply(
                MessageType::ViewChanges,
                f(&[("batch", Value::from(b)), ("part", Value::from(0u64)), ("last", Value::Bool(true))]),
            )
        };
        let snap = reply(
            MessageType::ViewSnapshot,
            f(&[("next", Value::from(3u64)), ("part", Value::from(0u64)), ("last", Value::Bool(true))]),
        );
        assert!(matches!(s.read(batch(2)), StreamItem::Skip), "a batch before the snapshot is superseded");
        assert!(matches!(s.read(snap.clone()), StreamItem::Reset(c) if c.is_empty()));
        assert!(matches!(s.read(batch(3)), StreamItem::Changes(_)));
        assert!(matches!(s.read(batch(5)), StreamItem::Gap(why) if why.contains("batch 5")));
        assert!(matches!(s.read(batch(6)), StreamItem::Skip), "after a gap, only a snapshot counts");
        assert!(matches!(s.read(snap), StreamItem::Reset(_)));
        let err = Reply::error(None, None, None, "bad_field", "m");
        assert!(matches!(s.read(err), StreamItem::Other(Reply::Problem { .. })));
    }
}
