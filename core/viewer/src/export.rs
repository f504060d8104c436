//! Video export: scene frames rendered offscreen along a camera path at the
//! export size, handed to [`periscope_video::VideoWriter`]'s encoder thread.
//!
//! An export is a job the runtime steps a frame at a time ([`ExportJob::step`]),
//! so the window stays responsive and the server keeps serving clients while
//! it runs; the window's Export dialog, `--video` and clients' `export_video`
//! requests all start the same job.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use glam::Vec3;
use periscope_protocol::{ExportVideo, MessageType, Reply, Value, VideoExported};
use periscope_render::{Camera, SceneView, world_to_display};
use periscope_scene::{NodeId, Scene};
use periscope_video::{CameraPath, NodeRef, PathContext, VideoFormat, VideoSpec, VideoWriter, Written};

use crate::runtime::Shooter;

/// Where the camera comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ExportCamera {
    /// The main view's camera when the export starts, for every frame.
    Current,
    Path(CameraPath),
}

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// Where the answer goes (client, seq); `None` for the window and `--video`.
    pub reply_to: Option<(u64, Option<u64>)>,
    pub path: PathBuf,
    pub fps: f64,
    /// Scene frames, one per video frame (`None`: every frame of the scene).
    pub frames: Option<Vec<i64>>,
    pub width: u32,
    pub height: u32,
    pub camera: ExportCamera,
    /// Send the file's bytes with the answer.
    pub return_bytes: bool,
}

/// A finished export, as the log and the window show it.
#[derive(Clone, Debug)]
pub struct ExportDone {
    pub written: Written,
    pub width: u32,
    pub height: u32,
    pub seconds: f64,
}

/// A name that stays in the export folder: not empty, no separators or NUL,
/// not hidden (nor `.`/`..`), at most [`periscope_video::MAX_FILE_NAME_BYTES`].
/// The error says why (the name quoted short).
pub fn check_plain_file_name(name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "is empty"
    } else if name.contains(['/', '\\']) {
        "has a path separator"
    } else if name.contains('\0') {
        "has a NUL character"
    } else if name.starts_with('.') {
        "starts with a dot (hidden)"
    } else if name.len() > periscope_video::MAX_FILE_NAME_BYTES {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(format!("{} {why}", periscope_protocol::limits::excerpt(name)))
}

/// Turns a protocol value into TOML (for a camera path sent as a map).
fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Int(i) => toml::Value::Integer(*i),
        Value::Float(f) => toml::Value::Float(*f),
        Value::Str(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().map(to_toml).collect::<Option<_>>()?),
        Value::NdArray(a) => toml::Value::Array(a.to_f32().iter().map(|&x| toml::Value::Float(f64::from(x))).collect()),
        Value::Map(entries) => {
            let mut t = toml::Table::new();
            for (k, v) in entries {
                // A nil value counts as absent.
                if v.is_nil() {
                    continue;
                }
                t.insert(k.as_str()?.to_owned(), to_toml(v)?);
            }
            toml::Value::Table(t)
        }
        _ => return None,
    })
}

/// A camera path from a client: a map in the TOML layout, or TOML text.
pub fn camera_path_of(v: &Value) -> Result<CameraPath, String> {
    let path = match v {
        Value::Str(text) => CameraPath::from_toml(text),
        other => {
            let table = to_toml(other).ok_or("camera_path: a value that is not a number, string, list or map")?;
            table
                .try_into::<CameraPath>()
                .map_err(|e| periscope_video::PathError::Parse(e.message().to_owned()))
                .and_then(|p| p.validate().map(|()| p))
        }
    };
    // TOML and serde errors quote the input (a whole line, a key, a variant).
    path.map_err(|e| periscope_protocol::limits::cut_message(&e.to_string()))
}

impl ExportRequest {
    /// A client's request: a plain file name in `export_dir`; sizes default to `default_size`.
    pub fn from_message(
        client: u64,
        seq: Option<u64>,
        msg: &ExportVideo,
        export_dir: &Path,
        default_size: (u32, u32),
        default_fps: f64,
    ) -> Result<Self, String> {
        let name = &msg.name;
        check_plain_file_name(name).map_err(|e| {
            format!("export_video: field \"name\" must be a plain file name (it is saved in the viewer's export folder): {e}")
        })?;
        let path = export_dir.join(name);
        VideoFormat::from_path(&path).map_err(|e| format!("export_video: field \"name\": {e}"))?;
        let camera = match (&msg.camera_path, msg.orbit) {
            (Some(v), _) => ExportCamera::Path(camera_path_of(v).map_err(|e| format!("export_video: field {e}"))?),
            (None, true) => ExportCamera::Path(CameraPath::orbit()),
            (None, false) => ExportCamera::Current,
        };
        let req = Self {
            reply_to: Some((client, seq)),
            path,
            fps: msg.fps.unwrap_or(default_fps),
            frames: msg.frames.clone(),
            width: msg.width.unwrap_or(default_size.0),
            height: msg.height.unwrap_or(default_size.1),
            camera,
            return_bytes: msg.return_bytes,
        };
        req.check().map_err(|e| format!("export_video: {e}"))?;
        Ok(req)
    }

    /// Checks what can be checked before the export waits its turn: the
    /// format, the size for that format, the frame rate and the name's length.
    pub fn check(&self) -> Result<(), periscope_video::VideoError> {
        let format = VideoFormat::from_path(&self.path)?;
        let (width, height) = format.check_size(self.width, self.height)?;
        VideoWriter::check(&self.path, VideoSpec { width, height, fps: self.fps }).map(|_| ())
    }

    /// The client it is for (the viewer itself for the window and `--video`).
    pub fn client(&self) -> u64 {
        self.reply_to.map_or(periscope_scene::VIEWER_CLIENT, |(c, _)| c)
    }

    /// The error answer for this request.
    pub fn error_reply(&self, code: &str, message: String) -> Option<(u64, Reply)> {
        let (client, seq) = self.reply_to?;
        Some((client, Reply::error(seq, Some(MessageType::ExportVideo.as_i64()), None, code, message)))
    }
}

/// A node named in a path: by viewer-wide id or name (the first enabled match).
fn find_node(scene: &Scene, r: &NodeRef) -> Option<NodeId> {
    match r {
        NodeRef::Id(id) => scene.node(*id as NodeId).map(|n| n.id),
        NodeRef::Name(name) => scene.nodes().find(|n| &n.name == name).map(|n| n.id),
    }
}

/// Frames whose bounds an orbit frames (evenly spread over the video).
const BOUNDS_SAMPLES: usize = 32;

/// An export in progress.
pub struct ExportJob {
    req: ExportRequest,
    writer: Option<VideoWriter>,
    frames: Vec<i64>,
    /// Keyframes with their times.
    keys: Vec<(f32, periscope_video::Keyframe)>,
    next: usize,
    /// A rendered frame the encoder had no room for yet.
    held: Option<Vec<u8>>,
    /// The camera of every frame when the export has no path.
    fixed: Option<Camera>,
    node: Option<NodeId>,
    scene_bounds: Option<(Vec3, Vec3)>,
    z_up: bool,
    started: Instant,
    /// Every frame went to the encoder, which is finishing the file.
    finishing: bool,
}

impl ExportJob {
    /// Checks the request against the scene and opens the file. An error
    /// comes with its code: `bad_value` for the request (an empty scene, an
    /// unknown node, a size, a name taken), `export_failed` when the file
    /// cannot be written.
    pub fn start(
        req: ExportRequest,
        scene: &Scene,
        shooter: &mut dyn Shooter,
        z_up: bool,
    ) -> Result<Self, (&'static str, String)> {
        let bad = |e: String| ("bad_value", e);
        let video = |e: periscope_video::VideoError| {
            (if e.is_bad_request() { "bad_value" } else { "export_failed" }, format!("export_video: {e}"))
        };
        if scene.nodes().next().is_none() {
            return Err(bad("export_video: the scene is empty: nothing to export".into()));
        }
        let frames = match &req.frames {
            Some(f) => f.clone(),
            None => (0..scene.n_frames().max(1) as i64).collect(),
        };
        let format = VideoFormat::from_path(&req.path).map_err(video)?;
        let (width, height) = format.check_size(req.width, req.height).map_err(video)?;
        if (width, height) != (req.width, req.height) {
            tracing::info!(width, height, "H.264 needs even sides: the video is {width}x{height}");
        }
        let node = match &req.camera {
            ExportCamera::Path(p) => match p.node() {
                Some(r) => Some(find_node(scene, r).ok_or_else(|| {
                    let r = periscope_protocol::limits::cut_message(&format!("{r:?}"));
                    bad(format!("export_video: camera path: no node {r} (give its id or name)"))
                })?),
                None => None,
            },
            ExportCamera::Current => None,
        };
        // An orbit frames everything the video shows: the union of the
        // bounds over (up to 32 of) its frames, so growing data stays in view.
        let samples = frames.len().min(BOUNDS_SAMPLES);
        let mut scene_bounds: Option<(Vec3, Vec3)> = None;
        for i in 0..samples {
            let frame = frames[if samples > 1 { i * (frames.len() - 1) / (samples - 1) } else { 0 }];
            if let Some((lo, hi)) = shooter.bounds(SceneView::at(scene, Some(frame)), None) {
                scene_bounds = Some(scene_bounds.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))));
            }
        }
        let fixed = match &req.camera {
            ExportCamera::Current if shooter.has_camera() => Some(shooter.camera()),
            ExportCamera::Current => {
                // Headless before anything was framed: frame what the video shows.
                let mut cam = shooter.camera();
                if let Some((lo, hi)) = scene_bounds {
                    cam.fit(lo, hi);
                }
                Some(cam)
            }
            ExportCamera::Path(_) => None,
        };
        let keys = match &req.camera {
            ExportCamera::Path(p) => {
                let duration = (frames.len().saturating_sub(1)) as f32 / req.fps as f32;
                p.keyframe_times(req.fps as f32, &frames, duration)
            }
            ExportCamera::Current => Vec::new(),
        };
        let spec = VideoSpec { width, height, fps: req.fps };
        let writer = VideoWriter::create(&req.path, spec).map_err(video)?;
        Ok(Self {
            req,
            writer: Some(writer),
            frames,
            keys,
            next: 0,
            held: None,
            fixed,
            node,
            scene_bounds,
            z_up,
            started: Instant::now(),
            finishing: false,
        })
    }

    /// Frames rendered and frames in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.frames.len())
    }

    pub fn path(&self) -> &Path {
        &self.req.path
    }

    pub fn request(&self) -> &ExportRequest {
        &self.req
    }

    fn camera_at(&self, index: usize, node_bounds: Option<(Vec3, Vec3)>) -> Camera {
        if let Some(c) = self.fixed {
            return c;
        }
        let ExportCamera::Path(path) = &self.req.camera else { unreachable!("a fixed camera when there is no path") };
        let n = self.frames.len();
        let time = index as f32 / self.req.fps as f32;
        let progress = if n > 1 { index as f32 / n as f32 } else { 0.0 };
        let ctx = PathContext { to_display: world_to_display(self.z_up), scene_bounds: self.scene_bounds, node_bounds };
        let mut cam = Camera::default();
        if let Some(pose) = path.pose(&self.keys, time, progress, &ctx) {
            cam.look(Some(pose.position), Some(pose.target), Some(pose.fov_y.to_radians()));
        } else if let Some((lo, hi)) = node_bounds.or(self.scene_bounds) {
            cam.fit(lo, hi);
        }
        cam
    }

    /// Renders frames until `budget` is spent (at least one) or the encoder's
    /// queue is full. `Some` when the export has finished (or failed).
    pub fn step(
        &mut self,
        scene: &Scene,
        shooter: &mut dyn Shooter,
        budget: Duration,
    ) -> Option<Result<ExportDone, String>> {
        let start = Instant::now();
        let spec = self.writer.as_ref()?.spec();
        let mut rendered = 0;
        loop {
            if let Some(frame) = self.held.take() {
                let writer = self.writer.as_mut().expect("checked above");
                match writer.try_push(frame) {
                    Ok(None) => {}
                    Ok(Some(back)) => {
                        self.held = Some(back);
                        return None;
                    }
                    Err(e) => return Some(Err(e.to_string())),
                }
            }
            if self.next == self.frames.len() {
                // The encoder finishes the file on its thread: the UI does not wait for it.
                let writer = self.writer.as_mut().expect("checked above");
                writer.close_input();
                if !writer.encoded() {
                    self.finishing = true;
                    return None;
                }
                let writer = self.writer.take().expect("checked above");
                let seconds = self.started.elapsed().as_secs_f64();
                return Some(
                    writer
                        .finish()
                        .map(|written| ExportDone { written, width: spec.width, height: spec.height, seconds })
                        .map_err(|e| e.to_string()),
                );
            }
            if rendered > 0 && start.elapsed() >= budget {
                return None;
            }
            let index = self.next;
            let node = self.node;
            // The scene at the video's frame; the playhead stays where it is.
            let view = SceneView::at(scene, Some(self.frames[index]));
            let node_bounds = node.and_then(|n| shooter.bounds(view, Some(n)));
            let cam = self.camera_at(index, node_bounds);
            let image = shooter.render_frame(view, &cam, spec.width, spec.height);
            match image {
                Ok(img) => self.held = Some(img.rgba),
                Err(e) => return Some(Err(format!("cannot render frame {}: {e}", self.frames[index]))),
            }
            self.next += 1;
            rendered += 1;
        }
    }
}

/// The answer to a client's export: path, size, frames (and the bytes when asked).
pub fn done_reply(seq: Option<u64>, done: &ExportDone, fps: f64, return_bytes: bool) -> Result<Reply, String> {
    let w = &done.written;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let data = match return_bytes {
        false => None,
        true if w.files.is_empty() => Some(Value::Bin(read(&w.path)?)),
        true => Some(Value::Array(w.files.iter().map(|f| read(f).map(Value::Bin)).collect::<Result<_, _>>()?)),
    };
    Ok(Reply::VideoExported(VideoExported {
        ref_seq: seq,
        path: w.path.display().to_string(),
        frames: w.frames as u64,
        width: done.width,
        height: done.height,
        fps,
        bytes: w.bytes,
        seconds: done.seconds,
        files: w.files.iter().map(|f| f.display().to_string()).collect(),
        data,
    }))
}

/// Parses `A:B` or `A:B:STEP` (stop exclusive) into scene frames.
pub fn parse_frames(s: &str) -> Result<Vec<i64>, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str| p.trim().parse::<i64>().map_err(|_| format!("expected START:STOP[:STEP], got {s:?}"));
    let (start, stop, step) = match parts[..] {
        [a, b] => (num(a)?, num(b)?, 1),
        [a, b, c] => (num(a)?, num(b)?, num(c)?),
        _ => return Err(format!("expected START:STOP[:STEP], got {s:?}")),
    };
    if step <= 0 || stop <= start {
        return Err(format!("{s:?}: STOP must be after START and STEP > 0"));
    }
    let frames: Vec<i64> = (start..stop).step_by(step as usize).collect();
    if frames.len() > periscope_protocol::MAX_VIDEO_FRAMES {
        return Err(format!("{s:?}: at most {} frames", periscope_protocol::MAX_VIDEO_FRAMES));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The video crate keeps its own copies of the limits the protocol states.
    #[test]
    fn video_and_protocol_limits_agree() {
        use periscope_protocol::limits;
        assert_eq!(periscope_video::MIN_FPS, limits::MIN_VIDEO_FPS);
        assert_eq!(periscope_video::MAX_FPS, limits::MAX_VIDEO_FPS);
        assert_eq!(f64::from(periscope_video::path::MIN_FOV), limits::MIN_FOV_Y_DEG);
        assert_eq!(f64::from(periscope_video::path::MAX_FOV), limits::MAX_FOV_Y_DEG);
    }

    #[test]
    fn frame_ranges_parse() {
        assert_eq!(parse_frames("0:4"), Ok(vec![0, 1, 2, 3]));
        assert_eq!(parse_frames("2:9:3"), Ok(vec![2, 5, 8]));
        assert!(parse_frames("4:4").is_err());
        assert!(parse_frames("0:4:0").is_err());
        assert!(parse_frames("x").is_err());
    }

    #[test]
    fn camera_paths_come_as_maps_or_toml_and_errors_name_the_field() {
        let map = Value::map([(
            "orbit",
            Value::map([("turns", Value::Float(2.0)), ("node", Value::from("body")), ("radius", Value::Nil)]),
        )]);
        let p = camera_path_of(&map).unwrap();
        assert_eq!(p.orbit.as_ref().unwrap().turns, Some(2.0));
        assert_eq!(p.node(), Some(&NodeRef::Name("body".into())));
        let text = Value::from("[[keyframes]]\nposition = [1, 2, 3]\ntarget = [0, 0, 0]\n");
        assert_eq!(camera_path_of(&text).unwrap().keyframes.len(), 1);
        let bad = Value::map([("orbit", Value::map([("spin", Value::Int(1))]))]);
        let e = camera_path_of(&bad).unwrap_err();
        assert!(e.contains("spin"), "{e}");
    }
}
