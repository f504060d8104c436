//! File watching for hot reload: `notify` marks the chain dirty (no queue, so
//! nothing can pile up) and wakes the UI; the chain rescans after a quiet period.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

/// Called when files change, e.g. `egui::Context::request_repaint`.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

struct Flags {
    dirty: AtomicBool,
    last: Mutex<Instant>,
    wake: Mutex<Option<Wake>>,
}

/// Watches directories and remembers that something changed.
pub struct DirWatcher {
    watcher: Option<RecommendedWatcher>,
    flags: Arc<Flags>,
    watched: Vec<PathBuf>,
}

impl DirWatcher {
    pub fn new() -> Self {
        let flags =
            Arc::new(Flags { dirty: AtomicBool::new(false), last: Mutex::new(Instant::now()), wake: Mutex::new(None) });
        let f = Arc::clone(&flags);
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok_and(|e| !e.kind.is_access()) {
                *f.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                f.dirty.store(true, Ordering::SeqCst);
                if let Some(w) = f.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    w();
                }
            }
        });
        let watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "file watching is unavailable; scripts will not hot-reload");
                None
            }
        };
        Self { watcher, flags, watched: Vec::new() }
    }

    pub fn set_wake(&self, wake: Wake) {
        *self.flags.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(wake);
    }

    /// Watches `dir`, or its nearest existing ancestor until `dir` exists.
    pub fn watch(&mut self, dir: &Path) {
        let Some(w) = self.watcher.as_mut() else { return };
        let mut target = dir.to_path_buf();
        while !target.is_dir() {
            match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => target = p.to_path_buf(),
                _ => return,
            }
        }
        if self.watched.contains(&target) {
            return;
        }
        match w.watch(&target, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %target.display(), "watching for script changes");
                self.watched.push(target);
            }
            Err(e) => tracing::warn!(dir = %target.display(), error = %e, "cannot watch"),
        }
    }

    /// True once after changes, when nothing changed for `quiet`.
    /// `Err(remaining)` while changes are still settling.
    pub fn take_settled(&self, quiet: Duration) -> Result<bool, Duration> {
        if !self.flags.dirty.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let since = self.flags.last.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
        if since < quiet {
            return Err(quiet - since);
        }
        self.flags.dirty.store(false, Ordering::SeqCst);
        Ok(true)
    }
}
