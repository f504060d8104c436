//! Building the messages a plugin applies ([`crate::Host::apply`]) or sends
//! ([`crate::Host::send`]): MessagePack maps `{type, uid, args, kwargs}` in
//! the wire format of `docs/protocol.md`, arrays as `{"__ndarray__", "shape",
//! "data"}` with the float data written once.

use rmp::encode;

/// Message type numbers a plugin uses (the viewer's table,
/// `core/protocol/src/types.rs`; a test in the loader checks they agree).
pub mod types {
    pub const NODE: i64 = 1;
    pub const MESHES: i64 = 2;
    pub const SPHERES: i64 = 3;
    pub const LINES: i64 = 4;
    pub const ARROWS: i64 = 5;
    pub const RIGID_BODIES: i64 = 6;
    pub const SMPL: i64 = 10;
    pub const SKELETONS: i64 = 11;
    pub const POINT_CLOUDS: i64 = 12;
    pub const DELETE: i64 = 100;
    pub const ADD_FRAMES: i64 = 101;
    pub const UPDATE_FRAMES: i64 = 102;
    pub const REMOVE_FRAMES: i64 = 103;
    pub const SET_FRAME: i64 = 200;
    pub const SET_PROPERTIES: i64 = 314;
    pub const ADD_CONTROL: i64 = 318;
    pub const UPDATE_CONTROL: i64 = 320;
    pub const REMOVE_CONTROL: i64 = 321;
    pub const SET_CONTROL: i64 = 322;
    pub const SELECT: i64 = 325;
    pub const USER_MESSAGE: i64 = 10000;
}

/// A message under construction. Writing into a `Vec` cannot fail, so the
/// methods return `Self` for chaining.
#[derive(Clone, Debug)]
pub struct MessageWriter {
    kind: i64,
    uid: Option<i64>,
    args: Vec<u8>,
    n_args: u32,
    kwargs: Vec<u8>,
    n_kwargs: u32,
}

fn write_f32_array(out: &mut Vec<u8>, shape: &[usize], data: &[f32]) {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len(), "shape matches the data");
    let _ = encode::write_map_len(out, 3);
    let _ = encode::write_str(out, "__ndarray__");
    let _ = encode::write_str(out, "float32");
    let _ = encode::write_str(out, "shape");
    let _ = encode::write_array_len(out, shape.len() as u32);
    for &d in shape {
        let _ = encode::write_uint(out, d as u64);
    }
    let _ = encode::write_str(out, "data");
    let _ = encode::write_bin_len(out, (data.len() * 4) as u32);
    out.reserve(data.len() * 4);
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

impl MessageWriter {
    /// A message of type `kind` (see [`types`]).
    pub fn new(kind: i64) -> Self {
        Self { kind, uid: None, args: Vec::new(), n_args: 0, kwargs: Vec::new(), n_kwargs: 0 }
    }

    /// The node the message is about (the plugin's own uid for its nodes).
    pub fn uid(mut self, uid: i64) -> Self {
        self.uid = Some(uid);
        self
    }

    /// A positional float32 array of `shape`.
    pub fn arg_f32(mut self, shape: &[usize], data: &[f32]) -> Self {
        write_f32_array(&mut self.args, shape, data);
        self.n_args += 1;
        self
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        self.n_kwargs += 1;
        let _ = encode::write_str(&mut self.kwargs, key);
        &mut self.kwargs
    }

    /// A float32 array keyword argument of `shape`.
    pub fn kwarg_f32(mut self, key: &str, shape: &[usize], data: &[f32]) -> Self {
        write_f32_array(self.key(key), shape, data);
        self
    }

    /// A list of numbers (a color, a position).
    pub fn kwarg_floats(mut self, key: &str, values: &[f32]) -> Self {
        let out = self.key(key);
        let _ = encode::write_array_len(out, values.len() as u32);
        for &v in values {
            let _ = encode::write_f64(out, f64::from(v));
        }
        self
    }

    /// A list of integers (frame indices).
    pub fn kwarg_ints(mut self, key: &str, values: &[i64]) -> Self {
        let out = self.key(key);
        let _ = encode::write_array_len(out, values.len() as u32);
        for &v in values {
            let _ = encode::write_sint(out, v);
        }
        self
    }

    pub fn kwarg_str(mut self, key: &str, value: &str) -> Self {
        let _ = encode::write_str(self.key(key), value);
        self
    }

    pub fn kwarg_bool(mut self, key: &str, value: bool) -> Self {
        let _ = encode::write_bool(self.key(key), value);
        self
    }

    pub fn kwarg_f64(mut self, key: &str, value: f64) -> Self {
        let _ = encode::write_f64(self.key(key), value);
        self
    }

    pub fn kwarg_int(mut self, key: &str, value: i64) -> Self {
        let _ = encode::write_sint(self.key(key), value);
        self
    }

    /// The MessagePack map.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.args.len() + self.kwargs.len());
        let _ = encode::write_map_len(&mut out, 4);
        let _ = encode::write_str(&mut out, "type");
        let _ = encode::write_sint(&mut out, self.kind);
        let _ = encode::write_str(&mut out, "uid");
        match self.uid {
            Some(u) => {
                let _ = encode::write_sint(&mut out, u);
            }
            None => {
                let _ = encode::write_nil(&mut out);
            }
        }
        let _ = encode::write_str(&mut out, "args");
        let _ = encode::write_array_len(&mut out, self.n_args);
        out.extend_from_slice(&self.args);
        let _ = encode::write_str(&mut out, "kwargs");
        let _ = encode::write_map_len(&mut out, self.n_kwargs);
        out.extend_from_slice(&self.kwargs);
        out
    }
}
