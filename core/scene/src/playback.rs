//! The `playback` message: start or stop playback and set its speed. The
//! playhead itself moves by `set_frame`/`next_frame`/`previous_frame`; while
//! the scene plays, the viewer's step sends itself `next_frame` at `fps`.

use periscope_protocol::Envelope;
use periscope_protocol::kwargs::describe;
use periscope_protocol::limits::{MAX_PLAYBACK_FPS, MIN_PLAYBACK_FPS};

use crate::error::{SceneError, err};
use crate::handler::Applied;
use crate::scene::Scene;

/// A `playback` message: `playing` and `fps` as kwargs, each only when given.
pub fn playback_message(playing: Option<bool>, fps: Option<f64>) -> Envelope {
    let mut env = Envelope::new(periscope_protocol::MessageType::Playback.as_i64());
    if let Some(p) = playing {
        env = env.with_kwarg("playing", p);
    }
    if let Some(f) = fps {
        env = env.with_kwarg("fps", f);
    }
    env
}

/// Whether `fps` is a playback speed the scene takes: in [0.001, 240].
pub fn valid_fps(fps: f64) -> bool {
    (MIN_PLAYBACK_FPS..=MAX_PLAYBACK_FPS).contains(&fps)
}

impl Scene {
    /// `playback`: kwargs `playing` (bool) and `fps` (frames per second,
    /// finite, in [0.001, 240]), both optional; the whole message is checked first.
    pub(crate) fn apply_playback(&mut self, env: &Envelope, applied: &mut Applied) -> Result<(), SceneError> {
        const MSG: &str = "playback";
        if !env.args.is_empty() {
            return Err(err(
                "bad_value",
                format!(
                    "{MSG}: {} positional arguments given but it takes only keyword arguments (playing, fps)",
                    env.args.len()
                ),
            ));
        }
        let (mut playing, mut fps) = (None, None);
        let mut unknown = Vec::new();
        for (k, v) in &env.kwargs {
            match k.as_str() {
                "playing" if v.is_nil() => {}
                "playing" => {
                    playing = Some(v.as_bool().ok_or_else(|| {
                        err("bad_value", format!("{MSG}: field \"playing\" must be a bool, found {}", v.type_name()))
                    })?);
                }
                "fps" if v.is_nil() => {}
                "fps" => {
                    let f = v.as_f64().filter(|&f| valid_fps(f)).ok_or_else(|| {
                        err(
                            "bad_value",
                            format!(
                                "{MSG}: field \"fps\" must be a finite number in [{MIN_PLAYBACK_FPS}, {MAX_PLAYBACK_FPS}], found {}",
                                describe(v)
                            ),
                        )
                    })?;
                    fps = Some(f);
                }
                other => unknown.push(other),
            }
        }
        applied.warn_unknown(MSG, &unknown, "is not known and was ignored", "are not known and were ignored");
        if playing.is_some() || fps.is_some() {
            self.set_playback(playing, fps);
        }
        Ok(())
    }
}
