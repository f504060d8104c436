//! Server -> client messages: maps with an integer `type` and named fields.

use std::borrow::Cow;

use crate::answers::{
    ChainState, ControlList, ControlState, Event, Fields, ImagesState, SceneSaved, ScreenshotResult, VideoExported,
    ViewCameraState,
};
use crate::types::MessageType;
use crate::value::Value;

/// A map of `fields` (in order), owned.
pub(crate) fn fields_map(fields: Fields<'_>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (Value::from(k), v.into_owned())).collect())
}

/// One node as reported by a scene query.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSummary {
    /// The viewer's own id for the node (unique in this viewer run).
    pub id: u64,
    /// The owning client's uid for the node (`None` for nodes made by the viewer).
    pub uid: Option<i64>,
    pub client_id: u64,
    pub client_name: String,
    pub name: String,
    /// `meshes`, `spheres`, ... (see [`MessageType::name`]).
    pub kind: String,
    pub n_frames: usize,
    pub current_frame: usize,
    pub enabled: bool,
    /// Node color, RGBA in [0, 1].
    pub color: [f32; 4],
}

/// One client as reported by a scene query.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSummary {
    pub id: u64,
    pub name: String,
    pub addr: String,
    pub connected: bool,
}

/// The answer to a query (`type = 301`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SceneState {
    /// The `seq` of the query this answers.
    pub ref_seq: Option<u64>,
    pub n_frames: usize,
    pub current_frame: usize,
    pub playing: bool,
    /// Playback speed, frames per second.
    pub fps: f64,
    pub nodes: Vec<NodeSummary>,
    pub clients: Vec<ClientSummary>,
    /// The selected node's viewer id.
    pub selected: Option<u64>,
    /// The node the view was last centered on.
    pub focused: Option<u64>,
    /// For a query naming `uid`, `attribute` and `frame`: that frame's data.
    pub data: Option<Value>,
}

/// A message from the viewer to a client.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Welcome {
        server: String,
        version: u32,
        client_id: u64,
        /// Present this in a later `hello` to resume this client's identity.
        session: String,
        /// True when `hello` named a session this server still knew.
        resumed: bool,
        max_message_bytes: u64,
        /// The viewer takes big arrays in parts (`ARRAY_PART`).
        array_parts: bool,
        /// To a view only: the most bytes of scene data a browser view should
        /// hold (`[server] web_view_budget_mb`); the page stops there.
        web_view_budget_bytes: Option<u64>,
    },
    Refused {
        reason: String,
    },
    /// A message was refused (`type = 400`) or accepted with a remark (`type = 401`).
    Problem {
        warning: bool,
        ref_seq: Option<u64>,
        ref_type: Option<i64>,
        uid: Option<i64>,
        /// A stable, machine-readable code such as `bad_shape` or `unknown_uid`.
        code: String,
        message: String,
    },
    SceneState(SceneState),
    /// `control_state`: the answer to `add_control`/`set_control`.
    ControlState(ControlState),
    /// `controls`: the answer to `query_controls`.
    Controls(ControlList),
    /// `event`: a control changed, the selection or the main camera.
    Event(Event),
    /// `camera`: the camera a remote renderer renders its next image from.
    Camera(crate::answers::CameraRequest),
    /// `view_camera`: the answer to `set_camera`/`query_camera`.
    ViewCamera(ViewCameraState),
    /// `images_state`: the answer to `query_images`.
    ImagesState(ImagesState),
    /// `screenshot_result`: the answer to `screenshot`.
    ScreenshotResult(ScreenshotResult),
    /// `video_exported`: the answer to `export_video`.
    VideoExported(VideoExported),
    /// `scene_saved`: the answer to `save_scene`.
    SceneSaved(SceneSaved),
    /// `chain_state`: the answer to `query_chain`.
    ChainState(ChainState),
    /// Any other message: what scripts and plugins send (any type, any
    /// fields). The viewer's own answers and events are the typed variants.
    Other {
        kind: i64,
        fields: Vec<(String, Value)>,
    },
    /// A message encoded once and shared by every connection it goes to (a
    /// hub's change batches to its views): its MessagePack bytes, type `kind`.
    Encoded {
        kind: i64,
        bytes: bytes::Bytes,
    },
}

impl Reply {
    /// An error reply.
    pub fn error(
        ref_seq: Option<u64>,
        ref_type: Option<i64>,
        uid: Option<i64>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Reply::Problem { warning: false, ref_seq, ref_type, uid, code: code.into(), message: message.into() }
    }

    /// A warning reply.
    pub fn warning(
        ref_seq: Option<u64>,
        ref_type: Option<i64>,
        uid: Option<i64>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Reply::Problem { warning: true, ref_seq, ref_type, uid, code: code.into(), message: message.into() }
    }

    /// The wire type number.
    pub fn kind(&self) -> i64 {
        match self {
            Reply::Welcome { .. } => MessageType::Welcome.as_i64(),
            Reply::Refused { .. } => MessageType::Refused.as_i64(),
            Reply::Problem { warning: false, .. } => MessageType::Error.as_i64(),
            Reply::Problem { warning: true, .. } => MessageType::Warning.as_i64(),
            Reply::SceneState(_) => MessageType::SceneState.as_i64(),
            Reply::ControlState(_) => MessageType::ControlState.as_i64(),
            Reply::Controls(_) => MessageType::Controls.as_i64(),
            Reply::Event(_) => MessageType::Event.as_i64(),
            Reply::Camera(_) => MessageType::Camera.as_i64(),
            Reply::ViewCamera(_) => MessageType::ViewCamera.as_i64(),
            Reply::ImagesState(_) => MessageType::ImagesState.as_i64(),
            Reply::ScreenshotResult(_) => MessageType::ScreenshotResult.as_i64(),
            Reply::VideoExported(_) => MessageType::VideoExported.as_i64(),
            Reply::SceneSaved(_) => MessageType::SceneSaved.as_i64(),
            Reply::ChainState(_) => MessageType::ChainState.as_i64(),
            Reply::Other { kind, .. } | Reply::Encoded { kind, .. } => *kind,
        }
    }

    /// A typed answer's or event's fields in wire order (after `type`);
    /// `None` for the variants with a layout of their own.
    fn typed_fields(&self) -> Option<Fields<'_>> {
        Some(match self {
            Reply::ControlState(r) => r.fields(),
            Reply::Controls(r) => r.fields(),
            Reply::Event(r) => r.fields(),
            Reply::Camera(r) => r.fields(),
            Reply::ViewCamera(r) => r.fields(),
            Reply::ImagesState(r) => r.fields(),
            Reply::ScreenshotResult(r) => r.fields(),
            Reply::VideoExported(r) => r.fields(),
            Reply::SceneSaved(r) => r.fields(),
            Reply::ChainState(r) => r.fields(),
            Reply::Welcome { .. }
            | Reply::Refused { .. }
            | Reply::Problem { .. }
            | Reply::SceneState(_)
            | Reply::Other { .. }
            | Reply::Encoded { .. } => return None,
        })
    }

    /// The exact length of [`Self::encode`]'s output, computed without
    /// encoding (sizes only: arrays are not converted, strings not copied), so
    /// the server can weigh a reply on the sender's thread before queueing it.
    pub fn encoded_len(&self) -> usize {
        use crate::encode::{container_len, encoded_len as len, str_len};
        if let Some(fields) = self.typed_fields() {
            return container_len(1 + fields.len())
                + str_len("type".len())
                + len(&Value::Int(self.kind()))
                + fields.iter().map(|(k, v)| str_len(k.len()) + len(v)).sum::<usize>();
        }
        match self {
            Reply::SceneState(s) => {
                let key = |k: &str| str_len(k.len());
                let field = |k: &str, v: Value| key(k) + len(&v);
                let nodes: usize = s
                    .nodes
                    .iter()
                    .map(|n| {
                        container_len(10)
                            + field("id", n.id.into())
                            + field("uid", n.uid.into())
                            + field("client_id", n.client_id.into())
                            + key("client_name")
                            + key(&n.client_name)
                            + key("name")
                            + key(&n.name)
                            + key("kind")
                            + key(&n.kind)
                            + field("n_frames", n.n_frames.into())
                            + field("current_frame", n.current_frame.into())
                            + field("enabled", n.enabled.into())
                            + key("color")
                            + container_len(4)
                            + n.color.iter().map(|&c| len(&c.into())).sum::<usize>()
                    })
                    .sum();
                let clients: usize = s
                    .clients
                    .iter()
                    .map(|c| {
                        container_len(4)
                            + field("id", c.id.into())
                            + key("name")
                            + key(&c.name)
                            + key("addr")
                            + key(&c.addr)
                            + field("connected", c.connected.into())
                    })
                    .sum();
                container_len(10 + usize::from(s.data.is_some()))
                    + field("type", Value::Int(self.kind()))
                    + field("ref_seq", s.ref_seq.into())
                    + field("n_frames", s.n_frames.into())
                    + field("current_frame", s.current_frame.into())
                    + field("playing", s.playing.into())
                    + field("fps", s.fps.into())
                    + key("nodes")
                    + container_len(s.nodes.len())
                    + nodes
                    + key("clients")
                    + container_len(s.clients.len())
                    + clients
                    + field("selected", s.selected.into())
                    + field("focused", s.focused.into())
                    + s.data.as_ref().map_or(0, |d| key("data") + len(d))
            }
            Reply::Other { kind, fields } => {
                let fields = fields.iter().filter(|(k, _)| k != "type");
                container_len(1 + fields.clone().count())
                    + str_len("type".len())
                    + len(&Value::Int(*kind))
                    + fields.map(|(k, v)| str_len(k.len()) + len(v)).sum::<usize>()
            }
            Reply::Encoded { bytes, .. } => bytes.len(),
            Reply::ControlState(_)
            | Reply::Controls(_)
            | Reply::Event(_)
            | Reply::Camera(_)
            | Reply::ViewCamera(_)
            | Reply::ImagesState(_)
            | Reply::ScreenshotResult(_)
            | Reply::VideoExported(_)
            | Reply::SceneSaved(_)
            | Reply::ChainState(_) => unreachable!("weighed above"),
            // Small: their value tree is cheap to build.
            Reply::Welcome { .. } | Reply::Refused { .. } | Reply::Problem { .. } => len(&self.to_value()),
        }
    }

    /// The `seq` of the request this reply answers, when it says.
    pub fn ref_seq(&self) -> Option<u64> {
        match self {
            Reply::Problem { ref_seq, .. } => *ref_seq,
            Reply::SceneState(s) => s.ref_seq,
            Reply::ControlState(r) => r.ref_seq,
            Reply::Controls(r) => r.ref_seq,
            Reply::ViewCamera(r) => r.ref_seq,
            Reply::ImagesState(r) => r.ref_seq,
            Reply::ScreenshotResult(r) => r.ref_seq,
            Reply::VideoExported(r) => r.ref_seq,
            Reply::SceneSaved(r) => r.ref_seq,
            Reply::ChainState(r) => r.ref_seq,
            Reply::Event(_) | Reply::Camera(_) => None,
            Reply::Other { fields, .. } => fields
                .iter()
                .find(|(k, _)| k == "ref_seq")
                .and_then(|(_, v)| v.as_i64())
                .and_then(|x| u64::try_from(x).ok()),
            Reply::Welcome { .. } | Reply::Refused { .. } | Reply::Encoded { .. } => None,
        }
    }

    /// The type of the request this reply answers: an error's `ref_type`, or
    /// for an answer the one request type it answers (`None` when several
    /// ask for it, e.g. `control_state`).
    pub fn request_type(&self) -> Option<i64> {
        match self {
            Reply::Problem { ref_type, .. } => *ref_type,
            _ => {
                let kind = MessageType::from_i64(self.kind())?;
                let mut asks = MessageType::ALL.iter().filter(|t| t.traits().answer == Some(kind));
                let first = asks.next()?;
                asks.next().is_none().then_some(first.as_i64())
            }
        }
    }

    /// Whether a sender is waiting for this reply: an answer (`scene_state`,
    /// `screenshot_result`, ...) or an error about a request that expects one.
    /// The server never drops such a reply silently (docs/protocol.md,
    /// "Limits: replies and parts").
    pub fn answers_request(&self) -> bool {
        match self {
            Reply::Problem { warning: false, ref_type, .. } => {
                ref_type.and_then(crate::traits_of).is_some_and(|t| t.answer.is_some())
            }
            Reply::Problem { warning: true, .. } | Reply::Welcome { .. } | Reply::Refused { .. } => false,
            _ => MessageType::from_i64(self.kind()).is_some_and(|t| t != MessageType::Error && t.is_answer()),
        }
    }

    /// The MessagePack bytes of [`Self::to_value`]. A scene state is written
    /// straight into the buffer (a query with 5,000 nodes would otherwise
    /// build a value tree of some 100,000 small allocations first); its
    /// layout is defined here only, `to_value` reads it back.
    pub fn encode(&self) -> Vec<u8> {
        use crate::encode::write_value as v;
        use rmp::encode as e;
        let ok = |r: Result<(), rmp::encode::ValueWriteError>| r.expect("writing to a Vec cannot fail");
        let ok_marker = |r: Result<rmp::Marker, rmp::encode::ValueWriteError>| {
            r.expect("writing to a Vec cannot fail");
        };
        if let Some(fields) = self.typed_fields() {
            // Written straight from the fields: big values are not copied first.
            let mut out = Vec::with_capacity(self.encoded_len());
            ok_marker(e::write_map_len(&mut out, 1 + fields.len() as u32));
            ok(e::write_str(&mut out, "type"));
            v(&mut out, &Value::Int(self.kind()));
            for (k, val) in &fields {
                ok(e::write_str(&mut out, k));
                v(&mut out, val);
            }
            return out;
        }
        let s = match self {
            Reply::SceneState(s) => s,
            Reply::Encoded { bytes, .. } => return bytes.to_vec(),
            _ => return crate::encode_value(&self.to_value()),
        };
        let mut out = Vec::with_capacity(256 + s.nodes.len() * 160);
        let key = |out: &mut Vec<u8>, k: &str| ok(e::write_str(out, k));
        ok_marker(e::write_map_len(&mut out, 10 + u32::from(s.data.is_some())));
        key(&mut out, "type");
        v(&mut out, &Value::Int(self.kind()));
        key(&mut out, "ref_seq");
        v(&mut out, &s.ref_seq.into());
        key(&mut out, "n_frames");
        v(&mut out, &s.n_frames.into());
        key(&mut out, "current_frame");
        v(&mut out, &s.current_frame.into());
        key(&mut out, "playing");
        v(&mut out, &s.playing.into());
        key(&mut out, "fps");
        v(&mut out, &s.fps.into());
        key(&mut out, "nodes");
        ok_marker(e::write_array_len(&mut out, s.nodes.len() as u32));
        for n in &s.nodes {
            ok_marker(e::write_map_len(&mut out, 10));
            key(&mut out, "id");
            v(&mut out, &Value::from(n.id));
            key(&mut out, "uid");
            v(&mut out, &n.uid.into());
            key(&mut out, "client_id");
            v(&mut out, &n.client_id.into());
            key(&mut out, "client_name");
            key(&mut out, &n.client_name);
            key(&mut out, "name");
            key(&mut out, &n.name);
            key(&mut out, "kind");
            key(&mut out, &n.kind);
            key(&mut out, "n_frames");
            v(&mut out, &n.n_frames.into());
            key(&mut out, "current_frame");
            v(&mut out, &n.current_frame.into());
            key(&mut out, "enabled");
            v(&mut out, &n.enabled.into());
            key(&mut out, "color");
            ok_marker(e::write_array_len(&mut out, 4));
            for &c in &n.color {
                v(&mut out, &Value::from(c));
            }
        }
        key(&mut out, "clients");
        ok_marker(e::write_array_len(&mut out, s.clients.len() as u32));
        for c in &s.clients {
            ok_marker(e::write_map_len(&mut out, 4));
            key(&mut out, "id");
            v(&mut out, &Value::from(c.id));
            key(&mut out, "name");
            key(&mut out, &c.name);
            key(&mut out, "addr");
            key(&mut out, &c.addr);
            key(&mut out, "connected");
            v(&mut out, &c.connected.into());
        }
        key(&mut out, "selected");
        v(&mut out, &s.selected.into());
        key(&mut out, "focused");
        v(&mut out, &s.focused.into());
        if let Some(d) = &s.data {
            key(&mut out, "data");
            v(&mut out, d);
        }
        out
    }

    /// The wire form of this reply.
    pub fn to_value(&self) -> Value {
        if let Some(fields) = self.typed_fields() {
            let mut all: Fields<'_> = vec![("type", Cow::Owned(Value::Int(self.kind())))];
            all.extend(fields);
            return fields_map(all);
        }
        let mut f: Vec<(&str, Value)> = vec![("type", Value::Int(self.kind()))];
        match self {
            Reply::Welcome {
                server,
                version,
                client_id,
                session,
                resumed,
                max_message_bytes,
                array_parts,
                web_view_budget_bytes,
            } => {
                f.push(("server", server.as_str().into()));
                f.push(("version", (*version as i64).into()));
                f.push(("client_id", (*client_id).into()));
                f.push(("session", session.as_str().into()));
                f.push(("resumed", (*resumed).into()));
                f.push(("max_message_bytes", (*max_message_bytes).into()));
                f.push(("array_parts", (*array_parts).into()));
                if let Some(b) = web_view_budget_bytes {
                    f.push(("web_view_budget_bytes", (*b).into()));
                }
            }
            Reply::Refused { reason } => f.push(("reason", reason.as_str().into())),
            Reply::Problem { ref_seq, ref_type, uid, code, message, .. } => {
                f.push(("ref_seq", (*ref_seq).into()));
                f.push(("ref_type", (*ref_type).into()));
                f.push(("uid", (*uid).into()));
                f.push(("code", code.as_str().into()));
                f.push(("message", message.as_str().into()));
            }
            Reply::Encoded { bytes, .. } => {
                return crate::decode_value(bytes, crate::DecodeLimits::default()).unwrap_or(Value::Nil);
            }
            Reply::SceneState(_) => {
                // One description of the layout: `encode`'s, read back.
                return crate::decode_value(&self.encode(), crate::DecodeLimits::default())
                    .expect("a scene state encodes to valid MessagePack");
            }
            Reply::ControlState(_)
            | Reply::Controls(_)
            | Reply::Event(_)
            | Reply::Camera(_)
            | Reply::ViewCamera(_)
            | Reply::ImagesState(_)
            | Reply::ScreenshotResult(_)
            | Reply::VideoExported(_)
            | Reply::SceneSaved(_)
            | Reply::ChainState(_) => unreachable!("typed replies are written above"),
            Reply::Other { fields, .. } => {
                return Value::Map(
                    std::iter::once((Value::from("type"), Value::Int(self.kind())))
                        .chain(
                            fields
                                .iter()
                                .filter(|(k, _)| k != "type")
                                .map(|(k, v)| (Value::from(k.as_str()), v.clone())),
                        )
                        .collect(),
                );
            }
        }
        Value::map(f)
    }

    /// Reads a reply from its wire form (used by the Rust client).
    pub fn from_value(v: Value) -> Option<Self> {
        let kind = v.get("type")?.as_i64()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let u = |k: &str| v.get(k).and_then(Value::as_i64).and_then(|x| u64::try_from(x).ok());
        let i = |k: &str| v.get(k).and_then(Value::as_i64);
        Some(match MessageType::from_i64(kind) {
            Some(MessageType::Welcome) => Reply::Welcome {
                server: s("server"),
                version: u("version")? as u32,
                client_id: u("client_id")?,
                session: s("session"),
                resumed: v.get("resumed").and_then(Value::as_bool).unwrap_or(false),
                max_message_bytes: u("max_message_bytes").unwrap_or(0),
                array_parts: v.get("array_parts").and_then(Value::as_bool).unwrap_or(false),
                web_view_budget_bytes: u("web_view_budget_bytes"),
            },
            Some(MessageType::Refused) => Reply::Refused { reason: s("reason") },
            Some(t @ (MessageType::Error | MessageType::Warning)) => Reply::Problem {
                warning: t == MessageType::Warning,
                ref_seq: u("ref_seq"),
                ref_type: i("ref_type"),
                uid: i("uid"),
                code: s("code"),
                message: s("message"),
            },
            Some(MessageType::SceneState) => {
                let list = |k: &str| match v.get(k) {
                    Some(Value::Array(items)) => items.clone(),
                    _ => Vec::new(),
                };
                let nodes = list("nodes")
                    .iter()
                    .map(|n| NodeSummary {
                        id: n.get("id").and_then(Value::as_i64).unwrap_or(0) as u64,
                        uid: n.get("uid").and_then(Value::as_i64),
                        client_id: n.get("client_id").and_then(Value::as_i64).unwrap_or(0) as u64,
                        client_name: n.get("client_name").and_then(Value::as_str).unwrap_or_default().into(),
                        name: n.get("name").and_then(Value::as_str).unwrap_or_default().into(),
                        kind: n.get("kind").and_then(Value::as_str).unwrap_or_default().into(),
                        n_frames: n.get("n_frames").and_then(Value::as_i64).unwrap_or(0) as usize,
                        current_frame: n.get("current_frame").and_then(Value::as_i64).unwrap_or(0) as usize,
                        enabled: n.get("enabled").and_then(Value::as_bool).unwrap_or(true),
                        color: match n.get("color") {
                            Some(Value::Array(c)) if c.len() == 4 => {
                                let f = |i: usize| c[i].as_f64().unwrap_or(0.0) as f32;
                                [f(0), f(1), f(2), f(3)]
                            }
                            _ => [0.0; 4],
                        },
                    })
                    .collect();
                let clients = list("clients")
                    .iter()
                    .map(|c| ClientSummary {
                        id: c.get("id").and_then(Value::as_i64).unwrap_or(0) as u64,
                        name: c.get("name").and_then(Value::as_str).unwrap_or_default().into(),
                        addr: c.get("addr").and_then(Value::as_str).unwrap_or_default().into(),
                        connected: c.get("connected").and_then(Value::as_bool).unwrap_or(false),
                    })
                    .collect();
                Reply::SceneState(SceneState {
                    ref_seq: u("ref_seq"),
                    n_frames: u("n_frames").unwrap_or(0) as usize,
                    current_frame: u("current_frame").unwrap_or(0) as usize,
                    playing: v.get("playing").and_then(Value::as_bool).unwrap_or(false),
                    fps: v.get("fps").and_then(Value::as_f64).unwrap_or(0.0),
                    nodes,
                    clients,
                    selected: u("selected"),
                    focused: u("focused"),
                    data: v.get("data").cloned(),
                })
            }
            Some(t) if let Some(typed) = Self::typed_from_value(t, &v) => typed,
            _ => {
                let Value::Map(entries) = v else { return None };
                Reply::Other {
                    kind,
                    fields: entries
                        .into_iter()
                        .filter_map(|(k, v)| match k {
                            Value::Str(k) if k != "type" => Some((k, v)),
                            _ => None,
                        })
                        .collect(),
                }
            }
        })
    }
}

impl Reply {
    /// The typed reading of a viewer answer or event of type `t`, when `v`
    /// is exactly what that variant writes (a script's message of the same
    /// type with other fields stays [`Reply::Other`], nothing lost).
    fn typed_from_value(t: MessageType, v: &Value) -> Option<Self> {
        use crate::answers::CameraRequest;
        let typed = match t {
            MessageType::ControlState => Reply::ControlState(ControlState::read(v)?),
            MessageType::Controls => Reply::Controls(ControlList::read(v)?),
            MessageType::Event => Reply::Event(Event::read(v)?),
            MessageType::Camera => Reply::Camera(CameraRequest::read(v)?),
            MessageType::ViewCamera => Reply::ViewCamera(ViewCameraState::read(v)?),
            MessageType::ImagesState => Reply::ImagesState(ImagesState::read(v)?),
            MessageType::ScreenshotResult => Reply::ScreenshotResult(ScreenshotResult::read(v)?),
            MessageType::VideoExported => Reply::VideoExported(VideoExported::read(v)?),
            MessageType::SceneSaved => Reply::SceneSaved(SceneSaved::read(v)?),
            MessageType::ChainState => Reply::ChainState(ChainState::read(v)?),
            _ => return None,
        };
        (typed.to_value() == *v).then_some(typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        let replies = vec![
            Reply::Welcome {
                server: "periscope 0.1.0".into(),
                version: 1,
                client_id: 3,
                session: "s".into(),
                resumed: true,
                max_message_bytes: 10,
                array_parts: true,
                web_view_budget_bytes: Some(1500 << 20),
            },
            Reply::Refused { reason: "bad token".into() },
            Reply::error(Some(4), Some(2), Some(7), "bad_shape", "vertices must be (V,3)"),
            Reply::warning(None, None, None, "unknown_kwarg", "ignored"),
            Reply::SceneState(SceneState {
                ref_seq: Some(1),
                n_frames: 200,
                current_frame: 3,
                playing: false,
                fps: 12.5,
                nodes: vec![NodeSummary {
                    id: 1,
                    uid: Some(5),
                    client_id: 2,
                    client_name: "py".into(),
                    name: "Mesh 0".into(),
                    kind: "meshes".into(),
                    n_frames: 200,
                    current_frame: 3,
                    enabled: true,
                    color: [0.5, 0.25, 1.0, 1.0],
                }],
                clients: vec![ClientSummary { id: 2, name: "py".into(), addr: "127.0.0.1:5".into(), connected: true }],
                selected: Some(1),
                focused: None,
                data: None,
            }),
            Reply::Other { kind: 10001, fields: vec![("answer".into(), Value::Int(42))] },
        ];
        for r in replies {
            assert_eq!(Reply::from_value(r.to_value()).as_ref(), Some(&r));
            // The direct encoder writes the same bytes as the value tree.
            assert_eq!(r.encode(), crate::encode_value(&r.to_value()));
            assert_eq!(r.encoded_len(), r.encode().len(), "{r:?}");
        }
    }

    #[test]
    fn a_scene_state_with_data_encodes_as_its_value() {
        let node = |id: u64, uid: Option<i64>| NodeSummary {
            id,
            uid,
            client_id: 0,
            client_name: "viewer".into(),
            name: format!("n{id}"),
            kind: "spheres".into(),
            n_frames: 1,
            current_frame: 0,
            enabled: id.is_multiple_of(2),
            color: [0.1, 0.2, 0.3, 1.0],
        };
        let s = SceneState {
            ref_seq: None,
            n_frames: 1,
            current_frame: 0,
            playing: true,
            fps: 30.0,
            nodes: (0..300).map(|i| node(i, (!i.is_multiple_of(3)).then_some(-(i as i64)))).collect(),
            clients: vec![],
            selected: None,
            focused: Some(7),
            data: Some(Value::NdArray(crate::NdArray::from_f32(vec![2, 3], vec![1.5; 6]))),
        };
        let r = Reply::SceneState(s);
        assert_eq!(r.encode(), crate::encode_value(&r.to_value()));
        assert_eq!(r.encoded_len(), r.encode().len());
    }

    #[test]
    fn encoded_len_is_exact_at_every_size_boundary() {
        use crate::{NdArray, encode_value, encoded_len};
        let ints = [
            0i64,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            4_294_967_295,
            4_294_967_296,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            -2_147_483_648,
            -2_147_483_649,
            i64::MIN,
        ];
        let mut values: Vec<Value> = ints.iter().map(|&i| Value::Int(i)).collect();
        values.extend([Value::UInt(u64::MAX), Value::Nil, Value::Bool(true), Value::Float(0.5)]);
        for n in [0usize, 15, 16, 31, 32, 255, 256, 65_535, 65_536] {
            values.push(Value::Str("x".repeat(n)));
            values.push(Value::Bin(vec![1; n]));
            values.push(Value::Array(vec![Value::Nil; n]));
            values.push(Value::Map((0..n).map(|i| (Value::from(i), Value::Nil)).collect()));
        }
        values.push(Value::NdArray(NdArray::from_f32(vec![300, 3], vec![0.0; 900])));
        values.push(Value::NdArray(NdArray::from_f32(vec![0], vec![])));
        for v in &values {
            assert_eq!(encoded_len(v), encode_value(v).len(), "{v:?}");
        }
        let other = Reply::Other {
            kind: MessageType::ScreenshotResult.as_i64(),
            fields: vec![("ref_seq".into(), Value::Int(7)), ("image".into(), values.pop().unwrap())],
        };
        assert_eq!(other.encoded_len(), other.encode().len());
    }

    #[test]
    fn answers_are_told_from_notices() {
        let shot = Reply::Other {
            kind: MessageType::ScreenshotResult.as_i64(),
            fields: vec![("ref_seq".into(), Value::Int(9))],
        };
        assert!(shot.answers_request());
        assert_eq!((shot.ref_seq(), shot.request_type()), (Some(9), Some(MessageType::Screenshot.as_i64())));
        let state = Reply::SceneState(SceneState { ref_seq: Some(3), ..Default::default() });
        assert!(state.answers_request());
        assert_eq!(state.request_type(), Some(MessageType::Query.as_i64()));
        let control = Reply::Other { kind: MessageType::ControlState.as_i64(), fields: vec![] };
        assert_eq!(control.request_type(), None, "two request types ask for it");
        let about_query = Reply::error(Some(1), Some(MessageType::Query.as_i64()), None, "x", "y");
        assert!(about_query.answers_request());
        let about_meshes = Reply::error(Some(1), Some(MessageType::Meshes.as_i64()), None, "x", "y");
        assert!(!about_meshes.answers_request(), "nobody waits for an add's error");
        let event = Reply::Other { kind: MessageType::Event.as_i64(), fields: vec![] };
        assert!(!event.answers_request());
        assert!(!Reply::warning(Some(1), Some(300), None, "x", "y").answers_request());
    }
}
