//! Server -> client messages: maps with an integer `type` and named fields.

use crate::types::MessageType;
use crate::value::Value;

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
    /// Any other message (scripts and plugins send these).
    Other {
        kind: i64,
        fields: Vec<(String, Value)>,
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
            Reply::Other { kind, .. } => *kind,
        }
    }

    /// The MessagePack bytes of [`Self::to_value`]. A scene state is written
    /// straight into the buffer (a query with 5,000 nodes would otherwise
    /// build a value tree of some 100,000 small allocations first); its
    /// layout is defined here only, `to_value` reads it back.
    pub fn encode(&self) -> Vec<u8> {
        let Reply::SceneState(s) = self else { return crate::encode_value(&self.to_value()) };
        use crate::encode::write_value as v;
        use rmp::encode as e;
        let ok = |r: Result<(), rmp::encode::ValueWriteError>| r.expect("writing to a Vec cannot fail");
        let ok_marker = |r: Result<rmp::Marker, rmp::encode::ValueWriteError>| {
            r.expect("writing to a Vec cannot fail");
        };
        let mut out = Vec::with_capacity(256 + s.nodes.len() * 160);
        let key = |out: &mut Vec<u8>, k: &str| ok(e::write_str(out, k));
        ok_marker(e::write_map_len(&mut out, 9 + u32::from(s.data.is_some())));
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
        let mut f: Vec<(&str, Value)> = vec![("type", Value::Int(self.kind()))];
        match self {
            Reply::Welcome { server, version, client_id, session, resumed, max_message_bytes, array_parts } => {
                f.push(("server", server.as_str().into()));
                f.push(("version", (*version as i64).into()));
                f.push(("client_id", (*client_id).into()));
                f.push(("session", session.as_str().into()));
                f.push(("resumed", (*resumed).into()));
                f.push(("max_message_bytes", (*max_message_bytes).into()));
                f.push(("array_parts", (*array_parts).into()));
            }
            Reply::Refused { reason } => f.push(("reason", reason.as_str().into())),
            Reply::Problem { ref_seq, ref_type, uid, code, message, .. } => {
                f.push(("ref_seq", (*ref_seq).into()));
                f.push(("ref_type", (*ref_type).into()));
                f.push(("uid", (*uid).into()));
                f.push(("code", code.as_str().into()));
                f.push(("message", message.as_str().into()));
            }
            Reply::SceneState(_) => {
                // One description of the layout: `encode`'s, read back.
                return crate::decode_value(&self.encode(), crate::DecodeLimits::default())
                    .expect("a scene state encodes to valid MessagePack");
            }
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
                    nodes,
                    clients,
                    selected: u("selected"),
                    focused: u("focused"),
                    data: v.get("data").cloned(),
                })
            }
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
            },
            Reply::Refused { reason: "bad token".into() },
            Reply::error(Some(4), Some(2), Some(7), "bad_shape", "vertices must be (V,3)"),
            Reply::warning(None, None, None, "unknown_kwarg", "ignored"),
            Reply::SceneState(SceneState {
                ref_seq: Some(1),
                n_frames: 200,
                current_frame: 3,
                playing: false,
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
            nodes: (0..300).map(|i| node(i, (!i.is_multiple_of(3)).then_some(-(i as i64)))).collect(),
            clients: vec![],
            selected: None,
            focused: Some(7),
            data: Some(Value::NdArray(crate::NdArray::from_f32(vec![2, 3], vec![1.5; 6]))),
        };
        let r = Reply::SceneState(s);
        assert_eq!(r.encode(), crate::encode_value(&r.to_value()));
    }
}
