//! The hub's window shows its own scene: the [`Runtime`] is the panels' host.

use periscope_protocol::Envelope;
use periscope_scene::Scene;
use periscope_ui::UiHost;

use crate::runtime::Runtime;

impl UiHost for Runtime {
    fn scene(&self) -> &Scene {
        &self.scene
    }

    fn submit(&mut self, envelope: Envelope) {
        Runtime::submit(self, envelope);
    }
}
