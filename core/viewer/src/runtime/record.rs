//! Recording every accepted event to a file, and saving the scene
//! (`save_scene`) into the export folder.

use std::path::Path;

use periscope_protocol::Reply;
use periscope_record::{Kind, Recorder};
use periscope_server::Event;

use periscope_dispatch::Outbox as _;

use periscope_scene::ClientKind;

use super::Runtime;
use crate::replay::frame_of;

impl Runtime {
    /// Starts writing every accepted message to `path`.
    pub fn start_recording(&mut self, path: &Path) -> Result<(), String> {
        let r = Recorder::create(path).map_err(|e| e.to_string())?;
        // Clients already connected appear connected at the start of the recording.
        let mut r = r;
        for c in self.scene.clients().filter(|c| c.connected && ClientKind::is_network(c.id)) {
            r.record(Kind::Connect, c.id, &c.name, None, bytes::Bytes::new());
        }
        self.recorder = Some(r);
        self.sync_keep_frames();
        self.info(format!("recording to {}", path.display()));
        Ok(())
    }

    /// Stops recording; the file is complete when this returns.
    pub fn stop_recording(&mut self) {
        if let Some(r) = self.recorder.take() {
            self.sync_keep_frames();
            let path = r.path().to_owned();
            match r.finish() {
                Ok(n) => self.info(format!("recording saved: {} ({n} records)", path.display())),
                Err(e) => self.error(e.to_string()),
            }
        }
    }

    /// The file being recorded to, if any.
    pub fn recording(&self) -> Option<&Path> {
        self.recorder.as_ref().map(Recorder::path)
    }

    pub(super) fn record(&mut self, ev: &Event) {
        let Some(r) = self.recorder.as_mut() else { return };
        let ok = match ev {
            Event::Connected { client, .. } => {
                r.record(Kind::Connect, client.id(), client.name(), None, bytes::Bytes::new())
            }
            Event::Disconnected { client } => {
                r.record(Kind::Disconnect, client.id(), client.name(), None, bytes::Bytes::new())
            }
            Event::Message { client, envelope, .. } => {
                r.record(Kind::Message, client.id(), client.name(), envelope.seq, frame_of(envelope))
            }
            Event::Rejected { .. } => true,
        };
        if !ok {
            self.error("the recording stopped: the file could not be written".into());
            self.stop_recording();
        }
    }

    pub(super) fn save_scene_request(&mut self, client: u64, envelope: &periscope_protocol::Envelope, name: &str) {
        // The name as saved (`.psr` added when it has no extension) is checked.
        let file_name = if Path::new(name).extension().is_none() && !name.is_empty() {
            format!("{name}.psr")
        } else {
            name.to_owned()
        };
        let reply = if let Err(e) = crate::export::check_plain_file_name(&file_name) {
            let e = format!(
                "save_scene: field \"name\" must be a plain file name (it is saved in the viewer's export folder): {e}"
            );
            self.error(format!("client #{client}: {e}"));
            Reply::error(envelope.seq, Some(envelope.kind), None, "bad_value", e)
        } else {
            let path = self.export_dir.join(&file_name);
            match crate::replay::save_scene(&self.scene, &path) {
                Ok(records) => {
                    self.info(format!("scene saved to {} ({records} records)", path.display()));
                    Reply::SceneSaved(periscope_protocol::SceneSaved {
                        ref_seq: envelope.seq,
                        path: path.display().to_string(),
                        records,
                    })
                }
                Err(e) => {
                    self.error(format!("cannot save the scene: {e}"));
                    Reply::error(envelope.seq, Some(envelope.kind), None, "io", e)
                }
            }
        };
        self.out.send(client, reply);
    }
}
