//! Pickling replies for the aitviewer client: plain values only (dicts,
//! lists, numbers, strings, bytes, None). Arrays become nested lists.

use periscope_protocol::{ArrayData, NdArray, Value};

/// Pickles `v` with protocol 3 (readable by every Python 3).
pub fn pickle_value(v: &Value) -> Vec<u8> {
    let mut out = vec![0x80, 3];
    write(&mut out, v);
    out.push(b'.');
    out
}

fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Nil => out.push(b'N'),
        Value::Bool(true) => out.push(0x88),
        Value::Bool(false) => out.push(0x89),
        Value::Int(i) => write_int(out, *i as i128),
        Value::UInt(u) => write_int(out, *u as i128),
        Value::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => {
            out.push(b'X');
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            out.push(b'B');
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            out.push(b']');
            if !items.is_empty() {
                out.push(b'(');
                items.iter().for_each(|x| write(out, x));
                out.push(b'e');
            }
        }
        Value::Map(entries) => {
            out.push(b'}');
            if !entries.is_empty() {
                out.push(b'(');
                for (k, v) in entries {
                    write(out, k);
                    write(out, v);
                }
                out.push(b'u');
            }
        }
        Value::NdArray(a) => write(out, &nested(a, 0, &mut 0)),
    }
}

fn write_int(out: &mut Vec<u8>, i: i128) {
    if let Ok(small) = i32::try_from(i) {
        out.push(b'J');
        out.extend_from_slice(&small.to_le_bytes());
        return;
    }
    // LONG1: minimal two's complement, little-endian (as Python writes it).
    let bytes = i.to_le_bytes();
    let mut n = bytes.len();
    while n > 1 {
        let (last, prev) = (bytes[n - 1], bytes[n - 2]);
        let redundant = (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0);
        if !redundant {
            break;
        }
        n -= 1;
    }
    out.push(0x8a);
    out.push(n as u8);
    out.extend_from_slice(&bytes[..n]);
}

/// An array as nested lists, in C order.
fn nested(a: &NdArray, dim: usize, next: &mut usize) -> Value {
    if dim == a.shape().len() {
        let i = *next;
        *next += 1;
        return match a.data() {
            ArrayData::F32(v) => Value::Float(v[i] as f64),
            ArrayData::F64(v) => Value::Float(v[i]),
            _ => a.to_i64().map_or(Value::Nil, |v| Value::Int(v[i])),
        };
    }
    Value::Array((0..a.shape()[dim]).map(|_| nested(a, dim + 1, next)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::{PickleLimits, unpickle};

    #[test]
    fn replies_round_trip_through_our_own_unpickler() {
        let v = Value::map([
            ("type", Value::Int(10002)),
            ("big", Value::Int(1 << 40)),
            ("neg", Value::Int(-5)),
            ("name", Value::from("héllo")),
            ("ok", Value::Bool(true)),
            ("none", Value::Nil),
            ("x", Value::Float(0.5)),
            ("list", Value::from(vec![1i64, 2, 3])),
            ("raw", Value::Bin(vec![0, 255])),
        ]);
        assert_eq!(unpickle(&pickle_value(&v), PickleLimits::default()).unwrap(), v);
        let a = Value::NdArray(NdArray::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let back = unpickle(&pickle_value(&a), PickleLimits::default()).unwrap();
        assert_eq!(back, Value::Array(vec![Value::from(vec![1.0f64, 2.0]), Value::from(vec![3.0f64, 4.0])]));
    }
}
