//! The engine scripts run in and the API registered on it.
//!
//! Registered functions reach the scene through [`Shared`]: during a call the
//! chain moves the scene into the context (a cheap struct move) and takes it
//! back afterwards, so no function can outlive or alias the borrow.

use std::sync::{Arc, Mutex, MutexGuard};

use periscope_protocol::{Envelope, MessageType, NdArray, Reply, Value};
use periscope_scene::{Node, NodeId, Scene, VIEWER_CLIENT};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Map};

use super::convert::{ArrayView, to_value};
use crate::config::ScriptsConfig;

pub(crate) type Res<T> = Result<T, Box<EvalAltResult>>;

/// Where a script's reply goes.
#[derive(Debug)]
pub enum Target {
    Client(u64),
    All,
}

/// What registered functions work on during one call.
#[derive(Default)]
pub struct Ctx {
    pub scene: Scene,
    pub replies: Vec<(Target, Reply)>,
    /// The running script's file name, for logs.
    pub script: String,
    pub max_array_size: usize,
}

pub type Shared = Arc<Mutex<Ctx>>;

pub(crate) fn lock(c: &Shared) -> MutexGuard<'_, Ctx> {
    // A panic while the lock is held cannot leave Ctx half-updated in a way
    // later calls depend on; recover the guard.
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// A node as scripts hold it: the viewer's node id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHandle(pub NodeId);

fn gone(id: NodeId) -> Box<EvalAltResult> {
    format!("node {id} no longer exists").into()
}

fn read<T>(c: &Shared, n: &NodeHandle, f: impl FnOnce(&Node, &Scene) -> T) -> Res<T> {
    let g = lock(c);
    let node = g.scene.node(n.0).ok_or_else(|| gone(n.0))?;
    Ok(f(node, &g.scene))
}

/// Sets one property of `n` with a `set_properties` message applied by the
/// scene's handler as client 0 (the viewer's own), the path panel edits take.
fn set_prop(c: &Shared, n: &NodeHandle, key: &str, value: Value) -> Res<()> {
    let mut g = lock(c);
    if g.scene.node(n.0).is_none() {
        return Err(gone(n.0));
    }
    let env = Envelope::new(MessageType::SetProperties.as_i64()).with_kwarg("node_id", n.0).with_kwarg(key, value);
    g.scene.apply(VIEWER_CLIENT, &env).map(drop).map_err(|e| e.message.into())
}

/// Applies `env` as the script's client through the scene's typed handler
/// (the path a client's message takes): the playhead, playback, selection
/// and deletions are messages, whoever makes them.
fn apply_message(c: &Shared, env: &Envelope) -> Res<()> {
    let mut g = lock(c);
    let applied = g.scene.apply(VIEWER_CLIENT, env).map_err(|e| e.message)?;
    for w in applied.warnings {
        tracing::warn!(script = %g.script, "{}", w.message);
    }
    Ok(())
}

fn set_frame_message(frame: INT) -> Envelope {
    Envelope::new(MessageType::SetFrame.as_i64()).with_arg(Value::Int(frame))
}

fn number(d: &Dynamic) -> Option<f64> {
    d.as_float().ok().or_else(|| d.as_int().ok().map(|i| i as FLOAT))
}

fn array_of(values: &[f32]) -> Array {
    values.iter().map(|&x| Dynamic::from_float(x as FLOAT)).collect()
}

fn client_id(client: &Dynamic) -> Res<u64> {
    if let Ok(i) = client.as_int() {
        return Ok(i as u64);
    }
    if let Some(m) = client.read_lock::<Map>()
        && let Some(id) = m.get("id").and_then(|v| v.as_int().ok())
    {
        return Ok(id as u64);
    }
    Err("client must be a client map (with \"id\") or a client id".into())
}

fn reply_of(msg: &Map) -> Res<Reply> {
    let kind = match msg.get("type") {
        Some(t) => t.as_int().map_err(|_| "message \"type\" must be an integer")?,
        None => MessageType::UserMessage.as_i64(),
    };
    let mut fields = Vec::with_capacity(msg.len());
    for (k, v) in msg.iter().filter(|(k, _)| k.as_str() != "type") {
        fields.push((k.to_string(), to_value(v)?));
    }
    Ok(Reply::Other { kind, fields })
}

fn create(c: &Shared, kind: MessageType, args: Vec<&Dynamic>, opts: &Map) -> Res<NodeHandle> {
    let mut env = Envelope::new(kind.as_i64());
    for a in args {
        env.args.push(to_value(a)?);
    }
    for (k, v) in opts {
        env.kwargs.push((k.to_string(), to_value(v)?));
    }
    let mut g = lock(c);
    let applied = g.scene.apply(VIEWER_CLIENT, &env).map_err(|e| format!("{}: {}", kind.name(), e.message))?;
    for w in applied.warnings {
        tracing::warn!(script = %g.script, "{}", w.message);
    }
    Ok(NodeHandle(applied.created.expect("creation messages create a node")))
}

/// Builds an engine configured for untrusted code with the Periscope API.
pub fn build_engine(cfg: &ScriptsConfig, ctx: &Shared) -> Engine {
    let mut e = Engine::new();
    e.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    e.set_max_operations(cfg.max_operations);
    e.set_max_call_levels(cfg.max_call_levels);
    e.set_max_expr_depths(cfg.max_expr_depth, cfg.max_expr_depth);
    e.set_max_string_size(cfg.max_string_size);
    e.set_max_array_size(cfg.max_array_size);
    e.set_max_map_size(cfg.max_map_size);
    e.set_max_modules(0);
    e.disable_symbol("eval");

    let c = Arc::clone(ctx);
    e.on_print(move |s| tracing::info!(script = %lock(&c).script, "{s}"));
    let c = Arc::clone(ctx);
    e.on_debug(move |s, _, pos| tracing::debug!(script = %lock(&c).script, %pos, "{s}"));

    register_arrays(&mut e, cfg.max_array_size);
    register_nodes(&mut e, ctx);
    register_viewer(&mut e, ctx);
    register_io(&mut e, ctx);
    super::controls::register_controls(&mut e, ctx);
    super::controls::register_types(&mut e);
    e
}

fn register_arrays(e: &mut Engine, max: usize) {
    e.register_type_with_name::<ArrayView>("ndarray")
        .register_get("dtype", ArrayView::dtype)
        .register_get("shape", ArrayView::shape)
        .register_get("len", ArrayView::len)
        .register_get("nbytes", ArrayView::nbytes)
        .register_fn("len", ArrayView::len)
        .register_fn("is_empty", ArrayView::is_empty)
        .register_fn("get", ArrayView::get)
        .register_fn("at", ArrayView::at)
        .register_indexer_get(ArrayView::get)
        .register_fn("to_array", move |a: &mut ArrayView| a.to_array_limited(max))
        .register_fn("to_string", |a: &mut ArrayView| format!("ndarray({}, shape {:?})", a.0.dtype(), a.0.shape()))
        .register_fn("to_debug", |a: &mut ArrayView| format!("ndarray({}, shape {:?})", a.0.dtype(), a.0.shape()));
}

fn register_nodes(e: &mut Engine, ctx: &Shared) {
    e.register_type_with_name::<NodeHandle>("Node");
    let c = Arc::clone(ctx);
    e.register_fn("to_string", move |n: &mut NodeHandle| {
        read(&c, n, |node, _| format!("Node({} \"{}\")", node.id, node.name))
            .unwrap_or_else(|_| format!("Node({} deleted)", n.0))
    });
    let c = Arc::clone(ctx);
    e.register_fn("to_debug", move |n: &mut NodeHandle| {
        read(&c, n, |node, _| format!("Node({} \"{}\")", node.id, node.name))
            .unwrap_or_else(|_| format!("Node({} deleted)", n.0))
    });
    e.register_get("id", |n: &mut NodeHandle| n.0 as INT);
    e.register_fn("==", |a: NodeHandle, b: NodeHandle| a == b);
    e.register_fn("!=", |a: NodeHandle, b: NodeHandle| a != b);

    macro_rules! getter {
        ($name:literal, $f:expr) => {{
            let c = Arc::clone(ctx);
            e.register_get($name, move |n: &mut NodeHandle| read(&c, n, $f));
        }};
    }
    getter!("uid", |node, _| node.uid.map_or(Dynamic::UNIT, Dynamic::from_int));
    getter!("kind", |node, _| ImmutableString::from(node.kind.name()));
    getter!("n_frames", |node, _| node.n_frames() as INT);
    getter!("client_id", |node, _| node.client as INT);
    getter!("client_name", |node, scene| {
        ImmutableString::from(scene.client(node.client).map_or("", |c| c.name.as_str()))
    });
    getter!("name", |node, _| ImmutableString::from(node.name.as_str()));
    getter!("enabled", |node, _| node.enabled);
    getter!("color", |node, _| array_of(&node.color));
    getter!("scale", |node, _| node.scale as FLOAT);
    getter!("position", |node, scene| array_of(&node.position(node.frame_for(scene.current_frame()))));
    getter!("rotation", |node, scene| array_of(&node.rotation(node.frame_for(scene.current_frame()))));
    getter!("current_frame", |node, scene| node.frame_for(scene.current_frame()) as INT);

    // Setters are `set_properties` messages through the scene's typed
    // handler (client 0, the viewer's own), like the panels' edits.
    let c = Arc::clone(ctx);
    e.register_set("name", move |n: &mut NodeHandle, v: ImmutableString| set_prop(&c, n, "name", v.as_str().into()));
    let c = Arc::clone(ctx);
    e.register_set("enabled", move |n: &mut NodeHandle, v: bool| set_prop(&c, n, "enabled", v.into()));
    // The value goes as it is: `set_properties`' reader checks it (the
    // error names the field like any client's).
    for key in ["color", "scale", "position", "rotation"] {
        let c = Arc::clone(ctx);
        e.register_set(key, move |n: &mut NodeHandle, v: Dynamic| set_prop(&c, n, key, to_value(&v)?));
    }
    let c = Arc::clone(ctx);
    e.register_set("current_frame", move |_: &mut NodeHandle, f: INT| apply_message(&c, &set_frame_message(f)));
    // One frame of a per-frame attribute as an ndarray view: shared, not
    // copied, when the frame is a whole received array (the frame alone is
    // copied when it is one of many frames sent in one message).
    let frame_data = |c: &Shared, n: &NodeHandle, attr: &str, frame: Option<INT>| -> Res<ArrayView> {
        read(c, n, |node, scene| -> Result<ArrayView, String> {
            let seq = node.attr(attr).ok_or_else(|| {
                let names: Vec<&str> = node.attr_names().collect();
                format!("node has no attribute {attr:?} (it has: {})", names.join(", "))
            })?;
            let f = match frame {
                None => node.frame_for(scene.current_frame()),
                Some(f) if f >= 0 && (f as usize) < seq.len() => f as usize,
                Some(f) => return Err(format!("frame {f} is out of range (the node has {} frames)", seq.len())),
            };
            let (chunk, range) = seq.frame_shared(f).ok_or("the attribute has no frames")?;
            if node.kind.attr(attr).is_some_and(|s| s.packed) {
                // Point-cloud colors: uint8 (N, 4).
                return Ok(ArrayView(periscope_scene::unpack(&chunk[range])));
            }
            let shape = seq.frame_shape(f);
            let data =
                if range.start == 0 && range.end == chunk.len() { chunk } else { Arc::new(chunk[range].to_vec()) };
            Ok(ArrayView(NdArray::from_f32(shape, data)))
        })?
        .map_err(Into::into)
    };
    let c = Arc::clone(ctx);
    e.register_fn("frame_data", move |n: &mut NodeHandle, attr: &str| frame_data(&c, n, attr, None));
    let c = Arc::clone(ctx);
    e.register_fn("frame_data", move |n: &mut NodeHandle, attr: &str, f: INT| frame_data(&c, n, attr, Some(f)));
    let c = Arc::clone(ctx);
    e.register_fn("exists", move |n: &mut NodeHandle| lock(&c).scene.node(n.0).is_some());
    let c = Arc::clone(ctx);
    e.register_fn("delete", move |n: &mut NodeHandle| -> Res<()> {
        let env = read(&c, n, |node, _| periscope_scene::delete_message(node))?;
        apply_message(&c, &env)
    });

    for name in ["get_node_from_remote_uid", "node"] {
        let c = Arc::clone(ctx);
        e.register_fn(name, move |uid: INT, client: Dynamic| -> Res<Dynamic> {
            let id = client_id(&client)?;
            Ok(lock(&c).scene.node_by_remote(id, uid).map_or(Dynamic::UNIT, |n| Dynamic::from(NodeHandle(n.id))))
        });
    }
    let c = Arc::clone(ctx);
    e.register_fn("nodes", move || -> Array {
        lock(&c).scene.nodes().map(|n| Dynamic::from(NodeHandle(n.id))).collect()
    });
    let c = Arc::clone(ctx);
    e.register_fn("nodes_of", move |client: Dynamic| -> Res<Array> {
        let id = client_id(&client)?;
        Ok(lock(&c).scene.nodes().filter(|n| n.client == id).map(|n| Dynamic::from(NodeHandle(n.id))).collect())
    });
}

fn register_viewer(e: &mut Engine, ctx: &Shared) {
    let c = Arc::clone(ctx);
    e.register_fn("select", move |n: NodeHandle| -> Res<()> {
        let env = read(&c, &n, |node, _| periscope_scene::select_message(Some(node), None))?;
        apply_message(&c, &env)
    });
    let c = Arc::clone(ctx);
    e.register_fn("deselect", move || apply_message(&c, &periscope_scene::select_message(None, None)));
    let c = Arc::clone(ctx);
    e.register_fn("selected", move || {
        lock(&c).scene.selected().map_or(Dynamic::UNIT, |id| Dynamic::from(NodeHandle(id)))
    });
    let c = Arc::clone(ctx);
    e.register_fn("center", move |n: NodeHandle| -> Res<()> {
        let mut g = lock(&c);
        g.scene.node(n.0).ok_or_else(|| gone(n.0))?;
        g.scene.request_focus(n.0);
        Ok(())
    });
    let c = Arc::clone(ctx);
    e.register_fn("set_frame", move |f: INT| apply_message(&c, &set_frame_message(f)));
    let c = Arc::clone(ctx);
    e.register_fn("next_frame", move || apply_message(&c, &Envelope::new(MessageType::NextFrame.as_i64())));
    let c = Arc::clone(ctx);
    e.register_fn("previous_frame", move || apply_message(&c, &Envelope::new(MessageType::PreviousFrame.as_i64())));
    let c = Arc::clone(ctx);
    e.register_fn("current_frame", move || lock(&c).scene.current_frame() as INT);
    let c = Arc::clone(ctx);
    e.register_fn("n_frames", move || lock(&c).scene.n_frames() as INT);
    let c = Arc::clone(ctx);
    e.register_fn("play", move || apply_message(&c, &periscope_scene::playback_message(Some(true), None)));
    let c = Arc::clone(ctx);
    e.register_fn("pause", move || apply_message(&c, &periscope_scene::playback_message(Some(false), None)));
    let c = Arc::clone(ctx);
    e.register_fn("is_playing", move || lock(&c).scene.playing());
    let c = Arc::clone(ctx);
    e.register_fn("fps", move || lock(&c).scene.fps() as FLOAT);
    let c = Arc::clone(ctx);
    e.register_fn("set_fps", move |fps: Dynamic| -> Res<()> {
        let f = number(&fps).ok_or("set_fps: fps must be a number")?;
        apply_message(&c, &periscope_scene::playback_message(None, Some(f)))
    });

    let empty = Map::new();
    let (c, m) = (Arc::clone(ctx), empty.clone());
    e.register_fn("add_spheres", move |p: Dynamic| create(&c, MessageType::Spheres, vec![&p], &m));
    let c = Arc::clone(ctx);
    e.register_fn("add_spheres", move |p: Dynamic, o: Map| create(&c, MessageType::Spheres, vec![&p], &o));
    let (c, m) = (Arc::clone(ctx), empty.clone());
    e.register_fn("add_lines", move |p: Dynamic| create(&c, MessageType::Lines, vec![&p], &m));
    let c = Arc::clone(ctx);
    e.register_fn("add_lines", move |p: Dynamic, o: Map| create(&c, MessageType::Lines, vec![&p], &o));
    let (c, m) = (Arc::clone(ctx), empty);
    e.register_fn("add_mesh", move |v: Dynamic, f: Dynamic| create(&c, MessageType::Meshes, vec![&v, &f], &m));
    let c = Arc::clone(ctx);
    e.register_fn("add_mesh", move |v: Dynamic, f: Dynamic, o: Map| create(&c, MessageType::Meshes, vec![&v, &f], &o));
}

fn register_io(e: &mut Engine, ctx: &Shared) {
    let c = Arc::clone(ctx);
    e.register_fn("send", move |client: Dynamic, msg: Map| -> Res<()> {
        let id = client_id(&client)?;
        let reply = reply_of(&msg)?;
        lock(&c).replies.push((Target::Client(id), reply));
        Ok(())
    });
    let c = Arc::clone(ctx);
    e.register_fn("broadcast", move |msg: Map| -> Res<()> {
        let reply = reply_of(&msg)?;
        lock(&c).replies.push((Target::All, reply));
        Ok(())
    });
    let c = Arc::clone(ctx);
    e.register_fn("log_info", move |s: &str| tracing::info!(script = %lock(&c).script, "{s}"));
    let c = Arc::clone(ctx);
    e.register_fn("log_warn", move |s: &str| tracing::warn!(script = %lock(&c).script, "{s}"));
}
