//! The Periscope scene model: nodes with per-frame data, the
//! `(client, remote uid) -> node` map, the playhead, and the built-in message
//! handler that gives aitviewer's semantics. No GPU and no I/O here.

mod args;
mod body;
pub mod changes;
mod client;
mod controls;
mod error;
mod frames;
mod handler;
mod node;
mod playback;
mod points;
mod properties;
mod scene;
mod snapshot;
mod spec;

pub use body::{BodyModels, BodyPose, SkinDone, SkinJob, Skinned};
pub use changes::Change;
pub use client::{ClientKind, PLUGIN_CLIENT_BASE, REPLAY_CLIENT_BASE, VIEWER_CLIENT};
pub use controls::{Control, ControlId, ControlKind, ControlValue, Controls};
pub use error::{SceneError, SceneWarning};
pub use frames::FrameSeq;
pub use handler::Applied;
pub use node::{ClientId, DEFAULT_COLOR, LineMode, Node, NodeId, Style};
pub use playback::{playback_message, valid_fps};
pub use points::{packed_bytes, unpack};
pub use properties::{delete_message, select_message, set_control_message, set_properties_message};
pub use scene::{ClientInfo, DEFAULT_FPS, Scene, SceneConfig};
pub use snapshot::{node_message, node_messages};
pub use spec::{AttrSpec, Dim, NodeKind, Setting, TRANSFORM_ATTRS};

#[cfg(test)]
mod tests;
