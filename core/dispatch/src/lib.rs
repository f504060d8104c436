//! The dispatch chain: every incoming message is offered, in order, to the
//! configured stages. A stage says whether the chain goes on or stops there.
//! `builtin` (the scene's own handler) is one stage like the others, so a
//! stage can run before it (filter, rewrite, consume) or after it (react).
//!
//! Stages are the builtin handler, hot-reloaded rhai scripts ([`script`]) and
//! native plugins ([`plugin`]).

mod builtin;
mod chain;
mod config;
pub mod plugin;
pub mod script;
mod watch;

use std::path::Path;

pub use builtin::BuiltinStage;
pub use chain::{
    Chain, ChainError, ClientCtx, Flow, Incoming, Outbox, PollResult, StageError, StageReport, StageStatus,
};
pub use config::{DispatchConfig, PluginsConfig, ScriptsConfig, toml_to_msgpack};
pub use plugin::{PluginError, PluginStage};

/// A step of the chain.
pub trait Stage: Send {
    /// Shown in logs and the UI.
    fn name(&self) -> &str;
    /// Handles one message; `Ok(Flow::Continue)` passes it on.
    fn process(
        &mut self,
        msg: &Incoming<'_>,
        scene: &mut periscope_scene::Scene,
        out: &dyn Outbox,
    ) -> Result<Flow, StageError>;
    /// A version the stage declares (plugins).
    fn version(&self) -> Option<&str> {
        None
    }
    /// The file this stage was loaded from, if any.
    fn path(&self) -> Option<&Path> {
        None
    }
    /// Bumped on every successful (re)load; a new generation re-enables a disabled stage.
    fn generation(&self) -> u64 {
        0
    }
    /// Why the latest (re)load failed, while an older version (or nothing) runs.
    fn load_error(&self) -> Option<&str> {
        None
    }
    /// Reloads from disk if the source changed; true when a new version runs.
    fn reload(&mut self, _scene: &mut periscope_scene::Scene) -> bool {
        false
    }
    /// Whether this stage reads the received MessagePack frame
    /// ([`periscope_protocol::Envelope::raw`]). When no stage does, the server
    /// drops each frame as soon as it is decoded, so its buffer is reused
    /// rather than kept alive until the scene thread gets to the message.
    fn wants_raw_frames(&self) -> bool {
        false
    }
}
