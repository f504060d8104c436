//! The kwargs each client message type reads, with the shape of value each
//! expects: the message fuzzer (`core/viewer/tests/fuzz_messages.rs`) builds
//! its messages from this table, so a type added to [`MessageType`] cannot be
//! left out of it (the `match` below has no wildcard and fails to compile).

use crate::types::MessageType;

/// What a field holds when it is well-formed (the fuzzer also sends every
/// other kind of value to every field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Int,
    /// Any number (int or float).
    Number,
    Bool,
    Str,
    /// 3 numbers (a point or a direction).
    Point,
    /// A 3x3 matrix, or one per frame.
    Matrix3,
    /// 3 or 4 numbers in [0, 1], or one per element.
    Color,
    /// A float array of rows of 3 (`(N, 3)` or `(F, N, 3)`).
    Rows3,
    /// A float vector per frame (`(P,)` or `(F, P)`), e.g. body-model poses.
    Vector,
    /// An int array of rows of 2 (`(N, 2)`): joint connections.
    IndexRows2,
    /// An int array of rows of 3 (`(T, 3)`): triangle faces.
    IndexRows3,
    /// An int or a list of ints naming scene or node frames.
    Frames,
    /// One image: an n-d array, an encoded file as bin, or `{format, data}`.
    Image,
    /// A list of images.
    Images,
    /// A map (a camera, a camera path).
    Map,
    /// Bytes.
    Bin,
    /// Anything.
    Any,
}

/// One kwarg of a message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
}

use FieldKind as K;

/// Every node's properties (creation and `set_properties`).
const COMMON: &[Field] = &[
    Field { name: "name", kind: K::Str },
    Field { name: "position", kind: K::Point },
    Field { name: "rotation", kind: K::Matrix3 },
    Field { name: "scale", kind: K::Number },
    Field { name: "color", kind: K::Color },
    Field { name: "enabled", kind: K::Bool },
];
const NODE: &[Field] = COMMON;
const MESHES: &[Field] = &[
    Field { name: "vertices", kind: K::Rows3 },
    Field { name: "faces", kind: K::IndexRows3 },
    Field { name: "vertex_colors", kind: K::Rows3 },
    Field { name: "face_colors", kind: K::Rows3 },
    Field { name: "flat_shading", kind: K::Bool },
    Field { name: "draw_edges", kind: K::Bool },
    Field { name: "name", kind: K::Str },
    Field { name: "position", kind: K::Point },
    Field { name: "scale", kind: K::Number },
    Field { name: "color", kind: K::Color },
];
const SPHERES: &[Field] = &[
    Field { name: "positions", kind: K::Rows3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "radius", kind: K::Number },
    Field { name: "name", kind: K::Str },
    Field { name: "color", kind: K::Color },
];
const LINES: &[Field] = &[
    Field { name: "lines", kind: K::Rows3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "mode", kind: K::Str },
    Field { name: "r_base", kind: K::Number },
    Field { name: "r_tip", kind: K::Number },
    Field { name: "color", kind: K::Color },
];
const ARROWS: &[Field] = &[
    Field { name: "origins", kind: K::Rows3 },
    Field { name: "tips", kind: K::Rows3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "r_base", kind: K::Number },
    Field { name: "r_head", kind: K::Number },
    Field { name: "p", kind: K::Number },
];
const RIGID_BODIES: &[Field] = &[
    Field { name: "rb_pos", kind: K::Rows3 },
    Field { name: "rb_ori", kind: K::Matrix3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "radius", kind: K::Number },
    Field { name: "length", kind: K::Number },
];
const SMPL: &[Field] = &[
    Field { name: "poses_body", kind: K::Vector },
    Field { name: "poses_root", kind: K::Vector },
    Field { name: "trans", kind: K::Point },
    Field { name: "betas", kind: K::Vector },
    Field { name: "poses_left_hand", kind: K::Vector },
    Field { name: "poses_right_hand", kind: K::Vector },
    Field { name: "model_type", kind: K::Str },
    Field { name: "gender", kind: K::Str },
    Field { name: "num_betas", kind: K::Int },
    Field { name: "show_skeleton", kind: K::Bool },
    Field { name: "radius", kind: K::Number },
];
const SKELETONS: &[Field] = &[
    Field { name: "joint_positions", kind: K::Rows3 },
    Field { name: "joint_connections", kind: K::IndexRows2 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "radius", kind: K::Number },
];
const POINT_CLOUDS: &[Field] = &[
    Field { name: "points", kind: K::Rows3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "point_size", kind: K::Number },
    Field { name: "point_size_world", kind: K::Number },
    Field { name: "name", kind: K::Str },
];
/// Per-frame arrays of any kind, for the frame messages.
const FRAME_DATA: &[Field] = &[
    Field { name: "vertices", kind: K::Rows3 },
    Field { name: "positions", kind: K::Rows3 },
    Field { name: "lines", kind: K::Rows3 },
    Field { name: "origins", kind: K::Rows3 },
    Field { name: "tips", kind: K::Rows3 },
    Field { name: "rb_pos", kind: K::Rows3 },
    Field { name: "rb_ori", kind: K::Matrix3 },
    Field { name: "joint_positions", kind: K::Rows3 },
    Field { name: "points", kind: K::Rows3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "vertex_colors", kind: K::Rows3 },
    Field { name: "poses_body", kind: K::Vector },
    Field { name: "position", kind: K::Point },
    Field { name: "rotation", kind: K::Matrix3 },
];
const UPDATE_FRAMES: &[Field] = &[
    Field { name: "frames", kind: K::Frames },
    Field { name: "vertices", kind: K::Rows3 },
    Field { name: "positions", kind: K::Rows3 },
    Field { name: "points", kind: K::Rows3 },
    Field { name: "colors", kind: K::Rows3 },
    Field { name: "position", kind: K::Point },
    Field { name: "rotation", kind: K::Matrix3 },
];
const SET_PROPERTIES: &[Field] = &[
    Field { name: "node_id", kind: K::Int },
    Field { name: "client_id", kind: K::Int },
    Field { name: "name", kind: K::Str },
    Field { name: "position", kind: K::Point },
    Field { name: "rotation", kind: K::Matrix3 },
    Field { name: "scale", kind: K::Number },
    Field { name: "color", kind: K::Color },
    Field { name: "enabled", kind: K::Bool },
    Field { name: "radius", kind: K::Number },
    Field { name: "flat_shading", kind: K::Bool },
    Field { name: "point_size", kind: K::Number },
];
const CONTROL: &[Field] = &[
    Field { name: "kind", kind: K::Str },
    Field { name: "label", kind: K::Str },
    Field { name: "folder", kind: K::Str },
    Field { name: "value", kind: K::Any },
    Field { name: "min", kind: K::Number },
    Field { name: "max", kind: K::Number },
    Field { name: "step", kind: K::Number },
    Field { name: "log", kind: K::Bool },
    Field { name: "options", kind: K::Any },
    Field { name: "disabled", kind: K::Bool },
    Field { name: "visible", kind: K::Bool },
];
const EXPORT_VIDEO: &[Field] = &[
    Field { name: "name", kind: K::Str },
    Field { name: "fps", kind: K::Number },
    Field { name: "frames", kind: K::Frames },
    Field { name: "frame_range", kind: K::Frames },
    Field { name: "width", kind: K::Int },
    Field { name: "height", kind: K::Int },
    Field { name: "camera_path", kind: K::Map },
    Field { name: "orbit", kind: K::Bool },
    Field { name: "return_bytes", kind: K::Bool },
];

impl MessageType {
    /// The kwargs a message of this type reads (empty for messages with none
    /// and for viewer -> client types). Node messages also take `uid`, which
    /// is part of every envelope.
    pub fn fields(self) -> &'static [Field] {
        use MessageType as T;
        match self {
            T::Node => NODE,
            T::Meshes => MESHES,
            T::Spheres => SPHERES,
            T::Lines => LINES,
            T::Arrows => ARROWS,
            T::RigidBodies => RIGID_BODIES,
            T::Smpl => SMPL,
            T::Skeletons => SKELETONS,
            T::PointClouds => POINT_CLOUDS,
            T::AddFrames => FRAME_DATA,
            T::UpdateFrames => UPDATE_FRAMES,
            T::RemoveFrames => &[Field { name: "frames", kind: K::Frames }],
            T::SetFrame => &[Field { name: "frame", kind: K::Int }],
            T::Playback => &[Field { name: "playing", kind: K::Bool }, Field { name: "fps", kind: K::Number }],
            T::Delete => &[Field { name: "client_id", kind: K::Int }, Field { name: "node_id", kind: K::Int }],
            T::Query => &[
                Field { name: "client_id", kind: K::Int },
                Field { name: "attribute", kind: K::Str },
                Field { name: "frame", kind: K::Frames },
                Field { name: "digest", kind: K::Bool },
            ],
            T::Screenshot => &[
                Field { name: "width", kind: K::Int },
                Field { name: "height", kind: K::Int },
                Field { name: "frame", kind: K::Int },
                Field { name: "fit", kind: K::Bool },
                Field { name: "camera", kind: K::Map },
            ],
            T::Images => &[
                Field { name: "images", kind: K::Images },
                Field { name: "single", kind: K::Bool },
                Field { name: "camera_seq", kind: K::Int },
            ],
            T::RequireCamera => &[Field { name: "enabled", kind: K::Bool }, Field { name: "target", kind: K::Str }],
            T::ReadRemote => &[Field { name: "client_id", kind: K::Int }],
            T::SaveScene => &[Field { name: "name", kind: K::Str }],
            T::SetProperties => SET_PROPERTIES,
            T::SetCamera => &[
                Field { name: "position", kind: K::Point },
                Field { name: "target", kind: K::Point },
                Field { name: "fov_y", kind: K::Number },
            ],
            T::ViewMoved => &[
                Field { name: "position", kind: K::Point },
                Field { name: "target", kind: K::Point },
                Field { name: "fov_y", kind: K::Number },
                Field { name: "width", kind: K::Int },
                Field { name: "height", kind: K::Int },
            ],
            T::AddControl | T::UpdateControl => CONTROL,
            T::SetControl => &[
                Field { name: "control_id", kind: K::Int },
                Field { name: "client_id", kind: K::Int },
                Field { name: "value", kind: K::Any },
            ],
            T::Select => &[
                Field { name: "client_id", kind: K::Int },
                Field { name: "node_id", kind: K::Int },
                Field { name: "point", kind: K::Point },
            ],
            T::Subscribe => &[Field { name: "select", kind: K::Bool }, Field { name: "camera", kind: K::Bool }],
            T::ViewportImage => &[
                Field { name: "image", kind: K::Image },
                Field { name: "depth", kind: K::Vector },
                Field { name: "camera", kind: K::Map },
                Field { name: "camera_seq", kind: K::Int },
            ],
            T::ArrayPart => &[
                Field { name: "transfer", kind: K::Int },
                Field { name: "data", kind: K::Bin },
                Field { name: "dtype", kind: K::Str },
                Field { name: "nbytes", kind: K::Int },
            ],
            T::ExportVideo => EXPORT_VIDEO,
            T::Hello => &[
                Field { name: "protocol", kind: K::Str },
                Field { name: "version", kind: K::Int },
                Field { name: "client_name", kind: K::Str },
                Field { name: "token", kind: K::Str },
                Field { name: "session", kind: K::Str },
                Field { name: "role", kind: K::Str },
            ],
            T::UserMessage => &[Field { name: "data", kind: K::Any }],
            T::NextFrame
            | T::PreviousFrame
            | T::QueryChain
            | T::QueryImages
            | T::QueryCamera
            | T::RemoveControl
            | T::QueryControls
            | T::ClearViewport
            | T::ViewResync => &[],
            T::SceneState
            | T::ChainState
            | T::ScreenshotResult
            | T::Camera
            | T::ImagesState
            | T::SceneSaved
            | T::ViewCamera
            | T::ControlState
            | T::Controls
            | T::Event
            | T::VideoExported
            | T::Error
            | T::Warning
            | T::Welcome
            | T::ViewSnapshot
            | T::ViewChanges
            | T::ViewImages
            | T::Refused => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Direction;

    #[test]
    fn only_client_messages_have_fields_and_names_are_unique() {
        for &t in MessageType::ALL {
            let fields = t.fields();
            if t.traits().direction == Direction::ToClient {
                assert!(fields.is_empty(), "{}", t.name());
            }
            let mut names: Vec<_> = fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), fields.len(), "{}: a field is listed twice", t.name());
        }
    }
}
