//! Native plugins: loading, reloading and calling them through the C ABI of
//! `periscope-plugin-api`.
//!
//! Each load works on a private copy of the library file, so a rebuild can
//! replace the original while the old copy keeps running; libraries are never
//! unloaded (code that may still run stays mapped). The host callbacks get a
//! pointer to a context that lives on the stack of the call that passes it.

#![allow(unsafe_code)] // The plugin loader is one of the two places unsafe code is allowed.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use periscope_plugin_api::{
    ABI_VERSION, ArrayC, DTYPE_F32, DTYPE_U8, DTYPE_U32, ENTRY_SYMBOL, HostTable, MessageC, NodeInfoC, OwnedBuf,
    PlayheadC, PluginTable, Slice, Status,
};
use periscope_protocol::{DecodeLimits, Envelope, MessageType, Reply, Request, Value, decode_value, encode_value};
use periscope_scene::{ClientKind, Scene};

use crate::{Flow, Incoming, Outbox, Stage, StageError};

/// Why a plugin could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("plugin file {0} does not exist")]
    Missing(PathBuf),
    #[error("{path} is not a loadable library: {reason}")]
    NotALibrary { path: PathBuf, reason: String },
    #[error("{0} is not a Periscope plugin (it exports no `periscope_plugin` symbol)")]
    NotAPlugin(PathBuf),
    #[error(
        "{path} was built for plugin ABI version {found}, but this viewer speaks version {expected}; rebuild it against this viewer's periscope-plugin-api"
    )]
    AbiMismatch { path: PathBuf, found: u32, expected: u32 },
    #[error("plugin {name} ({path}) failed to initialize: {message}")]
    InitFailed { name: String, path: PathBuf, message: String },
    #[error("cannot copy {path} for loading: {reason}")]
    Copy { path: PathBuf, reason: String },
}

/// Plugins loaded so far: the next one's own client is
/// `ClientKind::Plugin(n)` (from `periscope_scene::PLUGIN_CLIENT_BASE` on):
/// the nodes a plugin creates belong to it.
static PLUGINS_LOADED: AtomicU64 = AtomicU64::new(0);

/// What host callbacks work on during one call.
struct HostCtx {
    scene: *mut Scene,
    replies: Vec<(u64, Reply)>,
    broadcasts: Vec<Reply>,
    /// Keeps the last node name alive for `node_info`'s borrowed slice.
    name: String,
    /// Keeps the last `apply` error alive for its borrowed slice.
    error: String,
    /// Buffers `frame_data` views point into, kept alive until the call returns.
    keep: Vec<Box<dyn std::any::Any>>,
    plugin: String,
    client: u64,
}

/// Replies a plugin queued during a call: to one client, and to all.
type Sent = (Vec<(u64, Reply)>, Vec<Reply>);

/// Runs `f` with a host table whose context is valid for the duration of `f`.
fn with_host<T>(scene: &mut Scene, plugin: &str, client: u64, f: impl FnOnce(&HostTable) -> T) -> (T, Sent) {
    let mut ctx = HostCtx {
        scene,
        replies: Vec::new(),
        broadcasts: Vec::new(),
        name: String::new(),
        error: String::new(),
        keep: Vec::new(),
        plugin: plugin.to_owned(),
        client,
    };
    let table = HostTable {
        abi_version: ABI_VERSION,
        host: (&mut ctx as *mut HostCtx).cast(),
        log: host_log,
        find_node: host_find_node,
        node_info: host_node_info,
        set_name: host_set_name,
        set_enabled: host_set_enabled,
        set_color: host_set_color,
        set_position: host_set_position,
        set_frame: host_set_frame,
        send: host_send,
        client_id: host_client_id,
        apply: host_apply,
        frame_data: host_frame_data,
        selected: host_selected,
        select: host_select,
        playhead: host_playhead,
        broadcast: host_broadcast,
    };
    let out = f(&table);
    (out, (ctx.replies, ctx.broadcasts))
}

/// # Safety
/// `host` must be the pointer `with_host` put in the table, during that call.
unsafe fn ctx<'a>(host: *mut c_void) -> (&'a mut HostCtx, &'a mut Scene) {
    // SAFETY: `with_host` passes a pointer to a live HostCtx whose `scene`
    // points to the scene borrowed mutably for the whole call; plugins are
    // called from one thread and the host never touches either meanwhile.
    unsafe {
        let c = &mut *host.cast::<HostCtx>();
        let scene = &mut *c.scene;
        (c, scene)
    }
}

/// # Safety
/// `s` must be a slice the plugin passes for this call.
unsafe fn text(s: Slice) -> String {
    // SAFETY: the ABI guarantees slices passed to host functions are valid for the call.
    String::from_utf8_lossy(unsafe { s.as_bytes() }).into_owned()
}

extern "C" fn host_log(host: *mut c_void, level: u32, t: Slice) {
    // SAFETY: called by the plugin during a call with the pointer we gave it.
    let ((c, _), t) = unsafe { (ctx(host), text(t)) };
    match level {
        0 => tracing::debug!(plugin = %c.plugin, "{t}"),
        1 => tracing::info!(plugin = %c.plugin, "{t}"),
        2 => tracing::warn!(plugin = %c.plugin, "{t}"),
        _ => tracing::error!(plugin = %c.plugin, "{t}"),
    }
}

extern "C" fn host_find_node(host: *mut c_void, client: u64, uid: i64) -> u64 {
    // SAFETY: as above.
    let (_, scene) = unsafe { ctx(host) };
    scene.node_by_remote(client, uid).map_or(0, |n| n.id)
}

extern "C" fn host_node_info(host: *mut c_void, node: u64, out: *mut NodeInfoC) -> u8 {
    // SAFETY: as above.
    let (c, scene) = unsafe { ctx(host) };
    let Some(n) = scene.node(node) else { return 0 };
    let frame = n.frame_for(scene.current_frame());
    c.name.clone_from(&n.name);
    let info = NodeInfoC {
        id: n.id,
        has_uid: n.uid.is_some() as u8,
        uid: n.uid.unwrap_or(0),
        client_id: n.client,
        kind: n.kind.message_type().as_i64(),
        n_frames: n.n_frames() as u64,
        current_frame: frame as u64,
        enabled: n.enabled as u8,
        color: n.color,
        position: n.position(frame),
        name: Slice::of(c.name.as_bytes()),
    };
    if out.is_null() {
        return 0;
    }
    // SAFETY: the plugin passes a valid, writable NodeInfoC.
    unsafe { *out = info };
    1
}

/// Applies `env` as the plugin's client through the scene's typed handler:
/// the same path a client's message takes (recorded only as the message that
/// made the plugin act: a replay runs the plugin again).
fn apply_envelope(c: &mut HostCtx, scene: &mut Scene, env: &Envelope) -> Result<Option<u64>, String> {
    let request = Request::decode(env).map_err(|e| e.to_string())?;
    // Only what changes the scene: a request the viewer answers (a query, a
    // screenshot, an export, a subscription, ...) would have nowhere to send
    // its answer, so it is refused instead of silently doing nothing.
    match request {
        Some(Request::Scene(t)) if t.traits().changes_scene => {}
        other => {
            let t = other.map_or_else(
                || format!("type {}", env.kind),
                |r| {
                    let t = r.message_type();
                    format!("{} (type {})", t.name(), t.as_i64())
                },
            );
            return Err(format!(
                "unsupported: a plugin's apply takes messages that change the scene; {t} is answered by the viewer, \
                 and a plugin has no connection to receive the answer (read the scene with find_node/frame_data instead)"
            ));
        }
    }
    let applied = scene.apply(c.client, env).map_err(|e| format!("{}: {}", e.code, e.message))?;
    for w in applied.warnings {
        tracing::debug!(plugin = %c.plugin, code = w.code, "{}", w.message);
    }
    // Events for other clients (a `set_control` of their control) go out with
    // the plugin's replies; answers to the plugin itself have nowhere to go.
    c.replies.extend(applied.replies.into_iter().filter(|(to, _)| *to != c.client));
    if env.kind == MessageType::AddControl.as_i64() {
        return Ok(env.uid.and_then(|uid| scene.controls().by_remote(c.client, uid)).map(|k| k.id));
    }
    Ok(applied.created.or_else(|| env.uid.and_then(|uid| scene.node_by_remote(c.client, uid)).map(|n| n.id)))
}

/// A `set_properties` of `node` by its viewer id, applied as the plugin.
fn set_property(host: *mut c_void, node: u64, key: &str, value: Value) -> u8 {
    // SAFETY: as above.
    let (c, scene) = unsafe { ctx(host) };
    let env = Envelope::new(MessageType::SetProperties.as_i64()).with_kwarg("node_id", node).with_kwarg(key, value);
    match apply_envelope(c, scene, &env) {
        Ok(_) => 1,
        Err(e) => {
            tracing::debug!(plugin = %c.plugin, node, "set {key}: {e}");
            0
        }
    }
}

extern "C" fn host_set_name(host: *mut c_void, node: u64, name: Slice) -> u8 {
    // SAFETY: the slice is valid for this call.
    let name = unsafe { text(name) };
    set_property(host, node, "name", Value::from(name))
}

extern "C" fn host_set_enabled(host: *mut c_void, node: u64, enabled: u8) -> u8 {
    set_property(host, node, "enabled", Value::from(enabled != 0))
}

extern "C" fn host_set_color(host: *mut c_void, node: u64, rgba: *const [f32; 4]) -> u8 {
    if rgba.is_null() {
        return 0;
    }
    // SAFETY: the plugin passes a pointer to 4 floats, valid for this call.
    let rgba = unsafe { *rgba };
    set_property(host, node, "color", Value::from(rgba.to_vec()))
}

extern "C" fn host_set_position(host: *mut c_void, node: u64, xyz: *const [f32; 3]) -> u8 {
    if xyz.is_null() {
        return 0;
    }
    // SAFETY: the plugin passes a pointer to 3 floats, valid for this call.
    let xyz = unsafe { *xyz };
    set_property(host, node, "position", Value::from(xyz.to_vec()))
}

extern "C" fn host_set_frame(host: *mut c_void, frame: i64) {
    // SAFETY: as above.
    let (c, scene) = unsafe { ctx(host) };
    let env = Envelope::new(MessageType::SetFrame.as_i64()).with_arg(Value::Int(frame));
    if let Err(e) = apply_envelope(c, scene, &env) {
        tracing::debug!(plugin = %c.plugin, "set_frame: {e}");
    }
}

extern "C" fn host_client_id(host: *mut c_void) -> u64 {
    // SAFETY: as above.
    unsafe { ctx(host) }.0.client
}

extern "C" fn host_apply(host: *mut c_void, msg: Slice, node: *mut u64, err: *mut Slice) -> u8 {
    // SAFETY: as above; the slice is valid for this call.
    let ((c, scene), bytes) = unsafe { (ctx(host), msg.as_bytes()) };
    let result = decode_value(bytes, DecodeLimits::default())
        .map_err(|e| e.to_string())
        .and_then(|v| Envelope::from_value(v).map_err(|e| e.to_string()))
        .and_then(|env| apply_envelope(c, scene, &env));
    match result {
        Ok(id) => {
            if !node.is_null() {
                // SAFETY: the plugin passes a valid, writable u64.
                unsafe { *node = id.unwrap_or(0) };
            }
            1
        }
        Err(e) => {
            tracing::debug!(plugin = %c.plugin, "apply refused: {e}");
            c.error = e;
            if !err.is_null() {
                // SAFETY: the plugin passes a valid, writable Slice; the text lives in the context until the next call.
                unsafe { *err = Slice::of(c.error.as_bytes()) };
            }
            0
        }
    }
}

extern "C" fn host_frame_data(host: *mut c_void, node: u64, attribute: Slice, frame: i64, out: *mut ArrayC) -> u8 {
    // SAFETY: as above; the slice is valid for this call.
    let ((c, scene), attribute) = unsafe { (ctx(host), text(attribute)) };
    let Some(n) = scene.node(node) else { return 0 };
    if out.is_null() {
        return 0;
    }
    let mut shape = [0u64; 4];
    let (dtype, ndim, data) = if attribute == "faces" {
        let Some(faces) = n.faces_shared() else { return 0 };
        shape[..2].copy_from_slice(&[faces.len() as u64 / 3, 3]);
        let data = Slice::of(bytemuck::cast_slice(faces.as_slice()));
        c.keep.push(Box::new(faces));
        (DTYPE_U32, 2, data)
    } else {
        let Some(seq) = n.attr(&attribute) else { return 0 };
        let f = if frame < 0 { n.frame_for(scene.current_frame()) } else { frame as usize };
        let Some((chunk, range)) = seq.frame_shared(f) else { return 0 };
        // Point-cloud colors are RGBA8 kept four bytes to a float slot: their bytes as they are.
        let packed = n.kind.attr(&attribute).is_some_and(|s| s.packed);
        let dims = if packed { vec![range.len(), 4] } else { seq.frame_shape(f) };
        if dims.len() > 4 {
            return 0;
        }
        for (s, &d) in shape.iter_mut().zip(&dims) {
            *s = d as u64;
        }
        let data = Slice::of(bytemuck::cast_slice(&chunk[range]));
        c.keep.push(Box::new(chunk));
        (if packed { DTYPE_U8 } else { DTYPE_F32 }, dims.len() as u32, data)
    };
    // SAFETY: the plugin passes a valid, writable ArrayC; `data` points into a
    // buffer kept alive in the context (`keep`) until the call returns.
    unsafe { *out = ArrayC { dtype, ndim, shape, data } };
    1
}

extern "C" fn host_selected(host: *mut c_void) -> u64 {
    // SAFETY: as above.
    unsafe { ctx(host) }.1.selected().unwrap_or(0)
}

extern "C" fn host_select(host: *mut c_void, node: u64) -> u8 {
    // SAFETY: as above.
    let (c, scene) = unsafe { ctx(host) };
    // A `select` message of the plugin's client (by viewer id; 0 clears).
    let mut env = Envelope::new(MessageType::Select.as_i64());
    if node != 0 {
        env = env.with_kwarg("node_id", node);
    }
    match apply_envelope(c, scene, &env) {
        Ok(_) => 1,
        Err(e) => {
            tracing::debug!(plugin = %c.plugin, node, "select: {e}");
            0
        }
    }
}

extern "C" fn host_playhead(host: *mut c_void, out: *mut PlayheadC) {
    // SAFETY: as above.
    let (_, scene) = unsafe { ctx(host) };
    if out.is_null() {
        return;
    }
    let p = PlayheadC {
        current_frame: scene.current_frame() as u64,
        n_frames: scene.n_frames() as u64,
        playing: scene.playing() as u8,
    };
    // SAFETY: the plugin passes a valid, writable PlayheadC.
    unsafe { *out = p };
}

/// A MessagePack map with an integer `type` as a reply (`user_message` if it has none).
fn reply_of(plugin: &str, bytes: &[u8]) -> Option<Reply> {
    let Ok(Value::Map(entries)) = decode_value(bytes, DecodeLimits::default()) else {
        tracing::warn!(plugin = %plugin, "send: the message is not a MessagePack map");
        return None;
    };
    let mut kind = MessageType::UserMessage.as_i64();
    let mut fields = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match k {
            Value::Str(k) if k == "type" => kind = v.as_i64().unwrap_or(kind),
            Value::Str(k) => fields.push((k, v)),
            _ => {}
        }
    }
    Some(Reply::Other { kind, fields })
}

extern "C" fn host_broadcast(host: *mut c_void, msg: Slice) -> u8 {
    // SAFETY: as above; the slice is valid for this call.
    let (c, bytes) = unsafe { (ctx(host).0, msg.as_bytes()) };
    match reply_of(&c.plugin, bytes) {
        Some(r) => {
            c.broadcasts.push(r);
            1
        }
        None => 0,
    }
}

extern "C" fn host_send(host: *mut c_void, client: u64, msg: Slice) -> u8 {
    // SAFETY: as above; the slice is valid for this call.
    let (c, bytes) = unsafe { (ctx(host).0, msg.as_bytes()) };
    match reply_of(&c.plugin, bytes) {
        Some(r) => {
            c.replies.push((client, r));
            1
        }
        None => 0,
    }
}

struct Loaded {
    table: &'static PluginTable,
    state: *mut c_void,
    version: String,
}

// SAFETY: a plugin's state is only used by the thread that owns the chain,
// one call at a time; the table is immutable static data of a library that is
// never unloaded.
unsafe impl Send for Loaded {}

static COPIES: AtomicU64 = AtomicU64::new(0);

fn signature(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Settings for a plugin, by its declared name (a MessagePack map).
pub type SettingsFor<'a> = &'a dyn Fn(&str) -> Vec<u8>;

/// Loads a private copy of `path`, checks its ABI and initializes it with its settings.
fn load(
    path: &Path,
    settings: SettingsFor<'_>,
    scene: &mut Scene,
    client: u64,
) -> Result<(String, Vec<u8>, Loaded), PluginError> {
    if !path.is_file() {
        return Err(PluginError::Missing(path.to_owned()));
    }
    let dir = std::env::temp_dir().join(format!("periscope-plugins-{}", std::process::id()));
    let copy_err = |e: std::io::Error| PluginError::Copy { path: path.to_owned(), reason: e.to_string() };
    std::fs::create_dir_all(&dir).map_err(copy_err)?;
    let n = COPIES.fetch_add(1, Ordering::SeqCst);
    let file = path.file_name().map_or_else(|| "plugin".into(), |f| f.to_string_lossy().into_owned());
    let copy = dir.join(format!("{n}-{file}"));
    std::fs::copy(path, &copy).map_err(copy_err)?;

    // SAFETY: loading a library runs its initializers; plugins are code the
    // user chose to run by listing them in config.toml.
    let lib = unsafe { libloading::Library::new(&copy) }
        .map_err(|e| PluginError::NotALibrary { path: path.to_owned(), reason: e.to_string() })?;
    // Never unloaded: code from it may still be referenced (see module docs).
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol's type is fixed by the ABI: `extern "C" fn() -> *const PluginTable`.
    let entry = unsafe { lib.get::<extern "C" fn() -> *const PluginTable>(ENTRY_SYMBOL) }
        .map_err(|_| PluginError::NotAPlugin(path.to_owned()))?;
    let ptr = entry();
    if ptr.is_null() {
        return Err(PluginError::NotAPlugin(path.to_owned()));
    }
    // SAFETY: every ABI version starts the table with `abi_version: u32`, so
    // reading it is valid before anything else is known about the layout.
    let found = unsafe { *(ptr as *const u32) };
    if found != ABI_VERSION {
        return Err(PluginError::AbiMismatch { path: path.to_owned(), found, expected: ABI_VERSION });
    }
    // SAFETY: same version, so the layout is ours; the table is static data of a leaked library.
    let table: &'static PluginTable = unsafe { &*ptr };
    // SAFETY: name and version point to the library's static strings.
    let (name, version) = unsafe { (text(table.name), text(table.version)) };
    let config = settings(&name);
    let mut state: *mut c_void = std::ptr::null_mut();
    let mut err = OwnedBuf::EMPTY;
    let (status, (replies, broadcasts)) = with_host(scene, &name, client, |host| {
        // SAFETY: the table passed the ABI check; host, config, state and err are valid for the call.
        unsafe { (table.init)(host, Slice::of(&config), &mut state, &mut err) }
    });
    if !replies.is_empty() || !broadcasts.is_empty() {
        tracing::warn!(plugin = %name, "replies sent from init() are dropped (no client is waiting)");
    }
    if status != Status::Continue {
        let message = take_err(table, err);
        return Err(PluginError::InitFailed { name, path: path.to_owned(), message });
    }
    Ok((name, config, Loaded { table, state, version }))
}

fn take_err(table: &PluginTable, err: OwnedBuf) -> String {
    if err.ptr.is_null() {
        return "(no message)".into();
    }
    // SAFETY: the plugin filled `err` with `len` bytes it allocated; we copy
    // them and hand the buffer back to the plugin's own free function.
    let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(err.ptr, err.len) }).into_owned();
    // SAFETY: `err` was returned by this plugin and is freed exactly once, here.
    unsafe { (table.free_buf)(err) };
    text
}

/// A native plugin as a chain stage.
pub struct PluginStage {
    name: String,
    path: PathBuf,
    config: Vec<u8>,
    loaded: Loaded,
    signature: Option<(SystemTime, u64)>,
    generation: u64,
    load_error: Option<String>,
    /// The plugin's own client id (kept across reloads, so its nodes stay its own).
    client: u64,
}

impl PluginStage {
    /// Loads the plugin at `path`; `settings` gives its config by declared name.
    pub fn load(path: &Path, settings: SettingsFor<'_>, scene: &mut Scene) -> Result<Self, PluginError> {
        let signature = signature(path);
        let n = PLUGINS_LOADED.fetch_add(1, Ordering::SeqCst);
        let client = ClientKind::Plugin(n).id().expect("fewer than 2^39 plugins are loaded");
        let (name, config, loaded) = load(path, settings, scene, client)?;
        scene.client_connected(client, &format!("plugin {name}"), "local");
        tracing::info!(plugin = %name, version = %loaded.version, client, path = %path.display(), "plugin loaded");
        let path = path.to_owned();
        Ok(Self { name, path, config, loaded, signature, generation: 1, load_error: None, client })
    }
}

impl Drop for PluginStage {
    fn drop(&mut self) {
        // SAFETY: the state came from this plugin's init and is not used after this.
        unsafe { (self.loaded.table.shutdown)(self.loaded.state) };
    }
}

impl Stage for PluginStage {
    fn name(&self) -> &str {
        &self.name
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn version(&self) -> Option<&str> {
        Some(&self.loaded.version)
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn load_error(&self) -> Option<&str> {
        self.load_error.as_deref()
    }

    /// Plugins borrow `args`/`kwargs` from the received frame (no re-encode).
    fn wants_raw_frames(&self) -> bool {
        true
    }

    fn reload(&mut self, scene: &mut Scene) -> bool {
        let sig = signature(&self.path);
        if sig.is_none() || sig == self.signature {
            return false;
        }
        self.signature = sig;
        let config = self.config.clone();
        match load(&self.path, &|_| config.clone(), scene, self.client) {
            Ok((name, _, loaded)) => {
                if name != self.name {
                    tracing::warn!(old = %self.name, new = %name, "the reloaded plugin has a new name; keeping the chain entry");
                }
                let old = std::mem::replace(&mut self.loaded, loaded);
                // SAFETY: the old state came from the old build's init and is not used after this.
                unsafe { (old.table.shutdown)(old.state) };
                self.generation += 1;
                self.load_error = None;
                tracing::info!(plugin = %self.name, version = %self.loaded.version, generation = self.generation, "plugin reloaded");
                true
            }
            Err(e) => {
                tracing::error!(plugin = %self.name, "reload failed, the previous build keeps running: {e}");
                self.load_error = Some(e.to_string());
                false
            }
        }
    }

    fn process(&mut self, msg: &Incoming<'_>, scene: &mut Scene, out: &dyn Outbox) -> Result<Flow, StageError> {
        let env = msg.envelope;
        // Borrow args/kwargs from the received frame; encode only when the
        // message did not arrive as MessagePack (aitviewer clients, scripts).
        let encoded;
        let (args, kwargs): (&[u8], &[u8]) = match &env.raw {
            Some(raw) => (raw.args(), raw.kwargs()),
            None => {
                let kw = Value::Map(env.kwargs.iter().map(|(k, v)| (Value::from(k.as_str()), v.clone())).collect());
                encoded = (encode_value(&Value::Array(env.args.clone())), encode_value(&kw));
                (&encoded.0, &encoded.1)
            }
        };
        let m = MessageC {
            kind: env.kind,
            has_uid: env.uid.is_some() as u8,
            uid: env.uid.unwrap_or(0),
            client_id: msg.client.id,
            client_name: Slice::of(msg.client.name.as_bytes()),
            client_addr: Slice::of(msg.client.addr.as_bytes()),
            args: Slice::of(args),
            kwargs: Slice::of(kwargs),
        };
        let table = self.loaded.table;
        let state = self.loaded.state;
        let mut err = OwnedBuf::EMPTY;
        let (status, (replies, broadcasts)) = with_host(scene, &self.name, self.client, |host| {
            // SAFETY: `state` came from this plugin's init; host, message and err are valid for the call.
            unsafe { (table.process_message)(state, host, &m, &mut err) }
        });
        for (client, reply) in replies {
            out.send(client, reply);
        }
        for reply in broadcasts {
            out.broadcast(&reply);
        }
        match status {
            Status::Continue => Ok(Flow::Continue),
            Status::Stop => Ok(Flow::Stop),
            Status::Error => Err(StageError::Failed { stage: self.name.clone(), message: take_err(table, err) }),
            Status::Panic => Err(StageError::Fatal { stage: self.name.clone(), message: take_err(table, err) }),
        }
    }
}

/// Plugin library files named by `[plugins] paths` (files, or directories of them).
pub fn plugin_files(base: &Path, paths: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let full = base.join(p);
        if full.is_dir() {
            let mut libs: Vec<PathBuf> = std::fs::read_dir(&full)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == std::env::consts::DLL_EXTENSION))
                .collect();
            libs.sort();
            out.extend(libs);
        } else {
            out.push(full);
        }
    }
    out
}
