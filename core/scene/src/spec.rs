//! What each node kind accepts: its per-frame attributes, positional
//! arguments and settings. The handler is table-driven from here.

use periscope_protocol::MessageType;

/// One dimension of a per-frame attribute's inner shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// Exactly this size.
    Fixed(usize),
    /// A size named by a letter, bound on first use and shared by every
    /// attribute of the node that names it (e.g. `V` for vertices and vertex colors).
    Named(char),
}

/// A per-frame float attribute: `(F, inner...)`, or just `inner` for one frame.
#[derive(Clone, Copy, Debug)]
pub struct AttrSpec {
    pub name: &'static str,
    pub inner: &'static [Dim],
    /// An RGBA color attribute: RGB input gets alpha 1.
    pub rgba: bool,
    /// RGBA8 colors stored four bytes to a float slot (point clouds: 4 bytes
    /// per point instead of 16); read back as `uint8` `(N, 4)`.
    pub packed: bool,
    /// The first dimension may differ from frame to frame (point clouds).
    pub ragged: bool,
}

impl AttrSpec {
    /// What its values must be: colors in [0, 1], everything else finite.
    pub(crate) fn range(&self) -> crate::args::Range {
        if self.rgba { crate::args::Range::Unit } else { crate::args::Range::Finite }
    }
}

const fn attr(name: &'static str, inner: &'static [Dim]) -> AttrSpec {
    AttrSpec { name, inner, rgba: false, packed: false, ragged: false }
}
const fn color_attr(name: &'static str, inner: &'static [Dim]) -> AttrSpec {
    AttrSpec { name, inner, rgba: true, packed: false, ragged: false }
}

use Dim::{Fixed, Named};

/// Per-frame node transform attributes, accepted by every kind.
pub const TRANSFORM_ATTRS: &[AttrSpec] = &[attr("position", &[Fixed(3)]), attr("rotation", &[Fixed(3), Fixed(3)])];

const MESH_ATTRS: &[AttrSpec] = &[
    attr("vertices", &[Named('V'), Fixed(3)]),
    color_attr("vertex_colors", &[Named('V'), Fixed(4)]),
    color_attr("face_colors", &[Named('T'), Fixed(4)]),
];
const SPHERE_ATTRS: &[AttrSpec] =
    &[attr("positions", &[Named('N'), Fixed(3)]), color_attr("colors", &[Named('N'), Fixed(4)])];
const LINE_ATTRS: &[AttrSpec] =
    &[attr("lines", &[Named('N'), Fixed(3)]), color_attr("colors", &[Named('C'), Fixed(4)])];
const ARROW_ATTRS: &[AttrSpec] = &[
    attr("origins", &[Named('N'), Fixed(3)]),
    attr("tips", &[Named('N'), Fixed(3)]),
    color_attr("colors", &[Named('N'), Fixed(4)]),
];
const RIGID_BODY_ATTRS: &[AttrSpec] = &[
    attr("rb_pos", &[Named('N'), Fixed(3)]),
    attr("rb_ori", &[Named('N'), Fixed(3), Fixed(3)]),
    color_attr("colors", &[Named('N'), Fixed(4)]),
];
/// Body-model parameters; `vertices` and `joints` are derived from them.
pub const SMPL_ATTRS: &[AttrSpec] = &[
    attr("poses_body", &[Named('P')]),
    attr("poses_root", &[Fixed(3)]),
    attr("trans", &[Fixed(3)]),
    attr("betas", &[Named('B')]),
    attr("poses_left_hand", &[Fixed(45)]),
    attr("poses_right_hand", &[Fixed(45)]),
];
/// Point clouds: any number of points per frame; colors packed RGBA8.
pub const POINT_ATTRS: &[AttrSpec] = &[
    AttrSpec { name: "points", inner: &[Named('N'), Fixed(3)], rgba: false, packed: false, ragged: true },
    AttrSpec { name: "colors", inner: &[Named('N'), Fixed(4)], rgba: true, packed: true, ragged: true },
];
const SKELETON_ATTRS: &[AttrSpec] =
    &[attr("joint_positions", &[Named('J'), Fixed(3)]), color_attr("colors", &[Named('J'), Fixed(4)])];

/// The kinds of node the scene holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Node,
    Meshes,
    Spheres,
    Lines,
    Arrows,
    RigidBodies,
    Skeletons,
    /// A body-model sequence (SMPL, SMPL-H, SMPL-X), drawn as a mesh.
    Smpl,
    /// Points drawn as screen-space sprites; the count may change per frame.
    PointClouds,
}

/// Settings (non-array kwargs) a kind accepts besides the common ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    FlatShading,
    DrawEdges,
    Radius,
    RBase,
    RTip,
    RHead,
    P,
    Length,
    Mode,
    ModelType,
    Gender,
    NumBetas,
    ShowSkeleton,
    /// Point clouds: sprite diameter in pixels.
    PointSize,
    /// Point clouds: sprite diameter in world units (instead of pixels).
    PointSizeWorld,
}

impl Setting {
    pub const ALL: [Setting; 15] = [
        Setting::FlatShading,
        Setting::DrawEdges,
        Setting::Radius,
        Setting::RBase,
        Setting::RTip,
        Setting::RHead,
        Setting::P,
        Setting::Length,
        Setting::Mode,
        Setting::ModelType,
        Setting::Gender,
        Setting::NumBetas,
        Setting::ShowSkeleton,
        Setting::PointSize,
        Setting::PointSizeWorld,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Setting::FlatShading => "flat_shading",
            Setting::DrawEdges => "draw_edges",
            Setting::Radius => "radius",
            Setting::RBase => "r_base",
            Setting::RTip => "r_tip",
            Setting::RHead => "r_head",
            Setting::P => "p",
            Setting::Length => "length",
            Setting::Mode => "mode",
            Setting::ModelType => "model_type",
            Setting::Gender => "gender",
            Setting::NumBetas => "num_betas",
            Setting::ShowSkeleton => "show_skeleton",
            Setting::PointSize => "point_size",
            Setting::PointSizeWorld => "point_size_world",
        }
    }
}

impl NodeKind {
    /// The kind a creation message makes, if it is one.
    pub fn from_message_type(t: MessageType) -> Option<Self> {
        Some(match t {
            MessageType::Node => NodeKind::Node,
            MessageType::Meshes => NodeKind::Meshes,
            MessageType::Spheres => NodeKind::Spheres,
            MessageType::Lines => NodeKind::Lines,
            MessageType::Arrows => NodeKind::Arrows,
            MessageType::RigidBodies => NodeKind::RigidBodies,
            MessageType::Skeletons => NodeKind::Skeletons,
            MessageType::Smpl => NodeKind::Smpl,
            MessageType::PointClouds => NodeKind::PointClouds,
            _ => return None,
        })
    }

    pub fn message_type(self) -> MessageType {
        match self {
            NodeKind::Node => MessageType::Node,
            NodeKind::Meshes => MessageType::Meshes,
            NodeKind::Spheres => MessageType::Spheres,
            NodeKind::Lines => MessageType::Lines,
            NodeKind::Arrows => MessageType::Arrows,
            NodeKind::RigidBodies => MessageType::RigidBodies,
            NodeKind::Skeletons => MessageType::Skeletons,
            NodeKind::Smpl => MessageType::Smpl,
            NodeKind::PointClouds => MessageType::PointClouds,
        }
    }

    /// Lower-case wire name (`meshes`, `rigid_bodies`, ...).
    pub fn name(self) -> &'static str {
        self.message_type().name()
    }

    /// Display name used for default node names.
    pub fn title(self) -> &'static str {
        match self {
            NodeKind::Node => "Node",
            NodeKind::Meshes => "Meshes",
            NodeKind::Spheres => "Spheres",
            NodeKind::Lines => "Lines",
            NodeKind::Arrows => "Arrows",
            NodeKind::RigidBodies => "RigidBodies",
            NodeKind::Skeletons => "Skeletons",
            NodeKind::Smpl => "SMPL",
            NodeKind::PointClouds => "PointClouds",
        }
    }

    /// The kind's own per-frame attributes; the first ones are required and
    /// are also the positional arguments of `add_frames`/`update_frames`.
    pub fn attrs(self) -> &'static [AttrSpec] {
        match self {
            NodeKind::Node => &[],
            NodeKind::Meshes => MESH_ATTRS,
            NodeKind::Spheres => SPHERE_ATTRS,
            NodeKind::Lines => LINE_ATTRS,
            NodeKind::Arrows => ARROW_ATTRS,
            NodeKind::RigidBodies => RIGID_BODY_ATTRS,
            NodeKind::Skeletons => SKELETON_ATTRS,
            NodeKind::Smpl => SMPL_ATTRS,
            NodeKind::PointClouds => POINT_ATTRS,
        }
    }

    /// How many of [`Self::attrs`] are required (and positional for frame messages).
    pub fn n_required(self) -> usize {
        match self {
            NodeKind::Node => 0,
            NodeKind::Arrows | NodeKind::RigidBodies => 2,
            _ => 1,
        }
    }

    /// Positional argument names of the creation message (aitviewer's order).
    pub fn create_positional(self) -> &'static [&'static str] {
        match self {
            NodeKind::Node => &[],
            NodeKind::Meshes => &["vertices", "faces"],
            NodeKind::Spheres => &["positions"],
            NodeKind::Lines => &["lines"],
            NodeKind::Arrows => &["origins", "tips"],
            NodeKind::RigidBodies => &["rb_pos", "rb_ori"],
            NodeKind::Skeletons => &["joint_positions", "joint_connections"],
            NodeKind::Smpl => &["poses_body"],
            NodeKind::PointClouds => &["points"],
        }
    }

    /// Settings this kind accepts.
    pub fn settings(self) -> &'static [Setting] {
        use Setting::*;
        match self {
            NodeKind::Node => &[],
            NodeKind::Meshes => &[FlatShading, DrawEdges],
            NodeKind::Spheres => &[Radius],
            NodeKind::Lines => &[RBase, RTip, Mode],
            NodeKind::Arrows => &[RBase, RHead, P],
            NodeKind::RigidBodies => &[Radius, Length],
            NodeKind::Skeletons => &[Radius],
            NodeKind::Smpl => &[ModelType, Gender, NumBetas, ShowSkeleton, FlatShading, DrawEdges, Radius],
            NodeKind::PointClouds => &[PointSize, PointSizeWorld],
        }
    }

    /// The attribute spec named `name` (kind attributes and transforms).
    pub fn attr(self, name: &str) -> Option<&'static AttrSpec> {
        self.attrs().iter().chain(TRANSFORM_ATTRS).find(|a| a.name == name)
    }

    /// Every kind, in message-type order.
    pub const ALL: [NodeKind; 8] = [
        NodeKind::Node,
        NodeKind::Meshes,
        NodeKind::Spheres,
        NodeKind::Lines,
        NodeKind::Arrows,
        NodeKind::RigidBodies,
        NodeKind::Skeletons,
        NodeKind::PointClouds,
    ];
}
