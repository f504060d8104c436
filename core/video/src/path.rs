//! Camera paths: keyframes interpolated smoothly, or a preset (an orbit
//! around the scene or a node, a camera following a node).
//!
//! A path is written in TOML (or sent as the same map by a client):
//!
//! ```toml
//! [[keyframes]]
//! time = 0.0              # seconds into the video; or `frame = N`: when scene frame N shows
//! position = [3.0, 2.0, 3.0]
//! target = [0.0, 1.0, 0.0]
//! fov = 45.0              # vertical field of view, degrees
//! ```
//!
//! or `[orbit]` (`node`, `center`, `radius`, `elevation`, `turns`, `start`, `fov`)
//! or `[follow]` (`node`, `offset`, `fov`). Positions are world coordinates;
//! [`CameraPath::pose`] answers in display space (y up), where orbits turn
//! around the vertical.

use glam::{Mat4, Vec3};
use serde::{Deserialize, Serialize};

/// Why a camera path cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    #[error("camera path: {0}")]
    Parse(String),
    #[error("camera path: {0}")]
    Invalid(String),
}

/// A node named in a path: its viewer-wide id or its name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NodeRef {
    Id(u64),
    Name(String),
}

/// One keyframe: where the camera is, what it looks at, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyframe {
    /// Seconds into the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f32>,
    /// Or: the moment the video shows this scene frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<i64>,
    pub position: [f32; 3],
    pub target: [f32; 3],
    /// Vertical field of view in degrees (default 45).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov: Option<f32>,
}

/// A turntable: the camera circles the scene (or a node) once per `turns`
/// over the whole video.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Orbit {
    /// Circle this node (default: everything shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeRef>,
    /// Circle this point (world coordinates) instead of the bounds' center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<[f32; 3]>,
    /// Distance from the center (default: the bounds fill the view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<f32>,
    /// Degrees above the horizon (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevation: Option<f32>,
    /// Full turns over the video (default 1; negative turns clockwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<f32>,
    /// Starting angle in degrees around the vertical (default 0: looking along -z).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov: Option<f32>,
}

/// The camera keeps its offset to a moving node's center.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Follow {
    pub node: NodeRef,
    /// Camera position relative to the node's center (world axes; default: a
    /// three-quarter view at a distance that fits the node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<[f32; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov: Option<f32>,
}

/// How keyframes are joined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// A cubic spline through every keyframe (Catmull-Rom tangents, easing
    /// in at the first and out at the last).
    #[default]
    Spline,
    /// Straight lines, eased in and out at every keyframe.
    Linear,
}

/// A camera path as written in TOML.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraPath {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyframes: Vec<Keyframe>,
    #[serde(default)]
    pub interpolation: Interpolation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orbit: Option<Orbit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow: Option<Follow>,
}

/// Where the camera is at one moment, display space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    pub position: Vec3,
    pub target: Vec3,
    /// Degrees.
    pub fov_y: f32,
}

/// What a path needs from the scene, display space.
#[derive(Clone, Copy, Debug)]
pub struct PathContext {
    /// World -> display (a rotation; identity unless z is up).
    pub to_display: Mat4,
    /// Bounds of everything shown.
    pub scene_bounds: Option<(Vec3, Vec3)>,
    /// Bounds of the path's node (orbit/follow), at the frame being shown.
    pub node_bounds: Option<(Vec3, Vec3)>,
}

const DEFAULT_FOV: f32 = 45.0;

/// The field of view a camera draws, degrees: what a path may ask for (the
/// same range as `periscope_protocol::limits::MIN_FOV_Y_DEG`..=`MAX_FOV_Y_DEG`,
/// checked by a viewer test), never clamped silently.
pub const MIN_FOV: f32 = 1.0;
pub const MAX_FOV: f32 = 170.0;

fn check_fov(fov: Option<f32>, field: &str) -> Result<(), PathError> {
    match fov {
        Some(f) if !(MIN_FOV..=MAX_FOV).contains(&f) => {
            Err(PathError::Invalid(format!("field {field:?} must be degrees in [{MIN_FOV}, {MAX_FOV}], found {f}")))
        }
        _ => Ok(()),
    }
}

fn finite(v: [f32; 3]) -> bool {
    v.iter().all(|x| x.is_finite())
}

impl CameraPath {
    /// Parses and checks a TOML camera path; unknown keys are errors naming them.
    pub fn from_toml(text: &str) -> Result<Self, PathError> {
        let path: Self = toml::from_str(text).map_err(|e| PathError::Parse(e.message().to_owned()))?;
        path.validate()?;
        Ok(path)
    }

    /// Reads a TOML file.
    pub fn load(file: &std::path::Path) -> Result<Self, PathError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| PathError::Parse(format!("cannot read {}: {e}", file.display())))?;
        Self::from_toml(&text).map_err(|e| match e {
            PathError::Parse(m) => PathError::Parse(format!("{}: {m}", file.display())),
            other => other,
        })
    }

    /// The path as TOML (what [`Self::from_toml`] reads).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a camera path is plain data")
    }

    /// An orbit around everything shown.
    pub fn orbit() -> Self {
        Self { orbit: Some(Orbit::default()), ..Self::default() }
    }

    /// Exactly one of keyframes, orbit and follow; numbers in range.
    pub fn validate(&self) -> Result<(), PathError> {
        let kinds = usize::from(!self.keyframes.is_empty())
            + usize::from(self.orbit.is_some())
            + usize::from(self.follow.is_some());
        if kinds != 1 {
            return Err(PathError::Invalid("give exactly one of \"keyframes\", \"orbit\" or \"follow\"".to_owned()));
        }
        for (i, k) in self.keyframes.iter().enumerate() {
            let field = |f: &str| format!("keyframes[{i}].{f}");
            if !finite(k.position) || !finite(k.target) {
                return Err(PathError::Invalid(format!("field {:?} must be finite", field("position"))));
            }
            if k.position == k.target {
                return Err(PathError::Invalid(format!(
                    "field {:?} must differ from target, found {:?}",
                    field("position"),
                    k.position
                )));
            }
            if let Some(t) = k.time
                && !(t.is_finite() && t >= 0.0)
            {
                return Err(PathError::Invalid(format!("field {:?} must be seconds >= 0, found {t}", field("time"))));
            }
            if k.time.is_some() && k.frame.is_some() {
                return Err(PathError::Invalid(format!("keyframes[{i}]: give \"time\" or \"frame\", not both")));
            }
            check_fov(k.fov, &field("fov"))?;
        }
        if let Some(o) = &self.orbit {
            check_fov(o.fov, "orbit.fov")?;
            if let Some(r) = o.radius
                && !(r > 0.0 && r.is_finite())
            {
                return Err(PathError::Invalid(format!("field \"orbit.radius\" must be > 0, found {r}")));
            }
            if o.center.is_some_and(|c| !finite(c)) {
                return Err(PathError::Invalid("field \"orbit.center\" must be finite".to_owned()));
            }
            if let Some(e) = o.elevation
                && !(-89.0..=89.0).contains(&e)
            {
                return Err(PathError::Invalid(format!("field \"orbit.elevation\" must be in -89..=89, found {e}")));
            }
            for (field, v) in [("orbit.turns", o.turns), ("orbit.start", o.start)] {
                if let Some(v) = v
                    && !v.is_finite()
                {
                    return Err(PathError::Invalid(format!("field {field:?} must be a finite number, found {v}")));
                }
            }
        }
        if let Some(f) = &self.follow {
            check_fov(f.fov, "follow.fov")?;
            if f.offset.is_some_and(|o| !finite(o) || o == [0.0; 3]) {
                return Err(PathError::Invalid("field \"follow.offset\" must be finite and not zero".to_owned()));
            }
        }
        Ok(())
    }

    /// The node an orbit or follow path is about.
    pub fn node(&self) -> Option<&NodeRef> {
        self.orbit.as_ref().and_then(|o| o.node.as_ref()).or(self.follow.as_ref().map(|f| &f.node))
    }

    /// Keyframe times in seconds: `time` as given, `frame` at the moment the
    /// video shows that scene frame (`frames[k]` is shown at `k / fps`), and
    /// keyframes with neither spread evenly between their neighbours (over
    /// `duration` when none has a time). Sorted by time.
    pub fn keyframe_times(&self, fps: f32, frames: &[i64], duration: f32) -> Vec<(f32, Keyframe)> {
        let n = self.keyframes.len();
        let mut times: Vec<Option<f32>> = self
            .keyframes
            .iter()
            .map(|k| {
                k.time.or_else(|| {
                    k.frame.map(|f| {
                        // The first video frame showing scene frame `f` (or the nearest).
                        let at = frames.iter().position(|&x| x == f).unwrap_or_else(|| {
                            frames.iter().enumerate().min_by_key(|(_, x)| x.abs_diff(f)).map_or(0, |(i, _)| i)
                        });
                        at as f32 / fps
                    })
                })
            })
            .collect();
        if times.iter().all(Option::is_none) {
            for (i, t) in times.iter_mut().enumerate() {
                *t = Some(if n > 1 { duration * i as f32 / (n - 1) as f32 } else { 0.0 });
            }
        }
        // Fill gaps linearly between known neighbours (or hold at the ends).
        let known: Vec<(usize, f32)> = times.iter().enumerate().filter_map(|(i, t)| t.map(|t| (i, t))).collect();
        for (i, slot) in times.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let before = known.iter().rev().find(|(j, _)| *j < i);
            let after = known.iter().find(|(j, _)| *j > i);
            *slot = Some(match (before, after) {
                (Some(&(a, ta)), Some(&(b, tb))) => ta + (tb - ta) * (i - a) as f32 / (b - a) as f32,
                (Some(&(a, ta)), None) => ta + (duration - ta).max(0.0) * (i - a) as f32 / (n - a) as f32,
                (None, Some(&(_, tb))) => tb * i as f32 / (n as f32),
                (None, None) => 0.0,
            });
        }
        let mut out: Vec<(f32, Keyframe)> =
            times.into_iter().map(Option::unwrap_or_default).zip(self.keyframes.iter().cloned()).collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// The camera at `time` seconds, `progress` (0..=1) through the video.
    /// `keys` are [`Self::keyframe_times`] (ignored by presets).
    pub fn pose(&self, keys: &[(f32, Keyframe)], time: f32, progress: f32, ctx: &PathContext) -> Option<Pose> {
        if let Some(o) = &self.orbit {
            return orbit_pose(o, progress, ctx);
        }
        if let Some(f) = &self.follow {
            return follow_pose(f, ctx);
        }
        let p = |k: &Keyframe| ctx.to_display.transform_point3(Vec3::from(k.position));
        let t = |k: &Keyframe| ctx.to_display.transform_point3(Vec3::from(k.target));
        let fov = |k: &Keyframe| k.fov.unwrap_or(DEFAULT_FOV);
        let (first, last) = (keys.first()?, keys.last()?);
        if time <= first.0 || keys.len() == 1 {
            return Some(Pose { position: p(&first.1), target: t(&first.1), fov_y: fov(&first.1) });
        }
        if time >= last.0 {
            return Some(Pose { position: p(&last.1), target: t(&last.1), fov_y: fov(&last.1) });
        }
        let i = keys.windows(2).position(|w| time >= w[0].0 && time < w[1].0)?;
        let (t0, t1) = (keys[i].0, keys[i + 1].0);
        let h = (t1 - t0).max(1e-6);
        let s = (time - t0) / h;
        let fov_y = fov(&keys[i].1) + (fov(&keys[i + 1].1) - fov(&keys[i].1)) * s;
        let curve = |get: &dyn Fn(&Keyframe) -> Vec3| -> Vec3 {
            let (a, b) = (get(&keys[i].1), get(&keys[i + 1].1));
            match self.interpolation {
                Interpolation::Linear => a.lerp(b, s * s * (3.0 - 2.0 * s)),
                Interpolation::Spline => {
                    let tangent = |j: usize| -> Vec3 {
                        if j == 0 || j + 1 >= keys.len() {
                            return Vec3::ZERO;
                        }
                        let dt = (keys[j + 1].0 - keys[j - 1].0).max(1e-6);
                        (get(&keys[j + 1].1) - get(&keys[j - 1].1)) / dt
                    };
                    let (m0, m1) = (tangent(i), tangent(i + 1));
                    let (s2, s3) = (s * s, s * s * s);
                    a * (2.0 * s3 - 3.0 * s2 + 1.0)
                        + m0 * h * (s3 - 2.0 * s2 + s)
                        + b * (3.0 * s2 - 2.0 * s3)
                        + m1 * h * (s3 - s2)
                }
            }
        };
        Some(Pose { position: curve(&p), target: curve(&t), fov_y })
    }
}

fn center_radius(bounds: (Vec3, Vec3)) -> (Vec3, f32) {
    ((bounds.0 + bounds.1) * 0.5, ((bounds.1 - bounds.0).length() * 0.5).max(1e-3))
}

/// The distance at which a sphere of `radius` fills a view of `fov` degrees.
fn fit_distance(radius: f32, fov: f32) -> f32 {
    radius / (fov.to_radians() * 0.5).sin() * 1.1
}

fn orbit_pose(o: &Orbit, progress: f32, ctx: &PathContext) -> Option<Pose> {
    let fov = o.fov.unwrap_or(DEFAULT_FOV);
    let bounds = if o.node.is_some() { ctx.node_bounds } else { ctx.scene_bounds };
    let (center, radius) = match (o.center, bounds) {
        (Some(c), b) => (ctx.to_display.transform_point3(Vec3::from(c)), b.map_or(1.0, |b| center_radius(b).1)),
        (None, Some(b)) => center_radius(b),
        (None, None) => return None,
    };
    let distance = o.radius.unwrap_or_else(|| fit_distance(radius, fov));
    let angle = o.start.unwrap_or(0.0).to_radians() + progress * o.turns.unwrap_or(1.0) * std::f32::consts::TAU;
    let elevation = o.elevation.unwrap_or(20.0).to_radians();
    let (sy, cy) = angle.sin_cos();
    let (sp, cp) = elevation.sin_cos();
    let position = center + distance * Vec3::new(cp * sy, sp, cp * cy);
    Some(Pose { position, target: center, fov_y: fov })
}

fn follow_pose(f: &Follow, ctx: &PathContext) -> Option<Pose> {
    let fov = f.fov.unwrap_or(DEFAULT_FOV);
    let (center, radius) = center_radius(ctx.node_bounds?);
    let offset = match f.offset {
        Some(o) => ctx.to_display.transform_vector3(Vec3::from(o)),
        None => Vec3::new(0.6, 0.35, 0.72).normalize() * fit_distance(radius, fov),
    };
    Some(Pose { position: center + offset, target: center, fov_y: fov })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PathContext {
        PathContext {
            to_display: Mat4::IDENTITY,
            scene_bounds: Some((Vec3::splat(-1.0), Vec3::splat(1.0))),
            node_bounds: None,
        }
    }

    fn key(time: f32, position: [f32; 3], fov: f32) -> Keyframe {
        Keyframe { time: Some(time), frame: None, position, target: [0.0, 0.0, 0.0], fov: Some(fov) }
    }

    fn path(interpolation: Interpolation) -> CameraPath {
        CameraPath {
            keyframes: vec![
                key(0.0, [4.0, 1.0, 0.0], 40.0),
                key(1.0, [0.0, 1.0, 4.0], 50.0),
                key(3.0, [-4.0, 2.0, 0.0], 60.0),
                key(4.0, [0.0, 1.0, -4.0], 60.0),
            ],
            interpolation,
            ..Default::default()
        }
    }

    #[test]
    fn the_path_passes_through_every_keyframe_at_its_time() {
        for interp in [Interpolation::Spline, Interpolation::Linear] {
            let p = path(interp);
            let keys = p.keyframe_times(30.0, &[], 4.0);
            for (t, k) in &keys {
                let pose = p.pose(&keys, *t, 0.0, &ctx()).unwrap();
                assert!((pose.position - Vec3::from(k.position)).length() < 1e-4, "{interp:?} at {t}: {pose:?}");
                assert!((pose.fov_y - k.fov.unwrap()).abs() < 1e-4);
            }
            // Before the first and after the last keyframe the camera holds.
            assert_eq!(p.pose(&keys, -1.0, 0.0, &ctx()).unwrap().position, Vec3::new(4.0, 1.0, 0.0));
            assert_eq!(p.pose(&keys, 9.0, 1.0, &ctx()).unwrap().position, Vec3::new(0.0, 1.0, -4.0));
        }
    }

    #[test]
    fn between_keyframes_the_camera_moves_smoothly_and_fov_linearly() {
        let p = path(Interpolation::Spline);
        let keys = p.keyframe_times(30.0, &[], 4.0);
        // fov is linear: halfway from 50 to 60 between t=1 and t=3.
        assert!((p.pose(&keys, 2.0, 0.5, &ctx()).unwrap().fov_y - 55.0).abs() < 1e-4);
        // No jumps: small steps in time make small steps in space, and the
        // velocity is continuous at an interior keyframe (t = 1).
        let at = |t: f32| p.pose(&keys, t, 0.0, &ctx()).unwrap().position;
        let mut prev = at(0.0);
        for i in 1..=400 {
            let now = at(i as f32 * 0.01);
            assert!((now - prev).length() < 0.1, "jump at {}", i as f32 * 0.01);
            prev = now;
        }
        let e = 1e-3;
        let before = (at(1.0) - at(1.0 - e)) / e;
        let after = (at(1.0 + e) - at(1.0)) / e;
        assert!((before - after).length() < 0.05 * before.length().max(1.0), "{before} vs {after}");
        // Ease in at the start: the first step is shorter than a middle one.
        assert!((at(0.01) - at(0.0)).length() < (at(0.51) - at(0.5)).length());
    }

    #[test]
    fn keyframes_by_frame_or_without_time_get_times() {
        let mut p = path(Interpolation::Spline);
        p.keyframes[1].time = None;
        p.keyframes[1].frame = Some(20);
        p.keyframes[2].time = None;
        // Scene frames 10.. shown at 10 fps: frame 20 is at 1.0 s.
        let frames: Vec<i64> = (10..60).collect();
        let keys = p.keyframe_times(10.0, &frames, 5.0);
        let times: Vec<f32> = keys.iter().map(|k| k.0).collect();
        assert_eq!(times[0], 0.0);
        assert!((times[1] - 1.0).abs() < 1e-6);
        assert!((times[2] - 2.5).abs() < 1e-6, "{times:?}");
        assert_eq!(times[3], 4.0);
        // No times at all: spread over the duration.
        let mut q = path(Interpolation::Linear);
        q.keyframes.iter_mut().for_each(|k| k.time = None);
        let t: Vec<f32> = q.keyframe_times(30.0, &[], 6.0).iter().map(|k| k.0).collect();
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn an_orbit_circles_the_bounds_at_a_constant_distance() {
        let p = CameraPath::orbit();
        let c = ctx();
        let start = p.pose(&[], 0.0, 0.0, &c).unwrap();
        let quarter = p.pose(&[], 0.0, 0.25, &c).unwrap();
        let end = p.pose(&[], 0.0, 1.0, &c).unwrap();
        assert_eq!(start.target, Vec3::ZERO);
        assert!((start.position.length() - quarter.position.length()).abs() < 1e-4);
        assert!((start.position - end.position).length() < 1e-4, "one full turn");
        assert!((start.position - quarter.position).length() > 1.0);
        assert!(start.position.y > 0.0, "above the horizon");
        // Around a node: its bounds' center; none known -> no pose.
        let node = CameraPath {
            orbit: Some(Orbit { node: Some(NodeRef::Name("a".into())), ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(node.pose(&[], 0.0, 0.0, &c), None);
        let c2 = PathContext { node_bounds: Some((Vec3::new(4.0, 0.0, 0.0), Vec3::new(6.0, 2.0, 2.0))), ..c };
        assert_eq!(node.pose(&[], 0.0, 0.3, &c2).unwrap().target, Vec3::new(5.0, 1.0, 1.0));
    }

    #[test]
    fn follow_keeps_the_offset_to_the_node() {
        let p = CameraPath::from_toml("[follow]\nnode = 3\noffset = [0, 1, 5]\n").unwrap();
        assert_eq!(p.node(), Some(&NodeRef::Id(3)));
        let c = PathContext { node_bounds: Some((Vec3::new(1.0, 0.0, 0.0), Vec3::new(3.0, 2.0, 0.0))), ..ctx() };
        let pose = p.pose(&[], 0.0, 0.0, &c).unwrap();
        assert_eq!(pose.target, Vec3::new(2.0, 1.0, 0.0));
        assert_eq!(pose.position, Vec3::new(2.0, 2.0, 5.0));
        // z up: the offset's z is the display's y.
        let zup = PathContext { to_display: Mat4::from_rotation_x(-std::f32::consts::FRAC_PI_2), ..c };
        let pose = CameraPath::from_toml("[follow]\nnode = \"body\"\noffset = [0, 0, 3]\n")
            .unwrap()
            .pose(&[], 0.0, 0.0, &zup)
            .unwrap();
        assert!((pose.position - Vec3::new(2.0, 4.0, 0.0)).length() < 1e-5, "{pose:?}");
    }

    #[test]
    fn toml_round_trips_and_bad_files_name_the_field() {
        let p = path(Interpolation::Linear);
        assert_eq!(CameraPath::from_toml(&p.to_toml()).unwrap(), p);
        let unknown = CameraPath::from_toml("[[keyframes]]\nposition = [1,2,3]\ntarget = [0,0,0]\nzoom = 2\n");
        assert!(unknown.unwrap_err().to_string().contains("zoom"));
        let top = CameraPath::from_toml("speed = 2\n[orbit]\n").unwrap_err().to_string();
        assert!(top.contains("speed"), "{top}");
        let none = CameraPath::from_toml("").unwrap_err().to_string();
        assert!(none.contains("exactly one"), "{none}");
        let fov = CameraPath::from_toml("[orbit]\nfov = 200\n").unwrap_err().to_string();
        assert!(fov.contains("orbit.fov"), "{fov}");
        let same = CameraPath::from_toml("[[keyframes]]\nposition = [1,2,3]\ntarget = [1,2,3]\n").unwrap_err();
        assert!(same.to_string().contains("keyframes[0].position"), "{same}");
        let interp = CameraPath::from_toml("interpolation = \"bezier\"\n[orbit]\n").unwrap_err().to_string();
        assert!(interp.contains("bezier") || interp.contains("variant"), "{interp}");
    }

    #[test]
    fn every_number_of_a_path_is_finite() {
        for (text, field) in [
            ("[orbit]\nturns = nan\n", "orbit.turns"),
            ("[orbit]\nturns = inf\n", "orbit.turns"),
            ("[orbit]\nstart = -inf\n", "orbit.start"),
            ("[orbit]\nelevation = nan\n", "orbit.elevation"),
            ("[orbit]\nradius = nan\n", "orbit.radius"),
            ("[orbit]\nfov = nan\n", "orbit.fov"),
            ("[[keyframes]]\nposition = [1,2,3]\ntarget = [0,0,0]\ntime = nan\n", "keyframes[0].time"),
        ] {
            let e = CameraPath::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(field), "{text}: {e}");
        }
    }
}
