//! The built-in message handler: aitviewer's scene semantics.
//!
//! Every handler validates the whole message before changing anything, so a
//! refused message leaves the scene exactly as it was.

use std::collections::BTreeMap;
use std::sync::Arc;

use periscope_protocol::{Direction, Envelope, MessageType, NdArray, SceneState, Value};

use periscope_protocol::FieldError;
use periscope_protocol::kwargs::{describe, read_client_id, read_vec3};
use periscope_protocol::limits::{excerpt, excerpt_list};

use crate::args::{
    Range, fmt_shape, read_attr, read_bool, read_color, read_frames, read_index_rows, read_name, read_number, to_array,
};
use crate::body::{Reskin, check_aligned};
use crate::error::{SceneError, SceneWarning, err};
use crate::frames::FrameSeq;
use crate::node::{ClientId, LineMode, Node, Style};
use crate::scene::Scene;
use crate::spec::{NodeKind, Setting, TRANSFORM_ATTRS};

/// What an accepted message produced.
#[derive(Debug, Default)]
pub struct Applied {
    /// Remarks for the sender (ignored kwargs and the like).
    pub warnings: Vec<SceneWarning>,
    /// The answer to a query.
    pub state: Option<SceneState>,
    /// The node a creation message made.
    pub created: Option<u64>,
    /// Messages for clients: answers (`control_state`, `controls`) and control
    /// events for the controls' owners.
    pub replies: Vec<(ClientId, periscope_protocol::Reply)>,
}

impl Applied {
    pub(crate) fn warn(&mut self, code: &'static str, message: String) {
        self.warnings.push(SceneWarning { code, message });
    }

    /// One `unknown_kwarg` warning for all the unknown keywords of a message
    /// (quoted short, the first few named): `{ctx}: keyword "x" {one}`, or
    /// `{ctx}: keywords "x", "y" {many}`.
    pub(crate) fn warn_unknown(&mut self, ctx: &str, keys: &[&str], one: &str, many: &str) {
        match keys {
            [] => {}
            [key] => self.warn("unknown_kwarg", format!("{ctx}: keyword {} {one}", excerpt(key))),
            keys => {
                self.warn("unknown_kwarg", format!("{ctx}: keywords {} {many}", excerpt_list(keys.iter().copied())))
            }
        }
    }
}

/// Per-frame attributes read from a message, and the node's dimensions with them bound.
type FrameData = (Vec<(&'static str, FrameSeq)>, BTreeMap<char, usize>);

/// Named arguments: positional args mapped onto `positional` names, then kwargs.
fn named_args<'a>(env: &'a Envelope, positional: &[&'static str]) -> Result<Vec<(&'a str, &'a Value)>, SceneError> {
    if env.args.len() > positional.len() {
        return Err(err(
            "bad_value",
            format!(
                "{} positional arguments given but this message takes at most {} ({})",
                env.args.len(),
                positional.len(),
                positional.join(", ")
            ),
        ));
    }
    let given = &positional[..env.args.len()];
    let mut out: Vec<(&str, &Value)> = given.iter().copied().zip(&env.args).collect();
    for (k, v) in &env.kwargs {
        // Only the few positional names need a look (no scan per kwarg of all the others).
        if given.contains(&k.as_str()) {
            return Err(err("bad_value", format!("{} given both positionally and as a keyword", excerpt(k))));
        }
        out.push((k.as_str(), v));
    }
    Ok(out)
}

impl Scene {
    /// Applies one message from `client`. On error the scene is unchanged.
    pub fn apply(&mut self, client: ClientId, env: &Envelope) -> Result<Applied, SceneError> {
        let Some(t) = env.message_type() else {
            return Err(err("unknown_type", format!("unknown message type {}", env.kind)));
        };
        self.check_client_limits(client, t)?;
        let mut applied = Applied::default();
        match t {
            MessageType::UserMessage => {}
            t if NodeKind::from_message_type(t).is_some() => {
                let kind = NodeKind::from_message_type(t).expect("checked");
                self.create(client, kind, env, &mut applied)?;
            }
            MessageType::Delete => {
                let id = self.node_target(client, env)?;
                self.remove_node(id);
            }
            MessageType::AddFrames | MessageType::UpdateFrames
                if self.lookup(client, env).is_ok_and(|id| self.nodes[&id].kind == NodeKind::Smpl) =>
            {
                self.body_frames(client, env, t, &mut applied)?;
            }
            MessageType::AddFrames => self.add_frames(client, env, &mut applied)?,
            MessageType::UpdateFrames => self.update_frames(client, env, &mut applied)?,
            MessageType::RemoveFrames => self.remove_frames(client, env)?,
            MessageType::SetFrame => {
                let v = env.args.first().or_else(|| env.kwarg("frame")).ok_or_else(|| {
                    err("missing_arg", "set_frame needs the frame number (first argument or kwarg \"frame\")")
                })?;
                let f = v
                    .as_i64()
                    .ok_or_else(|| err("bad_value", format!("frame must be an int, got {}", v.type_name())))?;
                self.set_frame(f);
            }
            MessageType::NextFrame => self.next_frame(),
            MessageType::PreviousFrame => self.previous_frame(),
            MessageType::Playback => self.apply_playback(env, &mut applied)?,
            MessageType::Query => applied.state = Some(self.query(client, env)?),
            MessageType::SetProperties => self.set_properties(client, env, &mut applied)?,
            MessageType::AddControl
            | MessageType::UpdateControl
            | MessageType::RemoveControl
            | MessageType::SetControl
            | MessageType::QueryControls => self.apply_control(client, t, env, &mut applied)?,
            MessageType::Select => self.select_message(client, env)?,
            MessageType::Hello => return Err(err("bad_value", "hello is only valid as the first message")),
            // Requests the viewer answers once the chain has run (screenshots,
            // images, cameras, the chain query): nothing to do in the scene.
            t if t.traits().direction == Direction::ToViewer && !t.traits().changes_scene => {}
            other => {
                return Err(err(
                    "unknown_type",
                    format!("message type {} ({}) is sent by the viewer, not to it", other.as_i64(), other.name()),
                ));
            }
        }
        Ok(applied)
    }

    /// `select`: kwarg `node_id` (any node), else `uid` (the sender's, or with
    /// kwarg `client_id` another client's); none of them clears the selection.
    /// Kwarg `point`: where the node was hit (world coordinates).
    fn select_message(&mut self, client: ClientId, env: &Envelope) -> Result<(), SceneError> {
        let names_node = env.uid.is_some() || env.kwarg("node_id").is_some_and(|v| !v.is_nil());
        let node = if names_node { Some(self.node_target(client, env)?) } else { None };
        let point = match env.kwarg("point").filter(|v| !v.is_nil()) {
            None => None,
            Some(v) => Some(read_vec3("select", "point", v)?),
        };
        self.select(node, point);
        Ok(())
    }

    /// Per-client limits (`max_nodes_per_client`, `max_bytes_per_client`) for messages that add data.
    fn check_client_limits(&self, client: ClientId, t: MessageType) -> Result<(), SceneError> {
        let creates = NodeKind::from_message_type(t).is_some();
        let adds = creates || matches!(t, MessageType::AddFrames | MessageType::UpdateFrames);
        let (max_nodes, max_bytes) = (self.config.max_nodes_per_client, self.config.max_bytes_per_client);
        if !adds || (max_nodes == 0 && max_bytes == 0) {
            return Ok(());
        }
        let mine = self.nodes.values().filter(|n| n.client == client);
        let (count, bytes) = mine.fold((0usize, 0usize), |(c, b), n| (c + 1, b + n.data_bytes()));
        if creates && max_nodes > 0 && count >= max_nodes {
            return Err(err("limit", format!("this client already has {count} nodes (scene.max_nodes_per_client)")));
        }
        if max_bytes > 0 && bytes >= max_bytes {
            return Err(err(
                "limit",
                format!("this client's nodes already hold {bytes} bytes (scene.max_bytes_per_client = {max_bytes})"),
            ));
        }
        Ok(())
    }

    /// add/update frames of a body node: the parameters change as for any node,
    /// then the affected frames are skinned; on failure the node is restored.
    fn body_frames(
        &mut self,
        client: ClientId,
        env: &Envelope,
        t: MessageType,
        applied: &mut Applied,
    ) -> Result<(), SceneError> {
        let id = self.lookup(client, env)?;
        let before = self.nodes[&id].clone();
        let n_before = before.attr("vertices").map_or(0, FrameSeq::len);
        let which = if t == MessageType::AddFrames {
            return self.add_body_frames(id, env, applied);
        } else {
            self.update_frames(client, env, applied)?;
            // A static parameter (one frame, e.g. betas) applies to every frame.
            let node = &self.nodes[&id];
            let frames_v =
                env.kwarg("frames").ok_or_else(|| err("missing_arg", "update_frames needs kwarg \"frames\""))?;
            let touched_static = named_args(env, &["poses_body"])?
                .iter()
                .any(|(k, v)| !v.is_nil() && node.attr(k).is_some_and(|a| a.len() == 1));
            if touched_static {
                Reskin::All
            } else {
                Reskin::Frames(read_frames("update_frames", "frames", frames_v, n_before.max(1))?)
            }
        };
        self.mark(id);
        let mut node = self.nodes.remove(&id).expect("looked up");
        match self.reskin(&mut node, which, Some(&before)) {
            Ok(_) => {
                self.nodes.insert(id, node);
                Ok(())
            }
            Err(e) => {
                self.nodes.insert(id, before);
                Err(e)
            }
        }
    }

    pub(crate) fn lookup(&self, client: ClientId, env: &Envelope) -> Result<u64, SceneError> {
        let t = env.message_type().map_or("message", MessageType::name);
        let uid = env.uid.ok_or_else(|| err("missing_arg", format!("{t} needs a uid")))?;
        self.by_remote
            .get(&(client, uid))
            .copied()
            .ok_or_else(|| err("unknown_uid", format!("{t}: no node with uid {uid} for this client")))
    }

    fn create(
        &mut self,
        client: ClientId,
        kind: NodeKind,
        env: &Envelope,
        applied: &mut Applied,
    ) -> Result<(), SceneError> {
        if self.nodes.len() >= self.config.max_nodes {
            return Err(err("limit", format!("the scene already holds {} nodes (scene.max_nodes)", self.nodes.len())));
        }
        let mut node = Node::new(self.next_node_id, client, env.uid, kind);
        let mut dims = BTreeMap::new();
        let mut attrs: BTreeMap<&'static str, FrameSeq> = BTreeMap::new();
        let mut faces_value = None;
        let mut connections_value = None;
        let mut cloud: [Option<&Value>; 2] = [None, None];
        let mut unknown = Vec::new();
        let ctx = kind.name();
        for (key, v) in named_args(env, kind.create_positional())? {
            if let Some(spec) = kind.attr(key).filter(|s| s.ragged) {
                cloud[usize::from(spec.packed)] = Some(v).filter(|v| !v.is_nil());
                continue;
            }
            if let Some(spec) = kind.attr(key) {
                // aitviewer sends None for parameters it does not use.
                if !v.is_nil() {
                    attrs.insert(spec.name, read_attr(ctx, spec, v, &mut dims)?);
                }
                continue;
            }
            match key {
                "faces" if kind == NodeKind::Meshes => faces_value = Some(v),
                "joint_connections" if kind == NodeKind::Skeletons => connections_value = Some(v),
                "name" => node.name = read_name(ctx, key, v)?,
                "enabled" => node.enabled = read_bool(key, v)?,
                "scale" => node.scale = read_number(ctx, key, v, Range::Positive)?,
                "color" => {
                    let a = to_array(key, v)?;
                    if a.shape().len() <= 1 {
                        node.color = read_color(ctx, key, &a)?;
                    } else if kind == NodeKind::PointClouds {
                        cloud[1] = Some(v);
                    } else if let Some(spec) = kind.attr("colors") {
                        attrs.insert(spec.name, read_attr(ctx, spec, v, &mut dims)?);
                    } else {
                        return Err(err(
                            "bad_shape",
                            format!("color must be RGB or RGBA (3 or 4 numbers), got {}", fmt_shape(a.shape())),
                        ));
                    }
                }
                _ => match kind.settings().iter().find(|s| s.name() == key) {
                    Some(&s) => apply_style(ctx, &mut node.style, s, v)?,
                    None => unknown.push(key),
                },
            }
        }
        applied.warn_unknown(ctx, &unknown, "is not known and was ignored", "are not known and were ignored");
        if kind == NodeKind::PointClouds {
            let read = crate::points::read_cloud(cloud[0], cloud[1])?;
            if let Some(w) = read.warning {
                applied.warn("skipped", w);
            }
            attrs.extend(read.points.map(|p| ("points", p)));
            attrs.extend(read.colors.map(|c| ("colors", c)));
        }
        for spec in &kind.attrs()[..kind.n_required()] {
            if !attrs.contains_key(spec.name) {
                return Err(err("missing_arg", format!("{} needs {}", kind.name(), spec.name)));
            }
        }
        match kind {
            NodeKind::Meshes => {
                let v = faces_value.ok_or_else(|| err("missing_arg", "meshes needs faces"))?;
                let n_vertices = dims.get(&'V').copied();
                let (rows, idx) = read_index_rows("faces", v, 3, 0, n_vertices)?;
                if let Some(&t) = dims.get(&'T').filter(|&&t| t != rows) {
                    return Err(err("bad_shape", format!("face_colors has {t} rows but there are {rows} faces")));
                }
                dims.insert('T', rows);
                node.faces = Some(Arc::new(idx.into_iter().map(|i| i as u32).collect()));
            }
            NodeKind::Skeletons => {
                let v = connections_value.ok_or_else(|| err("missing_arg", "skeletons needs joint_connections"))?;
                let (_, idx) = read_index_rows("joint_connections", v, 2, -1, dims.get(&'J').copied())?;
                node.joint_connections =
                    Some(Arc::new(idx.chunks_exact(2).map(|c| [c[0] as i32, c[1] as i32]).collect()));
            }
            _ => {}
        }
        node.attrs = attrs;
        node.dims = dims;
        if kind == NodeKind::Smpl {
            check_aligned(&node)?;
            for note in self.reskin(&mut node, Reskin::All, None)? {
                applied.warn("note", note);
            }
        }
        if let Some(uid) = env.uid
            && let Some(old) = self.by_remote.get(&(client, uid)).copied()
        {
            self.remove_node(old);
            applied.warn("replaced", format!("uid {uid} already existed; the old node was replaced"));
        }
        self.next_node_id += 1;
        if let Some(uid) = env.uid {
            self.by_remote.insert((client, uid), node.id);
        }
        tracing::debug!(id = node.id, kind = kind.name(), name = %node.name, frames = node.n_frames(), "node created");
        applied.created = Some(node.id);
        self.mark(node.id);
        self.nodes.insert(node.id, node);
        self.touch();
        Ok(())
    }

    /// Reads the per-frame attributes of an add/update message: positional
    /// args are the kind's required attributes; everything must share F.
    pub(crate) fn frame_attrs(
        &self,
        node: &Node,
        env: &Envelope,
        applied: &mut Applied,
        skip: &[&str],
    ) -> Result<FrameData, SceneError> {
        let positional: Vec<&'static str> =
            node.kind.attrs()[..node.kind.n_required()].iter().map(|a| a.name).collect();
        let mut dims = node.dims.clone();
        let mut out = Vec::new();
        let mut cloud: [Option<&Value>; 2] = [None, None];
        let mut unknown = Vec::new();
        let ctx = env.message_type().map_or("message", MessageType::name);
        for (key, v) in named_args(env, &positional)? {
            if skip.contains(&key) {
                continue;
            }
            if v.is_nil() {
                continue; // aitviewer sends None for parameters it does not change
            }
            let key = if key == "color" && node.kind.attr("colors").is_some() { "colors" } else { key };
            match node.kind.attr(key) {
                Some(spec) if spec.ragged => cloud[usize::from(spec.packed)] = Some(v),
                Some(spec) => out.push((spec.name, read_attr(ctx, spec, v, &mut dims)?)),
                None => unknown.push(key),
            }
        }
        applied.warn_unknown(
            node.kind.name(),
            &unknown,
            "is not a per-frame attribute and was ignored",
            "are not per-frame attributes and were ignored",
        );
        if cloud.iter().any(Option::is_some) {
            let read = crate::points::read_cloud(cloud[0], cloud[1])?;
            if let Some(w) = read.warning {
                applied.warn("skipped", w);
            }
            out.extend(read.points.map(|p| ("points", p)));
            out.extend(read.colors.map(|c| ("colors", c)));
        }
        if out.is_empty() {
            return Err(err(
                "missing_arg",
                format!("no frame data given; {} takes {}", node.kind.name(), attr_list(node.kind)),
            ));
        }
        if let Some(((a, first), (b, other))) =
            out.iter().zip(out.iter().skip(1)).find(|((_, x), (_, y))| x.len() != y.len())
        {
            return Err(err(
                "bad_shape",
                format!("{a} has {} frames but {b} has {}; send the same number", first.len(), other.len()),
            ));
        }
        Ok((out, dims))
    }

    fn add_frames(&mut self, client: ClientId, env: &Envelope, applied: &mut Applied) -> Result<(), SceneError> {
        let id = self.lookup(client, env)?;
        let node = &self.nodes[&id];
        let (new, dims) = self.frame_attrs(node, env, applied, &[])?;
        if node.kind == NodeKind::PointClouds && !new.iter().any(|(n, _)| *n == "points") {
            return Err(err("missing_arg", "point_clouds: add_frames needs field \"points\""));
        }
        let n_frames = node.n_frames();
        if let Some((name, seq)) = new.iter().find(|(_, s)| n_frames + s.len() > periscope_protocol::limits::MAX_FRAMES)
        {
            return Err(err(
                "limit",
                format!(
                    "add_frames: {name} would have {} frames, more than a node may have ({})",
                    n_frames + seq.len(),
                    periscope_protocol::limits::MAX_FRAMES
                ),
            ));
        }
        self.mark(id);
        let node = self.nodes.get_mut(&id).expect("looked up");
        for (name, seq) in new {
            match node.attrs.get_mut(name) {
                // A shorter attribute held its last frame until now: keep the
                // new frames aligned with the node's.
                Some(existing) => {
                    existing.pad_to(n_frames);
                    existing.append(seq);
                }
                None => {
                    node.attrs.insert(name, seq);
                }
            }
        }
        node.dims = dims;
        node.version += 1;
        self.touch();
        Ok(())
    }

    fn update_frames(&mut self, client: ClientId, env: &Envelope, applied: &mut Applied) -> Result<(), SceneError> {
        let id = self.lookup(client, env)?;
        let node = &self.nodes[&id];
        let frames_v = env.kwarg("frames").ok_or_else(|| err("missing_arg", "update_frames needs kwarg \"frames\""))?;
        let (new, _) = self.frame_attrs(node, env, applied, &["frames"])?;
        let mut plan = Vec::with_capacity(new.len());
        for (name, seq) in new {
            let existing = node.attrs.get(name).ok_or_else(|| {
                err("bad_value", format!("update_frames: the node has no {name}; use add_frames to add it"))
            })?;
            let indices = read_frames("update_frames", "frames", frames_v, existing.len()).map_err(|e| {
                // An attribute with fewer frames than the node (static colors of
                // a cloud whose points change): say which, not "the node has 1 frames".
                if existing.len() < node.n_frames() && e.code == "bad_frames" {
                    err(
                        "bad_frames",
                        format!(
                            "update_frames: {name} has {} frame(s) while the node has {}; frames of {name} beyond them cannot be updated",
                            existing.len(),
                            node.n_frames()
                        ),
                    )
                } else {
                    e
                }
            })?;
            if seq.len() != 1 && seq.len() != indices.len() {
                return Err(err(
                    "bad_shape",
                    format!("update_frames: {name} has {} frames for {} frame indices", seq.len(), indices.len()),
                ));
            }
            if seq.inner_shape() != existing.inner_shape() {
                return Err(err(
                    "bad_shape",
                    format!(
                        "update_frames: {name} frames have shape {} but the node's have {}",
                        fmt_shape(seq.inner_shape()),
                        fmt_shape(existing.inner_shape())
                    ),
                ));
            }
            plan.push((name, indices, seq));
        }
        if node.kind == NodeKind::PointClouds {
            check_cloud_update(node, &plan)?;
        }
        self.mark(id);
        let node = self.nodes.get_mut(&id).expect("looked up");
        for (name, indices, seq) in plan {
            node.attrs.get_mut(name).expect("checked").replace(&indices, &seq);
        }
        node.version += 1;
        self.touch();
        Ok(())
    }

    fn remove_frames(&mut self, client: ClientId, env: &Envelope) -> Result<(), SceneError> {
        let id = self.lookup(client, env)?;
        let node = &self.nodes[&id];
        let frames_v = env
            .kwarg("frames")
            .or_else(|| env.args.first())
            .ok_or_else(|| err("missing_arg", "remove_frames needs kwarg \"frames\""))?;
        let mut indices = read_frames("remove_frames", "frames", frames_v, node.n_frames())?;
        indices.sort_unstable();
        indices.dedup();
        let mut plan = Vec::new();
        for (&name, seq) in &node.attrs {
            if seq.len() <= 1 {
                continue; // static attributes stay
            }
            let mine: Vec<usize> = indices.iter().copied().filter(|&i| i < seq.len()).collect();
            if mine.len() == seq.len() {
                return Err(err(
                    "bad_frames",
                    format!("remove_frames would remove every frame of {name}; delete the node instead"),
                ));
            }
            plan.push((name, mine));
        }
        self.mark(id);
        let node = self.nodes.get_mut(&id).expect("looked up");
        for (name, mine) in plan {
            node.attrs.get_mut(name).expect("present").remove(&mine);
        }
        node.version += 1;
        self.clamp_frame();
        self.touch();
        Ok(())
    }

    fn query(&self, client: ClientId, env: &Envelope) -> Result<SceneState, SceneError> {
        let mut state = self.state();
        state.ref_seq = env.seq;
        match env.kwarg("digest") {
            None | Some(Value::Nil) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) if env.uid.is_none() => state.data = Some(Value::from(self.digest())),
            Some(Value::Bool(true)) => {
                return Err(err("bad_value", "query: field \"digest\" is for the whole scene: send it without a uid"));
            }
            Some(v) => {
                return Err(FieldError::new("query", "digest", "a bool", describe(v)).into());
            }
        }
        if env.uid.is_some() {
            let owner = match env.kwarg("client_id").filter(|v| !v.is_nil()) {
                Some(v) => read_client_id("query", "client_id", v)?,
                None => client,
            };
            let id = self.lookup(owner, env)?;
            let node = &self.nodes[&id];
            let attr = match env.kwarg("attribute").filter(|v| !v.is_nil()) {
                Some(v) => v.as_str().ok_or_else(|| FieldError::new("query", "attribute", "a str", describe(v)))?,
                None => match node.kind {
                    NodeKind::Node => "position",
                    k => k.attrs().first().map_or("position", |a| a.name),
                },
            };
            let Some(seq) = node.attr(attr) else {
                let names: Vec<_> = node.attr_names().collect();
                return Err(err(
                    "bad_value",
                    format!("node has no attribute {} (it has: {})", excerpt(attr), names.join(", ")),
                ));
            };
            let frame = match env.kwarg("frame").filter(|v| !v.is_nil()) {
                // One frame: the first listed (the list is never empty).
                Some(v) => read_frames("query", "frame", v, seq.len())?.first().copied().unwrap_or_default(),
                None => node.frame_for(self.current_frame).min(seq.len().saturating_sub(1)),
            };
            let data = seq.frame(frame).ok_or_else(|| err("bad_value", format!("query: {attr} has no frames")))?;
            state.data = Some(Value::NdArray(if node.kind.attr(attr).is_some_and(|s| s.packed) {
                crate::points::unpack(data)
            } else {
                NdArray::from_f32(seq.frame_shape(frame), data.to_vec())
            }));
        }
        Ok(state)
    }
}

/// A point cloud's frames keep as many colors as points (when it has colors
/// for those frames) after `plan` replaces some of them.
fn check_cloud_update(node: &Node, plan: &[(&'static str, Vec<usize>, FrameSeq)]) -> Result<(), SceneError> {
    let (Some(points), Some(colors)) = (node.attr("points"), node.attr("colors")) else { return Ok(()) };
    // Rows of `name` at frame `i` once the plan is applied.
    let rows = |name: &str, existing: &FrameSeq, i: usize| {
        let replaced = plan.iter().find(|(n, ..)| *n == name).and_then(|(_, indices, seq)| {
            let k = indices.iter().rposition(|&j| j == i)?;
            seq.frame_shape(if seq.len() == 1 { 0 } else { k }).first().copied()
        });
        replaced.unwrap_or_else(|| existing.frame_shape(i).first().copied().unwrap_or(0))
    };
    for (_, indices, _) in plan {
        for &i in indices.iter().filter(|&&i| i < colors.len()) {
            let (p, c) = (rows("points", points, i), rows("colors", colors, i));
            if p != c {
                return Err(err(
                    "bad_shape",
                    format!(
                        "point_clouds: frame {i} would have {p} points but {c} colors; send field \"colors\" with the points"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn attr_list(kind: NodeKind) -> String {
    kind.attrs().iter().chain(TRANSFORM_ATTRS).map(|a| a.name).collect::<Vec<_>>().join(", ")
}

/// What a numeric setting must be (docs/protocol.md, "Creating nodes"):
/// sizes are >= 0 (0 draws nothing; `r_tip` ~0 draws cones), the arrow head
/// fraction is in [0, 1], point sizes are > 0.
fn setting_range(s: Setting) -> Range {
    match s {
        Setting::P => Range::Unit,
        Setting::PointSize | Setting::PointSizeWorld => Range::Positive,
        _ => Range::NonNegative,
    }
}

/// Sets one kind setting in `st`; `ctx` (the message's name) starts an error.
pub(crate) fn apply_style(ctx: &str, st: &mut Style, s: Setting, v: &Value) -> Result<(), SceneError> {
    let name = s.name();
    let num = |v: &Value| read_number(ctx, name, v, setting_range(s));
    match s {
        Setting::FlatShading => st.flat_shading = read_bool(name, v)?,
        Setting::DrawEdges => st.draw_edges = read_bool(name, v)?,
        Setting::Radius => st.radius = num(v)?,
        Setting::RBase => st.r_base = num(v)?,
        Setting::RTip => st.r_tip = if v.is_nil() { None } else { Some(num(v)?) },
        Setting::RHead => st.r_head = num(v)?,
        Setting::P => st.p = num(v)?,
        Setting::Length => st.length = num(v)?,
        Setting::ModelType | Setting::Gender => {
            let text = read_name(ctx, name, v)?;
            if s == Setting::ModelType { st.model_type = text } else { st.gender = text }
        }
        Setting::NumBetas => {
            st.num_betas = match v {
                Value::Nil => None,
                _ => Some(
                    v.as_i64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| FieldError::new(ctx, name, "a count", describe(v)))?,
                ),
            }
        }
        Setting::ShowSkeleton => st.show_skeleton = read_bool(name, v)?,
        Setting::PointSize => st.point_size = num(v)?,
        Setting::PointSizeWorld => st.point_size_world = if v.is_nil() { None } else { Some(num(v)?) },
        Setting::Mode => {
            st.mode = match v.as_str() {
                Some("line_strip") => LineMode::LineStrip,
                Some("lines") => LineMode::Lines,
                _ => return Err(FieldError::new(ctx, name, "\"line_strip\" or \"lines\"", describe(v)).into()),
            }
        }
    }
    Ok(())
}
