//! Reading message arguments: arrays (n-d or nested lists), frame index lists, scalars.

use std::collections::BTreeMap;
use std::sync::Arc;

use periscope_protocol::kwargs::describe;
use periscope_protocol::limits::{MAX_NAME_BYTES, excerpt};
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

/// Reads a per-frame attribute, checking its shape against `spec`, its values
/// against the attribute's [`Range`] (`ctx`, the message's name, starts the
/// error), and binding named dimensions in `dims` (a scratch copy that the
/// caller commits on success).
pub(crate) fn read_attr(
    ctx: &str,
    spec: &AttrSpec,
    v: &Value,
    dims: &mut BTreeMap<char, usize>,
) -> Result<FrameSeq, SceneError> {
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
    check_frame_count(ctx, name, n_frames)?;
    // RGB in, RGBA stored: the shape checks below see the stored shape.
    let rgb = spec.rgba && inner.last() == Some(&3);
    if rgb {
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
    // The one pass over the values comes after the cheap shape checks.
    let mut data = arr.to_f32();
    check_values(ctx, name, &shape, &data, spec.range())?;
    if rgb {
        let rgba: Vec<f32> = data.chunks_exact(3).flat_map(|c| [c[0], c[1], c[2], 1.0]).collect();
        data = Arc::new(rgba);
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

/// Reads a frame list argument (`field`: `frames`, or `frame` for a query;
/// an int, a non-empty list of ints or an integer array) and resolves negative
/// indices against `n`. Returns the indices in the order given, at least one.
pub(crate) fn read_frames(ctx: &str, field: &str, v: &Value, n: usize) -> Result<Vec<usize>, SceneError> {
    let raw: Vec<i64> = match v {
        Value::Array(items) => items
            .iter()
            .map(|x| {
                x.as_i64().ok_or_else(|| {
                    err("bad_frames", format!("{ctx}: field {field:?} must hold integers, found {}", x.type_name()))
                })
            })
            .collect::<Result<_, _>>()?,
        Value::NdArray(a) => a.to_i64().ok_or_else(|| {
            err("bad_frames", format!("{ctx}: field {field:?} must hold integers, got a {} array", a.dtype()))
        })?,
        other => vec![other.as_i64().ok_or_else(|| {
            err(
                "bad_frames",
                format!("{ctx}: field {field:?} must be an int, a list of ints or a range, got {}", other.type_name()),
            )
        })?],
    };
    if raw.is_empty() {
        return Err(err("bad_frames", format!("{ctx}: field {field:?} must name at least one frame, found none")));
    }
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

/// What a number a client sends must be. Every number the scene stores from a
/// message passes one of these: scalars through [`read_number`], colors
/// through [`read_color`], arrays through [`check_values`] (per-frame
/// attributes in [`read_attr`], with [`AttrSpec::range`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Range {
    /// Any finite number (positions, rotations, vertices, body parameters).
    Finite,
    /// Finite and > 0 (scale, point sizes).
    Positive,
    /// Finite and >= 0 (radii, lengths).
    NonNegative,
    /// In [0, 1] (color components, fractions).
    Unit,
}

impl Range {
    /// Whether `x` is allowed (NaN and inf never are).
    #[inline]
    pub(crate) fn contains(self, x: f32) -> bool {
        match self {
            Range::Finite => x.is_finite(),
            Range::Positive => x.is_finite() && x > 0.0,
            Range::NonNegative => x.is_finite() && x >= 0.0,
            Range::Unit => (0.0..=1.0).contains(&x),
        }
    }

    /// "a finite number > 0" and the like, for error messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Range::Finite => "a finite number",
            Range::Positive => "a finite number > 0",
            Range::NonNegative => "a finite number >= 0",
            Range::Unit => "a number in [0, 1]",
        }
    }

    /// For arrays: "finite numbers", "numbers in [0, 1]", ...
    fn expected_all(self) -> &'static str {
        match self {
            Range::Finite => "finite numbers",
            Range::Positive => "finite numbers > 0",
            Range::NonNegative => "finite numbers >= 0",
            Range::Unit => "numbers in [0, 1]",
        }
    }
}

/// Checks every value of an array argument against `range` in one pass over
/// the floats (no allocation; the common case, all good, costs one scan). The
/// error names the field and the first bad element by its index in `shape`:
/// `meshes: field "vertices" must hold finite numbers, found NaN at [0, 2, 1]`.
pub(crate) fn check_values(
    ctx: &str,
    name: &str,
    shape: &[usize],
    data: &[f32],
    range: Range,
) -> Result<(), SceneError> {
    let ok = match range {
        Range::Finite => all_in(data, |x| x.is_finite()),
        Range::Positive => all_in(data, |x| x.is_finite() & (x > 0.0)),
        Range::NonNegative => all_in(data, |x| x.is_finite() & (x >= 0.0)),
        Range::Unit => all_in(data, |x| (0.0..=1.0).contains(&x)),
    };
    if ok {
        return Ok(());
    }
    let (i, &bad) = data.iter().enumerate().find(|&(_, &x)| !range.contains(x)).expect("a value failed the check");
    Err(err(
        "bad_value",
        format!("{ctx}: field {name:?} must hold {}, found {bad:?} at {}", range.expected_all(), fmt_index(shape, i)),
    ))
}

/// Whether `ok` holds for every value: one pass, no allocation. Blocks
/// without an early exit inside, one test per range (no `match` per value),
/// so the compiler vectorizes the scan.
#[inline]
fn all_in(data: &[f32], ok: impl Fn(f32) -> bool + Copy) -> bool {
    data.chunks(1024).all(|block| block.iter().fold(true, |all, &x| all & ok(x)))
}

/// The n-d index `[a, b, c]` of flat element `i` of an array of `shape`.
fn fmt_index(shape: &[usize], mut i: usize) -> String {
    let mut idx = vec![0usize; shape.len().max(1)];
    for (slot, &d) in idx.iter_mut().zip(shape).rev() {
        let d = d.max(1);
        *slot = i % d;
        i /= d;
    }
    if shape.is_empty() {
        idx[0] = i;
    }
    format!("[{}]", idx.iter().map(usize::to_string).collect::<Vec<_>>().join(", "))
}

/// A number argument: finite and in `range`; `ctx` (the message's name)
/// starts the error: `set_properties: field "scale" must be a finite number > 0, found inf`.
pub(crate) fn read_number(ctx: &str, name: &str, v: &Value, range: Range) -> Result<f32, SceneError> {
    let x = match v {
        Value::NdArray(a) if a.len() == 1 => a.to_f32().first().copied(),
        _ => v.as_f64().map(|x| x as f32),
    }
    .ok_or_else(|| {
        err("bad_value", format!("{ctx}: field {name:?} must be {}, found {}", range.expected(), describe(v)))
    })?;
    if range.contains(x) {
        Ok(x)
    } else {
        Err(err("bad_value", format!("{ctx}: field {name:?} must be {}, found {x:?}", range.expected())))
    }
}

/// A boolean argument.
pub(crate) fn read_bool(name: &str, v: &Value) -> Result<bool, SceneError> {
    v.as_bool().ok_or_else(|| err("bad_value", format!("{name} must be a bool, got {}", v.type_name())))
}

/// A string argument the scene keeps (a node's name, a body model's type):
/// at most [`MAX_NAME_BYTES`] bytes.
pub(crate) fn read_name(ctx: &str, name: &str, v: &Value) -> Result<String, SceneError> {
    let s = v
        .as_str()
        .ok_or_else(|| err("bad_value", format!("{ctx}: field {name:?} must be a str, found {}", describe(v))))?;
    if s.len() > MAX_NAME_BYTES {
        return Err(err(
            "bad_value",
            format!(
                "{ctx}: field {name:?} must be a str of at most {MAX_NAME_BYTES} bytes, found {} bytes ({})",
                s.len(),
                excerpt(s)
            ),
        ));
    }
    Ok(s.to_owned())
}

/// An RGB or RGBA color, every component in [0, 1]; RGB gets alpha 1.
pub(crate) fn read_color(ctx: &str, name: &str, a: &NdArray) -> Result<[f32; 4], SceneError> {
    let d = a.to_f32();
    let c = match d.len() {
        3 => [d[0], d[1], d[2], 1.0],
        4 => [d[0], d[1], d[2], d[3]],
        _ => {
            return Err(err(
                "bad_shape",
                format!("{ctx}: field {name:?} must be RGB or RGBA (3 or 4 numbers), got {}", fmt_shape(a.shape())),
            ));
        }
    };
    if d.iter().all(|&x| Range::Unit.contains(x)) {
        Ok(c)
    } else {
        Err(err("bad_value", format!("{ctx}: field {name:?} must be 3 or 4 numbers in [0, 1], found {:?}", &d[..])))
    }
}

/// A message's frame count within [`MAX_FRAMES`](periscope_protocol::limits::MAX_FRAMES).
pub(crate) fn check_frame_count(ctx: &str, name: &str, n: usize) -> Result<(), SceneError> {
    let max = periscope_protocol::limits::MAX_FRAMES;
    if n > max {
        return Err(err("limit", format!("{ctx}: field \"{name}\" has {n} frames, more than a node may have ({max})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_elements_are_named_by_their_index() {
        assert_eq!(fmt_index(&[2, 3, 3], 0), "[0, 0, 0]");
        assert_eq!(fmt_index(&[2, 3, 3], 16), "[1, 2, 1]");
        assert_eq!(fmt_index(&[3], 2), "[2]");
        let e = check_values("meshes", "vertices", &[2, 3], &[0.0, 1.0, 2.0, 3.0, f32::NAN, 5.0], Range::Finite)
            .unwrap_err();
        assert_eq!(e.message, "meshes: field \"vertices\" must hold finite numbers, found NaN at [1, 1]");
        assert!(check_values("x", "c", &[2], &[0.0, 1.0], Range::Unit).is_ok());
        assert!(check_values("x", "c", &[2], &[0.0, 1.5], Range::Unit).is_err());
    }

    #[test]
    fn numbers_are_finite_and_in_range() {
        let n = |v: f64, r| read_number("set_properties", "scale", &Value::Float(v), r);
        assert_eq!(n(2.0, Range::Positive), Ok(2.0));
        assert_eq!(
            n(f64::INFINITY, Range::Positive).unwrap_err().message,
            "set_properties: field \"scale\" must be a finite number > 0, found inf"
        );
        assert!(n(0.0, Range::Positive).is_err());
        assert!(n(0.0, Range::NonNegative).is_ok());
        assert!(n(1e39, Range::Finite).is_err(), "too big for f32");
        assert!(n(f64::NAN, Range::Unit).is_err());
    }
}
