//! A node of the scene: identity, common properties, per-kind settings and
//! per-frame attributes.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::frames::FrameSeq;
use crate::spec::NodeKind;

/// The viewer's id for a node, unique for the viewer's lifetime.
pub type NodeId = u64;
/// The viewer's id for a client connection (kept across a resumed session);
/// its ranges (viewer, network, plugins, replays) are [`crate::ClientKind`]'s.
pub type ClientId = u64;

/// How a Lines node joins its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineMode {
    /// Consecutive points are joined: N points make N-1 segments.
    LineStrip,
    /// Points are taken in pairs: N points make N/2 segments.
    Lines,
}

/// Per-kind drawing settings. Each kind reads the fields it accepts
/// ([`NodeKind::settings`]); defaults follow aitviewer.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    pub flat_shading: bool,
    pub draw_edges: bool,
    pub radius: f32,
    pub r_base: f32,
    /// `None` means "same as `r_base`"; ~0 draws cones.
    pub r_tip: Option<f32>,
    pub r_head: f32,
    /// Arrow head length as a fraction of the arrow.
    pub p: f32,
    pub length: f32,
    pub mode: LineMode,
    /// Body models: `smpl`, `smplh` or `smplx`.
    pub model_type: String,
    /// Body models: `neutral`, `male` or `female`.
    pub gender: String,
    /// Body models: use only the first `num_betas` shape coefficients.
    pub num_betas: Option<usize>,
    /// Body models: draw the joints and bones over the mesh.
    pub show_skeleton: bool,
    /// Point clouds: sprite diameter in pixels.
    pub point_size: f32,
    /// Point clouds: sprite diameter in world units; replaces `point_size`.
    pub point_size_world: Option<f32>,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            flat_shading: false,
            draw_edges: false,
            radius: 0.01,
            r_base: 0.01,
            r_tip: None,
            r_head: 0.02,
            p: 0.1,
            length: 0.2,
            mode: LineMode::LineStrip,
            model_type: "smpl".into(),
            gender: "neutral".into(),
            num_betas: None,
            show_skeleton: false,
            point_size: 2.0,
            point_size_world: None,
        }
    }
}

/// A scene node.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: NodeId,
    pub client: ClientId,
    /// The owning client's id for this node, if it gave one.
    pub uid: Option<i64>,
    pub kind: NodeKind,
    pub name: String,
    pub enabled: bool,
    /// Node color, RGBA in [0, 1].
    pub color: [f32; 4],
    pub scale: f32,
    pub style: Style,
    pub(crate) attrs: BTreeMap<&'static str, FrameSeq>,
    pub(crate) dims: BTreeMap<char, usize>,
    pub(crate) faces: Option<Arc<Vec<u32>>>,
    pub(crate) joint_connections: Option<Arc<Vec<[i32; 2]>>>,
    /// Bumped on every change of this node, so renderers know when to re-upload.
    pub version: u64,
}

/// The default node color (aitviewer's light grey).
pub const DEFAULT_COLOR: [f32; 4] = [0.6, 0.6, 0.6, 1.0];

impl Node {
    pub(crate) fn new(id: NodeId, client: ClientId, uid: Option<i64>, kind: NodeKind) -> Self {
        Self {
            id,
            client,
            uid,
            kind,
            name: format!("{} {}", kind.title(), id),
            enabled: true,
            color: DEFAULT_COLOR,
            scale: 1.0,
            style: Style::default(),
            attrs: BTreeMap::new(),
            dims: BTreeMap::new(),
            faces: None,
            joint_connections: None,
            version: 0,
        }
    }

    /// Number of frames: the longest per-frame attribute (at least 1).
    pub fn n_frames(&self) -> usize {
        self.attrs.values().map(FrameSeq::len).max().unwrap_or(1).max(1)
    }

    /// The node's frame for scene frame `scene_frame` (a shorter node holds its last frame).
    pub fn frame_for(&self, scene_frame: usize) -> usize {
        scene_frame.min(self.n_frames() - 1)
    }

    /// The per-frame attribute `name`, if the node has it.
    pub fn attr(&self, name: &str) -> Option<&FrameSeq> {
        self.attrs.get(name)
    }

    /// Names of the per-frame attributes the node has.
    pub fn attr_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attrs.keys().copied()
    }

    /// Frame `frame` of attribute `name` (holding the last frame when shorter).
    pub fn frame_data(&self, name: &str, frame: usize) -> Option<&[f32]> {
        self.attrs.get(name)?.frame(frame)
    }

    /// Position at `frame`, `[0, 0, 0]` when none was given.
    pub fn position(&self, frame: usize) -> [f32; 3] {
        self.frame_data("position", frame).map_or([0.0; 3], |p| [p[0], p[1], p[2]])
    }

    /// Row-major 3x3 rotation at `frame`, identity when none was given.
    pub fn rotation(&self, frame: usize) -> [f32; 9] {
        self.frame_data("rotation", frame).map_or([1., 0., 0., 0., 1., 0., 0., 0., 1.], |r| {
            let mut m = [0.0; 9];
            m.copy_from_slice(r);
            m
        })
    }

    /// Makes the position static (one frame for every frame).
    pub fn set_position(&mut self, p: [f32; 3]) {
        self.attrs.insert("position", FrameSeq::from_chunk(vec![3], 1, Arc::new(p.to_vec())));
        self.version += 1;
    }

    /// Makes the rotation static (row-major 3x3).
    pub fn set_rotation(&mut self, r: [f32; 9]) {
        self.attrs.insert("rotation", FrameSeq::from_chunk(vec![3, 3], 1, Arc::new(r.to_vec())));
        self.version += 1;
    }

    /// Triangle indices `(T, 3)` flattened, for meshes.
    pub fn faces(&self) -> Option<&[u32]> {
        self.faces.as_deref().map(Vec::as_slice)
    }

    /// The shared triangle indices, for views that outlive a borrow of the node.
    pub fn faces_shared(&self) -> Option<Arc<Vec<u32>>> {
        self.faces.clone()
    }

    /// Bone list `(parent, child)`, `-1` marks a root, for skeletons.
    pub fn joint_connections(&self) -> Option<&[[i32; 2]]> {
        self.joint_connections.as_deref().map(Vec::as_slice)
    }

    /// Bytes of array data the node refers to.
    /// Each distinct array chunk this node keeps alive, as (address, bytes).
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let faces = self.faces.as_ref().map(|f| (Arc::as_ptr(f) as usize, f.len() * 4));
        let joints = self.joint_connections.as_ref().map(|j| (Arc::as_ptr(j) as usize, j.len() * 8));
        self.attrs.values().flat_map(FrameSeq::chunks).chain(faces).chain(joints)
    }

    pub fn data_bytes(&self) -> usize {
        self.attrs.values().map(FrameSeq::data_bytes).sum::<usize>()
            + self.faces.as_ref().map_or(0, |f| f.len() * 4)
            + self.joint_connections.as_ref().map_or(0, |j| j.len() * 8)
    }
}
