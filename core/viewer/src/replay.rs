//! Recording (every accepted message to a `.psr`) and replaying recordings
//! and saved scenes through the same dispatch chain as live traffic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use periscope_protocol::{DecodeLimits, Envelope, MessageType, Request, Value, encode_value};
use periscope_record::{Kind, Record, Recorder};
use periscope_scene::{ClientId, ClientKind, Scene};
use periscope_server::{ClientRef, Event};

use crate::runtime::Runtime;

/// A recording being replayed.
pub struct Replay {
    pub path: PathBuf,
    records: Vec<Record>,
    pos: usize,
    /// Playback speed; 0 means as fast as possible.
    pub speed: f32,
    pub paused: bool,
    /// Recording time reached, seconds.
    clock: f64,
    last_tick: Instant,
    clients: HashMap<u64, ClientRef>,
    /// Damage found while reading (the prefix before it is replayed).
    pub warning: Option<String>,
    origin: String,
}

impl Replay {
    /// Loads `path` (a recording or a saved scene).
    pub fn open(path: &Path, speed: f32) -> Result<Self, String> {
        let rec = periscope_record::read(path).map_err(|e| e.to_string())?;
        if let Some(w) = &rec.warning {
            tracing::warn!("{w}");
        }
        let origin = format!(
            "replay of {}",
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
        );
        tracing::info!(path = %path.display(), records = rec.records.len(), seconds = rec.duration(), "replaying");
        Ok(Self {
            path: path.to_owned(),
            records: rec.records,
            pos: 0,
            speed,
            paused: false,
            clock: 0.0,
            last_tick: Instant::now(),
            clients: HashMap::new(),
            warning: rec.warning,
            origin,
        })
    }

    pub fn duration(&self) -> f64 {
        self.records.last().map_or(0.0, |r| r.t)
    }

    pub fn position(&self) -> f64 {
        self.clock.min(self.duration())
    }

    pub fn finished(&self) -> bool {
        self.pos >= self.records.len()
    }

    pub fn records(&self) -> (usize, usize) {
        (self.pos, self.records.len())
    }

    fn event(&mut self, i: usize) -> Option<Event> {
        let r = &self.records[i];
        let id = replayed(r.client);
        let client = self.clients.entry(id).or_insert_with(|| ClientRef::detached(id, &r.name, &self.origin)).clone();
        Some(match r.kind {
            Kind::Connect => Event::Connected { client, resumed: false },
            Kind::Disconnect => Event::Disconnected { client },
            Kind::Message => match Envelope::decode_frame(r.frame.clone(), DecodeLimits::default()) {
                Ok(mut envelope) => match Request::decode(&envelope) {
                    Ok(request) => {
                        remap_client_ids(&mut envelope);
                        Event::Message {
                            client,
                            bytes: r.frame.len(),
                            envelope,
                            request,
                            received: Instant::now(),
                            coalesced: 0,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(record = i, "skipping a recorded message that is not valid: {e}");
                        return None;
                    }
                },
                Err(e) => {
                    tracing::warn!(record = i, "skipping a recorded message that does not decode: {e}");
                    return None;
                }
            },
        })
    }

    /// Feeds the records that are due (all of them at speed 0) into `rt`, for
    /// at most `budget`. Returns when the next record is due in real-time mode.
    pub fn step(&mut self, rt: &mut Runtime, budget: Duration) -> Option<Duration> {
        let now = Instant::now();
        if !self.paused && self.speed > 0.0 {
            self.clock += now.duration_since(self.last_tick).as_secs_f64() * f64::from(self.speed);
        }
        self.last_tick = now;
        if self.paused {
            return None;
        }
        while self.pos < self.records.len() {
            if self.speed > 0.0 && self.records[self.pos].t > self.clock {
                let wait = (self.records[self.pos].t - self.clock) / f64::from(self.speed);
                return Some(Duration::from_secs_f64(wait.min(1.0)));
            }
            if let Some(ev) = self.event(self.pos) {
                rt.inject(ev);
            }
            self.pos += 1;
            if now.elapsed() >= budget {
                return Some(Duration::ZERO);
            }
        }
        if self.speed == 0.0 {
            self.clock = self.duration();
        }
        None
    }

    /// Jumps to recording time `t`: the replayed nodes are removed and the
    /// recording is applied again up to `t`, as fast as possible.
    pub fn seek(&mut self, rt: &mut Runtime, t: f64) {
        clear_replayed(&mut rt.scene);
        self.pos = 0;
        self.clock = t.clamp(0.0, self.duration());
        while self.pos < self.records.len() && self.records[self.pos].t <= self.clock {
            if let Some(ev) = self.event(self.pos) {
                rt.inject(ev);
            }
            self.pos += 1;
        }
        self.last_tick = Instant::now();
    }
}

/// The id a recorded client has in the replay ([`ClientKind::Replay`]); a
/// recorded id too large for the range (not one the viewer gives out) takes
/// the last id.
fn replayed(recorded: ClientId) -> ClientId {
    ClientKind::Replay(recorded).id().unwrap_or(ClientId::MAX)
}

/// Removes every node a replay created.
pub fn clear_replayed(scene: &mut Scene) {
    let ids: Vec<_> = scene.nodes().filter(|n| ClientKind::is_replay(n.client)).map(|n| n.id).collect();
    for id in ids {
        scene.remove_node(id);
    }
}

/// A recorded message that names another client's node or control
/// (`client_id` in a `set_properties`, `select` or `set_control`, as the
/// viewer's panels send them) names it by its replayed id.
fn remap_client_ids(envelope: &mut Envelope) {
    let names_others = [MessageType::SetProperties, MessageType::Select, MessageType::SetControl];
    if !names_others.iter().any(|t| t.as_i64() == envelope.kind) {
        return;
    }
    for (k, v) in &mut envelope.kwargs {
        if k == "client_id"
            && let Some(id) = v.as_i64().and_then(|i| u64::try_from(i).ok())
        {
            *v = Value::from(replayed(id));
            // Stages that borrow the frame must see the same ids.
            envelope.raw = None;
        }
    }
}

/// The frame to record for a received message: the bytes as they arrived
/// when they were MessagePack, else (aitviewer's pickle) re-encoded.
pub fn frame_of(envelope: &Envelope) -> bytes::Bytes {
    match &envelope.raw {
        Some(raw) => raw.frame.clone(),
        None => bytes::Bytes::from(encode_value(&envelope.to_value())),
    }
}

/// Writes the scene as a recording that recreates it (File > Save scene,
/// SAVE_SCENE): into a temporary file created exclusively beside `path`,
/// renamed over `path` when complete ([`periscope_video::Staged`]: never
/// written through a symlink at either name; a failed save leaves nothing).
pub fn save_scene(scene: &Scene, path: &Path) -> Result<u64, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    }
    let (staged, file) =
        periscope_video::Staged::file(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut rec = Recorder::with_file(file, path).map_err(|e| e.to_string())?;
    for (client, name, messages) in scene.snapshot() {
        rec.record(Kind::Connect, client, &name, None, bytes::Bytes::new());
        for (i, m) in messages.iter().enumerate() {
            rec.record(
                Kind::Message,
                client,
                &name,
                Some(i as u64 + 1),
                bytes::Bytes::from(encode_value(&m.to_value())),
            );
        }
        rec.record(Kind::Disconnect, client, &name, None, bytes::Bytes::new());
    }
    let records = rec.finish().map_err(|e| e.to_string())?;
    staged.commit().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(records)
}

/// Whether `a` and `b` name the same file (either may not exist yet: then
/// its folder is resolved and its name compared), e.g. a recording about to
/// be replayed and the file the viewer is about to record to.
pub fn same_file(a: &Path, b: &Path) -> bool {
    fn resolve(p: &Path) -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        let dir = periscope_video::staged::parent_dir(p).canonicalize().ok()?;
        Some(dir.join(p.file_name()?))
    }
    matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}
