//! The dispatch chain: every incoming message is offered, in order, to the
//! configured stages. A stage says whether the chain goes on or stops there.
//! `builtin` (the scene's own handler) is one stage like the others, so a
//! stage can run before it (filter, rewrite, consume) or after it (react).
//!
//! Scripts (rhai) and native plugins are further [`Stage`] implementations.

mod builtin;
mod chain;

pub use builtin::BuiltinStage;
pub use chain::{Chain, ClientCtx, Flow, Incoming, Outbox, StageError, StageReport};

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
}
