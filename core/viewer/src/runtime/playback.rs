//! Playback ticks: the playhead moves while the scene plays.

use std::time::{Duration, Instant};

use periscope_protocol::MessageType;

use periscope_scene::VIEWER_CLIENT;

use super::Runtime;

impl Runtime {
    /// Plays the scene: while it is playing, moves the playhead one frame per
    /// `1/fps` seconds of wall-clock time, a `next_frame` of the viewer's own
    /// client applied by `Scene::apply` (not through the chain or the
    /// recorder: ticks follow from the recorded `playback` message, and a
    /// replay plays them again). At most one frame per step: a step that
    /// comes late moves one frame and starts the cadence again from `now`
    /// instead of catching up in a burst. Returns when the next tick is due.
    pub(super) fn step_playback(&mut self, now: Instant) -> Option<Duration> {
        // A view shows the hub's playhead: the hub plays.
        if !self.scene.playing() || self.link.is_some() {
            self.playback_tick = None;
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / self.scene.fps());
        let last = *self.playback_tick.get_or_insert(now);
        let due = last + interval;
        if now < due {
            return Some(due - now);
        }
        if self.scene.n_frames() > 1 {
            let tick = periscope_protocol::Envelope::new(MessageType::NextFrame.as_i64());
            if let Err(e) = self.scene.apply(VIEWER_CLIENT, &tick) {
                tracing::warn!("playback: {}", e.message);
            }
        }
        // On time (within one interval): keep the cadence; later: start it again from now.
        let tick = if now - due < interval { due } else { now };
        self.playback_tick = Some(tick);
        Some((tick + interval).saturating_duration_since(now))
    }
}
