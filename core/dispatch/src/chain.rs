//! The ordered list of stages and how a message runs through it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use periscope_protocol::{ChainState, Envelope, Reply};
use periscope_scene::Scene;

use crate::Stage;
use crate::builtin::BuiltinStage;
use crate::config::{DispatchConfig, PluginsConfig, ScriptsConfig, toml_to_msgpack};
use crate::plugin::{PluginStage, plugin_files};
use crate::script::ScriptStage;
use crate::script::api::{Ctx, build_engine};
use crate::watch::{DirWatcher, Wake};

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

/// A stage's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// The message was refused for a reason the sender should fix (every time).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The stage itself failed (a script error, a plugin panic, ...): reported
    /// to each client once per stage version, and counted towards disabling it.
    #[error("stage {stage} failed: {message}")]
    Failed { stage: String, message: String },
    /// The stage can no longer be trusted (a plugin panicked): reported and
    /// disabled at once until it is reloaded.
    #[error("stage {stage} failed: {message}")]
    Fatal { stage: String, message: String },
}

/// Why the chain could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(
        "dispatch.chain entry {entry:?} is neither \"builtin\", a .rhai script path or glob, nor a loaded plugin (loaded: {loaded})"
    )]
    UnknownStage { entry: String, loaded: String },
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
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

/// A stage as the UI and the chain query show it (its wire form is the protocol's).
pub use periscope_protocol::StageStatus;

/// What [`Chain::poll`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollResult {
    /// File changes settled and the chain rescanned its scripts and plugins.
    pub rescanned: bool,
    /// Scripts or plugins were added, removed or reloaded.
    pub changed: bool,
    /// File changes are settling; poll again after this long.
    pub again_in: Option<Duration>,
}

struct Slot {
    stage: Box<dyn Stage>,
    seen_generation: u64,
    failures_in_row: u32,
    disabled: Option<String>,
    calls: u64,
    failures: u64,
    last_error: Option<String>,
    /// Clients already told about this stage version's failures.
    told: HashSet<u64>,
}

impl Slot {
    /// A new version of the stage starts with a clean record (and re-enabled).
    fn sync_generation(&mut self) {
        let generation = self.stage.generation();
        if generation != self.seen_generation {
            self.seen_generation = generation;
            self.failures_in_row = 0;
            self.told.clear();
            if self.disabled.take().is_some() {
                tracing::info!(stage = self.stage.name(), "stage re-enabled after reload");
            }
        }
    }

    fn new(stage: Box<dyn Stage>) -> Self {
        Self {
            seen_generation: stage.generation(),
            stage,
            failures_in_row: 0,
            disabled: None,
            calls: 0,
            failures: 0,
            last_error: None,
            told: HashSet::new(),
        }
    }
}

enum EntryKind {
    Fixed,
    /// A native plugin, reloaded when its file changes.
    Plugin,
    /// Script files matching `dir/pattern`, kept in file-name order.
    Scripts {
        dir: PathBuf,
        pattern: String,
    },
}

struct Entry {
    text: String,
    kind: EntryKind,
    slots: Vec<Slot>,
}

struct ScriptHost {
    engine: Arc<rhai::Engine>,
    ctx: Arc<Mutex<Ctx>>,
    watcher: Option<DirWatcher>,
    debounce: Duration,
}

/// The ordered stages.
pub struct Chain {
    entries: Vec<Entry>,
    max_failures: u32,
    scripts: Option<ScriptHost>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("stages", &self.stage_names()).finish()
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new(vec![Box::new(BuiltinStage)])
    }
}

/// `*` and `?` wildcard match of a file name.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => wildcard(rest, name) || (!name.is_empty() && wildcard(pattern, &name[1..])),
        (Some((b'?', rest)), Some((_, n))) => wildcard(rest, n),
        (Some((p, rest)), Some((c, n))) if p == c => wildcard(rest, n),
        _ => false,
    }
}

fn list_scripts(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            !name.starts_with('.') && wildcard(pattern.as_bytes(), name.as_bytes())
        })
        .collect();
    files.sort();
    files
}

impl Chain {
    /// A chain of fixed stages (no scripts, no reload).
    pub fn new(stages: Vec<Box<dyn Stage>>) -> Self {
        let entries = stages
            .into_iter()
            .map(|s| Entry { text: s.name().to_owned(), kind: EntryKind::Fixed, slots: vec![Slot::new(s)] })
            .collect();
        Self { entries, max_failures: ScriptsConfig::default().max_failures, scripts: None }
    }

    /// Builds the chain from `[dispatch]`; script paths are relative to `base`.
    /// Scripts are loaded right away (their top-level code and `init()` may use the scene).
    pub fn from_config(
        dispatch: &DispatchConfig,
        scripts: &ScriptsConfig,
        plugins: &PluginsConfig,
        base: &Path,
        scene: &mut Scene,
    ) -> Result<Self, ChainError> {
        let ctx = Arc::new(Mutex::new(Ctx { max_array_size: scripts.max_array_size, ..Ctx::default() }));
        let engine = Arc::new(build_engine(scripts, &ctx));
        let mut host = ScriptHost {
            engine,
            ctx,
            watcher: scripts.watch.then(DirWatcher::new),
            debounce: Duration::from_millis(scripts.debounce_ms),
        };
        let mut loaded: Vec<PluginStage> = Vec::new();
        let settings = |name: &str| plugins.settings.get(name).map_or_else(|| vec![0x80], toml_to_msgpack);
        for file in plugin_files(base, &plugins.paths) {
            let stage = PluginStage::load(&file, &settings, scene)?;
            if let Some(w) = host.watcher.as_mut()
                && let Some(dir) = file.parent()
            {
                w.watch(dir);
            }
            loaded.push(stage);
        }
        let mut entries = Vec::new();
        for text in &dispatch.chain {
            let (kind, slots) = if text == "builtin" {
                (EntryKind::Fixed, vec![Slot::new(Box::new(BuiltinStage))])
            } else if text.ends_with(".rhai") || text.contains('*') {
                let full = base.join(text);
                let dir = full.parent().map_or_else(|| base.to_path_buf(), Path::to_path_buf);
                let pattern = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if let Some(w) = host.watcher.as_mut() {
                    w.watch(&dir);
                }
                (EntryKind::Scripts { dir, pattern }, Vec::new())
            } else if let Some(i) = loaded.iter().position(|p| p.name() == text) {
                (EntryKind::Plugin, vec![Slot::new(Box::new(loaded.remove(i)))])
            } else {
                let names: Vec<&str> = loaded.iter().map(|p| p.name()).collect();
                let loaded = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
                return Err(ChainError::UnknownStage { entry: text.clone(), loaded });
            };
            entries.push(Entry { text: text.clone(), kind, slots });
        }
        for p in loaded {
            tracing::warn!(plugin = p.name(), "plugin loaded but not listed in dispatch.chain; it will not run");
        }
        let mut chain = Self { entries, max_failures: scripts.max_failures.max(1), scripts: Some(host) };
        chain.rescan(scene);
        Ok(chain)
    }

    /// Called when script files change (e.g. to wake the UI).
    pub fn set_wake(&self, wake: Wake) {
        if let Some(w) = self.scripts.as_ref().and_then(|h| h.watcher.as_ref()) {
            w.set_wake(wake);
        }
    }

    /// Applies settled file changes: new scripts are loaded, removed ones
    /// dropped, edited ones reloaded (a failed compile keeps the old version).
    pub fn poll(&mut self, scene: &mut Scene) -> PollResult {
        let Some(host) = self.scripts.as_ref() else { return PollResult::default() };
        let Some(w) = host.watcher.as_ref() else { return PollResult::default() };
        match w.take_settled(host.debounce) {
            Ok(true) => PollResult { rescanned: true, changed: self.rescan(scene), again_in: None },
            Ok(false) => PollResult::default(),
            Err(left) => PollResult { again_in: Some(left), ..PollResult::default() },
        }
    }

    /// Re-lists every script entry and reloads what changed. True if anything changed.
    pub fn rescan(&mut self, scene: &mut Scene) -> bool {
        let Some(host) = self.scripts.as_mut() else { return false };
        let mut changed = false;
        for entry in &mut self.entries {
            if let EntryKind::Plugin = entry.kind {
                for slot in &mut entry.slots {
                    changed |= slot.stage.reload(scene);
                    slot.sync_generation();
                }
                continue;
            }
            let EntryKind::Scripts { dir, pattern } = &entry.kind else { continue };
            if let Some(w) = host.watcher.as_mut() {
                w.watch(dir);
            }
            let files = list_scripts(dir, pattern);
            let before = entry.slots.len();
            let mut removed = Vec::new();
            entry.slots.retain(|s| {
                let keep = s.stage.path().is_some_and(|p| files.iter().any(|f| f == p));
                if !keep {
                    tracing::info!(script = s.stage.name(), "script removed");
                    removed.push(s.stage.name().to_owned());
                }
                keep
            });
            // A deleted script's controls (its folder in the viewer's section) go with it.
            for name in removed {
                scene.remove_controls_in(periscope_scene::VIEWER_CLIENT, &name);
            }
            changed |= entry.slots.len() != before;
            for file in files {
                match entry.slots.iter_mut().find(|s| s.stage.path() == Some(file.as_path())) {
                    Some(slot) => changed |= slot.stage.reload(scene),
                    None => {
                        let mut stage = ScriptStage::new(file, Arc::clone(&host.engine), Arc::clone(&host.ctx));
                        stage.reload(scene);
                        entry.slots.push(Slot::new(Box::new(stage)));
                        changed = true;
                    }
                }
            }
            entry.slots.sort_by(|a, b| a.stage.path().cmp(&b.stage.path()));
            entry.slots.iter_mut().for_each(Slot::sync_generation);
        }
        changed
    }

    /// Whether any stage reads the received frames (see [`Stage::wants_raw_frames`]).
    pub fn wants_raw_frames(&self) -> bool {
        self.slots().any(|s| s.stage.wants_raw_frames())
    }

    pub fn stage_names(&self) -> Vec<String> {
        self.slots().map(|s| s.stage.name().to_owned()).collect()
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.entries.iter().flat_map(|e| e.slots.iter())
    }

    /// Every stage's state, in chain order.
    pub fn status(&self) -> Vec<StageStatus> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.slots.iter().map(|s| StageStatus {
                    name: s.stage.name().to_owned(),
                    entry: e.text.clone(),
                    path: s.stage.path().map(Path::to_path_buf),
                    version: s.stage.version().map(str::to_owned),
                    generation: s.stage.generation(),
                    calls: s.calls,
                    failures: s.failures,
                    disabled: s.disabled.clone(),
                    load_error: s.stage.load_error().map(str::to_owned),
                    last_error: s.last_error.clone(),
                })
            })
            .collect()
    }

    /// The answer to a chain query (`query_chain`): every stage's state.
    pub fn state_reply(&self, ref_seq: Option<u64>) -> Reply {
        Reply::ChainState(ChainState { ref_seq, stages: self.status() })
    }

    /// Offers `msg` to every enabled stage in order until one stops the chain.
    pub fn run(&mut self, msg: &Incoming<'_>, scene: &mut Scene, out: &dyn Outbox) -> StageReport {
        let mut report = StageReport::default();
        let env = msg.envelope;
        let max_failures = self.max_failures;
        'entries: for entry in &mut self.entries {
            for slot in &mut entry.slots {
                slot.sync_generation();
                if slot.disabled.is_some() {
                    continue;
                }
                let name = slot.stage.name().to_owned();
                slot.calls += 1;
                report.ran.push(name.clone());
                match slot.stage.process(msg, scene, out) {
                    Ok(flow) => {
                        slot.failures_in_row = 0;
                        if flow == Flow::Stop {
                            report.stopped_by = Some(name);
                            break 'entries;
                        }
                    }
                    Err(StageError::Refused { code, message }) => {
                        tracing::warn!(
                            client = msg.client.id, name = msg.client.name, seq = env.seq, kind = env.kind,
                            uid = env.uid, stage = %name, code, "message refused: {message}"
                        );
                        out.send(msg.client.id, Reply::error(env.seq, Some(env.kind), env.uid, code, message.clone()));
                        report.errors.push(message);
                    }
                    Err(e @ (StageError::Failed { .. } | StageError::Fatal { .. })) => {
                        let fatal = matches!(e, StageError::Fatal { .. });
                        let text = e.to_string();
                        slot.failures += 1;
                        slot.failures_in_row += 1;
                        slot.last_error = Some(text.clone());
                        tracing::warn!(client = msg.client.id, seq = env.seq, kind = env.kind, "{text}");
                        if slot.told.insert(msg.client.id) {
                            let reply = Reply::error(env.seq, Some(env.kind), env.uid, "stage_failed", text.clone());
                            out.send(msg.client.id, reply);
                        }
                        if fatal || slot.failures_in_row >= max_failures {
                            let why = if fatal {
                                format!("disabled: {text}; rebuild or touch the file to reload it")
                            } else {
                                format!(
                                    "disabled after {} failures in a row (last: {text}); edit or touch the file to reload it",
                                    slot.failures_in_row
                                )
                            };
                            tracing::error!(stage = %name, "{why}");
                            slot.disabled = Some(why);
                        }
                        report.errors.push(text);
                    }
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        assert!(wildcard(b"*.rhai", b"a.rhai"));
        assert!(wildcard(b"*.rhai", b".rhai"));
        assert!(!wildcard(b"*.rhai", b"a.rhai~"));
        assert!(wildcard(b"log_?.rhai", b"log_1.rhai"));
        assert!(wildcard(b"exact.rhai", b"exact.rhai"));
        assert!(!wildcard(b"exact.rhai", b"other.rhai"));
    }
}
