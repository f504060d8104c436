//! Point clouds: reading `points` and `colors` (any number of points per
//! frame), skipping non-finite points, and colors packed as RGBA8.
//!
//! Points are kept as the float32 array that arrived (no copy unless some had
//! to be skipped); colors take 4 bytes per point, stored four bytes to a float
//! slot of a ragged [`FrameSeq`] (row shape `[1]`), so every frame operation works on them as on
//! any attribute. [`unpack`] and [`packed_bytes`] read them back.

use std::sync::Arc;

use periscope_protocol::{ArrayData, DType, NdArray, Value};

use crate::args::{Range, check_values, fmt_shape, to_array};
use crate::error::{SceneError, err};
use crate::frames::FrameSeq;

/// One RGBA8 color in a float slot: its bytes in memory are r, g, b, a.
pub(crate) fn pack(rgba: [u8; 4]) -> f32 {
    f32::from_ne_bytes(rgba)
}

/// The RGBA8 bytes of packed colors, in order (r, g, b, a per point).
pub fn packed_bytes(packed: &[f32]) -> Vec<u8> {
    packed.iter().flat_map(|c| c.to_ne_bytes()).collect()
}

/// Packed colors as a `uint8` `(N, 4)` array.
pub fn unpack(packed: &[f32]) -> NdArray {
    NdArray::from_u8(vec![packed.len(), 4], packed_bytes(packed))
}

/// Points and colors read from one message.
pub(crate) struct Cloud {
    pub points: Option<FrameSeq>,
    pub colors: Option<FrameSeq>,
    /// A remark for the sender (points skipped).
    pub warning: Option<String>,
}

/// `(F, N)` and the float data of a points array: `(N, 3)` or `(F, N, 3)`.
fn read_points(v: &Value) -> Result<(usize, usize, Arc<Vec<f32>>), SceneError> {
    let a = to_array("points", v)?;
    let (f, n) = match *a.shape() {
        [n, 3] => (1, n),
        [f, n, 3] => (f, n),
        _ => {
            return Err(err(
                "bad_shape",
                format!(
                    "point_clouds: field \"points\" must have shape (N, 3) or (F, N, 3), got {}",
                    fmt_shape(a.shape())
                ),
            ));
        }
    };
    if f == 0 {
        return Err(err("bad_shape", "point_clouds: field \"points\" has no frames (F = 0)"));
    }
    crate::args::check_frame_count("point_clouds", "points", f)?;
    Ok((f, n, a.to_f32()))
}

/// Colors as RGBA8 bytes with their `(F, N)`; `N = None` for one color for every point.
fn read_colors(v: &Value) -> Result<(usize, Option<usize>, Vec<u8>), SceneError> {
    let a = to_array("colors", v)?;
    let shape = a.shape().to_vec();
    let bad = || {
        err(
            "bad_shape",
            format!(
                "point_clouds: field \"colors\" must be one RGB(A) color, (N, 3|4) or (F, N, 3|4), got {}",
                fmt_shape(&shape)
            ),
        )
    };
    let (f, n, c) = match shape[..] {
        [c] => (1, None, c),
        [n, c] => (1, Some(n), c),
        [f, n, c] => (f, Some(n), c),
        _ => return Err(bad()),
    };
    if !(c == 3 || c == 4) || f == 0 {
        return Err(bad());
    }
    crate::args::check_frame_count("point_clouds", "colors", f)?;
    let to_u8 = |x: f32| (x * 255.0 + 0.5) as u8;
    let bytes: Vec<u8> = match (a.dtype(), a.data()) {
        (DType::U8, ArrayData::U8(d)) => rgba(d, c, |x| x),
        (DType::F32 | DType::F64, _) => {
            let floats = a.to_f32();
            check_values("point_clouds", "colors", &shape, &floats, Range::Unit)?;
            rgba(&floats, c, to_u8)
        }
        (other, _) => {
            return Err(err(
                "bad_dtype",
                format!("point_clouds: field \"colors\" must be float in [0, 1] or uint8, got {other}"),
            ));
        }
    };
    Ok((f, n, bytes))
}

/// Rows of `c` channels to RGBA8 (alpha 255 for RGB).
fn rgba<T: Copy>(data: &[T], c: usize, to_u8: impl Fn(T) -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / c * 4);
    for row in data.chunks_exact(c) {
        out.extend(row.iter().map(|&x| to_u8(x)));
        if c == 3 {
            out.push(255);
        }
    }
    out
}

/// Reads a point-cloud message's `points` and `colors` (either may be absent
/// in frame messages). Colors must match the points: the same frames (or one
/// frame for all) and the same rows (or one color for every point). Points
/// with NaN or inf are skipped, with their colors, and reported once.
pub(crate) fn read_cloud(points: Option<&Value>, colors: Option<&Value>) -> Result<Cloud, SceneError> {
    let points = points.map(read_points).transpose()?;
    let colors = colors.map(read_colors).transpose()?;
    let Some((f, n, data)) = points else {
        // Colors alone (update_frames): the caller checks them against the node's points.
        let colors = match colors {
            None => None,
            Some((f, Some(n), bytes)) => Some(packed_seq(&bytes, &vec![n; f])),
            Some((_, None, _)) => {
                return Err(err(
                    "bad_shape",
                    "point_clouds: field \"colors\" without points must be per point, (N, 3|4) or (F, N, 3|4)",
                ));
            }
        };
        return Ok(Cloud { points: None, colors, warning: None });
    };
    // Per frame, per point: the color bytes' index (or none).
    let color_at = match &colors {
        None => None,
        Some((cf, cn, bytes)) => {
            if *cf != f && *cf != 1 {
                return Err(err(
                    "bad_shape",
                    format!("point_clouds: field \"colors\" has {cf} frames but points has {f}; send {f} or 1"),
                ));
            }
            if let Some(cn) = cn.filter(|&cn| cn != n) {
                return Err(err(
                    "bad_shape",
                    format!("point_clouds: field \"colors\" has {cn} rows but points has {n} per frame"),
                ));
            }
            Some((*cf, cn.is_some(), bytes))
        }
    };
    let finite = |p: &[f32]| p.iter().all(|x| x.is_finite());
    let bad = data.chunks_exact(3).filter(|p| !finite(p)).count();
    let color_of = |frame: usize, i: usize| -> [u8; 4] {
        let (cf, per_point, bytes) = color_at.expect("colors given");
        let frame = if cf == 1 { 0 } else { frame };
        let k = if per_point { frame * n + i } else { frame };
        [bytes[4 * k], bytes[4 * k + 1], bytes[4 * k + 2], bytes[4 * k + 3]]
    };
    let (points, rows) = if bad == 0 {
        (FrameSeq::ragged(vec![3], &vec![n; f], Arc::clone(&data)), vec![n; f])
    } else {
        let mut kept = Vec::with_capacity(data.len() - 3 * bad);
        let mut rows = Vec::with_capacity(f);
        for frame in data.chunks_exact(3 * n.max(1)).take(f) {
            let before = kept.len();
            frame.chunks_exact(3).filter(|p| finite(p)).for_each(|p| kept.extend_from_slice(p));
            rows.push((kept.len() - before) / 3);
        }
        if n == 0 {
            rows = vec![0; f];
        }
        (FrameSeq::ragged(vec![3], &rows, Arc::new(kept)), rows)
    };
    let colors = color_at.map(|_| {
        let mut packed = Vec::with_capacity(rows.iter().sum());
        for (frame, p) in (0..f).zip(data.chunks_exact(3 * n.max(1))) {
            for (i, xyz) in p.chunks_exact(3).enumerate() {
                if bad == 0 || finite(xyz) {
                    packed.push(pack(color_of(frame, i)));
                }
            }
        }
        FrameSeq::ragged(vec![1], &rows, Arc::new(packed))
    });
    let warning = (bad > 0)
        .then(|| format!("point_clouds: {bad} of {} points have NaN or inf coordinates and were skipped", f * n));
    Ok(Cloud { points: Some(points), colors, warning })
}

/// Packed colors from RGBA8 bytes, `rows[i]` points in frame `i`.
fn packed_seq(bytes: &[u8], rows: &[usize]) -> FrameSeq {
    let packed: Vec<f32> = bytes.chunks_exact(4).map(|c| pack([c[0], c[1], c[2], c[3]])).collect();
    FrameSeq::ragged(vec![1], rows, Arc::new(packed))
}
