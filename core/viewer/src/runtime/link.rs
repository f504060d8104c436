//! A view of a remote hub: applying what its link received.

use std::time::{Duration, Instant};

use periscope_protocol::Reply;

use super::Runtime;
use crate::view_link::{LinkEvent, ViewLink};

/// How often a view looks for what its link received.
pub(super) const LINK_POLL: Duration = Duration::from_millis(100);

impl Runtime {
    /// Applies what the link to a remote hub received (a view's step).
    pub(super) fn pump_link(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut n = 0;
        while let Some(ev) = self.link.as_ref().and_then(ViewLink::try_next) {
            n += 1;
            match ev {
                LinkEvent::Connected { client_id } => {
                    let url = self.link.as_ref().map(|l| l.url.clone()).unwrap_or_default();
                    self.info(format!("connected to {url} as view #{client_id}"));
                    // The hub sends its renderers' latest images after the snapshot.
                    self.images.clear_clients();
                }
                LinkEvent::Images { client, name, message } => match message {
                    None => self.images.client_disconnected(client),
                    Some(env) => match periscope_protocol::Request::decode(&env) {
                        Ok(Some(request)) => {
                            let shown = self.images.handle(client, &name, &env, &request, 0, Instant::now(), &self.out);
                            if let Err(e) = shown {
                                self.error(format!("an image of {name} #{client} from the hub: {e}"));
                            }
                        }
                        Ok(None) => {}
                        Err(e) => self.error(format!("an image of {name} #{client} from the hub: {e}")),
                    },
                },
                LinkEvent::Reset => self.scene.clear_mirror(),
                LinkEvent::Changes(changes) => {
                    if let Err(e) = self.scene.apply_changes(changes) {
                        self.error(format!("the view missed a change ({e}): asking the hub for a snapshot"));
                        if let Some(l) = &self.link {
                            l.resync();
                        }
                    }
                }
                LinkEvent::Reply(Reply::Problem { warning, code, message, .. }) => {
                    let text = format!("hub: {code}: {message}");
                    if warning { self.info(text) } else { self.error(text) }
                }
                LinkEvent::Reply(_) => {}
                LinkEvent::Lost(reason) => self.error(format!("disconnected from the hub ({reason}): reconnecting")),
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        n
    }
}
