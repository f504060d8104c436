//! The typed bodies of the viewer's own answers and events ([`crate::Reply`]
//! variants): each one's wire layout (its fields, in order) is written here
//! once, in its `fields`, and read back by its `read`.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::array::NdArray;
use crate::value::Value;

/// A reply body's fields in wire order (the `type` key is added by
/// [`crate::Reply`]); big values are borrowed, not copied.
pub(crate) type Fields<'a> = Vec<(&'static str, Cow<'a, Value>)>;

fn own(v: impl Into<Value>) -> Cow<'static, Value> {
    Cow::Owned(v.into())
}

fn float(x: f32) -> Cow<'static, Value> {
    Cow::Owned(Value::Float(f64::from(x)))
}

fn floats<const N: usize>(x: &[f32; N]) -> Cow<'static, Value> {
    Cow::Owned(Value::NdArray(NdArray::from_f32(vec![N], x.to_vec())))
}

/// A 4x4 row-major matrix as a `(4, 4)` float32 array.
fn matrix(m: &[f32; 16]) -> Cow<'static, Value> {
    Cow::Owned(Value::NdArray(NdArray::from_f32(vec![4, 4], m.to_vec())))
}

// Readers: lenient on purpose. `Reply::from_value` keeps a typed reading only
// when it writes the very same value back, so anything these get wrong (or a
// script's look-alike message with other fields) stays `Reply::Other`.

fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k)?.as_i64().and_then(|x| u64::try_from(x).ok())
}

fn opt_u(v: &Value, k: &str) -> Option<Option<u64>> {
    match v.get(k)? {
        Value::Nil => Some(None),
        x => x.as_i64().and_then(|x| u64::try_from(x).ok()).map(Some),
    }
}

fn f(v: &Value, k: &str) -> Option<f32> {
    v.get(k)?.as_f64().map(|x| x as f32)
}

fn opt_f(v: &Value, k: &str) -> Option<Option<f32>> {
    match v.get(k)? {
        Value::Nil => Some(None),
        x => x.as_f64().map(|x| Some(x as f32)),
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_owned)
}

fn opt_s(v: &Value, k: &str) -> Option<Option<String>> {
    match v.get(k)? {
        Value::Nil => Some(None),
        x => x.as_str().map(|x| Some(x.to_owned())),
    }
}

fn b(v: &Value, k: &str) -> Option<bool> {
    v.get(k)?.as_bool()
}

fn arr<const N: usize>(v: &Value, k: &str) -> Option<[f32; N]> {
    v.get(k)?.as_array()?.to_f32().as_slice().try_into().ok()
}

fn list<T>(v: &Value, k: &str, read: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    match v.get(k)? {
        Value::Array(items) => items.iter().map(read).collect(),
        _ => None,
    }
}

fn values(v: &Value, k: &str) -> Option<Vec<Value>> {
    match v.get(k)? {
        Value::Array(items) => Some(items.clone()),
        _ => None,
    }
}

/// The answer to `add_control`/`set_control` (`control_state`, 319).
#[derive(Clone, Debug, PartialEq)]
pub struct ControlState {
    pub ref_seq: Option<u64>,
    /// The control as the viewer describes it (`id`, `kind`, `label`, `value`, ...).
    pub control: Value,
}

impl ControlState {
    pub(crate) fn fields(&self) -> Fields<'_> {
        vec![("ref_seq", own(self.ref_seq)), ("control", Cow::Borrowed(&self.control))]
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self { ref_seq: opt_u(v, "ref_seq")?, control: v.get("control")?.clone() })
    }
}

/// The answer to `query_controls` (`controls`, 324).
#[derive(Clone, Debug, PartialEq)]
pub struct ControlList {
    pub ref_seq: Option<u64>,
    /// Every control, each as in [`ControlState::control`].
    pub controls: Vec<Value>,
}

impl ControlList {
    pub(crate) fn fields(&self) -> Fields<'_> {
        vec![("ref_seq", own(self.ref_seq)), ("controls", own(Value::Array(self.controls.clone())))]
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self { ref_seq: opt_u(v, "ref_seq")?, controls: values(v, "controls")? })
    }
}

/// Something that happened in the viewer (`event`, 327).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A person changed a control (to its owner).
    Control(ControlEvent),
    /// The selection changed (to `subscribe(select=True)` clients).
    Select(SelectEvent),
    /// The main camera moved (to `subscribe(camera=True)` clients).
    Camera(CameraEvent),
}

/// A control changed (`event = "control"`).
#[derive(Clone, Debug, PartialEq)]
pub struct ControlEvent {
    /// `update`, or `click` for a button.
    pub action: String,
    pub control_id: u64,
    /// The owner's uid for the control.
    pub uid: i64,
    /// The control's kind (`slider`, `button`, ...).
    pub kind: String,
    pub label: String,
    /// The new value (`true` for a click).
    pub value: Value,
    /// Who changed it.
    pub client_id: u64,
    pub client_name: String,
}

/// The selection changed (`event = "select"`); every field is `None` when nothing is selected.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SelectEvent {
    pub node_id: Option<u64>,
    pub client_id: Option<u64>,
    pub uid: Option<i64>,
    pub name: Option<String>,
    pub kind: Option<String>,
    /// The picked point, world coordinates.
    pub point: Option<[f32; 3]>,
}

/// The main camera changed (`event = "camera"`).
#[derive(Clone, Debug, PartialEq)]
pub struct CameraEvent {
    pub camera: ViewCamera,
    /// The view that moved it (its client id; 0 for the hub's own).
    pub view: u64,
}

impl Event {
    pub(crate) fn fields(&self) -> Fields<'_> {
        match self {
            Event::Control(e) => vec![
                ("event", own("control")),
                ("action", own(e.action.as_str())),
                ("control_id", own(e.control_id)),
                ("uid", own(e.uid)),
                ("kind", own(e.kind.as_str())),
                ("label", own(e.label.as_str())),
                ("value", Cow::Borrowed(&e.value)),
                ("client_id", own(e.client_id)),
                ("client_name", own(e.client_name.as_str())),
            ],
            Event::Select(e) => vec![
                ("event", own("select")),
                ("node_id", own(e.node_id)),
                ("client_id", own(e.client_id)),
                ("uid", own(e.uid)),
                ("name", own(e.name.clone())),
                ("kind", own(e.kind.clone())),
                ("point", e.point.as_ref().map_or(own(Value::Nil), floats)),
            ],
            Event::Camera(e) => vec![
                ("event", own("camera")),
                ("camera", own(crate::reply::fields_map(e.camera.fields()))),
                ("view", own(e.view)),
            ],
        }
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(match v.get("event")?.as_str()? {
            "control" => Event::Control(ControlEvent {
                action: s(v, "action")?,
                control_id: u(v, "control_id")?,
                uid: v.get("uid")?.as_i64()?,
                kind: s(v, "kind")?,
                label: s(v, "label")?,
                value: v.get("value")?.clone(),
                client_id: u(v, "client_id")?,
                client_name: s(v, "client_name")?,
            }),
            "select" => Event::Select(SelectEvent {
                node_id: opt_u(v, "node_id")?,
                client_id: opt_u(v, "client_id")?,
                uid: match v.get("uid")? {
                    Value::Nil => None,
                    x => Some(x.as_i64()?),
                },
                name: opt_s(v, "name")?,
                kind: opt_s(v, "kind")?,
                point: match v.get("point")? {
                    Value::Nil => None,
                    _ => Some(arr(v, "point")?),
                },
            }),
            "camera" => Event::Camera(CameraEvent { camera: ViewCamera::read(v.get("camera")?)?, view: u(v, "view")? }),
            _ => return None,
        })
    }
}

/// A camera's intrinsics and extrinsics for an image of `width` x `height`
/// pixels (docs/protocol.md, "Camera"): matrices are row-major, world coordinates.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CameraParams {
    pub width: u32,
    pub height: u32,
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    /// Full fields of view, degrees.
    pub fov_x: f32,
    pub fov_y: f32,
    pub znear: f32,
    pub zfar: f32,
    /// OpenCV camera axes (x right, y down, z forward).
    pub world_to_camera: [f32; 16],
    pub camera_to_world: [f32; 16],
    /// OpenGL's (x right, y up, -z forward; clip z in [-1, 1]).
    pub view: [f32; 16],
    pub projection: [f32; 16],
    pub position: [f32; 3],
}

impl CameraParams {
    fn fields(&self) -> Fields<'static> {
        vec![
            ("width", own(u64::from(self.width))),
            ("height", own(u64::from(self.height))),
            ("fx", float(self.fx)),
            ("fy", float(self.fy)),
            ("cx", float(self.cx)),
            ("cy", float(self.cy)),
            ("fov_x", float(self.fov_x)),
            ("fov_y", float(self.fov_y)),
            ("znear", float(self.znear)),
            ("zfar", float(self.zfar)),
            ("world_to_camera", matrix(&self.world_to_camera)),
            ("camera_to_world", matrix(&self.camera_to_world)),
            ("view", matrix(&self.view)),
            ("projection", matrix(&self.projection)),
            ("position", floats(&self.position)),
        ]
    }

    fn read(v: &Value) -> Option<Self> {
        Some(Self {
            width: u32::try_from(u(v, "width")?).ok()?,
            height: u32::try_from(u(v, "height")?).ok()?,
            fx: f(v, "fx")?,
            fy: f(v, "fy")?,
            cx: f(v, "cx")?,
            cy: f(v, "cy")?,
            fov_x: f(v, "fov_x")?,
            fov_y: f(v, "fov_y")?,
            znear: f(v, "znear")?,
            zfar: f(v, "zfar")?,
            world_to_camera: arr(v, "world_to_camera")?,
            camera_to_world: arr(v, "camera_to_world")?,
            view: arr(v, "view")?,
            projection: arr(v, "projection")?,
            position: arr(v, "position")?,
        })
    }
}

/// The main view's camera: its parameters and the point it orbits (`target`, world coordinates).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewCamera {
    pub params: CameraParams,
    pub target: [f32; 3],
}

impl ViewCamera {
    pub(crate) fn fields(&self) -> Fields<'static> {
        let mut f = self.params.fields();
        f.push(("target", floats(&self.target)));
        f
    }

    fn read(v: &Value) -> Option<Self> {
        Some(Self { params: CameraParams::read(v)?, target: arr(v, "target")? })
    }
}

/// The answer to `set_camera`/`query_camera` (`view_camera`, 317).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewCameraState {
    pub ref_seq: Option<u64>,
    pub camera: ViewCamera,
}

impl ViewCameraState {
    pub(crate) fn fields(&self) -> Fields<'static> {
        let mut f = self.camera.fields();
        f.push(("ref_seq", own(self.ref_seq)));
        f
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self { ref_seq: opt_u(v, "ref_seq")?, camera: ViewCamera::read(v)? })
    }
}

/// The camera a remote renderer renders its next image from (`camera`, 308).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CameraRequest {
    /// Numbers the viewer's camera messages to this client.
    pub seq: u64,
    pub params: CameraParams,
    /// How the image windows stream (absent in a bare camera model).
    pub stream: Option<CameraStream>,
}

/// The streaming fields of a camera message.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CameraStream {
    /// The camera is moving (the image asked for may be smaller than the window).
    pub moving: bool,
    /// The window's size in pixels.
    pub full_width: u32,
    pub full_height: u32,
    /// Where the image goes (`window`, `viewport`).
    pub target: String,
}

impl CameraRequest {
    pub(crate) fn fields(&self) -> Fields<'_> {
        let mut f = vec![("seq", own(self.seq))];
        f.extend(self.params.fields());
        if let Some(s) = &self.stream {
            f.push(("moving", own(s.moving)));
            f.push(("full_width", own(u64::from(s.full_width))));
            f.push(("full_height", own(u64::from(s.full_height))));
            f.push(("target", own(s.target.as_str())));
        }
        f
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        let stream = match v.get("moving") {
            None => None,
            Some(_) => Some(CameraStream {
                moving: b(v, "moving")?,
                full_width: u32::try_from(u(v, "full_width")?).ok()?,
                full_height: u32::try_from(u(v, "full_height")?).ok()?,
                target: s(v, "target")?,
            }),
        };
        Some(Self { seq: u(v, "seq")?, params: CameraParams::read(v)?, stream })
    }
}

/// One image window (`images_state`'s `windows`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ImageWindowState {
    pub client_id: u64,
    pub index: u64,
    pub width: u64,
    pub height: u64,
    pub format: String,
    pub received: u64,
    pub decoded: u64,
    pub dropped: u64,
    pub errors: u64,
    pub last_seq: Option<u64>,
    pub fps: f32,
    pub latency_ms: Option<f32>,
    pub camera_rtt_ms: Option<f32>,
}

/// One remote renderer (`images_state`'s `clients`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RendererState {
    pub client_id: u64,
    pub name: String,
    pub require_camera: bool,
    pub reading: bool,
    pub paused: bool,
    pub width: u32,
    pub height: u32,
    pub camera_seq: u64,
    pub target: String,
    pub scale: f32,
}

/// One renderer's main-view image (`images_state`'s `viewport`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ViewportState {
    pub client_id: u64,
    pub width: u32,
    pub height: u32,
    pub depth: bool,
    pub decoded: u64,
    pub errors: u64,
    pub fps: f32,
}

/// The answer to `query_images` (`images_state`, 311).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ImagesState {
    pub ref_seq: Option<u64>,
    pub windows: Vec<ImageWindowState>,
    pub clients: Vec<RendererState>,
    pub viewport: Vec<ViewportState>,
}

fn map(f: Fields<'_>) -> Value {
    crate::reply::fields_map(f)
}

impl ImagesState {
    pub(crate) fn fields(&self) -> Fields<'_> {
        let windows = self.windows.iter().map(|w| {
            map(vec![
                ("client_id", own(w.client_id)),
                ("index", own(w.index)),
                ("width", own(w.width)),
                ("height", own(w.height)),
                ("format", own(w.format.as_str())),
                ("received", own(w.received)),
                ("decoded", own(w.decoded)),
                ("dropped", own(w.dropped)),
                ("errors", own(w.errors)),
                ("last_seq", own(w.last_seq)),
                ("fps", float(w.fps)),
                ("latency_ms", w.latency_ms.map_or(own(Value::Nil), float)),
                ("camera_rtt_ms", w.camera_rtt_ms.map_or(own(Value::Nil), float)),
            ])
        });
        let clients = self.clients.iter().map(|c| {
            map(vec![
                ("client_id", own(c.client_id)),
                ("name", own(c.name.as_str())),
                ("require_camera", own(c.require_camera)),
                ("reading", own(c.reading)),
                ("paused", own(c.paused)),
                ("width", own(u64::from(c.width))),
                ("height", own(u64::from(c.height))),
                ("camera_seq", own(c.camera_seq)),
                ("target", own(c.target.as_str())),
                ("scale", float(c.scale)),
            ])
        });
        let viewport = self.viewport.iter().map(|v| {
            map(vec![
                ("client_id", own(v.client_id)),
                ("width", own(u64::from(v.width))),
                ("height", own(u64::from(v.height))),
                ("depth", own(v.depth)),
                ("decoded", own(v.decoded)),
                ("errors", own(v.errors)),
                ("fps", float(v.fps)),
            ])
        });
        vec![
            ("ref_seq", own(self.ref_seq)),
            ("windows", own(Value::Array(windows.collect()))),
            ("clients", own(Value::Array(clients.collect()))),
            ("viewport", own(Value::Array(viewport.collect()))),
        ]
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        let windows = list(v, "windows", |w| {
            Some(ImageWindowState {
                client_id: u(w, "client_id")?,
                index: u(w, "index")?,
                width: u(w, "width")?,
                height: u(w, "height")?,
                format: s(w, "format")?,
                received: u(w, "received")?,
                decoded: u(w, "decoded")?,
                dropped: u(w, "dropped")?,
                errors: u(w, "errors")?,
                last_seq: opt_u(w, "last_seq")?,
                fps: f(w, "fps")?,
                latency_ms: opt_f(w, "latency_ms")?,
                camera_rtt_ms: opt_f(w, "camera_rtt_ms")?,
            })
        })?;
        let clients = list(v, "clients", |c| {
            Some(RendererState {
                client_id: u(c, "client_id")?,
                name: s(c, "name")?,
                require_camera: b(c, "require_camera")?,
                reading: b(c, "reading")?,
                paused: b(c, "paused")?,
                width: u32::try_from(u(c, "width")?).ok()?,
                height: u32::try_from(u(c, "height")?).ok()?,
                camera_seq: u(c, "camera_seq")?,
                target: s(c, "target")?,
                scale: f(c, "scale")?,
            })
        })?;
        let viewport = list(v, "viewport", |p| {
            Some(ViewportState {
                client_id: u(p, "client_id")?,
                width: u32::try_from(u(p, "width")?).ok()?,
                height: u32::try_from(u(p, "height")?).ok()?,
                depth: b(p, "depth")?,
                decoded: u(p, "decoded")?,
                errors: u(p, "errors")?,
                fps: f(p, "fps")?,
            })
        })?;
        Some(Self { ref_seq: opt_u(v, "ref_seq")?, windows, clients, viewport })
    }
}

/// The answer to `screenshot` (`screenshot_result`, 305).
#[derive(Clone, Debug, PartialEq)]
pub struct ScreenshotResult {
    pub ref_seq: Option<u64>,
    pub width: u32,
    pub height: u32,
    /// The frame shown.
    pub frame: u64,
    /// RGBA uint8, `(height, width, 4)`.
    pub image: NdArray,
}

impl ScreenshotResult {
    pub(crate) fn fields(&self) -> Fields<'_> {
        vec![
            ("ref_seq", own(self.ref_seq)),
            ("width", own(u64::from(self.width))),
            ("height", own(u64::from(self.height))),
            ("frame", own(self.frame)),
            // An array's clone shares its data.
            ("image", own(self.image.clone())),
        ]
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self {
            ref_seq: opt_u(v, "ref_seq")?,
            width: u32::try_from(u(v, "width")?).ok()?,
            height: u32::try_from(u(v, "height")?).ok()?,
            frame: u(v, "frame")?,
            image: v.get("image")?.as_array()?.clone(),
        })
    }
}

/// The answer to `export_video` (`video_exported`, 332).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct VideoExported {
    pub ref_seq: Option<u64>,
    pub path: String,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The size written.
    pub bytes: u64,
    /// How long the export took.
    pub seconds: f64,
    /// A numbered image sequence's files (empty for one file; not sent then).
    pub files: Vec<String>,
    /// With `return_bytes`: the file's bytes (`Bin`), or each file's (an `Array` of `Bin`).
    pub data: Option<Value>,
}

impl VideoExported {
    pub(crate) fn fields(&self) -> Fields<'_> {
        let mut f = vec![
            ("ref_seq", own(self.ref_seq)),
            ("path", own(self.path.as_str())),
            ("frames", own(self.frames)),
            ("width", own(u64::from(self.width))),
            ("height", own(u64::from(self.height))),
            ("fps", own(self.fps)),
            ("bytes", own(self.bytes)),
            ("seconds", own(self.seconds)),
        ];
        if !self.files.is_empty() {
            let files = self.files.iter().map(|p| Value::from(p.as_str())).collect();
            f.push(("files", own(Value::Array(files))));
        }
        if let Some(d) = &self.data {
            f.push(("data", Cow::Borrowed(d)));
        }
        f
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self {
            ref_seq: opt_u(v, "ref_seq")?,
            path: s(v, "path")?,
            frames: u(v, "frames")?,
            width: u32::try_from(u(v, "width")?).ok()?,
            height: u32::try_from(u(v, "height")?).ok()?,
            fps: v.get("fps")?.as_f64()?,
            bytes: u(v, "bytes")?,
            seconds: v.get("seconds")?.as_f64()?,
            files: match v.get("files") {
                None => Vec::new(),
                Some(_) => list(v, "files", |p| p.as_str().map(str::to_owned))?,
            },
            data: v.get("data").cloned(),
        })
    }
}

/// The answer to `save_scene` (`scene_saved`, 313).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SceneSaved {
    pub ref_seq: Option<u64>,
    pub path: String,
    /// The records written.
    pub records: u64,
}

impl SceneSaved {
    pub(crate) fn fields(&self) -> Fields<'_> {
        vec![("ref_seq", own(self.ref_seq)), ("path", own(self.path.as_str())), ("records", own(self.records))]
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self { ref_seq: opt_u(v, "ref_seq")?, path: s(v, "path")?, records: u(v, "records")? })
    }
}

/// A stage of the dispatch chain as the UI and the chain query show it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageStatus {
    pub name: String,
    /// The `dispatch.chain` entry it came from.
    pub entry: String,
    pub path: Option<PathBuf>,
    /// The version a plugin declares.
    pub version: Option<String>,
    pub generation: u64,
    pub calls: u64,
    pub failures: u64,
    /// Set while the stage is disabled after repeated failures.
    pub disabled: Option<String>,
    /// The latest load error (the last good version, if any, keeps running).
    pub load_error: Option<String>,
    pub last_error: Option<String>,
}

impl StageStatus {
    /// Its wire form (a map in `chain_state`'s `stages`).
    pub fn to_value(&self) -> Value {
        Value::map([
            ("name", Value::from(self.name.as_str())),
            ("entry", self.entry.as_str().into()),
            ("path", self.path.as_ref().map(|p| p.display().to_string()).into()),
            ("version", self.version.clone().into()),
            ("generation", self.generation.into()),
            ("calls", self.calls.into()),
            ("failures", self.failures.into()),
            ("disabled", self.disabled.clone().into()),
            ("load_error", self.load_error.clone().into()),
            ("last_error", self.last_error.clone().into()),
        ])
    }

    /// A stage as a chain query's answer describes it (a view shows its hub's chain).
    pub fn from_value(v: &Value) -> Option<Self> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let count = |k: &str| v.get(k).and_then(Value::as_i64).and_then(|x| u64::try_from(x).ok()).unwrap_or(0);
        Some(Self {
            name: text("name")?,
            entry: text("entry").unwrap_or_default(),
            path: text("path").map(PathBuf::from),
            version: text("version"),
            generation: count("generation"),
            calls: count("calls"),
            failures: count("failures"),
            disabled: text("disabled"),
            load_error: text("load_error"),
            last_error: text("last_error"),
        })
    }
}

/// The answer to `query_chain` (`chain_state`, 303).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ChainState {
    pub ref_seq: Option<u64>,
    /// Every stage, in chain order.
    pub stages: Vec<StageStatus>,
}

impl ChainState {
    pub(crate) fn fields(&self) -> Fields<'_> {
        let stages = self.stages.iter().map(StageStatus::to_value).collect();
        vec![("ref_seq", own(self.ref_seq)), ("stages", own(Value::Array(stages)))]
    }

    pub(crate) fn read(v: &Value) -> Option<Self> {
        Some(Self { ref_seq: opt_u(v, "ref_seq")?, stages: list(v, "stages", StageStatus::from_value)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageType, Reply, encode_value};

    /// `fields` as the viewer built them by hand before its answers were typed.
    fn by_hand(kind: MessageType, fields: Vec<(&str, Value)>) -> Reply {
        Reply::Other { kind: kind.as_i64(), fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect() }
    }

    fn params() -> CameraParams {
        let m = |o: f32| std::array::from_fn(|i| i as f32 * 0.5 + o);
        CameraParams {
            width: 640,
            height: 480,
            fx: 500.5,
            fy: 500.5,
            cx: 320.0,
            cy: 240.0,
            fov_x: 65.2,
            fov_y: 50.0,
            znear: 0.01,
            zfar: 1000.0,
            world_to_camera: m(0.0),
            camera_to_world: m(1.0),
            view: m(2.0),
            projection: m(3.0),
            position: [0.0, 2.0, 6.5],
        }
    }

    /// The old hand-built camera fields (`CameraModel::reply` less `seq`).
    fn params_by_hand(p: &CameraParams) -> Vec<(&'static str, Value)> {
        let m = |m: &[f32; 16]| Value::NdArray(NdArray::from_f32(vec![4, 4], m.to_vec()));
        let f = |x: f32| Value::Float(f64::from(x));
        vec![
            ("width", Value::from(u64::from(p.width))),
            ("height", Value::from(u64::from(p.height))),
            ("fx", f(p.fx)),
            ("fy", f(p.fy)),
            ("cx", f(p.cx)),
            ("cy", f(p.cy)),
            ("fov_x", f(p.fov_x)),
            ("fov_y", f(p.fov_y)),
            ("znear", f(p.znear)),
            ("zfar", f(p.zfar)),
            ("world_to_camera", m(&p.world_to_camera)),
            ("camera_to_world", m(&p.camera_to_world)),
            ("view", m(&p.view)),
            ("projection", m(&p.projection)),
            ("position", Value::NdArray(NdArray::from_f32(vec![3], p.position.to_vec()))),
        ]
    }

    /// Every typed answer and event writes the bytes the hand-built message
    /// of its kind wrote (the refactor changed no wire byte), weighs exactly
    /// what it writes, and reads back as itself.
    #[test]
    fn typed_replies_write_what_the_hand_built_ones_wrote() {
        use MessageType as T;
        let control = Value::map([("id", Value::Int(1)), ("kind", Value::from("slider")), ("value", Value::from(2.5))]);
        let image = NdArray::from_u8(vec![1, 2, 4], vec![9; 8]);
        let p = params();
        let target = [0.5f32, -1.0, 2.0];
        let point = |x: [f32; 3]| Value::NdArray(NdArray::from_f32(vec![3], x.to_vec()));
        let mut camera_event = params_by_hand(&p);
        camera_event.push(("target", point(target)));
        let mut view_camera = camera_event.clone();
        view_camera.push(("ref_seq", Value::from(Some(8u64))));
        let mut renderer_camera = vec![("seq", Value::from(3u64))];
        renderer_camera.extend(params_by_hand(&p));
        let mut streamed = renderer_camera.clone();
        streamed.extend([
            ("moving", Value::Bool(true)),
            ("full_width", Value::from(1280u64)),
            ("full_height", Value::from(960u64)),
            ("target", Value::from("window")),
        ]);
        let stage = StageStatus {
            name: "stats".into(),
            entry: "plugins/stats".into(),
            path: Some("plugins/libstats.so".into()),
            version: Some("1.2".into()),
            generation: 2,
            calls: 40,
            failures: 1,
            disabled: None,
            load_error: None,
            last_error: Some("boom".into()),
        };
        let cases: Vec<(Reply, Reply)> = vec![
            (
                Reply::ControlState(ControlState { ref_seq: Some(7), control: control.clone() }),
                by_hand(T::ControlState, vec![("ref_seq", Value::from(Some(7u64))), ("control", control.clone())]),
            ),
            (
                Reply::ControlState(ControlState { ref_seq: None, control: control.clone() }),
                by_hand(T::ControlState, vec![("ref_seq", Value::Nil), ("control", control.clone())]),
            ),
            (
                Reply::Controls(ControlList { ref_seq: Some(2), controls: vec![control.clone(), Value::Nil] }),
                by_hand(
                    T::Controls,
                    vec![("ref_seq", Value::from(2u64)), ("controls", Value::Array(vec![control.clone(), Value::Nil]))],
                ),
            ),
            (
                Reply::Event(Event::Control(ControlEvent {
                    action: "click".into(),
                    control_id: 4,
                    uid: -3,
                    kind: "button".into(),
                    label: "Go".into(),
                    value: Value::Bool(true),
                    client_id: 0,
                    client_name: "viewer".into(),
                })),
                by_hand(
                    T::Event,
                    vec![
                        ("event", Value::from("control")),
                        ("action", Value::from("click")),
                        ("control_id", Value::from(4u64)),
                        ("uid", Value::Int(-3)),
                        ("kind", Value::from("button")),
                        ("label", Value::from("Go")),
                        ("value", Value::Bool(true)),
                        ("client_id", Value::from(0u64)),
                        ("client_name", Value::from("viewer")),
                    ],
                ),
            ),
            (
                Reply::Event(Event::Select(SelectEvent {
                    node_id: Some(5),
                    client_id: Some(2),
                    uid: Some(11),
                    name: Some("Dots".into()),
                    kind: Some("spheres".into()),
                    point: Some([1.0, 2.0, 3.0]),
                })),
                by_hand(
                    T::Event,
                    vec![
                        ("event", Value::from("select")),
                        ("node_id", Value::from(Some(5u64))),
                        ("client_id", Value::from(Some(2u64))),
                        ("uid", Value::Int(11)),
                        ("name", Value::from(Some("Dots".to_owned()))),
                        ("kind", Value::from(Some("spheres".to_owned()))),
                        ("point", point([1.0, 2.0, 3.0])),
                    ],
                ),
            ),
            (
                Reply::Event(Event::Select(SelectEvent::default())),
                by_hand(
                    T::Event,
                    vec![
                        ("event", Value::from("select")),
                        ("node_id", Value::Nil),
                        ("client_id", Value::Nil),
                        ("uid", Value::Nil),
                        ("name", Value::Nil),
                        ("kind", Value::Nil),
                        ("point", Value::Nil),
                    ],
                ),
            ),
            (
                Reply::Event(Event::Camera(CameraEvent { camera: ViewCamera { params: p.clone(), target }, view: 3 })),
                by_hand(
                    T::Event,
                    vec![
                        ("event", Value::from("camera")),
                        ("camera", Value::map(camera_event)),
                        ("view", Value::from(3u64)),
                    ],
                ),
            ),
            (
                Reply::ViewCamera(ViewCameraState {
                    ref_seq: Some(8),
                    camera: ViewCamera { params: p.clone(), target },
                }),
                by_hand(T::ViewCamera, view_camera),
            ),
            (
                Reply::Camera(CameraRequest { seq: 3, params: p.clone(), stream: None }),
                by_hand(T::Camera, renderer_camera),
            ),
            (
                Reply::Camera(CameraRequest {
                    seq: 3,
                    params: p.clone(),
                    stream: Some(CameraStream {
                        moving: true,
                        full_width: 1280,
                        full_height: 960,
                        target: "window".into(),
                    }),
                }),
                by_hand(T::Camera, streamed),
            ),
            (
                Reply::ImagesState(ImagesState {
                    ref_seq: Some(1),
                    windows: vec![ImageWindowState {
                        client_id: 2,
                        index: 0,
                        width: 64,
                        height: 48,
                        format: "png".into(),
                        received: 10,
                        decoded: 9,
                        dropped: 1,
                        errors: 0,
                        last_seq: Some(10),
                        fps: 29.5,
                        latency_ms: None,
                        camera_rtt_ms: Some(12.25),
                    }],
                    clients: vec![RendererState {
                        client_id: 2,
                        name: "renderer".into(),
                        require_camera: true,
                        reading: true,
                        paused: false,
                        width: 640,
                        height: 480,
                        camera_seq: 3,
                        target: "window".into(),
                        scale: 0.75,
                    }],
                    viewport: vec![ViewportState {
                        client_id: 2,
                        width: 640,
                        height: 480,
                        depth: true,
                        decoded: 4,
                        errors: 0,
                        fps: 30.0,
                    }],
                }),
                by_hand(
                    T::ImagesState,
                    vec![
                        ("ref_seq", Value::from(1u64)),
                        (
                            "windows",
                            Value::Array(vec![Value::map([
                                ("client_id", Value::from(2u64)),
                                ("index", Value::from(0usize)),
                                ("width", Value::from(64usize)),
                                ("height", Value::from(48usize)),
                                ("format", Value::from("png")),
                                ("received", Value::from(10u64)),
                                ("decoded", Value::from(9u64)),
                                ("dropped", Value::from(1u64)),
                                ("errors", Value::from(0u64)),
                                ("last_seq", Value::from(10u64)),
                                ("fps", Value::from(29.5f32)),
                                ("latency_ms", Value::Nil),
                                ("camera_rtt_ms", Value::from(12.25f32)),
                            ])]),
                        ),
                        (
                            "clients",
                            Value::Array(vec![Value::map([
                                ("client_id", Value::from(2u64)),
                                ("name", Value::from("renderer")),
                                ("require_camera", Value::from(true)),
                                ("reading", Value::from(true)),
                                ("paused", Value::from(false)),
                                ("width", Value::from(640u64)),
                                ("height", Value::from(480u64)),
                                ("camera_seq", Value::from(3u64)),
                                ("target", Value::from("window")),
                                ("scale", Value::from(0.75f32)),
                            ])]),
                        ),
                        (
                            "viewport",
                            Value::Array(vec![Value::map([
                                ("client_id", Value::from(2u64)),
                                ("width", Value::from(640u64)),
                                ("height", Value::from(480u64)),
                                ("depth", Value::from(true)),
                                ("decoded", Value::from(4u64)),
                                ("errors", Value::from(0u64)),
                                ("fps", Value::from(30.0f32)),
                            ])]),
                        ),
                    ],
                ),
            ),
            (
                Reply::ScreenshotResult(ScreenshotResult {
                    ref_seq: Some(3),
                    width: 2,
                    height: 1,
                    frame: 7,
                    image: image.clone(),
                }),
                by_hand(
                    T::ScreenshotResult,
                    vec![
                        ("ref_seq", Value::from(3u64)),
                        ("width", Value::Int(2)),
                        ("height", Value::Int(1)),
                        ("frame", Value::Int(7)),
                        ("image", Value::NdArray(image.clone())),
                    ],
                ),
            ),
            (
                Reply::VideoExported(VideoExported {
                    ref_seq: Some(4),
                    path: "exports/a.mp4".into(),
                    frames: 100,
                    width: 640,
                    height: 360,
                    fps: 30.0,
                    bytes: 123_456,
                    seconds: 2.5,
                    files: vec![],
                    data: None,
                }),
                by_hand(
                    T::VideoExported,
                    vec![
                        ("ref_seq", Value::from(4u64)),
                        ("path", Value::from("exports/a.mp4")),
                        ("frames", Value::Int(100)),
                        ("width", Value::Int(640)),
                        ("height", Value::Int(360)),
                        ("fps", Value::Float(30.0)),
                        ("bytes", Value::Int(123_456)),
                        ("seconds", Value::Float(2.5)),
                    ],
                ),
            ),
            (
                Reply::VideoExported(VideoExported {
                    ref_seq: None,
                    path: "exports/seq".into(),
                    frames: 2,
                    width: 8,
                    height: 8,
                    fps: 24.0,
                    bytes: 99,
                    seconds: 0.25,
                    files: vec!["exports/seq/seq_00000.png".into(), "exports/seq/seq_00001.png".into()],
                    data: Some(Value::Array(vec![Value::Bin(vec![1, 2]), Value::Bin(vec![3])])),
                }),
                by_hand(
                    T::VideoExported,
                    vec![
                        ("ref_seq", Value::Nil),
                        ("path", Value::from("exports/seq")),
                        ("frames", Value::Int(2)),
                        ("width", Value::Int(8)),
                        ("height", Value::Int(8)),
                        ("fps", Value::Float(24.0)),
                        ("bytes", Value::Int(99)),
                        ("seconds", Value::Float(0.25)),
                        (
                            "files",
                            Value::Array(vec![
                                Value::from("exports/seq/seq_00000.png"),
                                Value::from("exports/seq/seq_00001.png"),
                            ]),
                        ),
                        ("data", Value::Array(vec![Value::Bin(vec![1, 2]), Value::Bin(vec![3])])),
                    ],
                ),
            ),
            (
                Reply::SceneSaved(SceneSaved { ref_seq: Some(6), path: "exports/s.psr".into(), records: 12 }),
                by_hand(
                    T::SceneSaved,
                    vec![
                        ("ref_seq", Value::from(6u64)),
                        ("path", Value::from("exports/s.psr")),
                        ("records", Value::from(12usize)),
                    ],
                ),
            ),
            (
                Reply::ChainState(ChainState { ref_seq: Some(9), stages: vec![stage.clone(), StageStatus::default()] }),
                by_hand(
                    T::ChainState,
                    vec![
                        ("ref_seq", Value::from(Some(9u64))),
                        ("stages", Value::Array(vec![stage.to_value(), StageStatus::default().to_value()])),
                    ],
                ),
            ),
        ];
        for (typed, hand) in cases {
            assert_eq!(typed.encode(), hand.encode(), "{typed:?}");
            assert_eq!(typed.encode(), encode_value(&typed.to_value()), "{typed:?}");
            assert_eq!(typed.encoded_len(), typed.encode().len(), "{typed:?}");
            assert_eq!(typed.ref_seq(), hand.ref_seq(), "{typed:?}");
            assert_eq!(typed.answers_request(), hand.answers_request(), "{typed:?}");
            let back = crate::decode_value(&hand.encode(), Default::default()).expect("decodes");
            assert_eq!(Reply::from_value(back).as_ref(), Some(&typed), "reads back typed");
        }
    }

    /// A script's message of an answer's type but another layout stays as it was sent.
    #[test]
    fn a_look_alike_stays_other() {
        let odd = Reply::Other {
            kind: MessageType::Event.as_i64(),
            fields: vec![("event".into(), Value::from("select")), ("mine".into(), Value::Int(1))],
        };
        assert_eq!(Reply::from_value(odd.to_value()), Some(odd.clone()));
        let extra = Reply::Other {
            kind: MessageType::SceneSaved.as_i64(),
            fields: vec![
                ("ref_seq".into(), Value::Nil),
                ("path".into(), Value::from("p")),
                ("records".into(), Value::Int(1)),
                ("note".into(), Value::from("extra")),
            ],
        };
        assert_eq!(Reply::from_value(extra.to_value()), Some(extra));
    }
}
