//! MessagePack encoding of [`Value`]s.

use crate::decode::NDARRAY_KEY;
use crate::value::Value;

/// Encodes a value as MessagePack (maps keep their order; arrays as
/// `{"__ndarray__", "shape", "data"}` maps).
pub fn encode_value(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimate(v));
    write_value(&mut out, v);
    out
}

/// Appends the MessagePack of `v` to `out` (reserving the estimated size
/// first), so a sender can reuse one buffer for every message.
pub fn encode_value_into(out: &mut Vec<u8>, v: &Value) {
    out.reserve(estimate(v));
    write_value(out, v);
}

/// The exact length of [`encode_value`]'s output, without encoding: a walk
/// over the value that reads sizes only (arrays are not converted), so a
/// sender can weigh a message before deciding to queue or refuse it.
pub fn encoded_len(v: &Value) -> usize {
    match v {
        Value::Nil | Value::Bool(_) => 1,
        Value::Int(i) => sint_len(*i),
        Value::UInt(u) => uint_len(*u),
        Value::Float(_) => 9,
        Value::Str(s) => str_len(s.len()),
        Value::Bin(b) => bin_len(b.len()),
        Value::Array(items) => container_len(items.len()) + items.iter().map(encoded_len).sum::<usize>(),
        Value::Map(entries) => {
            container_len(entries.len()) + entries.iter().map(|(k, v)| encoded_len(k) + encoded_len(v)).sum::<usize>()
        }
        Value::NdArray(a) => {
            container_len(3)
                + str_len(NDARRAY_KEY.len())
                + str_len(a.dtype().name().len())
                + str_len("shape".len())
                + container_len(a.shape().len())
                + a.shape().iter().map(|&d| uint_len(d as u64)).sum::<usize>()
                + str_len("data".len())
                + bin_len(a.nbytes())
        }
    }
}

/// Bytes of a MessagePack string of `n` bytes (marker, length, bytes).
pub(crate) fn str_len(n: usize) -> usize {
    n + match n {
        0..32 => 1,
        32..256 => 2,
        256..65_536 => 3,
        _ => 5,
    }
}

fn bin_len(n: usize) -> usize {
    n + match n {
        0..256 => 2,
        256..65_536 => 3,
        _ => 5,
    }
}

/// Bytes of an array or map header of `n` items.
pub(crate) fn container_len(n: usize) -> usize {
    match n {
        0..16 => 1,
        16..65_536 => 3,
        _ => 5,
    }
}

pub(crate) fn uint_len(u: u64) -> usize {
    match u {
        0..128 => 1,
        128..256 => 2,
        256..65_536 => 3,
        65_536..4_294_967_296 => 5,
        _ => 9,
    }
}

pub(crate) fn sint_len(i: i64) -> usize {
    match i {
        0.. => uint_len(i as u64),
        -32..0 => 1,
        -128..-32 => 2,
        -32_768..-128 => 3,
        -2_147_483_648..-32_768 => 5,
        _ => 9,
    }
}

fn estimate(v: &Value) -> usize {
    match v {
        Value::NdArray(a) => a.nbytes() + 64,
        Value::Array(items) => 8 + items.iter().map(estimate).sum::<usize>(),
        Value::Map(entries) => 8 + entries.iter().map(|(k, v)| estimate(k) + estimate(v)).sum::<usize>(),
        Value::Str(s) => s.len() + 5,
        Value::Bin(b) => b.len() + 5,
        _ => 9,
    }
}

// Writing into a Vec<u8> cannot fail, so the `rmp` results are discarded
// through this helper rather than unwrapped.
fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) {
    debug_assert!(r.is_ok(), "writing MessagePack into a Vec failed: {:?}", r.err());
}

pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    use rmp::encode as e;
    match v {
        Value::Nil => ok(e::write_nil(out)),
        Value::Bool(b) => ok(e::write_bool(out, *b)),
        Value::Int(i) => ok(e::write_sint(out, *i)),
        Value::UInt(u) => ok(e::write_uint(out, *u)),
        Value::Float(f) => ok(e::write_f64(out, *f)),
        Value::Str(s) => ok(e::write_str(out, s)),
        Value::Bin(b) => ok(e::write_bin(out, b)),
        Value::Array(items) => {
            ok(e::write_array_len(out, items.len() as u32));
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            ok(e::write_map_len(out, entries.len() as u32));
            for (k, v) in entries {
                write_value(out, k);
                write_value(out, v);
            }
        }
        Value::NdArray(a) => {
            ok(e::write_map_len(out, 3));
            ok(e::write_str(out, NDARRAY_KEY));
            ok(e::write_str(out, a.dtype().name()));
            ok(e::write_str(out, "shape"));
            ok(e::write_array_len(out, a.shape().len() as u32));
            for &d in a.shape() {
                ok(e::write_uint(out, d as u64));
            }
            ok(e::write_str(out, "data"));
            ok(e::write_bin(out, &a.le_bytes()));
        }
    }
}
