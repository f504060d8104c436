//! Remote-rendered images: reading them from a message (cheap) and turning
//! them into RGBA8 ([`decode`]: on the native viewer's decoder thread, and in
//! the browser view, which has no threads, between frames). Nothing here
//! keeps state: the native viewer's `images` module and the browser view's
//! own keep the windows and the main view's image.

use std::sync::Arc;

use web_time::Instant;

use periscope_protocol::{ArrayData, Envelope, NdArray, Value};

/// Which window an image goes to: the sending client and its index in the list.
pub type ImageKey = (u64, usize);

/// The largest side accepted, in pixels.
pub const MAX_SIDE: usize = 16_384;

/// Most images in one `images` message, hence most windows per client (one per index).
pub const MAX_WINDOWS: usize = periscope_protocol::limits::MAX_IMAGE_WINDOWS;

/// Bytes of one mebibyte, for messages.
const MIB: f64 = 1024.0 * 1024.0;

/// `bytes` as mebibytes for a message (`256.0 MiB`).
pub fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

/// What arrived, before decoding.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A raw array: uint8 or float (values in [0, 1]), (H, W), (H, W, 1|3|4).
    Raw(NdArray),
    /// JPEG or PNG bytes.
    Encoded { format: Format, bytes: Arc<Vec<u8>> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
        }
    }

    /// Recognises JPEG and PNG by their first bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else {
            None
        }
    }
}

/// The key index of a client's image for the main view (`viewport_image`).
pub const VIEWPORT_INDEX: usize = usize::MAX;

/// The camera a main-view image was rendered from: the fields of the camera
/// message the viewer sent (docs/protocol.md, "Camera") it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceCamera {
    pub width: f32,
    pub height: f32,
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    /// World -> OpenCV camera axes.
    pub world_to_camera: glam::Mat4,
}

impl SourceCamera {
    /// Reads a camera dict; errors name the missing or bad field.
    pub fn parse(v: &Value) -> Result<Self, String> {
        if !matches!(v, Value::Map(_)) {
            return Err(format!("camera must be the camera dict the viewer sent, got {}", v.type_name()));
        }
        let num = |key: &str| -> Result<f32, String> {
            let x = v.get(key).ok_or_else(|| format!("camera: field \"{key}\" is missing"))?;
            x.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f as f32)
                .ok_or_else(|| format!("camera: field \"{key}\" must be a finite number, found {}", x.type_name()))
        };
        let m = v.get("world_to_camera").ok_or("camera: field \"world_to_camera\" is missing")?;
        let flat: Vec<f32> = match m {
            Value::NdArray(a) if a.len() == 16 => a.to_f32().to_vec(),
            Value::Array(rows) => rows
                .iter()
                .flat_map(|r| match r {
                    Value::Array(xs) => xs.iter().map(Value::as_f64).collect::<Vec<_>>(),
                    other => vec![other.as_f64()],
                })
                .map(|x| x.map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let cols: [f32; 16] =
            flat.try_into().map_err(|_| "camera: field \"world_to_camera\" must be a 4x4 matrix".to_owned())?;
        let world_to_camera = glam::Mat4::from_cols_array(&cols).transpose(); // sent row-major
        let cam = Self {
            width: num("width")?,
            height: num("height")?,
            fx: num("fx")?,
            fy: num("fy")?,
            cx: num("cx")?,
            cy: num("cy")?,
            world_to_camera,
        };
        if cam.width < 1.0 || cam.height < 1.0 || cam.fx <= 0.0 || cam.fy <= 0.0 {
            return Err("camera: width, height, fx and fy must be positive".into());
        }
        if world_to_camera.determinant().abs() < 1e-12 || !world_to_camera.is_finite() {
            return Err("camera: field \"world_to_camera\" must be an invertible matrix".into());
        }
        Ok(cam)
    }
}

/// What a main-view image carries besides its pixels.
#[derive(Clone, Debug)]
pub struct ViewportExtra {
    /// (H, W) float depth (z along the viewing axis), if sent.
    pub depth: Option<NdArray>,
    pub camera: SourceCamera,
}

/// One image of an `images` message (or a `viewport_image`).
#[derive(Clone, Debug)]
pub struct Incoming {
    pub key: ImageKey,
    pub payload: Payload,
    /// The message's sequence number.
    pub seq: Option<u64>,
    /// The camera message (`seq`) the renderer says it rendered from, for round-trip latency.
    pub camera_seq: Option<u64>,
    pub received: Instant,
    /// Set for a main-view image.
    pub viewport: Option<Box<ViewportExtra>>,
    /// (width, height): the array's shape, or what the JPEG/PNG header says,
    /// read before anything is decoded. `None`: the header could not be read
    /// (the decoder then refuses the image with the reason).
    pub size: Option<(usize, usize)>,
}

impl Incoming {
    /// Bytes the decoded image will hold: RGBA8, plus a main-view image's
    /// float depth. Known before decoding (the budget is checked against it).
    pub fn decoded_bytes(&self) -> usize {
        let Some((w, h)) = self.size else { return 0 };
        let depth = self.viewport.as_ref().is_some_and(|v| v.depth.is_some());
        w * h * if depth { 8 } else { 4 }
    }

    pub fn format_name(&self) -> &'static str {
        match &self.payload {
            Payload::Raw(_) => "raw",
            Payload::Encoded { format, .. } => format.name(),
        }
    }
}

/// A main-view image's depth (one float per pixel, shared) and camera.
pub type DecodedViewport = (Option<Arc<Vec<f32>>>, SourceCamera);

/// A decoded image, ready for a texture.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub key: ImageKey,
    pub width: usize,
    pub height: usize,
    /// RGBA8, rows top to bottom.
    pub rgba: Vec<u8>,
    pub seq: Option<u64>,
    pub camera_seq: Option<u64>,
    pub received: Instant,
    pub format: &'static str,
    /// Milliseconds spent decoding (shown in the window).
    pub decode_ms: f32,
    /// A main-view image's depth (one float per pixel) and camera.
    pub viewport: Option<Box<DecodedViewport>>,
}

/// Checks the shape of a raw image array; returns (height, width, channels).
pub fn raw_shape(a: &NdArray) -> Result<(usize, usize, usize), String> {
    let (h, w, c) = match *a.shape() {
        [h, w] => (h, w, 1),
        [h, w, c] if matches!(c, 1 | 3 | 4) => (h, w, c),
        _ => {
            return Err(format!(
                "an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {:?}",
                a.shape()
            ));
        }
    };
    if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
        return Err(format!("image size {w}x{h} is outside 1..={MAX_SIDE}"));
    }
    match a.data() {
        ArrayData::U8(_) | ArrayData::F32(_) | ArrayData::F64(_) => Ok((h, w, c)),
        _ => Err(format!("image arrays must be uint8 or float (values in [0, 1]), got {}", a.dtype())),
    }
}

/// Reads the images of an `images` message: kwarg `images` (or the first
/// argument), a list, or one image. Each is an array, JPEG/PNG bytes, or
/// `{format, data}`. Errors name the index.
pub fn parse(client: u64, env: &Envelope, received: Instant) -> Result<Vec<Incoming>, String> {
    let camera_seq = env.kwarg("camera_seq").and_then(Value::as_i64).and_then(|s| u64::try_from(s).ok());
    let list = env.kwarg("images").or(env.args.first()).ok_or("images needs the kwarg \"images\": a list of images")?;
    let items: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    if items.is_empty() {
        return Err("images is an empty list".into());
    }
    if items.len() > MAX_WINDOWS {
        return Err(format!(
            "field \"images\" has {} images, more than the {MAX_WINDOWS} windows a client may have (one per index)",
            items.len()
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let (payload, size) = payload(v).map_err(|e| format!("images[{index}]: {e}"))?;
            Ok(Incoming { key: (client, index), payload, seq: env.seq, camera_seq, received, viewport: None, size })
        })
        .collect()
}

/// One image: an array, JPEG/PNG bytes, or `{format, data}`; with its size
/// (from the shape or the header: nothing is decoded here).
fn payload(v: &Value) -> Result<(Payload, Option<(usize, usize)>), String> {
    let payload = match v {
        Value::NdArray(a) => {
            let (h, w, _) = raw_shape(a)?;
            return Ok((Payload::Raw(a.clone()), Some((w, h))));
        }
        Value::Bin(b) => encoded(b.clone(), None)?,
        Value::Map(_) => {
            let data = match v.get("data") {
                Some(Value::Bin(b)) => b.clone(),
                _ => return Err("a map image needs \"data\" bytes".into()),
            };
            let declared = v.get("format").and_then(Value::as_str).map(periscope_protocol::limits::excerpt);
            encoded(data, declared.as_deref())?
        }
        other => return Err(format!("expected an array or JPEG/PNG bytes, got {}", other.type_name())),
    };
    let size = match &payload {
        Payload::Encoded { format, bytes } => header_size(*format, bytes)?,
        Payload::Raw(_) => None,
    };
    Ok((payload, size))
}

fn image_format(format: Format) -> image::ImageFormat {
    match format {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
    }
}

/// The width and height a JPEG/PNG header declares (only the header is read);
/// `None` when it cannot be read (the decoder reports why). A side outside
/// 1..=[`MAX_SIDE`] is refused here.
fn header_size(format: Format, bytes: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), image_format(format));
    let Ok((w, h)) = reader.into_dimensions() else { return Ok(None) };
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(format!("image size {w}x{h} (from the {} header) is outside 1..={MAX_SIDE}", format.name()));
    }
    Ok(Some((w, h)))
}

/// Reads a `viewport_image`: kwarg `image` (or the first argument), optional
/// `depth` ((H, W) float) and `camera` (the dict the viewer sent; `last` when
/// absent). Errors name the field; a raw image's depth size is checked here,
/// an encoded one's after decoding.
pub fn parse_viewport(
    client: u64,
    env: &Envelope,
    received: Instant,
    last: Option<&SourceCamera>,
) -> Result<Incoming, String> {
    let v = env.kwarg("image").or(env.args.first()).ok_or("viewport_image needs the kwarg \"image\"")?;
    let (payload, size) = payload(v).map_err(|e| format!("image: {e}"))?;
    let depth = match env.kwarg("depth").filter(|d| !d.is_nil()) {
        None => None,
        Some(Value::NdArray(d)) => {
            let (h, w) = match *d.shape() {
                [h, w] | [h, w, 1] => (h, w),
                _ => return Err(format!("depth must be (H, W), got shape {:?}", d.shape())),
            };
            if !matches!(d.data(), ArrayData::F32(_) | ArrayData::F64(_)) {
                return Err(format!("depth must be float32 (or float64), got {}", d.dtype()));
            }
            if let Payload::Raw(a) = &payload
                && (a.shape()[0], a.shape()[1]) != (h, w)
            {
                return Err(format!("depth is ({h}, {w}) but the image is ({}, {})", a.shape()[0], a.shape()[1]));
            }
            Some(d.clone())
        }
        Some(other) => return Err(format!("depth must be an (H, W) float32 array, got {}", other.type_name())),
    };
    let camera = match env.kwarg("camera").filter(|c| !c.is_nil()) {
        Some(c) => SourceCamera::parse(c)?,
        None => last.cloned().ok_or(
            "camera: give the camera dict the image was rendered from (the viewer has sent this client none yet)",
        )?,
    };
    let camera_seq = env.kwarg("camera_seq").and_then(Value::as_i64).and_then(|s| u64::try_from(s).ok());
    Ok(Incoming {
        key: (client, VIEWPORT_INDEX),
        payload,
        seq: env.seq,
        camera_seq,
        received,
        viewport: Some(Box::new(ViewportExtra { depth, camera })),
        size,
    })
}

fn encoded(bytes: Vec<u8>, declared: Option<&str>) -> Result<Payload, String> {
    let sniffed = Format::sniff(&bytes);
    let format = match (declared, sniffed) {
        (_, Some(f)) => f,
        (Some(d), None) => return Err(format!("the data is not a {d} image (unrecognised first bytes)")),
        (None, None) => return Err("bytes that are neither JPEG nor PNG".into()),
    };
    Ok(Payload::Encoded { format, bytes: Arc::new(bytes) })
}

/// Converts any accepted payload to RGBA8.
pub fn decode(img: &Incoming) -> Result<Decoded, String> {
    let t0 = Instant::now();
    let (width, height, rgba) = match &img.payload {
        Payload::Raw(a) => {
            let (h, w, c) = raw_shape(a)?;
            (w, h, raw_to_rgba(a, c))
        }
        Payload::Encoded { format, bytes } => {
            let mut reader =
                image::ImageReader::with_format(std::io::Cursor::new(bytes.as_slice()), image_format(*format));
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(MAX_SIDE as u32);
            limits.max_image_height = Some(MAX_SIDE as u32);
            // No more than the size the header declared when the budget was
            // checked (8 bytes a pixel: 16-bit RGBA), whatever follows it.
            let (w, h) = img.size.unwrap_or((0, 0));
            limits.max_alloc = Some((w * h * 8 + (1 << 20)) as u64);
            reader.limits(limits);
            let decoded = reader
                .decode()
                .map_err(|e| format!("cannot decode the {}: {}", format.name(), e.to_string().trim()))?;
            let rgba = decoded.into_rgba8();
            let size = (rgba.width() as usize, rgba.height() as usize);
            if img.size != Some(size) {
                return Err(format!(
                    "the {} decodes to {}x{}, not the size its header declared",
                    format.name(),
                    size.0,
                    size.1
                ));
            }
            (size.0, size.1, rgba.into_raw())
        }
    };
    let viewport = match &img.viewport {
        None => None,
        Some(extra) => {
            let depth = match &extra.depth {
                None => None,
                Some(d) if (d.shape()[0], d.shape()[1]) != (height, width) => {
                    return Err(format!(
                        "depth is ({}, {}) but the image is ({height}, {width})",
                        d.shape()[0],
                        d.shape()[1]
                    ));
                }
                // NaN and negative depths read as empty (the shader treats z <= 0 or NaN as nothing there).
                Some(d) => Some(d.to_f32()),
            };
            Some(Box::new((depth, extra.camera.clone())))
        }
    };
    Ok(Decoded {
        viewport,
        key: img.key,
        width,
        height,
        rgba,
        seq: img.seq,
        camera_seq: img.camera_seq,
        received: img.received,
        format: img.format_name(),
        decode_ms: t0.elapsed().as_secs_f32() * 1000.0,
    })
}

fn raw_to_rgba(a: &NdArray, c: usize) -> Vec<u8> {
    fn expand<T: Copy>(src: &[T], c: usize, to_u8: impl Fn(T) -> u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(src.len() / c * 4);
        match c {
            4 => out.extend(src.iter().map(|&v| to_u8(v))),
            3 => {
                for px in src.chunks_exact(3) {
                    out.extend([to_u8(px[0]), to_u8(px[1]), to_u8(px[2]), 255]);
                }
            }
            _ => {
                for &v in src {
                    let g = to_u8(v);
                    out.extend([g, g, g, 255]);
                }
            }
        }
        out
    }
    let unit = |v: f64| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    match a.data() {
        ArrayData::U8(v) => expand(v, c, |x| x),
        ArrayData::F32(v) => expand(v, c, |x| unit(f64::from(x))),
        ArrayData::F64(v) => expand(v, c, unit),
        _ => unreachable!("raw_shape accepted only uint8 and float arrays"),
    }
}

/// The main view's image from a decoded `viewport_image`: its pixels (taken
/// from `d`), its depth and its camera's intrinsics, scaled when the image
/// has another size than that camera. `None` when `d` is a window's image.
pub fn viewport_background(d: &mut Decoded, z_up: bool) -> Option<periscope_render::Background> {
    let (depth, cam) = *d.viewport.take()?;
    let (sx, sy) = (d.width as f32 / cam.width, d.height as f32 / cam.height);
    Some(periscope_render::Background {
        width: d.width as u32,
        height: d.height as u32,
        rgba: std::mem::take(&mut d.rgba),
        depth,
        fx: cam.fx * sx,
        fy: cam.fy * sy,
        cx: cam.cx * sx,
        cy: cam.cy * sy,
        camera_to_display: periscope_render::world_to_display(z_up) * cam.world_to_camera.inverse(),
    })
}
