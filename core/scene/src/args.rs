//! Reading message arguments: arrays (n-d or nested lists), frame index lists, scalars.

use std::collections::BTreeMap;
use std::sync::Arc;

use periscope_protocol::{DType, NdArray, Value};

use crate::error::{SceneError, err};
use crate::frames::FrameSeq;
use crate::spec::{AttrSpec, Dim};

/// A numeric array from an n-d array value or from nested lists of numbers.
pub(crate) fn to_array(name: &str, v: &Value) -> Result<NdArray, SceneError> {
    match v {
        Value::NdArray(a) => {
            if a.dtype() == DType::Bool {
                return Err(err("bad_dtype", format!("{name}: bool arrays are not accepted here")));
            }
            Ok(a.clone())
        }
        Value::Array(_) | Value::Int(_) | Value::Float(_) => {
            let mut shape = Vec::new();
            let mut cur = v;
            while let Value::Array(items) = cur {
                shape.push(items.len());
                match items.first() {
                    Some(first) => cur = first,
                    None => break,
                }
            }
            let mut flat = Vec::with_capacity(shape.iter().product());
            flatten(name, v, &shape, &mut flat)?;
            // Lists of integers stay integers (faces, joint connections, frames).
            if flat.iter().all(|x| matches!(x, Value::Int(_))) && !flat.is_empty() {
                let ints: Vec<i64> = flat.iter().filter_map(|x| x.as_i64()).collect();
                return Ok(NdArray::from_i64(shape, ints));
            }
            let floats = flat
                .iter()
                .map(|x| {
                    x.as_f64().map(|f| f as f32).ok_or_else(|| {
                        err("bad_value", format!("{name} must hold only numbers, found {}", x.type_name()))
                    })
                })
                .collect::<Result<Vec<f32>, _>>()?;
            Ok(NdArray::from_f32(shape, floats))
        }
        other => Err(err("bad_value", format!("{name} must be an array, got {}", other.type_name()))),
    }
}

fn flatten<'a>(name: &str, v: &'a Value, shape: &[usize], out: &mut Vec<&'a Value>) -> Result<(), SceneError> {
    match (v, shape.split_first()) {
        (Value::Array(items), Some((&n, rest))) if items.len() == n => {
            items.iter().try_for_each(|item| flatten(name, item, rest, out))
        }
        (Value::Array(_), _) | (_, Some(_)) => {
            Err(err("bad_shape", format!("{name} is a ragged nested list; send a rectangular array")))
        }
        (other, None) => {
            out.push(other);
            Ok(())
        }
    }
}

/// Formats a shape like numpy: `(2, 3)`.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

fn fmt_spec(spec: &AttrSpec) -> String {
    let dims: Vec<String> = spec
        .inner
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Named(c) => c.to_string(),
        })
        .collect();
    let inner = dims.join(",");
    format!("({inner}) or (F,{inner})")
}

/// Reads a per-frame attribute, checking its shape against `spec` and binding
/// named dimensions in `dims` (a scratch copy that the caller commits on success).
pub(crate) fn read_attr(spec: &AttrSpec, v: &Value, dims: &mut BTreeMap<char, usize>) -> Result<FrameSeq, SceneError> {
    let name = spec.name;
    let arr = to_array(name, v)?;
    let shape = arr.shape().to_vec();
    let rank = spec.inner.len();
    let (n_frames, mut inner) = if shape.len() == rank {
        (1, shape.clone())
    } else if shape.len() == rank + 1 {
        (shape[0], shape[1..].to_vec())
    } else {
        return Err(err("bad_shape", format!("{name} must have shape {}, got {}", fmt_spec(spec), fmt_shape(&shape))));
    };
    if n_frames == 0 {
        return Err(err("bad_shape", format!("{name} has no frames (shape {})", fmt_shape(&shape))));
    }
    let mut data = arr.to_f32();
    if spec.rgba && inner.last() == Some(&3) {
        // RGB in, RGBA stored.
        let rgba: Vec<f32> = data.chunks_exact(3).flat_map(|c| [c[0], c[1], c[2], 1.0]).collect();
        data = Arc::new(rgba);
        *inner.last_mut().expect("rank >= 1") = 4;
    }
    for (d, &n) in spec.inner.iter().zip(&inner) {
        match *d {
            Dim::Fixed(want) if want != n => {
                return Err(err(
                    "bad_shape",
                    format!("{name} must have shape {}, got {}", fmt_spec(spec), fmt_shape(&shape)),
                ));
            }
            Dim::Named(c) => match dims.get(&c) {
                Some(&bound) if bound != n => {
                    return Err(err(
                        "bad_shape",
                        format!(
                            "{name} has {n} rows per frame (shape {}) but this node has {c}={bound}",
                            fmt_shape(&shape)
                        ),
                    ));
                }
                _ => {
                    dims.insert(c, n);
                }
            },
            _ => {}
        }
    }
    Ok(FrameSeq::from_chunk(inner, n_frames, data))
}

/// Reads an integer index array of shape `(N, cols)`, values in `[min, max)`.
pub(crate) fn read_index_rows(
    name: &str,
    v: &Value,
    cols: usize,
    min: i64,
    max: Option<usize>,
) -> Result<(usize, Vec<i64>), SceneError> {
    let arr = to_array(name, v)?;
    let shape = arr.shape();
    if shape.len() != 2 || shape[1] != cols {
        return Err(err("bad_shape", format!("{name} must have shape (N,{cols}), got {}", fmt_shape(shape))));
    }
    let values = arr.to_i64().ok_or_else(|| {
        err("bad_dtype", format!("{name} must be an integer array (int32, int64 or uint32), got {}", arr.dtype()))
    })?;
    let rows = shape[0];
    if let Some((i, &bad)) = values.iter().enumerate().find(|&(_, &x)| x < min || max.is_some_and(|m| x >= m as i64)) {
        let range = match max {
            Some(m) => format!("[{min}, {m})"),
            None => format!(">= {min}"),
        };
        return Err(err("bad_value", format!("{name}[{}, {}] = {bad} is out of range {range}", i / cols, i % cols)));
    }
    Ok((rows, values))
}

/// Reads a `frames` argument (int, list of ints or integer array) and resolves
/// negative indices against `n`. Returns the indices in the order given.
pub(crate) fn read_frames(v: &Value, n: usize) -> Result<Vec<usize>, SceneError> {
    let raw: Vec<i64> = match v {
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_i64().ok_or_else(|| err("bad_frames", format!("frames must be integers, found {}", x.type_name())))
            })
            .collect::<Result<_, _>>()?,
        Value::NdArray(a) => a
            .to_i64()
            .ok_or_else(|| err("bad_frames", format!("frames must be integers, got a {} array", a.dtype())))?,
        other => vec![other.as_i64().ok_or_else(|| {
            err("bad_frames", format!("frames must be an int, a list of ints or a range, got {}", other.type_name()))
        })?],
    };
    raw.into_iter()
        .map(|f| {
            let idx = if f < 0 { f + n as i64 } else { f };
            if idx < 0 || idx >= n as i64 {
                Err(err("bad_frames", format!("frame {f} is out of range: the node has {n} frames")))
            } else {
                Ok(idx as usize)
            }
        })
        .collect()
}

/// A number argument.
pub(crate) fn read_f32(name: &str, v: &Value) -> Result<f32, SceneError> {
    match v {
        Value::NdArray(a) if a.len() == 1 => Ok(a.to_f32()[0]),
        _ => v
            .as_f64()
            .map(|x| x as f32)
            .ok_or_else(|| err("bad_value", format!("{name} must be a number, got {}", v.type_name()))),
    }
}

/// A boolean argument.
pub(crate) fn read_bool(name: &str, v: &Value) -> Result<bool, SceneError> {
    v.as_bool().ok_or_else(|| err("bad_value", format!("{name} must be a bool, got {}", v.type_name())))
}

/// An RGB or RGBA color; RGB gets alpha 1.
pub(crate) fn read_color(name: &str, a: &NdArray) -> Result<[f32; 4], SceneError> {
    let d = a.to_f32();
    match d.len() {
        3 => Ok([d[0], d[1], d[2], 1.0]),
        4 => Ok([d[0], d[1], d[2], d[3]]),
        _ => {
            Err(err("bad_shape", format!("{name} must be RGB or RGBA (3 or 4 numbers), got {}", fmt_shape(a.shape()))))
        }
    }
}
