//! The hub's side of the view stream (docs/protocol.md, "Views"): every
//! connection whose hello said `role = "view"` gets a snapshot of the scene
//! and then each batch of changes, in order.
//!
//! - Changes are collected once per [`Hub::publish`] (the end of each
//!   `Runtime::step`) with `Scene::take_changes`, split into parts of at most
//!   [`PART_BYTES`] of array data, encoded once and shared by every view
//!   (`Reply::Encoded`): arrays are read from the scene's own chunks, never
//!   copied per view.
//! - A snapshot is the scene's node list taken by reference (`Arc`'d frames)
//!   and encoded part by part as the view's outbox drains (at most
//!   [`SNAPSHOT_AHEAD`] bytes queued, [`SNAPSHOT_BUDGET`] of encoding per
//!   step), so a view of a large scene costs the hub a few parts of memory,
//!   not a copy of the scene.
//! - Every view has a backlog of batch parts (shared with the other views):
//!   they go out, in order, as its outbox has room for them, so a sequence
//!   sent in one message (bigger than `server.outbox_bytes`) reaches a view
//!   that reads, and batches published during a snapshot wait behind it.
//! - The resync rule: a view whose backlog passes [`backlog_bytes`] (four
//!   times `server.outbox_bytes`: it is not reading), or that asks
//!   (`view_resync`: its mirror saw a gap), is sent a fresh snapshot instead
//!   of the changes it missed, at most one per [`RESYNC_INTERVAL`] and only
//!   when its outbox has room. A slow view therefore never slows the hub, its
//!   clients or other views, and holds bounded memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use periscope_protocol::{MessageType, Reply, Value, encode_value};
use periscope_scene::Scene;
use periscope_scene::changes::{Change, list_to_wire, split_changes};
use periscope_server::ServerHandle;

/// Array bytes per wire message of changes or snapshot.
pub const PART_BYTES: usize = 8 << 20;
/// Snapshot bytes queued in a view's outbox before the next part is encoded
/// (less when `server.outbox_bytes` is small: a part is sent when the outbox
/// holds less than `outbox_bytes - PART_BYTES - 1 MiB`, or nothing).
pub const SNAPSHOT_AHEAD: usize = 24 << 20;
/// Encoding time spent on snapshots per step (at least one part).
pub const SNAPSHOT_BUDGET: Duration = Duration::from_millis(8);
/// Change batches held for a view, while its snapshot is sent or while its
/// outbox has no room for them (a sequence sent in one message is bigger than
/// `server.outbox_bytes`): four times `server.outbox_bytes` (256 MiB by
/// default). The parts are shared by every view; past this the view is resynced.
pub fn backlog_bytes(out: &ServerHandle) -> usize {
    out.config().outbox_bytes.saturating_mul(4)
}

/// A snapshot being sent: its remaining parts (sharing the scene's arrays).
struct Snapshot {
    parts: VecDeque<Vec<Change>>,
    /// The batch that follows it.
    next: u64,
    sent: u64,
}

struct View {
    /// Remote renderers' images not sent yet (their latest is in `Hub::images`).
    images_due: std::collections::BTreeSet<ImageKey>,
    snapshot: Option<Snapshot>,
    /// Batches published while the snapshot is sent.
    backlog: VecDeque<(Arc<Reply>, usize)>,
    backlog_bytes: usize,
    /// Wants a fresh snapshot: built when its outbox has room, and not before
    /// `not_before` (at most one per [`RESYNC_INTERVAL`]).
    resync: bool,
    not_before: Instant,
    /// Snapshots this view was sent (the log line is written at 1, 2, 4, ...).
    snapshots: u64,
}

impl View {
    fn new() -> Self {
        Self {
            images_due: Default::default(),
            snapshot: None,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            resync: true,
            not_before: Instant::now(),
            snapshots: 0,
        }
    }
}

/// Which of a remote renderer's images: (client, main view) — `images` or the
/// composited `viewport_image`/`clear_viewport`.
type ImageKey = (u64, bool);

/// A remote renderer's latest image message for views: encoded once, and
/// whether it says the client left.
struct LatestImage {
    /// The message as it arrived (arrays shared), or `None` when the client left.
    message: Option<(String, periscope_protocol::Envelope)>,
    /// Its `view_images` form, encoded once, when a view first needs it.
    reply: Option<Arc<Reply>>,
}

impl LatestImage {
    fn reply(&mut self, key: ImageKey) -> Arc<Reply> {
        let message = &self.message;
        Arc::clone(self.reply.get_or_insert_with(|| {
            let mut fields =
                vec![("type", Value::Int(MessageType::ViewImages.as_i64())), ("client", Value::from(key.0))];
            match message {
                Some((name, env)) => {
                    fields.push(("client_name", Value::from(name.as_str())));
                    fields.push(("message", env.to_value()));
                }
                None => fields.push(("gone", Value::Bool(true))),
            }
            let bytes = bytes::Bytes::from(encode_value(&Value::map(fields)));
            Arc::new(Reply::Encoded { kind: MessageType::ViewImages.as_i64(), bytes })
        }))
    }
}

/// Images are sent to a view only while its outbox holds less than this
/// (newest wins: a slow view skips images, never scene changes).
pub const IMAGE_ROOM: usize = 4 << 20;

/// A view is sent a fresh snapshot at most this often (when it stops reading
/// or asks again and again, the hub does not rebuild the scene's snapshot
/// every step).
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(1);

/// A view's camera as it last reported it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MovedView {
    pub id: u64,
    pub camera: periscope_render::Camera,
    pub size: (u32, u32),
    pub at: Instant,
}

/// What one publish did, for the runtime.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Views to be sent a fresh snapshot, why, and how many they had before
    /// (logged at 0, 1, 3, 7, ...: a view stuck for hours does not flood the log).
    pub resynced: Vec<(u64, &'static str, u64)>,
    /// When to publish again although nothing changed: a snapshot is under way.
    pub again_in: Option<Duration>,
}

/// The views of this hub and the change sequence they follow.
#[derive(Default)]
pub struct Hub {
    views: BTreeMap<u64, View>,
    /// The camera of the view a person moved last (`view_moved`), its size,
    /// and when: remote renderers follow it, camera events report it.
    moved: Option<MovedView>,
    /// The number of the next change batch.
    batch: u64,
    /// Resyncs so far (the Server panel shows it).
    pub resyncs: u64,
    /// Each remote renderer's latest image messages, for views.
    images: BTreeMap<ImageKey, LatestImage>,
}

fn message(kind: MessageType, fields: Vec<(&str, Value)>, changes: &[Change]) -> (Arc<Reply>, usize) {
    let mut map: Vec<(&str, Value)> = vec![("type", Value::Int(kind.as_i64()))];
    map.extend(fields);
    map.push(("changes", list_to_wire(changes)));
    let bytes = bytes::Bytes::from(encode_value(&Value::map(map)));
    let n = bytes.len();
    (Arc::new(Reply::Encoded { kind: kind.as_i64(), bytes }), n)
}

impl Hub {
    /// Views attached now.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    /// A view connected: it gets a snapshot at the next publish.
    pub fn add_view(&mut self, id: u64) {
        self.views.insert(id, View::new());
    }

    pub fn remove_view(&mut self, id: u64) {
        self.views.remove(&id);
        if self.moved.is_some_and(|m| m.id == id) {
            self.moved = None;
        }
    }

    /// A view's camera moved (`view_moved`).
    pub fn view_moved(&mut self, id: u64, camera: periscope_render::Camera, size: (u32, u32)) {
        self.moved = Some(MovedView { id, camera, size, at: Instant::now() });
    }

    /// The view whose camera moved last, if any still is attached.
    pub fn moved(&self) -> Option<MovedView> {
        self.moved
    }

    /// Whether `id` is a view.
    pub fn is_view(&self, id: u64) -> bool {
        self.views.contains_key(&id)
    }

    /// A remote renderer's `images`, `viewport_image` or `clear_viewport`,
    /// accepted: kept as its latest and due to every view (newest wins).
    /// (Kept while no view is attached too, for the first one: one message
    /// per client and kind, its arrays shared; encoded only for views.)
    pub fn image(&mut self, client: u64, name: &str, env: &periscope_protocol::Envelope) {
        let viewport = env.kind != MessageType::Images.as_i64();
        let mut env = env.clone();
        env.raw = None; // the decoded arrays are enough; the received frame is not kept
        self.put_image((client, viewport), Some((name.to_owned(), env)));
    }

    /// A remote renderer left: views drop its images.
    pub fn image_client_gone(&mut self, client: u64) {
        for viewport in [false, true] {
            if self.images.contains_key(&(client, viewport)) {
                self.put_image((client, viewport), None);
            }
        }
    }

    fn put_image(&mut self, key: ImageKey, message: Option<(String, periscope_protocol::Envelope)>) {
        self.images.insert(key, LatestImage { message, reply: None });
        for v in self.views.values_mut() {
            v.images_due.insert(key);
        }
    }

    /// Sends each view the images due to it while its outbox has room.
    fn send_images(&mut self, out: &ServerHandle) -> Option<Duration> {
        let mut again = None;
        for (&id, view) in &mut self.views {
            if view.snapshot.is_some() || view.resync {
                continue; // after its snapshot (which makes every image due)
            }
            while let Some(&key) = view.images_due.first() {
                if out.outbox(id).is_some_and(|(_, bytes)| bytes >= IMAGE_ROOM) {
                    again = Some(Duration::from_millis(20));
                    break;
                }
                view.images_due.remove(&key);
                if let Some(latest) = self.images.get_mut(&key) {
                    out.send_shared(id, latest.reply(key));
                }
            }
        }
        // A left client's images, once every view has been told.
        let due: std::collections::BTreeSet<ImageKey> =
            self.views.values().flat_map(|v| v.images_due.iter().copied()).collect();
        self.images.retain(|k, v| v.message.is_some() || due.contains(k));
        again
    }

    /// A view asked for a fresh snapshot (`view_resync`). Ignored while its
    /// snapshot is being sent (what it applies next starts afresh anyway) or
    /// already due; otherwise the snapshot comes at most one per
    /// [`RESYNC_INTERVAL`], so asking again and again costs the hub nothing.
    pub fn resync(&mut self, id: u64) {
        if let Some(v) = self.views.get_mut(&id)
            && v.snapshot.is_none()
        {
            v.resync = true;
        }
    }

    /// Sends the scene's changes since the last publish to every view, and
    /// snapshot parts to views that need them (see the module docs).
    pub fn publish(&mut self, scene: &mut Scene, out: &ServerHandle) -> Published {
        let mut done = Published::default();
        if self.views.is_empty() {
            if scene.tracking() {
                scene.stop_tracking();
            }
            // A left client's images have nobody left to tell.
            self.images.retain(|_, v| v.message.is_some());
            return done;
        }
        scene.track_changes();
        let changes = scene.take_changes();
        // Nothing to encode when every view is waiting for a fresh snapshot anyway.
        if !changes.is_empty() && self.views.values().any(|v| !v.resync) {
            let batch = self.batch;
            self.batch += 1;
            let groups = split_changes(changes, PART_BYTES);
            let n = groups.len();
            let parts: Vec<(Arc<Reply>, usize)> = groups
                .iter()
                .enumerate()
                .map(|(k, g)| {
                    let fields = vec![
                        ("batch", Value::from(batch)),
                        ("part", Value::from(k)),
                        ("last", Value::Bool(k + 1 == n)),
                    ];
                    message(MessageType::ViewChanges, fields, g)
                })
                .collect();
            let bound = backlog_bytes(out);
            for (&id, view) in &mut self.views {
                if view.resync {
                    continue;
                }
                for (reply, size) in &parts {
                    view.backlog_bytes += size;
                    view.backlog.push_back((Arc::clone(reply), *size));
                }
                if view.backlog_bytes > bound {
                    view.resync = true;
                    view.snapshot = None;
                    view.backlog.clear();
                    view.backlog_bytes = 0;
                    let why = "its backlog of changes passed 4 x server.outbox_bytes (it is not reading)";
                    done.resynced.push((id, why, view.snapshots));
                }
            }
        }
        let started = Instant::now();
        let next = self.batch;
        // Snapshot parts queued ahead: what the outbox surely takes besides one part.
        let ahead = SNAPSHOT_AHEAD.min(out.config().outbox_bytes.saturating_sub(PART_BYTES + (1 << 20)));
        // A view whose connection is gone (its Disconnected event is still queued) is skipped.
        self.views.retain(|id, _| out.outbox(*id).is_some());
        let now = Instant::now();
        for (&id, view) in &mut self.views {
            let mut sent_now = 0;
            let queued = |out: &ServerHandle| out.outbox(id).map_or(0, |(_, bytes)| bytes);
            if view.resync {
                // Built only when its outbox has room, at most once per RESYNC_INTERVAL.
                if now < view.not_before || queued(out) > ahead {
                    let wait = view.not_before.saturating_duration_since(now).max(Duration::from_millis(20));
                    done.again_in = Some(done.again_in.map_or(wait, |a| a.min(wait)));
                    continue;
                }
                view.resync = false;
                view.not_before = now + RESYNC_INTERVAL;
                view.snapshots += 1;
                view.backlog.clear();
                view.backlog_bytes = 0;
                let parts: VecDeque<Vec<Change>> = split_changes(scene.snapshot_changes(), PART_BYTES).into();
                view.snapshot = Some(Snapshot { parts, next, sent: 0 });
                self.resyncs += 1;
            }
            while let Some(snap) = &mut view.snapshot {
                // Each view gets a part per step when its outbox has room; more while the budget lasts.
                let q = queued(out);
                if (q > 0 && q >= ahead) || (sent_now > 0 && started.elapsed() > SNAPSHOT_BUDGET) {
                    // Come back when it may have drained (or the budget is new).
                    let wait = if q >= ahead { Duration::from_millis(20) } else { Duration::from_millis(1) };
                    done.again_in = Some(done.again_in.map_or(wait, |a| a.min(wait)));
                    break;
                }
                let part = snap.parts.pop_front().unwrap_or_default();
                let last = snap.parts.is_empty();
                let fields = vec![
                    ("next", Value::from(snap.next)),
                    ("part", Value::from(snap.sent)),
                    ("last", Value::Bool(last)),
                ];
                let (reply, _) = message(MessageType::ViewSnapshot, fields, &part);
                snap.sent += 1;
                sent_now += 1;
                if !out.send_shared(id, reply) {
                    view.resync = true;
                    view.snapshot = None;
                    done.resynced.push((id, "its snapshot did not fit its outbox", view.snapshots));
                    break;
                }
                if last {
                    view.snapshot = None;
                    view.images_due =
                        self.images.iter().filter(|(_, v)| v.message.is_some()).map(|(k, _)| *k).collect();
                }
            }
            // Waiting batches go out as the outbox has room for them (one part
            // of any size into an empty outbox), in order.
            if view.snapshot.is_none() && !view.resync {
                let room = out.config().outbox_bytes;
                while let Some((reply, size)) = view.backlog.front() {
                    let q = queued(out);
                    if q > 0 && q + size > room {
                        done.again_in =
                            Some(done.again_in.map_or(Duration::from_millis(2), |a| a.min(Duration::from_millis(2))));
                        break;
                    }
                    let (reply, size) = (Arc::clone(reply), *size);
                    view.backlog.pop_front();
                    view.backlog_bytes -= size;
                    if !out.send_shared(id, reply) {
                        view.resync = true;
                        view.backlog.clear();
                        view.backlog_bytes = 0;
                        done.resynced.push((id, "its outbox refused a part of the changes", view.snapshots));
                        break;
                    }
                }
            }
        }
        if let Some(wait) = self.send_images(out) {
            done.again_in = Some(done.again_in.map_or(wait, |a| a.min(wait)));
        }
        done
    }
}
