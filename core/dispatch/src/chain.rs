//! The ordered list of stages and how a message runs through it.

use periscope_protocol::{Envelope, Reply};
use periscope_scene::Scene;

use crate::Stage;

/// The client a message came from, as stages see it.
#[derive(Clone, Copy, Debug)]
pub struct ClientCtx<'a> {
    pub id: u64,
    pub name: &'a str,
    /// `ip:port`.
    pub addr: &'a str,
}

/// One message offered to the chain.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    pub envelope: &'a Envelope,
    pub client: ClientCtx<'a>,
}

/// What a stage wants after handling a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Where replies go: implemented by the server handle (and by tests).
pub trait Outbox {
    /// Queues a reply for one client; false if it could not be queued.
    fn send(&self, client: u64, reply: Reply) -> bool;
    /// Sends to every connected client; returns how many got it.
    fn broadcast(&self, reply: &Reply) -> usize;
}

/// A stage's failure. The chain reports it to the sender once and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// The message was refused for a reason the sender should fix.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The stage itself failed (a script error, a plugin panic, ...).
    #[error("stage {stage} failed: {message}")]
    Failed { stage: String, message: String },
}

/// What happened to one message, for logs, the UI and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StageReport {
    /// Stages that ran, in order.
    pub ran: Vec<String>,
    /// The stage that stopped the chain, if one did.
    pub stopped_by: Option<String>,
    pub errors: Vec<String>,
}

/// The ordered stages.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Box<dyn Stage>>,
}

impl Chain {
    pub fn new(stages: Vec<Box<dyn Stage>>) -> Self {
        Self { stages }
    }

    pub fn stage_names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name().to_owned()).collect()
    }

    /// Offers `msg` to every stage in order until one stops the chain. A
    /// failing stage is reported to the sender (an error reply citing the
    /// message's seq) and the chain continues.
    pub fn run(&mut self, msg: &Incoming<'_>, scene: &mut Scene, out: &dyn Outbox) -> StageReport {
        let mut report = StageReport::default();
        let env = msg.envelope;
        for stage in &mut self.stages {
            report.ran.push(stage.name().to_owned());
            match stage.process(msg, scene, out) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => {
                    report.stopped_by = Some(stage.name().to_owned());
                    break;
                }
                Err(e) => {
                    let code = match &e {
                        StageError::Refused { code, .. } => *code,
                        StageError::Failed { .. } => "stage_failed",
                    };
                    tracing::warn!(
                        client = msg.client.id,
                        name = msg.client.name,
                        seq = env.seq,
                        kind = env.kind,
                        uid = env.uid,
                        stage = stage.name(),
                        code,
                        error = %e,
                        "message refused"
                    );
                    out.send(msg.client.id, Reply::error(env.seq, Some(env.kind), env.uid, code, e.to_string()));
                    report.errors.push(e.to_string());
                }
            }
        }
        report
    }
}
