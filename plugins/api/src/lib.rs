//! The Periscope plugin ABI.
//!
//! A plugin is a `cdylib` exporting one symbol, [`ENTRY_SYMBOL`]
//! (`periscope_plugin`), that returns a pointer to a static [`PluginTable`]
//! whose first field is [`ABI_VERSION`]. The viewer checks that field before
//! anything else and refuses a mismatch.
//!
//! Only C types cross the boundary: integers, `{ptr, len}` byte slices and
//! opaque pointers. Each side frees what it allocated: error texts a plugin
//! returns are released through its own [`PluginTable::free_buf`].
//!
//! Writing a plugin needs no unsafe code: implement [`Plugin`] and call
//! [`declare_plugin!`]. Arguments arrive as MessagePack (borrowed from the
//! viewer, no copy); [`rmp`] is re-exported to read and write it, and
//! [`MessageWriter`] builds the messages a plugin applies or sends.
//!
//! Version 2 lets a plugin change the scene the way a client does
//! ([`Host::apply`]: create nodes of every kind, add/update/remove frames,
//! set properties, delete), read one frame of a node's data without a copy
//! ([`Host::frame_data`]), and read or set the selection and the playhead.

#![allow(unsafe_code)] // This crate *is* the ABI; every unsafe block says why it is sound.

mod writer;

pub use writer::{MessageWriter, types};

use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use rmp;

/// The ABI version this crate describes. Bumped on any incompatible change.
pub const ABI_VERSION: u32 = 2;

/// The exported symbol's name (NUL-terminated for `dlsym`).
pub const ENTRY_SYMBOL: &[u8] = b"periscope_plugin\0";

/// A borrowed byte slice. Valid only for the duration of the call it is passed to.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Slice {
    pub ptr: *const u8,
    pub len: usize,
}

impl Slice {
    pub const EMPTY: Slice = Slice { ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(), len: 0 };

    /// Borrows `bytes` for a call.
    pub fn of(bytes: &[u8]) -> Slice {
        Slice { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive `'a` (the ABI
    /// guarantees this for slices passed into a call, for that call).
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller promises ptr/len describe live memory for 'a.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A byte buffer allocated by the plugin (an error text); the host returns it
/// to [`PluginTable::free_buf`].
#[repr(C)]
#[derive(Debug)]
pub struct OwnedBuf {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl OwnedBuf {
    pub const EMPTY: OwnedBuf = OwnedBuf { ptr: std::ptr::null_mut(), len: 0, cap: 0 };

    fn from_string(s: String) -> OwnedBuf {
        let mut s = std::mem::ManuallyDrop::new(s.into_bytes());
        OwnedBuf { ptr: s.as_mut_ptr(), len: s.len(), cap: s.capacity() }
    }
}

/// What a call returned.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Pass the message on to the next stage.
    Continue = 0,
    /// Handled: stop the chain here.
    Stop = 1,
    /// Failed; the error text is in the `err` out-parameter.
    Error = 2,
    /// The plugin panicked (caught at the boundary); the text is in `err`.
    Panic = 3,
}

/// One incoming message. All slices are borrowed for the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MessageC {
    pub kind: i64,
    /// 1 if `uid` is set.
    pub has_uid: u8,
    pub uid: i64,
    pub client_id: u64,
    pub client_name: Slice,
    /// `ip:port`.
    pub client_addr: Slice,
    /// MessagePack array of the positional arguments.
    pub args: Slice,
    /// MessagePack map of the keyword arguments.
    pub kwargs: Slice,
}

/// A node as the host reports it. `name` is borrowed until the next host call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NodeInfoC {
    pub id: u64,
    pub has_uid: u8,
    pub uid: i64,
    pub client_id: u64,
    /// Message type of the kind (2 = meshes, 3 = spheres, ...).
    pub kind: i64,
    pub n_frames: u64,
    /// The frame the node shows at the scene's current frame.
    pub current_frame: u64,
    pub enabled: u8,
    pub color: [f32; 4],
    pub position: [f32; 3],
    pub name: Slice,
}

/// Element types of [`ArrayC`].
pub const DTYPE_F32: u32 = 0;
pub const DTYPE_U32: u32 = 1;
/// Point-cloud colors: RGBA8, shape (N, 4). (A plugin built before this dtype
/// existed gets `None` for them.)
pub const DTYPE_U8: u32 = 2;

/// One frame of a node's data, borrowed from the viewer (no copy) until the
/// call the host table was passed to returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ArrayC {
    /// [`DTYPE_F32`], [`DTYPE_U32`] or [`DTYPE_U8`].
    pub dtype: u32,
    /// Dimensions used in `shape` (at most 4).
    pub ndim: u32,
    pub shape: [u64; 4],
    /// The elements, little-endian, C order.
    pub data: Slice,
}

/// The scene's playhead.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayheadC {
    pub current_frame: u64,
    pub n_frames: u64,
    pub playing: u8,
}

/// Functions the viewer offers a plugin. `host` is opaque and valid only
/// during the call (`init` or `process_message`) it was passed to.
#[repr(C)]
pub struct HostTable {
    pub abi_version: u32,
    pub host: *mut c_void,
    /// level: 0 debug, 1 info, 2 warn, 3 error.
    pub log: extern "C" fn(host: *mut c_void, level: u32, text: Slice),
    /// The viewer's id of the node `client_id` calls `uid`, or 0.
    pub find_node: extern "C" fn(host: *mut c_void, client_id: u64, uid: i64) -> u64,
    /// Fills `out`; returns 0 if the node does not exist.
    pub node_info: extern "C" fn(host: *mut c_void, node: u64, out: *mut NodeInfoC) -> u8,
    pub set_name: extern "C" fn(host: *mut c_void, node: u64, name: Slice) -> u8,
    pub set_enabled: extern "C" fn(host: *mut c_void, node: u64, enabled: u8) -> u8,
    pub set_color: extern "C" fn(host: *mut c_void, node: u64, rgba: *const [f32; 4]) -> u8,
    pub set_position: extern "C" fn(host: *mut c_void, node: u64, xyz: *const [f32; 3]) -> u8,
    pub set_frame: extern "C" fn(host: *mut c_void, frame: i64),
    /// Sends a MessagePack map (with an integer `type`) to one client; 0 if it could not be queued.
    pub send: extern "C" fn(host: *mut c_void, client_id: u64, msg: Slice) -> u8,
    // ---- version 2
    /// The plugin's own client id: the owner of the nodes it creates.
    pub client_id: extern "C" fn(host: *mut c_void) -> u64,
    /// Applies a message, a MessagePack map `{type, uid, args, kwargs}` exactly
    /// as a client sends it, to the scene as the plugin's own client (the
    /// scene's typed handler checks it). 1 on success, with the node it made or
    /// addressed (0 if none) in `node`; 0 on failure, with the reason in `err`
    /// (borrowed until the next host call).
    pub apply: extern "C" fn(host: *mut c_void, msg: Slice, node: *mut u64, err: *mut Slice) -> u8,
    /// One frame of a node's per-frame `attribute` (`vertices`, `positions`, ...;
    /// `faces` for a mesh's triangles), borrowed until the call returns.
    /// `frame < 0`: the frame the node shows now. 0 if there is no such data.
    pub frame_data: extern "C" fn(host: *mut c_void, node: u64, attribute: Slice, frame: i64, out: *mut ArrayC) -> u8,
    /// The selected node, or 0.
    pub selected: extern "C" fn(host: *mut c_void) -> u64,
    /// Selects `node` (0 clears the selection); 0 if there is no such node.
    pub select: extern "C" fn(host: *mut c_void, node: u64) -> u8,
    pub playhead: extern "C" fn(host: *mut c_void, out: *mut PlayheadC),
    /// Queues a MessagePack map for every connected client (sent when the call
    /// returns); 0 if it is not a map.
    pub broadcast: extern "C" fn(host: *mut c_void, msg: Slice) -> u8,
}

/// What a plugin exports. The first field must stay first in every version.
#[repr(C)]
pub struct PluginTable {
    pub abi_version: u32,
    pub name: Slice,
    pub version: Slice,
    /// Creates the plugin's state from its `config.toml` table (MessagePack map).
    ///
    /// # Safety
    /// `host`, `config`, `state` and `err` must be valid for the call.
    pub init: unsafe extern "C" fn(
        host: *const HostTable,
        config: Slice,
        state: *mut *mut c_void,
        err: *mut OwnedBuf,
    ) -> Status,
    /// # Safety
    /// `state` must come from this plugin's `init`; the other pointers must be valid for the call.
    pub process_message: unsafe extern "C" fn(
        state: *mut c_void,
        host: *const HostTable,
        msg: *const MessageC,
        err: *mut OwnedBuf,
    ) -> Status,
    /// # Safety
    /// `state` must come from this plugin's `init` and is not used afterwards.
    pub shutdown: unsafe extern "C" fn(state: *mut c_void),
    /// Frees a buffer this plugin returned.
    ///
    /// # Safety
    /// `buf` must be a buffer this plugin returned, freed once.
    pub free_buf: unsafe extern "C" fn(buf: OwnedBuf),
}

// SAFETY: the table holds only function pointers and pointers to 'static
// data (name and version strings); it is never mutated.
unsafe impl Sync for PluginTable {}

// ---------------------------------------------------------------- safe side

/// A flow decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The client a message came from.
#[derive(Clone, Copy, Debug)]
pub struct Client<'a> {
    pub id: u64,
    pub name: &'a str,
    pub addr: &'a str,
}

/// A message as a plugin sees it.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub kind: i64,
    pub uid: Option<i64>,
    pub client: Client<'a>,
    /// MessagePack array (borrowed from the viewer).
    pub args: &'a [u8],
    /// MessagePack map (borrowed from the viewer).
    pub kwargs: &'a [u8],
}

/// A node as reported by the host.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    pub id: u64,
    pub uid: Option<i64>,
    pub client_id: u64,
    pub kind: i64,
    pub n_frames: u64,
    pub current_frame: u64,
    pub enabled: bool,
    pub color: [f32; 4],
    pub position: [f32; 3],
    pub name: String,
}

/// Element type of an [`ArrayView`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
    /// Point-cloud colors (RGBA8).
    U8,
}

/// One frame of a node's data, borrowed from the viewer for the current call.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayView<'a> {
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Little-endian elements in C order.
    pub bytes: &'a [u8],
}

impl<'a> ArrayView<'a> {
    /// The elements as `f32` (no copy), if that is the dtype.
    pub fn as_f32(&self) -> Option<&'a [f32]> {
        if self.dtype != DType::F32 {
            return None;
        }
        // SAFETY: every bit pattern is a valid f32, and `align_to` only hands
        // out the correctly aligned middle part; the host's buffers are
        // `Vec<f32>`, so prefix and suffix are empty (checked).
        let (pre, mid, post) = unsafe { self.bytes.align_to::<f32>() };
        (pre.is_empty() && post.is_empty()).then_some(mid)
    }

    /// The elements as bytes, if that is the dtype (point-cloud colors: RGBA per point).
    pub fn as_u8(&self) -> Option<&'a [u8]> {
        (self.dtype == DType::U8).then_some(self.bytes)
    }

    /// The elements as `u32` (no copy), if that is the dtype.
    pub fn as_u32(&self) -> Option<&'a [u32]> {
        if self.dtype != DType::U32 {
            return None;
        }
        // SAFETY: as in `as_f32`: any bit pattern is a valid u32.
        let (pre, mid, post) = unsafe { self.bytes.align_to::<u32>() };
        (pre.is_empty() && post.is_empty()).then_some(mid)
    }
}

/// The scene's playhead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Playhead {
    pub current_frame: u64,
    pub n_frames: u64,
    pub playing: bool,
}

/// The viewer, during one call.
pub struct Host<'a> {
    table: &'a HostTable,
    _call: PhantomData<&'a mut ()>,
}

impl<'a> Host<'a> {
    fn log(&self, level: u32, text: &str) {
        (self.table.log)(self.table.host, level, Slice::of(text.as_bytes()));
    }
    pub fn debug(&self, text: &str) {
        self.log(0, text);
    }
    pub fn info(&self, text: &str) {
        self.log(1, text);
    }
    pub fn warn(&self, text: &str) {
        self.log(2, text);
    }
    pub fn error(&self, text: &str) {
        self.log(3, text);
    }

    /// The viewer's id for the node `client_id` calls `uid`.
    pub fn find_node(&self, client_id: u64, uid: i64) -> Option<u64> {
        match (self.table.find_node)(self.table.host, client_id, uid) {
            0 => None,
            id => Some(id),
        }
    }

    /// A node's current properties.
    pub fn node_info(&self, node: u64) -> Option<NodeInfo> {
        let mut out = NodeInfoC {
            id: 0,
            has_uid: 0,
            uid: 0,
            client_id: 0,
            kind: 0,
            n_frames: 0,
            current_frame: 0,
            enabled: 0,
            color: [0.0; 4],
            position: [0.0; 3],
            name: Slice::EMPTY,
        };
        if (self.table.node_info)(self.table.host, node, &mut out) == 0 {
            return None;
        }
        // SAFETY: the host keeps `name` alive until its next call; we copy it now.
        let name = String::from_utf8_lossy(unsafe { out.name.as_bytes() }).into_owned();
        Some(NodeInfo {
            id: out.id,
            uid: (out.has_uid != 0).then_some(out.uid),
            client_id: out.client_id,
            kind: out.kind,
            n_frames: out.n_frames,
            current_frame: out.current_frame,
            enabled: out.enabled != 0,
            color: out.color,
            position: out.position,
            name,
        })
    }

    pub fn set_name(&mut self, node: u64, name: &str) -> bool {
        (self.table.set_name)(self.table.host, node, Slice::of(name.as_bytes())) != 0
    }
    pub fn set_enabled(&mut self, node: u64, enabled: bool) -> bool {
        (self.table.set_enabled)(self.table.host, node, enabled as u8) != 0
    }
    pub fn set_color(&mut self, node: u64, rgba: [f32; 4]) -> bool {
        (self.table.set_color)(self.table.host, node, &rgba) != 0
    }
    pub fn set_position(&mut self, node: u64, xyz: [f32; 3]) -> bool {
        (self.table.set_position)(self.table.host, node, &xyz) != 0
    }
    /// Moves the scene's playhead.
    pub fn set_frame(&mut self, frame: i64) {
        (self.table.set_frame)(self.table.host, frame)
    }
    /// Sends a MessagePack map with an integer `type` to one client.
    pub fn send(&mut self, client_id: u64, msgpack_map: &[u8]) -> bool {
        (self.table.send)(self.table.host, client_id, Slice::of(msgpack_map)) != 0
    }

    /// Sends a MessagePack map with an integer `type` to every connected client
    /// (when this call returns); false if it is not a map.
    pub fn broadcast(&mut self, msgpack_map: &[u8]) -> bool {
        (self.table.broadcast)(self.table.host, Slice::of(msgpack_map)) != 0
    }

    /// This plugin's own client id: the owner of the nodes it creates, so
    /// `find_node(host.client_id(), uid)` finds them.
    pub fn client_id(&self) -> u64 {
        (self.table.client_id)(self.table.host)
    }

    /// Applies a message as the plugin's own client, exactly as a client
    /// sending it would (build it with [`MessageWriter`]): creates a node of
    /// any kind, adds, updates or removes frames, sets properties, deletes.
    /// Returns the node it made or addressed. A request the viewer answers
    /// (query, screenshot, export, subscribe, user messages) is an error
    /// (`unsupported: ...`): a plugin has no connection to receive answers.
    pub fn apply(&mut self, msgpack_message: &[u8]) -> Result<Option<u64>, String> {
        let mut node = 0u64;
        let mut err = Slice::EMPTY;
        if (self.table.apply)(self.table.host, Slice::of(msgpack_message), &mut node, &mut err) != 0 {
            return Ok((node != 0).then_some(node));
        }
        // SAFETY: the host keeps the error text alive until its next call; we copy it now.
        Err(String::from_utf8_lossy(unsafe { err.as_bytes() }).into_owned())
    }

    /// One frame of a node's per-frame `attribute` (or a mesh's `faces`),
    /// borrowed without a copy for the rest of this call. `frame: None` is the
    /// frame the node shows now.
    pub fn frame_data(&self, node: u64, attribute: &str, frame: Option<u64>) -> Option<ArrayView<'a>> {
        let mut out = ArrayC { dtype: 0, ndim: 0, shape: [0; 4], data: Slice::EMPTY };
        let frame = frame.map_or(-1, |f| i64::try_from(f).unwrap_or(i64::MAX));
        if (self.table.frame_data)(self.table.host, node, Slice::of(attribute.as_bytes()), frame, &mut out) == 0 {
            return None;
        }
        let dtype = match out.dtype {
            DTYPE_F32 => DType::F32,
            DTYPE_U32 => DType::U32,
            DTYPE_U8 => DType::U8,
            _ => return None,
        };
        let shape = out.shape[..(out.ndim as usize).min(4)].iter().map(|&d| d as usize).collect();
        // SAFETY: the host keeps the data alive until the call this host was
        // passed to returns, which outlives 'a.
        Some(ArrayView { dtype, shape, bytes: unsafe { out.data.as_bytes() } })
    }

    /// The selected node.
    pub fn selected(&self) -> Option<u64> {
        match (self.table.selected)(self.table.host) {
            0 => None,
            id => Some(id),
        }
    }

    /// Selects `node` (or clears the selection); false if there is no such node.
    pub fn select(&mut self, node: Option<u64>) -> bool {
        (self.table.select)(self.table.host, node.unwrap_or(0)) != 0
    }

    /// The scene's current frame, frame count and whether it is playing.
    pub fn playhead(&self) -> Playhead {
        let mut p = PlayheadC::default();
        (self.table.playhead)(self.table.host, &mut p);
        Playhead { current_frame: p.current_frame, n_frames: p.n_frames, playing: p.playing != 0 }
    }
}

/// Implement this and call [`declare_plugin!`].
pub trait Plugin: Sized + 'static {
    const NAME: &'static str;
    const VERSION: &'static str;
    /// Builds the plugin from its config table (a MessagePack map, `{}` if none).
    fn init(host: &mut Host<'_>, config: &[u8]) -> Result<Self, String>;
    /// Handles one message. `Ok(Flow::Continue)` passes it on.
    fn process_message(&mut self, host: &mut Host<'_>, msg: &Message<'_>) -> Result<Flow, String>;
    /// Called before the plugin is dropped (reload or exit).
    fn shutdown(&mut self) {}
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
    format!("panicked: {}", what.unwrap_or_else(|| "(no message)".into()))
}

fn set_err(err: *mut OwnedBuf, text: String) {
    if !err.is_null() {
        // SAFETY: the host passes a valid, writable OwnedBuf for every call.
        unsafe { *err = OwnedBuf::from_string(text) };
    }
}

/// `init` shim: catches panics.
///
/// # Safety
/// Called by the host with pointers valid for the call (see [`PluginTable::init`]).
pub unsafe extern "C" fn init_shim<P: Plugin>(
    host: *const HostTable,
    config: Slice,
    state: *mut *mut c_void,
    err: *mut OwnedBuf,
) -> Status {
    let run = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes a valid table and config slice for this call.
        let table = unsafe { &*host };
        let mut h = Host { table, _call: PhantomData };
        // SAFETY: see above.
        P::init(&mut h, unsafe { config.as_bytes() })
    }));
    match run {
        Ok(Ok(p)) => {
            // SAFETY: `state` is a valid out-pointer provided by the host.
            unsafe { *state = Box::into_raw(Box::new(p)).cast() };
            Status::Continue
        }
        Ok(Err(e)) => {
            set_err(err, e);
            Status::Error
        }
        Err(p) => {
            set_err(err, panic_text(p));
            Status::Panic
        }
    }
}

/// `process_message` shim: catches panics.
///
/// # Safety
/// See [`PluginTable::process_message`].
pub unsafe extern "C" fn process_shim<P: Plugin>(
    state: *mut c_void,
    host: *const HostTable,
    msg: *const MessageC,
    err: *mut OwnedBuf,
) -> Status {
    let run = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `state` came from `init_shim::<P>` and is only used by one
        // thread at a time; `host` and `msg` are valid for this call.
        let (plugin, table, m) = unsafe { (&mut *state.cast::<P>(), &*host, &*msg) };
        let mut h = Host { table, _call: PhantomData };
        // SAFETY: every slice in `m` is valid for this call.
        let (name, addr, args, kwargs) =
            unsafe { (m.client_name.as_bytes(), m.client_addr.as_bytes(), m.args.as_bytes(), m.kwargs.as_bytes()) };
        let message = Message {
            kind: m.kind,
            uid: (m.has_uid != 0).then_some(m.uid),
            client: Client {
                id: m.client_id,
                name: std::str::from_utf8(name).unwrap_or(""),
                addr: std::str::from_utf8(addr).unwrap_or(""),
            },
            args,
            kwargs,
        };
        plugin.process_message(&mut h, &message)
    }));
    match run {
        Ok(Ok(Flow::Continue)) => Status::Continue,
        Ok(Ok(Flow::Stop)) => Status::Stop,
        Ok(Err(e)) => {
            set_err(err, e);
            Status::Error
        }
        Err(p) => {
            set_err(err, panic_text(p));
            Status::Panic
        }
    }
}

/// `shutdown` shim: drops the state, catching panics.
///
/// # Safety
/// See [`PluginTable::shutdown`].
pub unsafe extern "C" fn shutdown_shim<P: Plugin>(state: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `state` came from `init_shim::<P>` and is not used after this.
        let mut plugin = unsafe { Box::from_raw(state.cast::<P>()) };
        plugin.shutdown();
    }));
}

/// Frees an error text this plugin allocated.
///
/// # Safety
/// See [`PluginTable::free_buf`].
pub unsafe extern "C" fn free_buf_shim(buf: OwnedBuf) {
    if !buf.ptr.is_null() {
        // SAFETY: the buffer was made by `OwnedBuf::from_string` in this
        // library, with this allocator, and is freed once.
        drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
    }
}

/// Exports `$plugin` (a type implementing [`Plugin`]) as this library's plugin.
#[macro_export]
macro_rules! declare_plugin {
    ($plugin:ty) => {
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn periscope_plugin() -> *const $crate::PluginTable {
            static TABLE: $crate::PluginTable = $crate::PluginTable {
                abi_version: $crate::ABI_VERSION,
                name: $crate::Slice {
                    ptr: <$plugin as $crate::Plugin>::NAME.as_ptr(),
                    len: <$plugin as $crate::Plugin>::NAME.len(),
                },
                version: $crate::Slice {
                    ptr: <$plugin as $crate::Plugin>::VERSION.as_ptr(),
                    len: <$plugin as $crate::Plugin>::VERSION.len(),
                },
                init: $crate::init_shim::<$plugin>,
                process_message: $crate::process_shim::<$plugin>,
                shutdown: $crate::shutdown_shim::<$plugin>,
                free_buf: $crate::free_buf_shim,
            };
            &TABLE
        }
    };
}
