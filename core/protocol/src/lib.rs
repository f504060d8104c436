//! The Periscope wire protocol.
//!
//! Every WebSocket binary frame carries one MessagePack map. Client frames are
//! [`Envelope`]s (`{type, uid, args, kwargs, seq}`); server frames are
//! [`Reply`]s (`{type, ...fields}`). N-dimensional arrays travel as maps
//! `{"__ndarray__": dtype, "shape": [..], "data": bin}` with little-endian data
//! and are decoded with a single copy into typed, shared buffers ([`NdArray`]).
//!
//! This crate does no I/O. See `docs/protocol.md` for the full specification.

mod answers;
mod array;
mod decode;
mod encode;
mod envelope;
mod fields;
pub mod kwargs;
pub mod limits;
mod parts;
mod reply;
mod request;
mod types;
mod value;

pub use answers::{
    CameraEvent, CameraParams, CameraRequest, CameraStream, ChainState, ControlEvent, ControlList, ControlState, Event,
    ImageWindowState, ImagesState, RendererState, SceneSaved, ScreenshotResult, SelectEvent, StageStatus,
    VideoExported, ViewCamera, ViewCameraState, ViewportState,
};
pub use array::{ArrayData, ArrayError, DType, MAX_NDIM, NdArray};
pub use decode::{
    DecodeError, DecodeLimits, Header, NDARRAY_KEY, decode_value, decode_value_with_spans, decode_value_with_transfers,
    peek_header,
};
pub use encode::{encode_value, encode_value_into, encoded_len};
pub use envelope::{Envelope, EnvelopeError, Hello, RawFrame};
pub use fields::{Field, FieldKind};
pub use kwargs::FieldError;
pub use parts::{PartsBudget, Transfers};
pub use reply::{ClientSummary, NodeSummary, Reply, SceneState};
pub use request::{
    CameraTarget, ExportVideo, MAX_SCREENSHOT_SIDE, MAX_VIDEO_FRAMES, OrbitView, Request, RequestError, Screenshot,
    ViewPose,
};
pub use types::{Direction, MessageType, PROTOCOL_NAME, PROTOCOL_VERSION, Traits, traits_of};
pub use value::Value;
