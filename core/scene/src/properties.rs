//! `set_properties` (type 314): change a node's name, color, visibility,
//! transform or kind settings. Clients send it for their own nodes (by `uid`)
//! or for any node (by `node_id`, the viewer's id); the viewer's own panels
//! send it as the local "viewer" client, so every edit passes the dispatch
//! chain and the recorder like any other change.

use periscope_protocol::{Envelope, MessageType, Value};

use periscope_protocol::FieldError;
use periscope_protocol::kwargs::{describe, read_client_id, read_floats, read_vec3};

use crate::args::{Range, read_bool, read_color, read_name, read_number, to_array};
use crate::error::{SceneError, err};
use crate::handler::Applied;
use crate::node::{ClientId, Node, NodeId, Style};
use crate::scene::Scene;

/// The kwargs of a `set_properties` message, checked before anything changes.
#[derive(Clone, Debug, Default, PartialEq)]
struct Properties {
    name: Option<String>,
    enabled: Option<bool>,
    scale: Option<f32>,
    color: Option<[f32; 4]>,
    position: Option<[f32; 3]>,
    /// Row-major 3x3.
    rotation: Option<[f32; 9]>,
    style: Option<Style>,
}

const CTX: &str = "set_properties";

impl Properties {
    fn read(node: &Node, env: &Envelope, applied: &mut Applied) -> Result<Self, SceneError> {
        let mut p = Properties::default();
        let mut style = node.style.clone();
        let mut styled = false;
        let mut unknown = Vec::new();
        for (key, v) in &env.kwargs {
            let key = key.as_str();
            match key {
                "node_id" | "client_id" => {}
                "name" => p.name = Some(read_name(CTX, key, v)?),
                "enabled" => p.enabled = Some(read_bool(key, v)?),
                "scale" => p.scale = Some(read_number(CTX, key, v, Range::Positive)?),
                "color" => p.color = Some(read_color(CTX, key, &to_array(key, v)?)?),
                "position" => p.position = Some(read_vec3(CTX, key, v)?),
                "rotation" => p.rotation = Some(read_floats(CTX, key, v, "a 3x3 matrix (9 finite numbers)")?),
                _ => match node.kind.settings().iter().find(|s| s.name() == key) {
                    Some(&s) => {
                        crate::handler::apply_style(CTX, &mut style, s, v)?;
                        styled = true;
                    }
                    None => unknown.push(key),
                },
            }
        }
        let kind = node.kind.name();
        applied.warn_unknown(
            CTX,
            &unknown,
            &format!("is not a property of {kind} nodes"),
            &format!("are not properties of {kind} nodes"),
        );
        if styled {
            p.style = Some(style);
        }
        Ok(p)
    }

    fn apply(self, node: &mut Node) {
        if let Some(n) = self.name {
            node.name = n;
        }
        if let Some(e) = self.enabled {
            node.enabled = e;
        }
        if let Some(s) = self.scale {
            node.scale = s;
        }
        if let Some(c) = self.color {
            node.color = c;
        }
        if let Some(p) = self.position {
            node.set_position(p);
        }
        if let Some(r) = self.rotation {
            node.set_rotation(r);
        }
        if let Some(s) = self.style {
            node.style = s;
        }
        node.version += 1;
    }
}

impl Scene {
    /// The node a `set_properties`, `select` or `delete` names: kwarg `node_id` (any
    /// node), else `uid` (the sender's, or with kwarg `client_id` another client's).
    pub(crate) fn node_target(&self, client: ClientId, env: &Envelope) -> Result<NodeId, SceneError> {
        let t = env.message_type().map_or("message", MessageType::name);
        match env.kwarg("node_id").filter(|v| !v.is_nil()) {
            Some(v) => {
                let id = v
                    .as_i64()
                    .and_then(|i| u64::try_from(i).ok())
                    .ok_or_else(|| FieldError::new(t, "node_id", "a node id", describe(v)))?;
                if self.nodes.contains_key(&id) {
                    Ok(id)
                } else {
                    Err(err("unknown_uid", format!("{t}: no node with node_id {id}")))
                }
            }
            // `client_id` + `uid`: another client's node by its own uid (what the
            // viewer's panels send, so that a replay finds the node again).
            None => match env.kwarg("client_id").filter(|v| !v.is_nil()) {
                Some(v) => self.lookup(read_client_id(t, "client_id", v)?, env),
                None => self.lookup(client, env),
            },
        }
    }

    /// Applies a `set_properties` message; on error the node is unchanged.
    pub(crate) fn set_properties(
        &mut self,
        client: ClientId,
        env: &Envelope,
        applied: &mut Applied,
    ) -> Result<(), SceneError> {
        let id = self.node_target(client, env)?;
        let props = Properties::read(&self.nodes[&id], env, applied)?;
        self.mark(id);
        let node = self.nodes.get_mut(&id).expect("looked up");
        props.apply(node);
        self.touch();
        Ok(())
    }
}

/// A `set_properties` message addressing `node` the way a replay finds it
/// again: by its owner and uid, or by its viewer id when it has no uid. This
/// is what the viewer's panels send; add the changed properties as kwargs.
pub fn set_properties_message(node: &Node) -> Envelope {
    addressed(Envelope::new(MessageType::SetProperties.as_i64()), node)
}

/// `env` naming `node` by its owner and uid, or by its viewer id when it has no uid.
fn addressed(env: Envelope, node: &Node) -> Envelope {
    match node.uid {
        Some(uid) => env.with_uid(uid).with_kwarg("client_id", node.client),
        None => env.with_kwarg("node_id", node.id),
    }
}

/// A `select` message for `node` (`None` clears the selection), addressed
/// like [`set_properties_message`]; `point` is where a click hit it.
pub fn select_message(node: Option<&Node>, point: Option<[f32; 3]>) -> Envelope {
    let env = Envelope::new(MessageType::Select.as_i64());
    let env = match node {
        None => env,
        Some(n) => addressed(env, n),
    };
    match point {
        Some(p) => env.with_kwarg("point", Value::from(p.to_vec())),
        None => env,
    }
}

/// A `delete` message for `node`, addressed like [`set_properties_message`].
pub fn delete_message(node: &Node) -> Envelope {
    addressed(Envelope::new(MessageType::Delete.as_i64()), node)
}

/// A `set_control` message for `control` as the viewer's panel sends it:
/// addressed by its owner and uid (so a replay finds it again).
pub fn set_control_message(control: &crate::Control, value: Value) -> Envelope {
    Envelope::new(MessageType::SetControl.as_i64())
        .with_uid(control.uid)
        .with_kwarg("client_id", control.client)
        .with_kwarg("value", value)
}
