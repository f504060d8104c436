//! Typed changes: what a hub's views receive, and how a view's mirror applies them.
//!
//! While views are attached, the scene keeps a *published* copy of itself
//! (`Tracker`: node clones, so the arrays are shared, never copied) and
//! [`Scene::take_changes`] lists what changed since the last call by
//! comparing it with the scene: nodes created, replaced, removed, their
//! properties, the frames of each per-frame attribute (as splices: frames
//! appended, replaced in runs, removed), the playhead, the selection, each
//! control and each client. Frames are compared by identity (the same place
//! in the same shared chunk), so nothing is compared or copied element by
//! element, and a change holds its frames by reference ([`FrameSeq`] slices).
//!
//! [`Scene::snapshot_changes`] lists the changes that build the whole scene
//! from nothing; [`Scene::apply_changes`] applies changes to a mirror.
//! `to_wire` / `from_wire` are their MessagePack form (docs/protocol.md,
//! "Views").

use std::collections::BTreeMap;
use std::sync::Arc;

use periscope_protocol::{MessageType, NdArray, Value};

use crate::controls::{Control, ControlId, ControlKind, ControlValue};
use crate::error::{SceneError, err};
use crate::frames::FrameSeq;
use crate::node::{ClientId, Node, NodeId, Style};
use crate::scene::{ClientInfo, Scene};
use crate::spec::{NodeKind, Setting, TRANSFORM_ATTRS};

/// One change of the scene, as views receive it.
#[derive(Clone, Debug)]
pub enum Change {
    /// A node was created or changed as a whole (kind, faces, bones, the set
    /// of attributes): its entire state.
    Node(Box<Node>),
    /// A node's common properties and drawing settings.
    Props {
        id: NodeId,
        name: String,
        enabled: bool,
        color: [f32; 4],
        scale: f32,
        style: Box<Style>,
    },
    /// Frames `at..at + remove` of attribute `attr` were replaced by `insert`
    /// (an append removes nothing at the end; a removal inserts nothing).
    Frames {
        id: NodeId,
        attr: &'static str,
        at: usize,
        remove: usize,
        insert: FrameSeq,
    },
    Removed(NodeId),
    Playhead {
        frame: usize,
        playing: bool,
        fps: f64,
    },
    Selection {
        node: Option<NodeId>,
        point: Option<[f32; 3]>,
    },
    Focus(Option<(NodeId, u64)>),
    /// Every view is asked to look from this pose (`set_camera`), request `n`.
    Camera {
        pose: periscope_protocol::ViewPose,
        n: u64,
    },
    /// A control was added or changed (value, clicks, fields).
    Control(Box<Control>),
    ControlRemoved(ControlId),
    Client {
        id: ClientId,
        name: String,
        addr: String,
        connected: bool,
    },
}

impl Change {
    /// Bytes of frame data the change carries.
    pub fn data_bytes(&self) -> usize {
        match self {
            Change::Node(n) => n.data_bytes(),
            Change::Frames { insert, .. } => insert.data_bytes(),
            _ => 0,
        }
    }

    /// About how many bytes the change takes on the wire: its arrays and its
    /// text (names, a control's options), for splitting changes into parts.
    pub fn weight(&self) -> usize {
        const FIELDS: usize = 256;
        match self {
            Change::Node(n) => n.data_bytes() + n.name.len() + FIELDS + 64 * n.attrs.len(),
            Change::Frames { insert, .. } => insert.data_bytes() + 8 * insert.len() + FIELDS,
            Change::Props { name, .. } => name.len() + FIELDS,
            Change::Control(c) => {
                c.label.len() + c.folder.len() + c.options.iter().map(|o| o.len() + 8).sum::<usize>() + FIELDS
            }
            Change::Client { name, addr, .. } => name.len() + addr.len() + FIELDS,
            _ => FIELDS,
        }
    }
}

/// The state views were last sent.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    nodes: BTreeMap<NodeId, Node>,
    frame: usize,
    playing: bool,
    fps: f64,
    selected: Option<NodeId>,
    selected_point: Option<[f32; 3]>,
    focus: Option<(NodeId, u64)>,
    camera: Option<(periscope_protocol::ViewPose, u64)>,
    controls_version: u64,
    clients: BTreeMap<ClientId, (String, String, bool)>,
    /// The scene version this state is of.
    version: u64,
    /// Nodes changed, created or removed since the last call (marked by every
    /// place that changes a node: `Scene::mark`), so a step costs what changed,
    /// not the size of the scene.
    pub(crate) dirty: std::collections::BTreeSet<NodeId>,
}

fn same_arc<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Whether `new` differs from `old` in more than properties and frames.
fn structure_changed(old: &Node, new: &Node) -> bool {
    old.kind != new.kind
        || old.client != new.client
        || old.uid != new.uid
        || old.dims != new.dims
        || !same_arc(&old.faces, &new.faces)
        || !same_arc(&old.joint_connections, &new.joint_connections)
        || old.attrs.len() != new.attrs.len()
        || old.attrs.iter().zip(&new.attrs).any(|((ka, a), (kb, b))| ka != kb || !a.same_layout(b))
}

fn props_changed(old: &Node, new: &Node) -> bool {
    old.name != new.name
        || old.enabled != new.enabled
        || old.color != new.color
        || old.scale != new.scale
        || old.style != new.style
}

fn props(n: &Node) -> Change {
    Change::Props {
        id: n.id,
        name: n.name.clone(),
        enabled: n.enabled,
        color: n.color,
        scale: n.scale,
        style: Box::new(n.style.clone()),
    }
}

/// The splices that turn `old` into `new` (same layout): a common prefix and
/// suffix are kept; with equal lengths, each run of replaced frames is its
/// own splice, so updating frames 3 and 4000 of 5000 sends two frames.
fn frame_splices(id: NodeId, attr: &'static str, old: &FrameSeq, new: &FrameSeq, out: &mut Vec<Change>) {
    let (a, b) = (old.len(), new.len());
    let mut p = 0;
    while p < a && p < b && old.same_frame(p, new, p) {
        p += 1;
    }
    if p == a && p == b {
        return;
    }
    let mut s = 0;
    while s < a.min(b) - p && old.same_frame(a - 1 - s, new, b - 1 - s) {
        s += 1;
    }
    if a == b {
        let mut i = p;
        while i < a - s {
            if old.same_frame(i, new, i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < a - s && !old.same_frame(i, new, i) {
                i += 1;
            }
            out.push(Change::Frames { id, attr, at: start, remove: i - start, insert: new.slice(start..i) });
        }
        return;
    }
    out.push(Change::Frames { id, attr, at: p, remove: a - p - s, insert: new.slice(p..b - s) });
}

impl Tracker {
    fn of(scene: &Scene) -> Self {
        Self {
            nodes: scene.nodes.clone(),
            frame: scene.current_frame,
            playing: scene.playing,
            fps: scene.fps,
            selected: scene.selected,
            selected_point: scene.selected_point,
            focus: scene.focus,
            camera: scene.camera_request,
            controls_version: scene.controls.version,
            clients: scene.clients.values().map(|c| (c.id, (c.name.clone(), c.addr.clone(), c.connected))).collect(),
            version: scene.version,
            dirty: Default::default(),
        }
    }
}

impl Scene {
    /// Starts keeping track of changes for views (a no-op when already on).
    /// From now on [`Scene::take_changes`] lists what changed since its last call.
    pub fn track_changes(&mut self) {
        if self.tracker.is_none() {
            self.tracker = Some(Box::new(Tracker::of(self)));
            self.controls.track(true);
        }
    }

    /// Stops keeping track (no view is attached): the published copy is dropped.
    pub fn stop_tracking(&mut self) {
        self.tracker = None;
        self.controls.track(false);
    }

    /// Notes that node `id` changed (or appeared or went) for the views.
    pub(crate) fn mark(&mut self, id: NodeId) {
        if let Some(t) = self.tracker.as_mut() {
            t.dirty.insert(id);
        }
    }

    /// Whether changes are being tracked.
    pub fn tracking(&self) -> bool {
        self.tracker.is_some()
    }

    /// What changed since the last call (or since tracking started), in an
    /// order a mirror can apply: clients, removals, nodes (by id), playhead,
    /// selection, focus, controls. Empty when not tracking. Costs what
    /// changed, not the scene's size: only the nodes and controls marked as
    /// changed are looked at, and per changed node one identity comparison
    /// per frame.
    pub fn take_changes(&mut self) -> Vec<Change> {
        let Some(mut t) = self.tracker.take() else { return Vec::new() };
        let mut out = Vec::new();
        if t.version != self.version {
            let controls = self.controls.take_dirty();
            self.diff(&mut t, controls, &mut out);
            t.version = self.version;
        }
        self.tracker = Some(t);
        out
    }

    fn diff(&self, t: &mut Tracker, dirty_controls: std::collections::BTreeSet<ControlId>, out: &mut Vec<Change>) {
        for c in self.clients.values() {
            let same =
                t.clients.get(&c.id).is_some_and(|(n, a, on)| *n == c.name && *a == c.addr && *on == c.connected);
            if !same {
                let now = (c.name.clone(), c.addr.clone(), c.connected);
                out.push(Change::Client {
                    id: c.id,
                    name: c.name.clone(),
                    addr: c.addr.clone(),
                    connected: c.connected,
                });
                t.clients.insert(c.id, now);
            }
        }
        let dirty = std::mem::take(&mut t.dirty);
        for id in &dirty {
            if !self.nodes.contains_key(id) && t.nodes.remove(id).is_some() {
                out.push(Change::Removed(*id));
            }
        }
        for (id, node) in dirty.iter().filter_map(|id| self.nodes.get_key_value(id)) {
            match t.nodes.get(id) {
                Some(old) if old.version == node.version => continue,
                Some(old) if !structure_changed(old, node) => {
                    if props_changed(old, node) {
                        out.push(props(node));
                    }
                    for (name, seq) in &node.attrs {
                        frame_splices(*id, name, &old.attrs[name], seq, out);
                    }
                }
                _ => out.push(Change::Node(Box::new(node.clone()))),
            }
            t.nodes.insert(*id, node.clone());
        }
        if (t.frame, t.playing, t.fps) != (self.current_frame, self.playing, self.fps) {
            (t.frame, t.playing, t.fps) = (self.current_frame, self.playing, self.fps);
            out.push(Change::Playhead { frame: self.current_frame, playing: self.playing, fps: self.fps });
        }
        if (t.selected, t.selected_point) != (self.selected, self.selected_point) {
            (t.selected, t.selected_point) = (self.selected, self.selected_point);
            out.push(Change::Selection { node: self.selected, point: self.selected_point });
        }
        if t.focus != self.focus {
            t.focus = self.focus;
            out.push(Change::Focus(self.focus));
        }
        if t.camera != self.camera_request {
            t.camera = self.camera_request;
            if let Some((pose, n)) = self.camera_request {
                out.push(Change::Camera { pose, n });
            }
        }
        if t.controls_version != self.controls.version {
            t.controls_version = self.controls.version;
            // Every change of a control goes through `Controls::insert`/`remove`/`put`, which mark it.
            for id in dirty_controls {
                out.push(match self.controls.get(id) {
                    None => Change::ControlRemoved(id),
                    Some(c) => Change::Control(Box::new(c.clone())),
                });
            }
        }
    }

    /// The changes that build this scene in an empty mirror (nodes share
    /// their arrays with the scene).
    pub fn snapshot_changes(&self) -> Vec<Change> {
        let mut out: Vec<Change> = self
            .clients
            .values()
            .map(|c| Change::Client { id: c.id, name: c.name.clone(), addr: c.addr.clone(), connected: c.connected })
            .collect();
        out.extend(self.nodes.values().map(|n| Change::Node(Box::new(n.clone()))));
        out.push(Change::Playhead { frame: self.current_frame, playing: self.playing, fps: self.fps });
        out.push(Change::Selection { node: self.selected, point: self.selected_point });
        out.push(Change::Focus(self.focus));
        if let Some((pose, n)) = self.camera_request {
            out.push(Change::Camera { pose, n });
        }
        out.extend(self.controls.iter().map(|c| Change::Control(Box::new(c.clone()))));
        out
    }

    /// Empties a mirror before a snapshot is applied.
    pub fn clear_mirror(&mut self) {
        self.nodes.clear();
        self.by_remote.clear();
        self.clients.clear();
        self.controls = Default::default();
        self.current_frame = 0;
        self.playing = false;
        self.selected = None;
        self.selected_point = None;
        self.focus = None;
        self.touch();
    }

    /// Applies a hub's changes to this scene (a view's mirror). Each change is
    /// checked against the mirror (the node exists, the attribute's layout
    /// matches, the frames are in range); the first that does not fit is an
    /// error (the mirror has drifted: ask for a snapshot).
    pub fn apply_changes(&mut self, changes: impl IntoIterator<Item = Change>) -> Result<(), SceneError> {
        for change in changes {
            self.apply_change(change)?;
        }
        Ok(())
    }

    fn apply_change(&mut self, change: Change) -> Result<(), SceneError> {
        let missing = |id: NodeId| err("view_gap", format!("change for node {id}, which the mirror does not have"));
        match change {
            Change::Node(node) => {
                let mut node = *node;
                if let Some(old) = self.nodes.remove(&node.id) {
                    if let Some(uid) = old.uid {
                        self.by_remote.remove(&(old.client, uid));
                    }
                    node.version = node.version.max(old.version + 1);
                }
                if let Some(uid) = node.uid {
                    self.by_remote.insert((node.client, uid), node.id);
                }
                self.next_node_id = self.next_node_id.max(node.id + 1);
                self.nodes.insert(node.id, node);
            }
            Change::Props { id, name, enabled, color, scale, style } => {
                let n = self.nodes.get_mut(&id).ok_or_else(|| missing(id))?;
                (n.name, n.enabled, n.color, n.scale, n.style) = (name, enabled, color, scale, *style);
                n.version += 1;
            }
            Change::Frames { id, attr, at, remove, insert } => {
                let n = self.nodes.get_mut(&id).ok_or_else(|| missing(id))?;
                let seq = n
                    .attrs
                    .get_mut(attr)
                    .ok_or_else(|| err("view_gap", format!("frames of {attr} for node {id}, which has none")))?;
                if !seq.same_layout(&insert) || at.checked_add(remove).is_none_or(|end| end > seq.len()) {
                    return Err(err(
                        "view_gap",
                        format!("frames {at}..{} of {attr} do not fit node {id} ({} frames)", at + remove, seq.len()),
                    ));
                }
                seq.splice(at, remove, insert);
                n.version += 1;
            }
            Change::Removed(id) => {
                self.remove_node(id).ok_or_else(|| missing(id))?;
            }
            Change::Playhead { frame, playing, fps } => {
                self.current_frame = frame;
                self.clamp_frame();
                self.playing = playing;
                self.fps = fps;
            }
            Change::Selection { node, point } => {
                self.selected = node.filter(|id| self.nodes.contains_key(id));
                self.selected_point = self.selected.and(point);
            }
            Change::Focus(focus) => self.focus = focus.filter(|(id, _)| self.nodes.contains_key(id)),
            Change::Camera { pose, n } => self.camera_request = Some((pose, n)),
            Change::Control(c) => self.controls.put(*c),
            Change::ControlRemoved(id) => {
                self.controls.remove_id(id);
            }
            Change::Client { id, name, addr, connected } => {
                let disconnected_at = (!connected).then(web_time::Instant::now);
                self.clients.insert(id, ClientInfo { id, name, addr, connected, disconnected_at });
            }
        }
        self.clamp_frame();
        self.touch();
        Ok(())
    }

    /// A digest of everything a view shows: every node's identity, name,
    /// properties, settings and every frame's data (bit for bit), faces and
    /// bones, the playhead, the selection and the controls. Two scenes with
    /// the same digest look the same (tests compare a hub with its views).
    pub fn digest(&self) -> String {
        let mut h = Fnv::default();
        for n in self.nodes.values() {
            h.u64(n.id);
            h.u64(n.client);
            h.u64(n.uid.unwrap_or(i64::MIN) as u64);
            h.u64(n.kind.message_type().as_i64() as u64);
            h.bytes(n.name.as_bytes());
            h.u64(u64::from(n.enabled));
            n.color.iter().for_each(|c| h.u64(u64::from(c.to_bits())));
            h.u64(u64::from(n.scale.to_bits()));
            h.bytes(format!("{:?}", n.style).as_bytes());
            for (name, seq) in &n.attrs {
                h.bytes(name.as_bytes());
                h.u64(seq.len() as u64);
                for i in 0..seq.len() {
                    let f = seq.frame(i).unwrap_or_default();
                    h.u64(f.len() as u64);
                    f.iter().for_each(|x| h.u64(u64::from(x.to_bits())));
                }
            }
            n.faces().unwrap_or_default().iter().for_each(|&f| h.u64(u64::from(f)));
            n.joint_connections().unwrap_or_default().iter().for_each(|p| h.u64(((p[0] as u64) << 32) ^ p[1] as u64));
        }
        h.u64(self.current_frame as u64);
        h.u64(u64::from(self.playing));
        h.u64(self.fps.to_bits());
        h.u64(self.selected.unwrap_or(u64::MAX));
        for c in self.controls.iter() {
            h.bytes(format!("{c:?}").as_bytes());
        }
        format!("{:016x}", h.0)
    }
}

/// FNV-1a over bytes, and one FNV step per 64-bit word for numbers (a frame's
/// data is hashed a float at a time): stable across processes and builds.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(29);
    }
}

// ---------------------------------------------------------------------------
// Wire form

fn frames_value(seq: &FrameSeq) -> Value {
    let mut data = Vec::with_capacity(seq.data_bytes() / 4);
    for i in 0..seq.len() {
        data.extend_from_slice(seq.frame(i).unwrap_or_default());
    }
    let n = data.len();
    let mut fields = vec![
        ("shape", Value::Array(seq.inner_shape().iter().map(|&d| Value::from(d)).collect())),
        ("ragged", Value::Bool(seq.is_ragged())),
        ("frames", Value::from(seq.len())),
        ("data", Value::NdArray(NdArray::from_f32(vec![n], data))),
    ];
    if seq.is_ragged() {
        let rows: Vec<i64> = seq.rows().map(|r| r as i64).collect();
        fields.push(("rows", Value::NdArray(NdArray::from_i64(vec![rows.len()], rows))));
    }
    Value::map(fields)
}

fn style_value(kind: NodeKind, st: &Style) -> Value {
    let probe = Node { style: st.clone(), ..Node::new(0, 0, None, kind) };
    Value::map(kind.settings().iter().map(|&s| (s.name(), crate::snapshot::setting(&probe, s))))
}

fn opt<T: Into<Value>>(x: Option<T>) -> Value {
    x.map_or(Value::Nil, Into::into)
}

fn f32s(x: &[f32]) -> Value {
    Value::Array(x.iter().map(|&v| Value::from(v)).collect())
}

fn control_value(c: &Control) -> Value {
    let value = match &c.value {
        ControlValue::Number(x) => Value::Float(*x),
        ControlValue::Bool(b) => Value::Bool(*b),
        ControlValue::Text(s) => Value::from(s.as_str()),
        ControlValue::Color(rgb) => f32s(rgb),
        ControlValue::None => Value::Nil,
    };
    Value::map([
        ("op", Value::from("control")),
        ("id", Value::from(c.id)),
        ("client", Value::from(c.client)),
        ("uid", Value::Int(c.uid)),
        ("kind", Value::from(c.kind.name())),
        ("label", Value::from(c.label.as_str())),
        ("folder", Value::from(c.folder.as_str())),
        ("value", value),
        ("min", opt(c.min)),
        ("max", opt(c.max)),
        ("step", opt(c.step)),
        ("log", Value::Bool(c.log)),
        ("integer", Value::Bool(c.integer)),
        ("options", Value::Array(c.options.iter().map(|o| Value::from(o.as_str())).collect())),
        ("disabled", Value::Bool(c.disabled)),
        ("visible", Value::Bool(c.visible)),
        ("clicks", Value::from(c.clicks)),
    ])
}

fn node_value(n: &Node) -> Value {
    let attrs = Value::Map(n.attrs.iter().map(|(k, seq)| (Value::from(*k), frames_value(seq))).collect());
    let dims = Value::Map(n.dims.iter().map(|(k, v)| (Value::from(k.to_string()), Value::from(*v))).collect());
    Value::map([
        ("op", Value::from("node")),
        ("id", Value::from(n.id)),
        ("client", Value::from(n.client)),
        ("uid", opt(n.uid)),
        ("kind", Value::Int(n.kind.message_type().as_i64())),
        ("name", Value::from(n.name.as_str())),
        ("enabled", Value::Bool(n.enabled)),
        ("color", f32s(&n.color)),
        ("scale", Value::from(n.scale)),
        ("style", style_value(n.kind, &n.style)),
        ("version", Value::from(n.version)),
        ("attrs", attrs),
        ("dims", dims),
        (
            "faces",
            n.faces.as_ref().map_or(Value::Nil, |f| Value::NdArray(NdArray::from_u32(vec![f.len()], Arc::clone(f)))),
        ),
        (
            "bones",
            n.joint_connections.as_ref().map_or(Value::Nil, |j| {
                let flat: Vec<i64> = j.iter().flat_map(|p| [i64::from(p[0]), i64::from(p[1])]).collect();
                Value::NdArray(NdArray::from_i64(vec![flat.len()], flat))
            }),
        ),
    ])
}

/// The MessagePack form of a change (docs/protocol.md, "Views").
pub fn to_wire(change: &Change) -> Value {
    match change {
        Change::Node(n) => node_value(n),
        Change::Props { id, name, enabled, color, scale, style } => Value::map([
            ("op", Value::from("props")),
            ("id", Value::from(*id)),
            ("name", Value::from(name.as_str())),
            ("enabled", Value::Bool(*enabled)),
            ("color", f32s(color)),
            ("scale", Value::from(*scale)),
            // Every setting: the mirror knows the node's kind.
            ("style", style_value_all(style)),
        ]),
        Change::Frames { id, attr, at, remove, insert } => Value::map([
            ("op", Value::from("frames")),
            ("id", Value::from(*id)),
            ("attr", Value::from(*attr)),
            ("at", Value::from(*at)),
            ("remove", Value::from(*remove)),
            ("insert", frames_value(insert)),
        ]),
        Change::Removed(id) => Value::map([("op", Value::from("remove")), ("id", Value::from(*id))]),
        Change::Playhead { frame, playing, fps } => Value::map([
            ("op", Value::from("playhead")),
            ("frame", Value::from(*frame)),
            ("playing", Value::Bool(*playing)),
            ("fps", Value::from(*fps)),
        ]),
        Change::Selection { node, point } => Value::map([
            ("op", Value::from("select")),
            ("node", opt(*node)),
            ("point", point.map_or(Value::Nil, |p| f32s(&p))),
        ]),
        Change::Focus(f) => Value::map([
            ("op", Value::from("focus")),
            ("node", opt(f.map(|(id, _)| id))),
            ("n", opt(f.map(|(_, n)| n))),
        ]),
        Change::Camera { pose, n } => Value::map([
            ("op", Value::from("camera")),
            ("n", Value::from(*n)),
            ("position", pose.position.map_or(Value::Nil, |p| f32s(&p))),
            ("target", pose.target.map_or(Value::Nil, |p| f32s(&p))),
            ("fov_y", pose.fov_y_deg.map_or(Value::Nil, Value::from)),
        ]),
        Change::Control(c) => control_value(c),
        Change::ControlRemoved(id) => Value::map([("op", Value::from("control_removed")), ("id", Value::from(*id))]),
        Change::Client { id, name, addr, connected } => Value::map([
            ("op", Value::from("client")),
            ("id", Value::from(*id)),
            ("name", Value::from(name.as_str())),
            ("addr", Value::from(addr.as_str())),
            ("connected", Value::Bool(*connected)),
        ]),
    }
}

/// Every setting of a style (for `props`, whose node kind the wire does not repeat).
fn style_value_all(st: &Style) -> Value {
    let probe = Node { style: st.clone(), ..Node::new(0, 0, None, NodeKind::Node) };
    Value::map(Setting::ALL.iter().map(|&s| (s.name(), crate::snapshot::setting(&probe, s))))
}

/// Reads changes from the wire. Errors name the change and the field.
pub struct WireReader<'a> {
    v: &'a Value,
    op: &'a str,
}

impl<'a> WireReader<'a> {
    fn field(&self, key: &str) -> Result<&'a Value, SceneError> {
        self.v
            .get(key)
            .ok_or_else(|| err("bad_view_change", format!("view change {}: field \"{key}\" missing", self.op)))
    }
    fn bad(&self, key: &str, what: &str) -> SceneError {
        err("bad_view_change", format!("view change {}: field \"{key}\" must be {what}", self.op))
    }
    fn u64(&self, key: &str) -> Result<u64, SceneError> {
        self.field(key)?.as_i64().and_then(|x| u64::try_from(x).ok()).ok_or_else(|| self.bad(key, "a count"))
    }
    fn usize(&self, key: &str) -> Result<usize, SceneError> {
        usize::try_from(self.u64(key)?).map_err(|_| self.bad(key, "a count"))
    }
    fn opt_u64(&self, key: &str) -> Result<Option<u64>, SceneError> {
        match self.v.get(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(_) => self.u64(key).map(Some),
        }
    }
    fn opt_f64(&self, key: &str) -> Result<Option<f64>, SceneError> {
        match self.v.get(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| self.bad(key, "a finite number")),
        }
    }
    fn bool(&self, key: &str) -> Result<bool, SceneError> {
        self.field(key)?.as_bool().ok_or_else(|| self.bad(key, "a bool"))
    }
    fn str(&self, key: &str) -> Result<&'a str, SceneError> {
        self.field(key)?.as_str().ok_or_else(|| self.bad(key, "a str"))
    }
    fn floats<const N: usize>(&self, key: &str) -> Result<[f32; N], SceneError> {
        let Value::Array(items) = self.field(key)? else { return Err(self.bad(key, &format!("{N} numbers"))) };
        let mut out = [0.0; N];
        if items.len() != N {
            return Err(self.bad(key, &format!("{N} numbers")));
        }
        for (o, v) in out.iter_mut().zip(items) {
            *o = v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.bad(key, "finite numbers"))? as f32;
        }
        Ok(out)
    }
    fn array(&self, key: &str) -> Result<&'a NdArray, SceneError> {
        self.field(key)?.as_array().ok_or_else(|| self.bad(key, "an array"))
    }
}

fn attr_name(kind: Option<NodeKind>, name: &str) -> Option<&'static str> {
    let spec = TRANSFORM_ATTRS.iter().find(|a| a.name == name).map(|a| a.name);
    // A kind's own attributes first; then any kind's (a body node also holds
    // the `vertices` and `joints` the hub derived by skinning).
    spec.or_else(|| kind.and_then(|k| k.attr(name)).map(|a| a.name))
        .or_else(|| NodeKind::ALL.iter().find_map(|k| k.attr(name)).map(|a| a.name))
        .or_else(|| crate::body::DERIVED_ATTRS.iter().copied().find(|d| *d == name))
}

fn read_frames(r: &WireReader<'_>, v: &Value) -> Result<FrameSeq, SceneError> {
    let sub = WireReader { v, op: r.op };
    let Value::Array(shape) = sub.field("shape")? else { return Err(sub.bad("shape", "a list of sizes")) };
    let shape: Vec<usize> = shape
        .iter()
        .map(|d| d.as_i64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| sub.bad("shape", "a list of sizes"))?;
    if shape.len() > periscope_protocol::MAX_NDIM {
        return Err(sub.bad("shape", "at most 32 sizes"));
    }
    let ragged = sub.bool("ragged")?;
    let n = sub.usize("frames")?;
    if n > periscope_protocol::limits::MAX_FRAMES {
        return Err(sub.bad("frames", "at most limits::MAX_FRAMES"));
    }
    let data = sub.array("data")?;
    let data = match data.data() {
        periscope_protocol::ArrayData::F32(d) => Arc::clone(d),
        _ => return Err(sub.bad("data", "float32")),
    };
    let row: usize =
        shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| sub.bad("shape", "small"))?;
    if ragged {
        let rows = sub.array("rows")?.to_i64().ok_or_else(|| sub.bad("rows", "integers"))?;
        let rows: Vec<usize> = rows
            .iter()
            .map(|&r| usize::try_from(r).ok())
            .collect::<Option<_>>()
            .ok_or_else(|| sub.bad("rows", "counts"))?;
        let total = rows.iter().try_fold(0usize, |a, &r| a.checked_add(r)).and_then(|t| t.checked_mul(row));
        if rows.len() != n || total != Some(data.len()) {
            return Err(sub.bad("data", "as long as its rows"));
        }
        Ok(FrameSeq::ragged(shape, &rows, data))
    } else {
        if row.checked_mul(n) != Some(data.len()) {
            return Err(sub.bad("data", "frames x the shape long"));
        }
        Ok(FrameSeq::from_chunk(shape, n, data))
    }
}

/// A change read back from its wire form.
pub fn from_wire(v: &Value) -> Result<Change, SceneError> {
    let op = v.get("op").and_then(Value::as_str).ok_or_else(|| err("bad_view_change", "view change without \"op\""))?;
    let r = WireReader { v, op };
    Ok(match op {
        "node" => {
            let kind = MessageType::from_i64(r.field("kind")?.as_i64().unwrap_or(-1))
                .and_then(NodeKind::from_message_type)
                .ok_or_else(|| r.bad("kind", "a node kind"))?;
            let mut node = Node::new(r.u64("id")?, r.u64("client")?, None, kind);
            node.uid = match r.v.get("uid") {
                None | Some(Value::Nil) => None,
                Some(u) => Some(u.as_i64().ok_or_else(|| r.bad("uid", "an int"))?),
            };
            node.name = r.str("name")?.to_owned();
            node.enabled = r.bool("enabled")?;
            node.color = r.floats("color")?;
            node.scale = r.opt_f64("scale")?.ok_or_else(|| r.bad("scale", "a number"))? as f32;
            node.version = r.u64("version")?;
            read_style(&r, &mut node.style)?;
            let Value::Map(attrs) = r.field("attrs")? else { return Err(r.bad("attrs", "a map")) };
            for (k, seq) in attrs {
                let name = k
                    .as_str()
                    .and_then(|k| attr_name(Some(kind), k))
                    .ok_or_else(|| r.bad("attrs", "known attribute names"))?;
                node.attrs.insert(name, read_frames(&r, seq)?);
            }
            if let Value::Map(dims) = r.field("dims")? {
                for (k, d) in dims {
                    let c = k.as_str().and_then(|s| s.chars().next()).ok_or_else(|| r.bad("dims", "letters"))?;
                    let d = d.as_i64().and_then(|d| usize::try_from(d).ok()).ok_or_else(|| r.bad("dims", "counts"))?;
                    node.dims.insert(c, d);
                }
            }
            if let Some(f) = r.v.get("faces").filter(|f| !f.is_nil()) {
                let f = f.as_array().and_then(|a| a.to_i64()).ok_or_else(|| r.bad("faces", "indices"))?;
                let f: Vec<u32> = f
                    .iter()
                    .map(|&i| u32::try_from(i).ok())
                    .collect::<Option<_>>()
                    .ok_or_else(|| r.bad("faces", "indices"))?;
                node.faces = Some(Arc::new(f));
            }
            if let Some(b) = r.v.get("bones").filter(|b| !b.is_nil()) {
                let b = b.as_array().and_then(|a| a.to_i64()).ok_or_else(|| r.bad("bones", "pairs"))?;
                if b.len() % 2 != 0 {
                    return Err(r.bad("bones", "pairs"));
                }
                let pairs: Vec<[i32; 2]> = b
                    .chunks_exact(2)
                    .map(|p| Some([i32::try_from(p[0]).ok()?, i32::try_from(p[1]).ok()?]))
                    .collect::<Option<_>>()
                    .ok_or_else(|| r.bad("bones", "pairs of joint indices"))?;
                node.joint_connections = Some(Arc::new(pairs));
            }
            Change::Node(Box::new(node))
        }
        "props" => {
            let mut style = Style::default();
            read_style(&r, &mut style)?;
            Change::Props {
                id: r.u64("id")?,
                name: r.str("name")?.to_owned(),
                enabled: r.bool("enabled")?,
                color: r.floats("color")?,
                scale: r.opt_f64("scale")?.ok_or_else(|| r.bad("scale", "a number"))? as f32,
                style: Box::new(style),
            }
        }
        "frames" => Change::Frames {
            id: r.u64("id")?,
            attr: attr_name(None, r.str("attr")?).ok_or_else(|| r.bad("attr", "an attribute name"))?,
            at: r.usize("at")?,
            remove: r.usize("remove")?,
            insert: read_frames(&r, r.field("insert")?)?,
        },
        "remove" => Change::Removed(r.u64("id")?),
        "playhead" => Change::Playhead {
            frame: r.usize("frame")?,
            playing: r.bool("playing")?,
            fps: r
                .opt_f64("fps")?
                .filter(|f| crate::playback::valid_fps(*f))
                .ok_or_else(|| r.bad("fps", "frames per second in [0.001, 240]"))?,
        },
        "select" => Change::Selection {
            node: r.opt_u64("node")?,
            point: match r.v.get("point") {
                None | Some(Value::Nil) => None,
                Some(_) => Some(r.floats("point")?),
            },
        },
        "focus" => Change::Focus(r.opt_u64("node")?.zip(r.opt_u64("n")?)),
        "camera" => {
            use periscope_protocol::limits::{MAX_CAMERA_COORD, MAX_FOV_Y_DEG, MIN_FOV_Y_DEG};
            let point = |key: &str| -> Result<Option<[f32; 3]>, SceneError> {
                match r.v.get(key) {
                    None | Some(Value::Nil) => Ok(None),
                    Some(_) => {
                        let p: [f32; 3] = r.floats(key)?;
                        if p.iter().any(|x| x.abs() > MAX_CAMERA_COORD) {
                            return Err(r.bad(key, "a point within ±1e15"));
                        }
                        Ok(Some(p))
                    }
                }
            };
            let fov = r.opt_f64("fov_y")?;
            if fov.is_some_and(|f| !(MIN_FOV_Y_DEG..=MAX_FOV_Y_DEG).contains(&f)) {
                return Err(r.bad("fov_y", "degrees in [1, 170]"));
            }
            let pose = periscope_protocol::ViewPose {
                position: point("position")?,
                target: point("target")?,
                fov_y_deg: fov.map(|f| f as f32),
            };
            Change::Camera { pose, n: r.u64("n")? }
        }
        "control" => Change::Control(Box::new(read_control(&r)?)),
        "control_removed" => Change::ControlRemoved(r.u64("id")?),
        "client" => Change::Client {
            id: r.u64("id")?,
            name: r.str("name")?.to_owned(),
            addr: r.str("addr")?.to_owned(),
            connected: r.bool("connected")?,
        },
        other => {
            return Err(err(
                "bad_view_change",
                format!("unknown view change {}", periscope_protocol::limits::excerpt(other)),
            ));
        }
    })
}

fn read_style(r: &WireReader<'_>, st: &mut Style) -> Result<(), SceneError> {
    let Value::Map(entries) = r.field("style")? else { return Err(r.bad("style", "a map")) };
    for (k, v) in entries {
        let s = k
            .as_str()
            .and_then(|k| Setting::ALL.iter().find(|s| s.name() == k))
            .ok_or_else(|| r.bad("style", "settings"))?;
        crate::handler::apply_style("view change", st, *s, v)?;
    }
    Ok(())
}

fn read_control(r: &WireReader<'_>) -> Result<Control, SceneError> {
    let kind = ControlKind::parse(r.str("kind")?).ok_or_else(|| r.bad("kind", "a control kind"))?;
    let value = match r.field("value")? {
        Value::Nil => ControlValue::None,
        Value::Bool(b) => ControlValue::Bool(*b),
        Value::Str(s) => ControlValue::Text(s.clone()),
        Value::Array(_) => ControlValue::Color(r.floats("value")?),
        v => ControlValue::Number(v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| r.bad("value", "a value"))?),
    };
    let Value::Array(options) = r.field("options")? else { return Err(r.bad("options", "a list")) };
    Ok(Control {
        id: r.u64("id")?,
        client: r.u64("client")?,
        uid: r.field("uid")?.as_i64().ok_or_else(|| r.bad("uid", "an int"))?,
        kind,
        label: r.str("label")?.to_owned(),
        folder: r.str("folder")?.to_owned(),
        value,
        min: r.opt_f64("min")?,
        max: r.opt_f64("max")?,
        step: r.opt_f64("step")?,
        log: r.bool("log")?,
        integer: r.bool("integer")?,
        options: options
            .iter()
            .map(|o| o.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| r.bad("options", "strings"))?,
        disabled: r.bool("disabled")?,
        visible: r.bool("visible")?,
        clicks: r.u64("clicks")?,
    })
}

/// Splits changes into groups of about `max_bytes` each ([`Change::weight`]: arrays and text), so
/// no wire message grows past it: a node with more data becomes the node
/// with its first frames and appends of the rest; a large splice becomes
/// several. A single frame larger than `max_bytes` travels alone.
pub fn split_changes(changes: Vec<Change>, max_bytes: usize) -> Vec<Vec<Change>> {
    let mut groups: Vec<Vec<Change>> = vec![Vec::new()];
    let mut used = 0usize;
    let push = |c: Change, groups: &mut Vec<Vec<Change>>, used: &mut usize| {
        let b = c.weight();
        if *used > 0 && used.saturating_add(b) > max_bytes {
            groups.push(Vec::new());
            *used = 0;
        }
        *used += b;
        groups.last_mut().expect("never empty").push(c);
    };
    for c in changes {
        if c.weight() <= max_bytes {
            push(c, &mut groups, &mut used);
            continue;
        }
        match c {
            Change::Node(mut node) => {
                // The node with as many leading frames as fit, then the rest as appends.
                let full = std::mem::take(&mut node.attrs);
                let mut rest: Vec<(&'static str, FrameSeq, usize)> = Vec::new();
                // Faces and bones travel with the node.
                let mut budget = max_bytes.saturating_sub(node.data_bytes());
                for (name, seq) in full {
                    let mut k = 0;
                    let mut bytes = 0usize;
                    for len in seq.frame_lens() {
                        if k > 0 && bytes + len * 4 > budget {
                            break;
                        }
                        bytes += len * 4;
                        k += 1;
                    }
                    budget = budget.saturating_sub(bytes);
                    node.attrs.insert(name, seq.slice(0..k));
                    if k < seq.len() {
                        rest.push((name, seq, k));
                    }
                }
                let id = node.id;
                push(Change::Node(node), &mut groups, &mut used);
                for (attr, seq, from) in rest {
                    append_in_parts(id, attr, &seq, from, from, 0, max_bytes, &mut |c| push(c, &mut groups, &mut used));
                }
            }
            Change::Frames { id, attr, at, remove, insert } => {
                append_in_parts(id, attr, &insert, 0, at, remove, max_bytes, &mut |c| push(c, &mut groups, &mut used));
            }
            other => push(other, &mut groups, &mut used),
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Frames `from..` of `seq` as splices at `at` (the first removing `remove`)
/// of at most `max_bytes` each (at least one frame).
#[allow(clippy::too_many_arguments)]
fn append_in_parts(
    id: NodeId,
    attr: &'static str,
    seq: &FrameSeq,
    from: usize,
    at: usize,
    remove: usize,
    max_bytes: usize,
    emit: &mut dyn FnMut(Change),
) {
    let lens: Vec<usize> = seq.frame_lens().collect();
    let (mut i, mut at, mut remove) = (from, at, remove);
    while i < lens.len() {
        let start = i;
        let mut bytes = 0usize;
        while i < lens.len() && (i == start || bytes + lens[i] * 4 <= max_bytes) {
            bytes += lens[i] * 4;
            i += 1;
        }
        emit(Change::Frames { id, attr, at, remove, insert: seq.slice(start..i) });
        at += i - start;
        remove = 0;
    }
    if from == lens.len() && remove > 0 {
        emit(Change::Frames { id, attr, at, remove, insert: FrameSeq::empty_like(seq) });
    }
}

/// Reads a change list from its wire form.
pub fn list_from_wire(v: &Value) -> Result<Vec<Change>, SceneError> {
    match v {
        Value::Array(items) => items.iter().map(from_wire).collect(),
        _ => Err(err("bad_view_change", "field \"changes\" must be a list")),
    }
}

/// The wire form of a change list.
pub fn list_to_wire(changes: &[Change]) -> Value {
    Value::Array(changes.iter().map(to_wire).collect())
}

#[cfg(test)]
mod tests;
