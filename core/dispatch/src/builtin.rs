//! The `builtin` stage: the scene's own handler.

use periscope_protocol::Reply;
use periscope_scene::Scene;

use crate::{Flow, Incoming, Outbox, Stage, StageError};

/// Applies messages to the scene with aitviewer's semantics. User messages
/// (types >= 10000) pass through untouched.
#[derive(Debug, Default)]
pub struct BuiltinStage;

impl Stage for BuiltinStage {
    fn name(&self) -> &str {
        "builtin"
    }

    fn process(&mut self, msg: &Incoming<'_>, scene: &mut Scene, out: &dyn Outbox) -> Result<Flow, StageError> {
        let env = msg.envelope;
        let applied =
            scene.apply(msg.client.id, env).map_err(|e| StageError::Refused { code: e.code, message: e.message })?;
        for w in applied.warnings {
            tracing::info!(client = msg.client.id, seq = env.seq, code = w.code, "{}", w.message);
            out.send(msg.client.id, Reply::warning(env.seq, Some(env.kind), env.uid, w.code, w.message));
        }
        if let Some(state) = applied.state {
            out.send(msg.client.id, Reply::SceneState(state));
        }
        // Answers and control events; an event for an owner that is not
        // connected (a script's control, a client gone) finds no outbox.
        for (client, reply) in applied.replies {
            out.send(client, reply);
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use periscope_protocol::{Envelope, MessageType};
    use periscope_scene::SceneConfig;

    use super::*;
    use crate::{Chain, ClientCtx};

    #[derive(Default)]
    struct Collect(RefCell<Vec<(u64, Reply)>>);
    impl Outbox for Collect {
        fn send(&self, client: u64, reply: Reply) -> bool {
            self.0.borrow_mut().push((client, reply));
            true
        }
        fn broadcast(&self, reply: &Reply) -> usize {
            self.send(0, reply.clone());
            1
        }
    }

    struct Stopper;
    impl Stage for Stopper {
        fn name(&self) -> &str {
            "stopper"
        }
        fn process(&mut self, msg: &Incoming<'_>, _: &mut Scene, _: &dyn Outbox) -> Result<Flow, StageError> {
            Ok(if msg.envelope.kind >= 10_000 { Flow::Stop } else { Flow::Continue })
        }
    }

    #[test]
    fn refusals_are_replied_once_with_the_seq() {
        let mut scene = Scene::new(SceneConfig::default());
        let mut chain = Chain::new(vec![Box::new(BuiltinStage)]);
        let out = Collect::default();
        let mut env = Envelope::new(MessageType::Delete.as_i64()).with_uid(9);
        env.seq = Some(5);
        let client = ClientCtx { id: 3, name: "t", addr: "127.0.0.1:1" };
        let report = chain.run(&Incoming { envelope: &env, client }, &mut scene, &out);
        assert_eq!(report.errors.len(), 1);
        let replies = out.0.borrow();
        assert_eq!(replies.len(), 1);
        let (to, Reply::Problem { warning: false, ref_seq: Some(5), code, message, .. }) = &replies[0] else {
            panic!("{replies:?}")
        };
        assert_eq!((*to, code.as_str()), (3, "unknown_uid"));
        assert_eq!(message, "delete: no node with uid 9 for this client");
    }

    #[test]
    fn a_stage_can_stop_the_chain() {
        let mut scene = Scene::new(SceneConfig::default());
        let mut chain = Chain::new(vec![Box::new(Stopper), Box::new(BuiltinStage)]);
        let out = Collect::default();
        let env = Envelope::new(10_001);
        let client = ClientCtx { id: 1, name: "t", addr: "x" };
        let report = chain.run(&Incoming { envelope: &env, client }, &mut scene, &out);
        assert_eq!(report.stopped_by.as_deref(), Some("stopper"));
        assert_eq!(report.ran, vec!["stopper"]);
        let env = Envelope::new(MessageType::NextFrame.as_i64());
        let report = chain.run(&Incoming { envelope: &env, client }, &mut scene, &out);
        assert_eq!(report.ran, vec!["stopper", "builtin"]);
    }
}
