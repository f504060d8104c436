//! Video exports: the queue of waiting requests, the running jobs served
//! in turn, and their answers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use periscope_protocol::{MessageType, Reply};

use periscope_dispatch::Outbox as _;

use super::Runtime;
use super::view_work::Shooter;
use crate::export::{ExportDone, ExportJob, ExportRequest};

/// Video exports one client may have waiting or running; more are refused (`busy`).
pub const MAX_EXPORTS_PER_CLIENT: usize = 4;
/// Video exports running at once (each holds an encoder thread and a few
/// frames); the others wait. Each running export renders a frame in turn.
pub const MAX_RUNNING_EXPORTS: usize = 4;
/// Video exports waiting in all; more are refused (`busy`).
pub const MAX_WAITING_EXPORTS: usize = 32;

/// Video exports: requests waiting (in the order asked) and jobs running (at
/// most [`MAX_RUNNING_EXPORTS`], one per client, so a client's exports run in
/// the order it asked), each running job rendering one frame in its turn.
#[derive(Default)]
pub(super) struct Exports {
    waiting: VecDeque<ExportRequest>,
    running: Vec<ExportJob>,
    /// The running job whose turn is next.
    turn: usize,
}

impl Exports {
    /// Exports of `client` waiting or running.
    fn of(&self, client: u64) -> usize {
        self.waiting.iter().filter(|r| r.client() == client).count()
            + self.running.iter().filter(|j| j.request().client() == client).count()
    }

    /// The next request that may start: the earliest of a client with no export running.
    fn next_startable(&mut self) -> Option<ExportRequest> {
        if self.running.len() >= MAX_RUNNING_EXPORTS {
            return None;
        }
        let i = self.waiting.iter().position(|r| !self.running.iter().any(|j| j.request().client() == r.client()))?;
        self.waiting.remove(i)
    }

    /// The job the window shows (and Cancel stops): its own, else the first.
    fn shown(&self) -> Option<usize> {
        if self.running.is_empty() {
            return None;
        }
        Some(self.running.iter().position(|j| j.request().reply_to.is_none()).unwrap_or(0))
    }
}

impl Runtime {
    /// Queues a video export (the window's dialog, `--video`, a client's
    /// `export_video`); refused (`busy`) when its client already has
    /// [`MAX_EXPORTS_PER_CLIENT`] or [`MAX_WAITING_EXPORTS`] wait in all.
    pub fn queue_export(&mut self, req: ExportRequest) -> Result<(), String> {
        let mine = self.exports.of(req.client());
        let refused = if mine >= MAX_EXPORTS_PER_CLIENT {
            Some(format!(
                "{mine} video exports of this client are waiting or running, the most one client may have \
                 ({MAX_EXPORTS_PER_CLIENT}); try again when one has finished"
            ))
        } else if self.exports.waiting.len() >= MAX_WAITING_EXPORTS {
            Some(format!(
                "{MAX_WAITING_EXPORTS} video exports are waiting, the most the viewer holds; try again when one has finished"
            ))
        } else {
            None
        };
        if let Some(e) = refused {
            if let Some((client, reply)) = req.error_reply("busy", e.clone()) {
                self.out.send(client, reply);
            }
            return Err(e);
        }
        self.exports.waiting.push_back(req);
        Ok(())
    }

    /// The export the window shows: frames done, frames in all, and its path
    /// (the window's own if it runs, else the first running).
    pub fn export_progress(&self) -> Option<(usize, usize, &std::path::Path)> {
        self.exports.shown().map(|i| {
            let j = &self.exports.running[i];
            let (done, total) = j.progress();
            (done, total, j.path())
        })
    }

    /// Whether an export runs or waits.
    pub fn exporting(&self) -> bool {
        !self.exports.running.is_empty() || !self.exports.waiting.is_empty()
    }

    /// Stops the export the window shows ([`Self::export_progress`]): nothing
    /// is left under its name; the client that asked gets a `cancelled` error.
    pub fn cancel_export(&mut self) {
        if let Some(i) = self.exports.shown() {
            let job = self.exports.running.remove(i);
            let path = job.path().display().to_string();
            if let Some((client, reply)) =
                job.request().error_reply("cancelled", format!("the export of {path} was cancelled"))
            {
                self.out.send(client, reply);
            }
            let own = job.request().reply_to.is_none();
            drop(job);
            self.info(format!("video export cancelled: {path}"));
            if own {
                self.last_export = Some(Err("cancelled".into()));
            }
        }
    }

    /// Drops the exports of a client that left (no one waits for them): the
    /// running one's writer removes its partial file, and its place goes to
    /// the next waiting export.
    pub(super) fn drop_client_exports(&mut self, id: u64) {
        let mut paths: Vec<String> = Vec::new();
        self.exports.waiting.retain(|r| {
            let mine = r.client() == id;
            if mine {
                paths.push(r.path.display().to_string());
            }
            !mine
        });
        let (gone, kept): (Vec<ExportJob>, Vec<ExportJob>) =
            std::mem::take(&mut self.exports.running).into_iter().partition(|j| j.request().client() == id);
        self.exports.running = kept;
        for job in gone {
            let (done, total) = job.progress();
            paths.push(format!("{} ({done}/{total} frames)", job.path().display()));
            // Dropping the job cancels its writer, which removes the partial file.
            drop(job);
        }
        if !paths.is_empty() {
            self.info(format!("client #{id} left: video export cancelled: {}", paths.join(", ")));
        }
    }

    /// Starts waiting exports while there is room, renders a frame of each
    /// running export in turn until `export_budget` is spent (at least one
    /// frame), and answers those that are done. `Some` when it wants another
    /// step soon.
    pub(super) fn step_export(&mut self, shooter: &mut dyn Shooter) -> Option<Duration> {
        let mut changed = false;
        while let Some(req) = self.exports.next_startable() {
            changed = true;
            match ExportJob::start(req.clone(), &self.scene, shooter, self.images.z_up) {
                Ok(job) => {
                    let (_, total) = job.progress();
                    self.info(format!("exporting {} ({total} frames)", req.path.display()));
                    self.exports.running.push(job);
                }
                Err((code, e)) => {
                    self.error(format!("video export failed: {e}"));
                    if let Some((client, reply)) = req.error_reply(code, e.clone()) {
                        self.out.send(client, reply);
                    }
                    if req.reply_to.is_none() {
                        self.last_export = Some(Err(e));
                    }
                }
            }
        }
        if self.exports.running.is_empty() {
            return changed.then_some(Duration::ZERO);
        }
        let start = Instant::now();
        let mut rendered = 0usize;
        // Jobs in a row that rendered nothing (their encoder's queue is full).
        let mut idle = 0usize;
        loop {
            let n = self.exports.running.len();
            if n == 0 {
                return Some(Duration::ZERO);
            }
            let i = self.exports.turn % n;
            let job = &mut self.exports.running[i];
            let before = job.progress().0;
            match job.step(&self.scene, shooter, Duration::ZERO) {
                Some(result) => {
                    let job = self.exports.running.remove(i);
                    self.exports.turn = i;
                    self.finish_export(job, result);
                    // Start the next waiting export at once.
                    return Some(Duration::ZERO);
                }
                None => {
                    self.exports.turn = i + 1;
                    if job.progress().0 > before {
                        rendered += 1;
                        idle = 0;
                    } else {
                        idle += 1;
                    }
                }
            }
            if idle >= n {
                // Every encoder is behind: look again shortly.
                return Some(if rendered > 0 { Duration::ZERO } else { Duration::from_millis(2) });
            }
            if rendered > 0 && start.elapsed() >= self.export_budget {
                return Some(Duration::ZERO);
            }
        }
    }

    /// Answers a finished (or failed) export.
    fn finish_export(&mut self, job: ExportJob, result: Result<ExportDone, String>) {
        let req = job.request();
        match &result {
            Ok(done) => {
                let w = &done.written;
                self.info(format!(
                    "video written: {} ({} frames, {}x{}, {:.1} MB, {:.1} s)",
                    w.path.display(),
                    w.frames,
                    done.width,
                    done.height,
                    w.bytes as f64 / 1e6,
                    done.seconds
                ));
                if let Some((client, seq)) = req.reply_to {
                    match crate::export::done_reply(seq, done, req.fps, req.return_bytes) {
                        Ok(reply) => {
                            self.out.send(client, reply);
                        }
                        Err(e) => {
                            self.out.send(
                                client,
                                Reply::error(seq, Some(MessageType::ExportVideo.as_i64()), None, "io", e),
                            );
                        }
                    }
                }
            }
            Err(e) => {
                self.error(format!("video export failed: {e}"));
                if let Some((client, reply)) = req.error_reply("export_failed", e.clone()) {
                    self.out.send(client, reply);
                }
            }
        }
        if req.reply_to.is_none() {
            self.last_export = Some(result);
        }
    }
}
