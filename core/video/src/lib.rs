//! Periscope's video output: camera paths ([`path`]) and video files written
//! on their own thread ([`VideoWriter`]): MP4 (H.264, OpenH264 built from
//! source, muxed by [`mp4`]), GIF, or a PNG sequence.
//!
//! A file is written under an unpredictable temporary name beside the final
//! one and renamed when finished ([`staged`]), so a cancelled or failed export
//! never leaves a half-written file under the name asked for, and nothing is
//! ever written through a symlink planted at either name.

pub mod mp4;
pub mod path;
pub mod staged;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

pub use path::{CameraPath, Follow, Interpolation, Keyframe, NodeRef, Orbit, PathContext, PathError, Pose};
pub use staged::Staged;

/// Largest side of a GIF or PNG-sequence frame.
pub const MAX_SIDE: u32 = 8192;
/// Most pixels in one video frame, any format (8 Mi: 4096x2048; 3840x2160
/// fits). One frame is one offscreen render on the viewer's main thread,
/// which nothing else can use meanwhile: this bounds how long that takes
/// (on lavapipe a 4096x4096 frame blocked it for several seconds;
/// docs/video.md, *Cost*) and what one frame holds in memory (32 MiB RGBA).
pub const MAX_PIXELS: u64 = 4096 * 2048;
/// H.264 as OpenH264 encodes it (level 5.2): each side at least 16, the
/// longer at most 3840 and the shorter at most 2160.
pub const MP4_MIN_SIDE: u32 = 16;
pub const MP4_MAX_LONG_SIDE: u32 = 3840;
pub const MP4_MAX_SHORT_SIDE: u32 = 2160;
/// Frame rates: an MP4 stores the rate as frames per 1000 ticks when it is
/// not a whole or 1000/1001 rate, a GIF as whole centiseconds per frame;
/// below 0.01 fps neither can hold it.
pub const MIN_FPS: f64 = 0.01;
pub const MAX_FPS: f64 = 240.0;
/// Longest file (or folder) name an export can have, in bytes (the usual
/// file-system limit; a PNG sequence's frames need 11 more).
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Frames waiting for the encoder (each a full RGBA frame).
pub const QUEUE_FRAMES: usize = 3;

/// Why a video cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("unknown video extension {0:?}: use .mp4, .gif or .png (a PNG sequence)")]
    UnknownExtension(String),
    #[error("{format}: video size {width}x{height} is outside {range} (field \"width\"/\"height\")")]
    Size { format: &'static str, width: u32, height: u32, range: &'static str },
    #[error(
        "video size {width}x{height} has {} pixels, more than the {} one frame may have (e.g. 4096x2048 or 3840x2160; field \"width\"/\"height\")",
        u64::from(*width) * u64::from(*height),
        MAX_PIXELS
    )]
    Pixels { width: u32, height: u32 },
    #[error("field \"fps\" must be a number in [{MIN_FPS}, {MAX_FPS}], found {0}")]
    Fps(f64),
    #[error("field \"name\": {0}")]
    Name(String),
    #[error("{}: {reason}; choose another name or move it away", path.display())]
    Occupied { path: PathBuf, reason: &'static str },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{format} encoder: {message}")]
    Encode { format: &'static str, message: String },
    #[error("a frame has {got} bytes, expected {expected} (width x height x 4)")]
    FrameSize { got: usize, expected: usize },
    #[error("the export was cancelled")]
    Cancelled,
}

impl VideoError {
    /// Whether the request itself is at fault (a field, the name, a place
    /// taken): `bad_value`; otherwise writing failed (`export_failed`).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            Self::UnknownExtension(_)
                | Self::Size { .. }
                | Self::Pixels { .. }
                | Self::Fps(_)
                | Self::Name(_)
                | Self::Occupied { .. }
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VideoError + '_ {
    move |source| VideoError::Io { path: path.to_owned(), source }
}

/// The kinds of file a video can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoFormat {
    /// H.264 in an MP4 file.
    Mp4,
    Gif,
    /// `name.png` -> a folder `name/` of `name_00000.png`, ...
    PngSequence,
}

impl VideoFormat {
    /// The format a path's extension asks for.
    pub fn from_path(path: &Path) -> Result<Self, VideoError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "mp4" => Ok(Self::Mp4),
            "gif" => Ok(Self::Gif),
            "png" => Ok(Self::PngSequence),
            _ => Err(VideoError::UnknownExtension(ext)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::Gif => "gif",
            Self::PngSequence => "png",
        }
    }

    /// The size the file will have: H.264 (4:2:0) needs even sides, so odd
    /// ones are rounded down (at least 2).
    pub fn fit_size(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            Self::Mp4 => ((width & !1).max(2), (height & !1).max(2)),
            _ => (width, height),
        }
    }

    /// The sides this format can encode, in words (for errors and docs).
    pub fn size_range(self) -> &'static str {
        match self {
            Self::Mp4 => {
                "16..=3840 per side with the shorter side at most 2160 (H.264 level 5.2: up to 3840x2160 or 2160x3840)"
            }
            Self::Gif | Self::PngSequence => "1..=8192 per side",
        }
    }

    /// Checks a requested size (before [`Self::fit_size`]) against this
    /// format's range and [`MAX_PIXELS`]; returns the size the file will
    /// have. The error names the size asked for.
    pub fn check_size(self, width: u32, height: u32) -> Result<(u32, u32), VideoError> {
        let (w, h) = self.fit_size(width, height);
        let fits = match self {
            Self::Mp4 => w.min(h) >= MP4_MIN_SIDE && w.max(h) <= MP4_MAX_LONG_SIDE && w.min(h) <= MP4_MAX_SHORT_SIDE,
            Self::Gif | Self::PngSequence => (1..=MAX_SIDE).contains(&w) && (1..=MAX_SIDE).contains(&h),
        };
        if !fits {
            return Err(VideoError::Size { format: self.name(), width, height, range: self.size_range() });
        }
        if u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(VideoError::Pixels { width, height });
        }
        Ok((w, h))
    }

    /// Checks the name of `path`'s output: it fits a file name (and a PNG
    /// sequence's frame names fit too).
    pub fn check_name(self, path: &Path) -> Result<(), VideoError> {
        let output = self.output_path(path);
        let name = output.file_name().map_or(0, |n| n.len());
        let longest = match self {
            // `name_000000.png`: six digits past 99,999 frames.
            Self::PngSequence => name + 11,
            _ => name,
        };
        if name == 0 || longest > MAX_FILE_NAME_BYTES {
            return Err(VideoError::Name(format!(
                "{:?} is too long: a file name has at most {MAX_FILE_NAME_BYTES} bytes{}",
                path.file_name().unwrap_or_default(),
                if self == Self::PngSequence { " (with \"_NNNNNN.png\" for each frame)" } else { "" }
            )));
        }
        Ok(())
    }

    /// Where the finished output lies for `path` (a folder for a PNG sequence).
    pub fn output_path(self, path: &Path) -> PathBuf {
        match self {
            Self::PngSequence => path.with_extension(""),
            _ => path.to_owned(),
        }
    }
}

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoSpec {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

impl VideoSpec {
    /// Checks sizes and frame rate for `format` (after [`VideoFormat::fit_size`]).
    pub fn check(&self, format: VideoFormat) -> Result<(), VideoError> {
        let fitted = format.check_size(self.width, self.height)?;
        if fitted != (self.width, self.height) {
            return Err(VideoError::Encode {
                format: "mp4",
                message: format!("H.264 needs even sides, got {}x{}", self.width, self.height),
            });
        }
        check_fps(self.fps)
    }

    fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }
}

/// Frame rates a video can have: [`MIN_FPS`]..=[`MAX_FPS`].
pub fn check_fps(fps: f64) -> Result<(), VideoError> {
    if !(MIN_FPS..=MAX_FPS).contains(&fps) {
        return Err(VideoError::Fps(fps));
    }
    Ok(())
}

/// Whether `dir` holds nothing but a PNG sequence the viewer wrote for
/// `stem`: plain files named `stem_NNNNN.png` (an empty folder counts).
fn is_png_sequence(dir: &Path, stem: &str) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            return Ok(false);
        }
        let name = entry.file_name();
        let ok = name
            .to_str()
            .and_then(|n| n.strip_prefix(stem))
            .and_then(|n| n.strip_prefix('_'))
            .and_then(|n| n.strip_suffix(".png"))
            .is_some_and(|d| d.len() >= 5 && d.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whatever is at `output` may be replaced by a `format` export: nothing, a
/// file or a symlink (replaced by the rename, never followed) for a file
/// format; for a PNG sequence only a folder holding an earlier sequence.
fn check_output(format: VideoFormat, output: &Path) -> Result<(), VideoError> {
    let meta = match std::fs::symlink_metadata(output) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(VideoError::Io { path: output.to_owned(), source: e }),
    };
    let occupied = |reason| Err(VideoError::Occupied { path: output.to_owned(), reason });
    match format {
        VideoFormat::Mp4 | VideoFormat::Gif => {
            if meta.is_dir() {
                return occupied("a folder is there");
            }
        }
        VideoFormat::PngSequence => {
            if !meta.is_dir() {
                return occupied("a file or link is there, not a PNG sequence's folder");
            }
            let stem = output.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !is_png_sequence(output, stem).map_err(io(output))? {
                return occupied("the folder holds files other than an earlier PNG sequence (NAME_NNNNN.png)");
            }
        }
    }
    Ok(())
}

/// A finished video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The file (or, for a PNG sequence, the folder).
    pub path: PathBuf,
    /// For a PNG sequence, its files in order.
    pub files: Vec<PathBuf>,
    pub frames: usize,
    pub bytes: u64,
}

/// What an encoder leaves: the file's size in bytes and (PNG) its files.
type Finished = (u64, Vec<PathBuf>);

/// Encodes RGBA frames into one file.
trait Encoder: Send {
    /// Encodes one frame; it is the encoder's (GIF quantizes it in place).
    fn frame(&mut self, rgba: Vec<u8>) -> Result<(), VideoError>;
    /// Finishes the file; returns its size in bytes and (PNG) its files.
    fn finish(self: Box<Self>) -> Result<Finished, VideoError>;
}

struct Mp4Encoder {
    encoder: openh264::encoder::Encoder,
    yuv: openh264::formats::YUVBuffer,
    mux: mp4::Mp4Writer<std::io::BufWriter<std::fs::File>>,
    spec: VideoSpec,
    path: PathBuf,
}

impl Mp4Encoder {
    fn new(file: std::fs::File, path: &Path, spec: VideoSpec) -> Result<Self, VideoError> {
        use openh264::encoder::{BitRate, EncoderConfig, FrameRate, IntraFramePeriod};
        let err = |e: openh264::Error| VideoError::Encode { format: "mp4", message: e.to_string() };
        // About 0.15 bits per pixel: sharp edges stay sharp for scene renders.
        let bps = (f64::from(spec.width) * f64::from(spec.height) * spec.fps * 0.15).clamp(500e3, 80e6) as u32;
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bps))
            .max_frame_rate(FrameRate::from_hz(spec.fps as f32))
            .skip_frames(false)
            // A keyframe every two seconds, so players can seek.
            .intra_frame_period(IntraFramePeriod::from_num_frames((spec.fps * 2.0).round().max(1.0) as u32));
        let encoder =
            openh264::encoder::Encoder::with_api_config(openh264::OpenH264API::from_source(), config).map_err(err)?;
        let (w, h) = (spec.width as u16, spec.height as u16);
        let mux =
            mp4::Mp4Writer::new(std::io::BufWriter::with_capacity(1 << 20, file), w, h, spec.fps).map_err(io(path))?;
        let yuv = openh264::formats::YUVBuffer::new(spec.width as usize, spec.height as usize);
        Ok(Self { encoder, yuv, mux, spec, path: path.to_owned() })
    }
}

impl Encoder for Mp4Encoder {
    fn frame(&mut self, rgba: Vec<u8>) -> Result<(), VideoError> {
        let dims = (self.spec.width as usize, self.spec.height as usize);
        self.yuv.read_rgba8(openh264::formats::RgbaSliceU8::new(&rgba, dims));
        let stream =
            self.encoder.encode(&self.yuv).map_err(|e| VideoError::Encode { format: "mp4", message: e.to_string() })?;
        let bytes = stream.to_vec();
        self.mux.write_frame(&bytes).map_err(io(&self.path))
    }

    fn finish(self: Box<Self>) -> Result<Finished, VideoError> {
        let path = self.path.clone();
        let out = self.mux.finish().map_err(io(&path))?;
        let file = out.into_inner().map_err(|e| VideoError::Io { path: path.clone(), source: e.into_error() })?;
        file.sync_all().map_err(io(&path))?;
        Ok((file.metadata().map_err(io(&path))?.len(), Vec::new()))
    }
}

struct GifEncoder {
    encoder: gif::Encoder<std::io::BufWriter<std::fs::File>>,
    spec: VideoSpec,
    /// Centiseconds per frame, with the rounding error carried over.
    delay_error: f64,
    path: PathBuf,
}

impl GifEncoder {
    fn new(file: std::fs::File, path: &Path, spec: VideoSpec) -> Result<Self, VideoError> {
        let err = |e: gif::EncodingError| VideoError::Encode { format: "gif", message: e.to_string() };
        if spec.width > u32::from(u16::MAX) || spec.height > u32::from(u16::MAX) {
            let range = VideoFormat::Gif.size_range();
            return Err(VideoError::Size { format: "gif", width: spec.width, height: spec.height, range });
        }
        let mut encoder = gif::Encoder::new(std::io::BufWriter::new(file), spec.width as u16, spec.height as u16, &[])
            .map_err(err)?;
        encoder.set_repeat(gif::Repeat::Infinite).map_err(err)?;
        Ok(Self { encoder, spec, delay_error: 0.0, path: path.to_owned() })
    }
}

impl Encoder for GifEncoder {
    fn frame(&mut self, mut pixels: Vec<u8>) -> Result<(), VideoError> {
        // Quantizing is the slow part (NeuQuant); 10 is gif's balance of speed and quality.
        let mut frame = gif::Frame::from_rgba_speed(self.spec.width as u16, self.spec.height as u16, &mut pixels, 10);
        // GIF delays are whole centiseconds: carry the remainder so the
        // average rate is right (e.g. 30 fps -> 3, 3, 4, ...), and at least 2
        // (players slow shorter delays down to 10).
        let exact = 100.0 / self.spec.fps + self.delay_error;
        let delay = exact.round().max(2.0);
        self.delay_error = exact - delay;
        frame.delay = delay as u16;
        self.encoder.write_frame(&frame).map_err(|e| match e {
            gif::EncodingError::Io(source) => VideoError::Io { path: self.path.clone(), source },
            other => VideoError::Encode { format: "gif", message: other.to_string() },
        })
    }

    fn finish(self: Box<Self>) -> Result<Finished, VideoError> {
        let path = self.path.clone();
        let writer =
            self.encoder.into_inner().map_err(|e| VideoError::Encode { format: "gif", message: e.to_string() })?;
        let file = writer.into_inner().map_err(|e| VideoError::Io { path: path.clone(), source: e.into_error() })?;
        file.sync_all().map_err(io(&path))?;
        Ok((file.metadata().map_err(io(&path))?.len(), Vec::new()))
    }
}

struct PngEncoder {
    /// The (temporary) folder and the file stem.
    dir: PathBuf,
    stem: String,
    spec: VideoSpec,
    names: Vec<String>,
    bytes: u64,
}

impl Encoder for PngEncoder {
    fn frame(&mut self, rgba: Vec<u8>) -> Result<(), VideoError> {
        let name = format!("{}_{:05}.png", self.stem, self.names.len());
        let path = self.dir.join(&name);
        // The folder is the export's own, made fresh: nothing else is in it.
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io(&path))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.spec.width, self.spec.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let png_err = |e: png::EncodingError| match e {
            png::EncodingError::IoError(source) => VideoError::Io { path: path.clone(), source },
            other => VideoError::Encode { format: "png", message: other.to_string() },
        };
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(&rgba).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
        self.bytes += std::fs::metadata(&path).map_err(io(&path))?.len();
        self.names.push(name);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Finished, VideoError> {
        Ok((self.bytes, self.names.iter().map(PathBuf::from).collect()))
    }
}

/// A video being written: frames go to an encoder thread through a queue of
/// [`QUEUE_FRAMES`]; the file appears under its name only when finished.
pub struct VideoWriter {
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<Result<Finished, VideoError>>>,
    cancel: Arc<AtomicBool>,
    format: VideoFormat,
    spec: VideoSpec,
    /// The temporary file or folder (removed when dropped unfinished).
    staged: Option<Staged>,
    output: PathBuf,
    sent: usize,
    done: bool,
}

fn encoder_thread(
    mut encoder: Box<dyn Encoder>,
    rx: Receiver<Vec<u8>>,
    cancel: Arc<AtomicBool>,
) -> Result<Finished, VideoError> {
    for frame in rx {
        if cancel.load(Ordering::Relaxed) {
            return Err(VideoError::Cancelled);
        }
        encoder.frame(frame)?;
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(VideoError::Cancelled);
    }
    encoder.finish()
}

impl VideoWriter {
    /// Checks the request without touching the disk: the format, the size
    /// and frame rate, and the name's length.
    pub fn check(path: &Path, spec: VideoSpec) -> Result<VideoFormat, VideoError> {
        let format = VideoFormat::from_path(path)?;
        spec.check(format)?;
        format.check_name(path)?;
        Ok(format)
    }

    /// Opens `path` for writing (its format from the extension; the folder is
    /// created): a bad size, an unwritable place or a name already taken by
    /// something an export may not replace fails here, before anything is
    /// rendered.
    pub fn create(path: &Path, spec: VideoSpec) -> Result<Self, VideoError> {
        let format = Self::check(path, spec)?;
        let output = format.output_path(path);
        let dir = staged::parent_dir(&output);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        check_output(format, &output)?;
        let file_name = output.file_name().and_then(|n| n.to_str()).unwrap_or("video").to_owned();
        let (staged, encoder): (Staged, Box<dyn Encoder>) = match format {
            VideoFormat::Mp4 | VideoFormat::Gif => {
                let (staged, file) = Staged::file(&output).map_err(io(&output))?;
                let partial = staged.temp().to_owned();
                let made = if format == VideoFormat::Mp4 {
                    Mp4Encoder::new(file, &partial, spec).map(|e| Box::new(e) as Box<dyn Encoder>)
                } else {
                    GifEncoder::new(file, &partial, spec).map(|e| Box::new(e) as Box<dyn Encoder>)
                };
                // On an error the staged file is dropped, which removes it.
                (staged, made?)
            }
            VideoFormat::PngSequence => {
                let staged = Staged::dir(&output).map_err(io(&output))?;
                let dir = staged.temp().to_owned();
                (staged, Box::new(PngEncoder { dir, stem: file_name.clone(), spec, names: Vec::new(), bytes: 0 }))
            }
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_FRAMES);
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let thread = std::thread::Builder::new()
            .name("periscope-video".into())
            .spawn(move || encoder_thread(encoder, rx, flag))
            .map_err(io(&output))?;
        tracing::info!(path = %output.display(), format = format.name(), width = spec.width, height = spec.height, fps = spec.fps, "video export started");
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            cancel,
            format,
            spec,
            staged: Some(staged),
            output,
            sent: 0,
            done: false,
        })
    }

    pub fn format(&self) -> VideoFormat {
        self.format
    }

    pub fn spec(&self) -> VideoSpec {
        self.spec
    }

    /// Frames handed to the encoder so far.
    pub fn frames(&self) -> usize {
        self.sent
    }

    fn check_frame(&self, rgba: &[u8]) -> Result<(), VideoError> {
        let expected = self.spec.frame_bytes();
        if rgba.len() != expected {
            return Err(VideoError::FrameSize { got: rgba.len(), expected });
        }
        Ok(())
    }

    /// Hands a frame to the encoder, waiting while its queue is full.
    pub fn push(&mut self, rgba: Vec<u8>) -> Result<(), VideoError> {
        self.check_frame(&rgba)?;
        let tx = self.tx.as_ref().ok_or(VideoError::Cancelled)?;
        if tx.send(rgba).is_err() {
            return Err(self.thread_error());
        }
        self.sent += 1;
        Ok(())
    }

    /// Hands a frame to the encoder if its queue has room; otherwise gives it
    /// back (`Ok(Some(frame))`), so a UI thread never waits for the encoder.
    pub fn try_push(&mut self, rgba: Vec<u8>) -> Result<Option<Vec<u8>>, VideoError> {
        self.check_frame(&rgba)?;
        let tx = self.tx.as_ref().ok_or(VideoError::Cancelled)?;
        match tx.try_send(rgba) {
            Ok(()) => {
                self.sent += 1;
                Ok(None)
            }
            Err(TrySendError::Full(frame)) => Ok(Some(frame)),
            Err(TrySendError::Disconnected(_)) => Err(self.thread_error()),
        }
    }

    /// The encoder thread stopped early: its error (and the partial file removed).
    fn thread_error(&mut self) -> VideoError {
        self.tx = None;
        let err = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => VideoError::Encode { format: self.format.name(), message: "the encoder panicked".into() },
            _ => VideoError::Cancelled,
        };
        self.staged = None;
        self.done = true;
        err
    }

    /// No more frames: the encoder finishes the file on its thread, and
    /// [`Self::encoded`] says when [`Self::finish`] will not wait.
    pub fn close_input(&mut self) {
        self.tx = None;
    }

    /// Whether the encoder thread has stopped (after [`Self::close_input`]:
    /// the file is encoded, so [`Self::finish`] returns at once).
    pub fn encoded(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the encoder, then moves the file to its name (replacing an
    /// older one: a file or link for MP4 and GIF, an earlier sequence's
    /// folder for PNG). An empty video is an error.
    pub fn finish(mut self) -> Result<Written, VideoError> {
        self.done = true;
        self.tx = None;
        let result = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => {
                Err(VideoError::Encode { format: self.format.name(), message: "the encoder panicked".into() })
            }
            None => Err(VideoError::Cancelled),
        };
        let result = if self.sent == 0 {
            Err(VideoError::Encode { format: self.format.name(), message: "no frames to write".into() })
        } else {
            result
        };
        // On an error the staged file is dropped with `self`, which removes it.
        let (bytes, names) = result?;
        let staged = self.staged.take().ok_or(VideoError::Cancelled)?;
        // Something may have appeared under the name while the video was made.
        check_output(self.format, &self.output)?;
        let moved =
            if self.format == VideoFormat::PngSequence { staged.commit_replacing_dir() } else { staged.commit() };
        moved.map_err(io(&self.output))?;
        let files = names.iter().map(|n| self.output.join(n)).collect();
        tracing::info!(path = %self.output.display(), frames = self.sent, bytes, "video written");
        Ok(Written { path: self.output.clone(), files, frames: self.sent, bytes })
    }

    /// Stops: the encoder drops what it has and nothing is left on disk.
    pub fn cancel(mut self) {
        self.abort();
    }

    fn abort(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.cancel.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
        self.staged = None;
        tracing::info!(path = %self.output.display(), "video export cancelled");
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        self.abort();
    }
}
