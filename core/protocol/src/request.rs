//! Typed client requests, decoded once (on the connection thread) from an
//! [`Envelope`]. The envelope stays with the request: the dispatch chain and
//! the recorder see the message as it came, and the viewer acts on the typed
//! form without parsing kwargs again.
//!
//! Node messages (create, frames, delete, playhead, properties, query) keep
//! their arguments in the envelope: the scene checks them against each node
//! kind's attribute table (`periscope-scene`'s `spec.rs`), with errors that
//! name the field, so they are [`Request::Scene`] here.

use crate::envelope::Envelope;
use crate::kwargs::{FieldError, describe, read_floats};
use crate::limits::{MAX_CAMERA_COORD, MAX_VIDEO_FPS, MIN_VIDEO_FPS};
use crate::limits::{MAX_FOV_Y_DEG, MIN_FOV_Y_DEG};
use crate::types::MessageType;
use crate::value::Value;

/// Largest side of a requested screenshot.
pub const MAX_SCREENSHOT_SIDE: u32 = 8192;

/// A client message, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Handled by the scene (create, frames, delete, playhead, properties, query).
    Scene(MessageType),
    /// The dispatch chain's stages.
    QueryChain,
    /// Boxed: the largest request, and rare.
    Screenshot(Box<Screenshot>),
    /// Remote-rendered images: decoded by the image decoder thread (they can be large).
    Images,
    RequireCamera {
        enabled: bool,
        /// Whose camera: the client's image windows (default) or the main view.
        target: CameraTarget,
    },
    ReadRemote {
        /// Only this client's windows (default: every window).
        client_id: Option<u64>,
    },
    QueryImages,
    SaveScene {
        /// A plain file name in the viewer's export folder.
        name: String,
    },
    /// Set the main view's camera (missing fields keep theirs).
    SetCamera(Box<ViewPose>),
    /// The main view's camera, answered by `view_camera`.
    QueryCamera,
    /// An image for the main view (decoded by the image decoder thread).
    ViewportImage,
    /// Remove the sender's image from the main view.
    ClearViewport,
    /// Which events the sender wants besides its own controls' (`None`: unchanged).
    Subscribe {
        select: Option<bool>,
        camera: Option<bool>,
    },
    /// Render a video into the export folder (boxed: large and rare).
    ExportVideo(Box<ExportVideo>),
    /// A view asks for a fresh snapshot of the scene.
    ViewResync,
    /// A view's camera moved: its pose (all three given) and its size in pixels.
    ViewMoved {
        pose: Box<ViewPose>,
        size: (u32, u32),
    },
    /// A type `>= 10000`: passes the chain with its raw args and kwargs.
    Custom(i64),
}

/// An `export_video` request's kwargs, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportVideo {
    /// A plain file name (`.mp4`, `.gif`, `.png`) in the viewer's export folder.
    pub name: String,
    /// Frames per second of the video, in [0.01, 240] (default: the viewer's `video_fps`).
    pub fps: Option<f64>,
    /// Scene frames to show, one per video frame (default: every frame).
    pub frames: Option<Vec<i64>>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// A camera path as a map (the TOML layout) or TOML text; checked by the viewer.
    pub camera_path: Option<Value>,
    /// Turn around the scene once (when no camera path is given).
    pub orbit: bool,
    /// Send the file's bytes back with the answer.
    pub return_bytes: bool,
}

/// Video frames per export at most (an hour at 60 fps).
pub const MAX_VIDEO_FRAMES: usize = 216_000;

/// Which camera a renderer asks for with `require_camera`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CameraTarget {
    /// The camera of the client's image windows.
    #[default]
    Windows,
    /// The main 3D view's camera (images go back with `viewport_image`).
    Viewport,
}

impl CameraTarget {
    /// The wire name (`windows`, `viewport`).
    pub fn name(self) -> &'static str {
        match self {
            CameraTarget::Windows => "windows",
            CameraTarget::Viewport => "viewport",
        }
    }
}

/// Where the main view looks from, in world coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ViewPose {
    pub position: Option<[f32; 3]>,
    pub target: Option<[f32; 3]>,
    /// Vertical field of view, degrees, in [`MIN_FOV_Y_DEG`, `MAX_FOV_Y_DEG`].
    pub fov_y_deg: Option<f32>,
}

/// A screenshot request's kwargs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Screenshot {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The scene frame to render (the current one when `None`).
    pub frame: Option<i64>,
    /// Frame the shown data before rendering.
    pub fit: bool,
    /// An explicit orbit camera (kept for later requests).
    pub camera: Option<OrbitView>,
}

/// An orbit camera given by a client: missing keys keep the viewer's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OrbitView {
    /// Finite.
    pub target: Option<[f32; 3]>,
    /// Finite.
    pub yaw_deg: Option<f32>,
    /// Finite (the camera clamps it to its pitch limit, about ±88.8°).
    pub pitch_deg: Option<f32>,
    /// Positive and finite.
    pub distance: Option<f32>,
    /// In [`MIN_FOV_Y_DEG`, `MAX_FOV_Y_DEG`].
    pub fov_y_deg: Option<f32>,
}

/// A field of a request with a value of the wrong type or out of range (the
/// one error of every kwarg reader, [`crate::kwargs`]).
pub type RequestError = FieldError;

/// Reads the kwargs of one message, naming the field in every error.
struct Fields<'a> {
    env: &'a Envelope,
    message: &'static str,
}

impl<'a> Fields<'a> {
    fn error(&self, field: &str, expected: impl Into<String>, found: impl Into<String>) -> RequestError {
        FieldError::new(self.message, field, expected, found)
    }

    /// The kwarg (nil counts as absent).
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.env.kwarg(field).filter(|v| !v.is_nil())
    }

    fn int(&self, field: &str) -> Result<Option<i64>, RequestError> {
        self.get(field).map(|v| v.as_i64().ok_or_else(|| self.error(field, "an int", v.type_name()))).transpose()
    }

    fn bool(&self, field: &str, value: Option<&Value>) -> Result<Option<bool>, RequestError> {
        value
            .filter(|v| !v.is_nil())
            .map(|v| v.as_bool().ok_or_else(|| self.error(field, "a bool", v.type_name())))
            .transpose()
    }

    fn side(&self, field: &str) -> Result<Option<u32>, RequestError> {
        let expected = || format!("an int in 1..={MAX_SCREENSHOT_SIDE}");
        match self.int(field)? {
            None => Ok(None),
            Some(n) if (1..=i64::from(MAX_SCREENSHOT_SIDE)).contains(&n) => Ok(Some(n as u32)),
            Some(n) => Err(self.error(field, expected(), n.to_string())),
        }
    }

    fn point(&self, field: &str) -> Result<Option<[f32; 3]>, RequestError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => self.camera_point(field, v).map(Some),
        }
    }

    /// A camera point: 3 finite numbers, each within ±[`MAX_CAMERA_COORD`].
    fn camera_point(&self, field: &str, v: &Value) -> Result<[f32; 3], RequestError> {
        let expected = format!("3 finite numbers within ±{MAX_CAMERA_COORD:e}");
        let p = read_floats(self.message, field, v, &expected)?;
        if p.iter().all(|x| x.abs() <= MAX_CAMERA_COORD) {
            Ok(p)
        } else {
            Err(self.error(field, expected, format!("{p:?}")))
        }
    }

    /// A vertical field of view in degrees: the range the camera applies,
    /// refused outside it (never clamped).
    fn fov_y(&self, field: &str, v: Option<&Value>) -> Result<Option<f32>, RequestError> {
        let expected = || format!("degrees in [{MIN_FOV_Y_DEG}, {MAX_FOV_Y_DEG}]");
        match v.filter(|v| !v.is_nil()) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(f) if (MIN_FOV_Y_DEG..=MAX_FOV_Y_DEG).contains(&f) => Ok(Some(f as f32)),
                Some(f) => Err(self.error(field, expected(), format!("{f:?}"))),
                None => Err(self.error(field, expected(), v.type_name())),
            },
        }
    }

    fn view_pose(&self) -> Result<ViewPose, RequestError> {
        let fov_y_deg = self.fov_y("fov_y", self.get("fov_y"))?;
        let pose = ViewPose { position: self.point("position")?, target: self.point("target")?, fov_y_deg };
        if let (Some(p), Some(t)) = (pose.position, pose.target)
            && p == t
        {
            return Err(self.error("position", "a point other than target", format!("{p:?}")));
        }
        Ok(pose)
    }

    fn camera(&self) -> Result<Option<OrbitView>, RequestError> {
        let Some(v) = self.get("camera") else { return Ok(None) };
        if !matches!(v, Value::Map(_)) {
            return Err(self.error("camera", "a map", v.type_name()));
        }
        let num = |key: &str| -> Result<Option<f32>, RequestError> {
            match v.get(key).filter(|x| !x.is_nil()) {
                None => Ok(None),
                Some(x) => match x.as_f64().map(|f| f as f32) {
                    Some(f) if f.is_finite() => Ok(Some(f)),
                    Some(f) => Err(self.error(&format!("camera.{key}"), "a finite number", format!("{f:?}"))),
                    None => Err(self.error(&format!("camera.{key}"), "a finite number", x.type_name())),
                },
            }
        };
        let target = match v.get("target").filter(|x| !x.is_nil()) {
            None => None,
            Some(t) => Some(self.camera_point("camera.target", t)?),
        };
        let distance = num("distance")?;
        if let Some(d) = distance
            && !(d > 0.0 && d <= MAX_CAMERA_COORD)
        {
            return Err(self.error(
                "camera.distance",
                format!("a positive number up to {MAX_CAMERA_COORD:e}"),
                d.to_string(),
            ));
        }
        Ok(Some(OrbitView {
            target,
            yaw_deg: num("yaw")?,
            pitch_deg: num("pitch")?,
            distance,
            fov_y_deg: self.fov_y("camera.fov_y", v.get("fov_y"))?,
        }))
    }
}

impl Fields<'_> {
    fn ints(&self, field: &str, v: &Value) -> Result<Vec<i64>, RequestError> {
        let bad = || self.error(field, "a list of ints", describe(v));
        match v {
            Value::Array(items) => items.iter().map(|i| i.as_i64().ok_or_else(bad)).collect(),
            Value::NdArray(a) if a.shape().len() == 1 => a.to_i64().ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    fn export_video(&self) -> Result<ExportVideo, RequestError> {
        let name = match self.get("name") {
            None => "video.mp4".to_owned(),
            Some(v) => v.as_str().ok_or_else(|| self.error("name", "a str", v.type_name()))?.to_owned(),
        };
        let fps = match self.get("fps") {
            None => None,
            Some(v) => match v.as_f64() {
                Some(f) if (MIN_VIDEO_FPS..=MAX_VIDEO_FPS).contains(&f) => Some(f),
                Some(f) => {
                    return Err(self.error(
                        "fps",
                        format!("a number in [{MIN_VIDEO_FPS}, {MAX_VIDEO_FPS}]"),
                        f.to_string(),
                    ));
                }
                None => return Err(self.error("fps", "a number", v.type_name())),
            },
        };
        let mut frames = self.get("frames").map(|v| self.ints("frames", v)).transpose()?;
        if let Some(v) = self.get("frame_range") {
            let r = self.ints("frame_range", v)?;
            let (start, stop, step) = match r[..] {
                [a, b] => (a, b, 1),
                [a, b, c] => (a, b, c),
                _ => return Err(self.error("frame_range", "[start, stop] or [start, stop, step]", describe(v))),
            };
            if step <= 0 {
                return Err(self.error("frame_range", "a step > 0", step.to_string()));
            }
            frames = Some((start..stop).step_by(step as usize).take(MAX_VIDEO_FRAMES + 1).collect());
        }
        if let Some(f) = &frames {
            if f.is_empty() {
                return Err(self.error("frames", "at least one frame", "none"));
            }
            if f.len() > MAX_VIDEO_FRAMES {
                return Err(self.error("frames", format!("at most {MAX_VIDEO_FRAMES} frames"), "more"));
            }
        }
        let camera_path = match self.get("camera_path") {
            None => None,
            Some(v @ (Value::Map(_) | Value::Str(_))) => Some(v.clone()),
            Some(v) => return Err(self.error("camera_path", "a map or TOML text", v.type_name())),
        };
        Ok(ExportVideo {
            name,
            fps,
            frames,
            width: self.side("width")?,
            height: self.side("height")?,
            camera_path,
            orbit: self.bool("orbit", self.get("orbit"))?.unwrap_or(false),
            return_bytes: self.bool("return_bytes", self.get("return_bytes"))?.unwrap_or(false),
        })
    }
}

impl Request {
    /// Decodes the typed form of `env`. Unknown kwargs are ignored; a kwarg of
    /// the wrong type is an error naming it. `None` for a number that is not a
    /// request type (an unknown number below 10000, or a viewer -> client type).
    pub fn decode(env: &Envelope) -> Result<Option<Request>, RequestError> {
        use MessageType as T;
        let Some(t) = MessageType::from_i64(env.kind) else { return Ok(None) };
        let f = Fields { env, message: t.name() };
        Ok(Some(match t {
            T::UserMessage => Request::Custom(env.kind),
            T::QueryChain => Request::QueryChain,
            T::Screenshot => Request::Screenshot(Box::new(Screenshot {
                width: f.side("width")?,
                height: f.side("height")?,
                frame: f.int("frame")?,
                fit: f.bool("fit", f.get("fit"))?.unwrap_or(false),
                camera: f.camera()?,
            })),
            T::Images => Request::Images,
            T::ViewportImage => Request::ViewportImage,
            T::ClearViewport => Request::ClearViewport,
            T::RequireCamera => {
                // `enabled` as a kwarg or the first positional argument; absent means true.
                let v = env.kwarg("enabled").or(env.args.first());
                let target = match f.get("target") {
                    None => CameraTarget::Windows,
                    Some(t) => match t.as_str() {
                        Some("windows") => CameraTarget::Windows,
                        Some("viewport") => CameraTarget::Viewport,
                        _ => return Err(f.error("target", "\"windows\" or \"viewport\"", describe(t))),
                    },
                };
                Request::RequireCamera { enabled: f.bool("enabled", v)?.unwrap_or(true), target }
            }
            T::ReadRemote => {
                let id = f.int("client_id")?;
                let client_id = match id {
                    None => None,
                    Some(n) => {
                        Some(u64::try_from(n).map_err(|_| f.error("client_id", "a client id (>= 0)", n.to_string()))?)
                    }
                };
                Request::ReadRemote { client_id }
            }
            T::QueryImages => Request::QueryImages,
            T::SaveScene => {
                let name = match f.get("name") {
                    None => "scene.psr".to_owned(),
                    Some(v) => v.as_str().ok_or_else(|| f.error("name", "a str", v.type_name()))?.to_owned(),
                };
                Request::SaveScene { name }
            }
            T::SetCamera => Request::SetCamera(Box::new(f.view_pose()?)),
            T::QueryCamera => Request::QueryCamera,
            T::ExportVideo => Request::ExportVideo(Box::new(f.export_video()?)),
            T::Subscribe => Request::Subscribe {
                select: f.bool("select", f.get("select"))?,
                camera: f.bool("camera", f.get("camera"))?,
            },
            T::Hello => Request::Scene(t),
            T::ViewResync => Request::ViewResync,
            T::ViewMoved => {
                let pose = f.view_pose()?;
                for (field, given) in [
                    ("position", pose.position.is_some()),
                    ("target", pose.target.is_some()),
                    ("fov_y", pose.fov_y_deg.is_some()),
                ] {
                    if !given {
                        return Err(f.error(field, "given (a view reports its whole camera)", "nothing".to_owned()));
                    }
                }
                let width = f.side("width")?.ok_or_else(|| f.error("width", "given", "nothing".to_owned()))?;
                let height = f.side("height")?.ok_or_else(|| f.error("height", "given", "nothing".to_owned()))?;
                Request::ViewMoved { pose: Box::new(pose), size: (width, height) }
            }
            t if t.traits().direction == crate::Direction::ToClient => return Ok(None),
            t => Request::Scene(t),
        }))
    }

    /// The message type this request is.
    pub fn message_type(&self) -> MessageType {
        match self {
            Request::Scene(t) => *t,
            Request::QueryChain => MessageType::QueryChain,
            Request::Screenshot(_) => MessageType::Screenshot,
            Request::Images => MessageType::Images,
            Request::RequireCamera { .. } => MessageType::RequireCamera,
            Request::ReadRemote { .. } => MessageType::ReadRemote,
            Request::QueryImages => MessageType::QueryImages,
            Request::SaveScene { .. } => MessageType::SaveScene,
            Request::SetCamera(_) => MessageType::SetCamera,
            Request::QueryCamera => MessageType::QueryCamera,
            Request::Subscribe { .. } => MessageType::Subscribe,
            Request::ClearViewport => MessageType::ClearViewport,
            Request::ViewportImage => MessageType::ViewportImage,
            Request::ExportVideo(_) => MessageType::ExportVideo,
            Request::ViewResync => MessageType::ViewResync,
            Request::ViewMoved { .. } => MessageType::ViewMoved,
            Request::Custom(_) => MessageType::UserMessage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(env: Envelope) -> Result<Option<Request>, String> {
        Request::decode(&env).map_err(|e| e.to_string())
    }

    #[test]
    fn require_camera_has_one_rule() {
        let t = MessageType::RequireCamera.as_i64();
        let on = Ok(Some(Request::RequireCamera { enabled: true, target: CameraTarget::Windows }));
        let off = Ok(Some(Request::RequireCamera { enabled: false, target: CameraTarget::Windows }));
        assert_eq!(decode(Envelope::new(t)), on);
        assert_eq!(decode(Envelope::new(t).with_kwarg("enabled", Value::Nil)), on);
        assert_eq!(decode(Envelope::new(t).with_kwarg("enabled", false)), off);
        assert_eq!(decode(Envelope::new(t).with_arg(false)), off);
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("enabled", "yes")),
            Err("require_camera: field \"enabled\" must be a bool, found str".into())
        );
        let viewport = Envelope::new(t).with_kwarg("target", "viewport");
        assert_eq!(
            decode(viewport),
            Ok(Some(Request::RequireCamera { enabled: true, target: CameraTarget::Viewport }))
        );
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("target", "window")),
            Err("require_camera: field \"target\" must be \"windows\" or \"viewport\", found \"window\"".into())
        );
    }

    #[test]
    fn screenshot_fields_are_typed_and_named_in_errors() {
        let t = MessageType::Screenshot.as_i64();
        let cam = Value::map([
            ("target", Value::Array(vec![Value::Int(0), Value::Int(1), Value::Int(2)])),
            ("yaw", Value::Int(30)),
        ]);
        let env = Envelope::new(t).with_kwarg("width", 64i64).with_kwarg("fit", true).with_kwarg("camera", cam);
        let Ok(Some(Request::Screenshot(s))) = decode(env) else { panic!() };
        assert_eq!((s.width, s.height, s.fit), (Some(64), None, true));
        let cam = s.camera.unwrap();
        assert_eq!((cam.target, cam.yaw_deg, cam.distance), (Some([0.0, 1.0, 2.0]), Some(30.0), None));
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("width", 0i64)),
            Err("screenshot: field \"width\" must be an int in 1..=8192, found 0".into())
        );
        let bad = Value::map([("distance", Value::from(-1.0))]);
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("camera", bad)),
            Err("screenshot: field \"camera.distance\" must be a positive number up to 1e15, found -1".into())
        );
        assert_eq!(decode(Envelope::new(t).with_kwarg("unknown", 1i64)), Ok(Some(Request::Screenshot(Box::default()))));
    }

    #[test]
    fn set_camera_fields_are_checked() {
        let t = MessageType::SetCamera.as_i64();
        let p = |x: f64| Value::Array(vec![Value::from(x), Value::from(0.0), Value::from(1.0)]);
        let env = Envelope::new(t).with_kwarg("position", p(2.0)).with_kwarg("fov_y", 30.0);
        let Ok(Some(Request::SetCamera(pose))) = decode(env) else { panic!() };
        assert_eq!((pose.position, pose.target, pose.fov_y_deg), (Some([2.0, 0.0, 1.0]), None, Some(30.0)));
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("fov_y", 0.0)),
            Err("set_camera: field \"fov_y\" must be degrees in [1, 170], found 0.0".into())
        );
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("target", "here")),
            Err("set_camera: field \"target\" must be 3 finite numbers within ±1e15, found \"here\"".into())
        );
        let same = Envelope::new(t).with_kwarg("position", p(1.0)).with_kwarg("target", p(1.0));
        assert!(decode(same).unwrap_err().contains("field \"position\" must be a point other than target"));
        // The accepted range is the applied one: 179.9999 was clamped to 170 before.
        assert_eq!(
            decode(Envelope::new(t).with_kwarg("fov_y", 179.9999)),
            Err("set_camera: field \"fov_y\" must be degrees in [1, 170], found 179.9999".into())
        );
        assert!(decode(Envelope::new(t).with_kwarg("fov_y", 170.0)).is_ok());
        assert!(decode(Envelope::new(t).with_kwarg("fov_y", 1.0)).is_ok());
        assert!(decode(Envelope::new(t).with_kwarg("fov_y", f64::NAN)).is_err());
    }

    #[test]
    fn screenshot_camera_numbers_are_finite_and_in_range() {
        let t = MessageType::Screenshot.as_i64();
        let shot = |key: &str, v: Value| decode(Envelope::new(t).with_kwarg("camera", Value::map([(key, v)])));
        assert_eq!(
            shot("fov_y", Value::from(179.0)),
            Err("screenshot: field \"camera.fov_y\" must be degrees in [1, 170], found 179.0".into())
        );
        assert_eq!(
            shot("yaw", Value::from(f64::NAN)),
            Err("screenshot: field \"camera.yaw\" must be a finite number, found NaN".into())
        );
        assert!(shot("pitch", Value::from(f64::INFINITY)).is_err());
        let inf_target = Value::Array(vec![Value::from(0.0), Value::from(f64::INFINITY), Value::from(0.0)]);
        assert_eq!(
            shot("target", inf_target),
            Err("screenshot: field \"camera.target\" must be 3 finite numbers within ±1e15, found [0.0, inf, 0.0]"
                .into())
        );
        assert!(shot("pitch", Value::from(90.0)).is_ok(), "pitch is clamped to the camera's limit, as documented");
        // Found by a hostile-client run: huge finite values made the kept
        // camera (and every later screenshot) NaN.
        assert_eq!(
            shot("distance", Value::from(1e38)),
            Err("screenshot: field \"camera.distance\" must be a positive number up to 1e15, found 100000000000000000000000000000000000000".into())
        );
        let far = Value::Array(vec![Value::from(3e38), Value::from(0.0), Value::from(0.0)]);
        assert!(shot("target", far).unwrap_err().contains("within ±1e15"));
        let set = MessageType::SetCamera.as_i64();
        let huge_int = Value::Array(vec![Value::Int(i64::MAX), Value::Int(0), Value::Int(0)]);
        let e = decode(Envelope::new(set).with_kwarg("position", huge_int)).unwrap_err();
        assert!(
            e.contains("field \"position\" must be 3 finite numbers within ±1e15, found [9.223372e18, 0.0, 0.0]"),
            "{e}"
        );
        assert!(shot("distance", Value::from(1e15)).is_ok());
    }

    #[test]
    fn custom_scene_and_reply_types() {
        assert_eq!(decode(Envelope::new(10_042)), Ok(Some(Request::Custom(10_042))));
        let add = MessageType::AddFrames;
        assert_eq!(decode(Envelope::new(add.as_i64())), Ok(Some(Request::Scene(add))));
        assert_eq!(decode(Envelope::new(MessageType::Camera.as_i64())), Ok(None));
        assert_eq!(decode(Envelope::new(7)), Ok(None));
        let sub = Envelope::new(MessageType::Subscribe.as_i64()).with_kwarg("camera", true);
        assert_eq!(decode(sub), Ok(Some(Request::Subscribe { select: None, camera: Some(true) })));
        assert_eq!(
            decode(Envelope::new(MessageType::Subscribe.as_i64()).with_kwarg("select", "yes")),
            Err("subscribe: field \"select\" must be a bool, found str".into())
        );
        assert_eq!(
            decode(Envelope::new(MessageType::SaveScene.as_i64()).with_kwarg("name", 3i64)),
            Err("save_scene: field \"name\" must be a str, found int".into())
        );
    }
}
