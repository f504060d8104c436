//! Remote-rendered images: reading them from a message (cheap, on the UI
//! thread) and turning them into RGBA8 (on the decoder thread).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

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

impl From<&super::CameraModel> for SourceCamera {
    fn from(m: &super::CameraModel) -> Self {
        Self {
            width: m.width as f32,
            height: m.height as f32,
            fx: m.fx,
            fy: m.fy,
            cx: m.cx,
            cy: m.cy,
            world_to_camera: m.world_to_camera,
        }
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

/// Newest-wins slots between the UI thread and the decoder thread.
#[derive(Default)]
struct Slots {
    input: BTreeMap<ImageKey, Incoming>,
    output: BTreeMap<ImageKey, Result<Decoded, (Incoming, String)>>,
    closed: bool,
    /// The thread is decoding an image taken from `input`.
    working: bool,
}

/// One background thread decoding images. Every queue in it holds at most one
/// image per window: a newer image replaces a waiting one (counted as dropped).
pub struct Decoder {
    shared: Arc<(Mutex<Slots>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Called after each decoded image (the window asks egui to repaint).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

impl Decoder {
    pub fn new(wake: Arc<Mutex<Option<Wake>>>) -> Self {
        let shared: Arc<(Mutex<Slots>, Condvar)> = Arc::default();
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("periscope-image-decode".into())
            .spawn(move || decode_loop(&s, &wake))
            .expect("can spawn the image decoder thread");
        Self { shared, thread: Some(thread) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `img`; true if it replaced an image still waiting for the same window.
    pub fn push(&self, img: Incoming) -> bool {
        let replaced = self.lock().input.insert(img.key, img).is_some();
        self.shared.1.notify_one();
        replaced
    }

    /// Whether images are waiting, being decoded, or decoded and not taken.
    pub fn busy(&self) -> bool {
        let s = self.lock();
        s.working || !s.input.is_empty() || !s.output.is_empty()
    }

    /// Takes every image decoded since the last call (failures carry the image and the reason).
    pub fn take(&self) -> Vec<Result<Decoded, (Incoming, String)>> {
        std::mem::take(&mut self.lock().output).into_values().collect()
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode_loop(shared: &(Mutex<Slots>, Condvar), wake: &Mutex<Option<Wake>>) {
    let (lock, cvar) = shared;
    loop {
        let img = {
            let mut slots = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if slots.closed {
                    return;
                }
                if let Some((_, img)) = slots.input.pop_first() {
                    slots.working = true;
                    break img;
                }
                slots = cvar.wait(slots).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = decode(&img).map_err(|e| (img, e));
        let key = match &result {
            Ok(d) => d.key,
            Err((i, _)) => i.key,
        };
        {
            let mut slots = lock.lock().unwrap_or_else(|e| e.into_inner());
            slots.output.insert(key, result);
            slots.working = false;
        }
        if let Some(w) = wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use periscope_protocol::MessageType;

    fn env(images: Value) -> Envelope {
        Envelope::new(MessageType::Images.as_i64()).with_kwarg("images", images)
    }

    #[test]
    fn raw_kinds_become_rgba() {
        let gray =
            NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![2, 3], &[0, 50, 100, 150, 200, 250]).unwrap();
        let rgb = NdArray::from_f32(vec![1, 2, 3], vec![1.0, 0.0, 0.5, 0.0, 2.0, -1.0]);
        let imgs =
            parse(7, &env(Value::Array(vec![Value::NdArray(gray), Value::NdArray(rgb)])), Instant::now()).unwrap();
        assert_eq!(imgs.iter().map(|i| i.key).collect::<Vec<_>>(), [(7, 0), (7, 1)]);
        let g = decode(&imgs[0]).unwrap();
        assert_eq!((g.width, g.height), (3, 2));
        assert_eq!(&g.rgba[4..8], &[50, 50, 50, 255]);
        let c = decode(&imgs[1]).unwrap();
        assert_eq!(c.rgba, [255, 0, 128, 255, 0, 255, 0, 255], "floats clamp to [0, 1]");
    }

    #[test]
    fn encoded_png_and_jpeg_decode() {
        let mut png = Vec::new();
        image::RgbaImage::from_pixel(4, 2, image::Rgba([10, 20, 30, 255]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let mut jpg = Vec::new();
        image::RgbImage::from_pixel(16, 8, image::Rgb([200, 30, 30]))
            .write_to(&mut std::io::Cursor::new(&mut jpg), image::ImageFormat::Jpeg)
            .unwrap_or_else(|_| panic!("the jpeg encoder is built in"));
        let list = Value::Array(vec![
            Value::Bin(png),
            Value::map([("format", Value::from("jpeg")), ("data", Value::Bin(jpg))]),
        ]);
        let imgs = parse(1, &env(list), Instant::now()).unwrap();
        let p = decode(&imgs[0]).unwrap();
        assert_eq!((p.width, p.height, p.format), (4, 2, "png"));
        assert_eq!(&p.rgba[..4], &[10, 20, 30, 255]);
        let j = decode(&imgs[1]).unwrap();
        assert_eq!((j.width, j.height, j.format), (16, 8, "jpeg"));
        assert!(j.rgba[0] > 150 && j.rgba[1] < 80, "{:?}", &j.rgba[..4]);
    }

    #[test]
    fn bad_images_name_the_index_and_the_problem() {
        let bad_shape = NdArray::from_f32(vec![2, 2, 2], vec![0.0; 8]);
        let e = parse(1, &env(Value::Array(vec![Value::NdArray(bad_shape)])), Instant::now()).unwrap_err();
        assert!(e.contains("images[0]") && e.contains("(H, W, 3)"), "{e}");
        let ints = NdArray::from_i64(vec![2, 2], vec![0; 4]);
        let e = parse(1, &env(Value::NdArray(ints)), Instant::now()).unwrap_err();
        assert!(e.contains("uint8 or float"), "{e}");
        let e = parse(1, &env(Value::Array(vec![Value::Int(1), Value::Bin(b"GIF89a".to_vec())])), Instant::now())
            .unwrap_err();
        assert!(e.contains("images[0]"), "{e}");
        let e = parse(1, &env(Value::Bin(b"GIF89a".to_vec())), Instant::now()).unwrap_err();
        assert!(e.contains("neither JPEG nor PNG"), "{e}");
        // Truncated JPEG: accepted on arrival (cheap check), refused by the decoder with a reason.
        let imgs = parse(1, &env(Value::Bin(vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 1])), Instant::now()).unwrap();
        assert!(decode(&imgs[0]).unwrap_err().contains("cannot decode the jpeg"));
    }

    /// A PNG that is only a header (and an empty IDAT): what a bomb looks like before its data.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 6, 0, 0, 0]);
        for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
            png.extend((data.len() as u32).to_be_bytes());
            let body = [kind, data].concat();
            png.extend(&body);
            png.extend(crc32(&body).to_be_bytes());
        }
        png
    }

    #[test]
    fn sizes_are_known_before_decoding() {
        let imgs = parse(1, &env(Value::Bin(png_header(16_384, 8_192))), Instant::now()).unwrap();
        assert_eq!(imgs[0].size, Some((16_384, 8_192)));
        assert_eq!(imgs[0].decoded_bytes(), 16_384 * 8_192 * 4);
        let e = parse(1, &env(Value::Array(vec![Value::Bin(png_header(20_000, 4))])), Instant::now()).unwrap_err();
        assert!(e.starts_with("images[0]: image size 20000x4 (from the png header) is outside 1..=16384"), "{e}");
        let list = Value::Array(vec![Value::Bin(png_header(1, 1)); MAX_WINDOWS + 1]);
        let e = parse(1, &env(list), Instant::now()).unwrap_err();
        assert!(e.contains("has 65 images"), "{e}");
        // An image whose data does not match its header: refused by the decoder, within the header's size.
        let imgs = parse(1, &env(Value::Bin(png_header(64, 64))), Instant::now()).unwrap();
        assert!(decode(&imgs[0]).unwrap_err().contains("cannot decode the png"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]
        /// Image bytes from a client: any content after a JPEG or PNG signature is an error or an image.
        #[test]
        fn arbitrary_encoded_images_never_panic(png in proptest::prelude::any::<bool>(), body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut bytes = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { vec![0xFF, 0xD8, 0xFF] };
            bytes.extend(body);
            if let Ok(imgs) = parse(1, &env(Value::Bin(bytes)), Instant::now()) {
                let _ = decode(&imgs[0]);
            }
        }
    }

    #[test]
    fn decoder_keeps_only_the_newest_per_window() {
        let wake: Arc<Mutex<Option<Wake>>> = Arc::default();
        let d = Decoder::new(wake);
        // Stall the decoder by holding the lock while pushing twice for one window.
        let mk = |v: u8| Incoming {
            key: (1, 0),
            payload: Payload::Raw(NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![1, 1], &[v]).unwrap()),
            seq: Some(u64::from(v)),
            camera_seq: None,
            received: Instant::now(),
            viewport: None,
            size: Some((1, 1)),
        };
        let replaced = {
            let mut slots = d.lock();
            slots.input.insert((1, 0), mk(1));
            slots.input.insert((1, 0), mk(2)).is_some()
        };
        assert!(replaced);
        d.shared.1.notify_one();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let got = loop {
            let t = d.take();
            if !t.is_empty() {
                break t;
            }
            assert!(Instant::now() < deadline, "decoder never answered");
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().seq, Some(2));
    }
}
