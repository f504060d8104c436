//! Why the scene refused a message. Each error carries a stable code that is
//! sent to the client with the human-readable text.

/// A refused message. The scene is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SceneError {
    /// Stable, machine-readable: `bad_shape`, `bad_dtype`, `bad_value`,
    /// `missing_arg`, `unknown_uid`, `unknown_type`, `unsupported`, `bad_frames`, `limit`.
    pub code: &'static str,
    pub message: String,
}

impl SceneError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// A remark on an accepted message (e.g. an ignored keyword argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SceneWarning {
    pub code: &'static str,
    pub message: String,
}

pub(crate) fn err(code: &'static str, message: impl Into<String>) -> SceneError {
    SceneError::new(code, message)
}

/// A refused field, as the shared kwarg reader words it: `bad_value`.
impl From<periscope_protocol::FieldError> for SceneError {
    fn from(e: periscope_protocol::FieldError) -> Self {
        SceneError::new("bad_value", e.to_string())
    }
}
