//! The part of the viewer shared by the window and `--headless`: drains the
//! server's queue, runs the dispatch chain, keeps a short log for the UI.
//!
//! This module holds the [`Runtime`] itself, its construction, the per-frame
//! [`Runtime::step`], and the way an event goes through the chain
//! ([`Runtime::handle`]) to [`Runtime::execute`]. Each other concern has its
//! own module:
//!
//! - `log`: the UI log and per-client traffic;
//! - `skins`: body-model skinning and the gate that keeps clients' events in order;
//! - `exports`: the video export queue and its turns;
//! - `events`: selection and camera events for subscribers;
//! - `record`: recording, and saving the scene;
//! - `view_work`: screenshots and the view camera, through a [`Shooter`];
//! - `playback`: playback ticks;
//! - `link`: a view of a remote hub.

mod events;
mod exports;
mod link;
mod log;
mod playback;
mod record;
mod skins;
mod view_work;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use periscope_dispatch::{Chain, ClientCtx, Incoming, Outbox, PollResult, StageStatus};
use periscope_protocol::{Reply, Request};
use periscope_render::Camera;
use periscope_scene::{ClientKind, Scene};
use periscope_server::{ByteQueue, ClientRef, Event, ServerHandle};

use std::collections::VecDeque;
use std::path::PathBuf;

use periscope_record::Recorder;

use crate::config::{Config, ImagesSection};
use crate::export::{ExportDone, ExportRequest};
use crate::hub::Hub;
use crate::images::ImageHub;
use crate::replay::Replay;
use crate::view_link::ViewLink;

pub use events::CAMERA_EVENT_INTERVAL;
use events::Subscription;
use exports::Exports;
pub use exports::{MAX_EXPORTS_PER_CLIENT, MAX_RUNNING_EXPORTS, MAX_WAITING_EXPORTS};
use link::LINK_POLL;
pub use log::{ClientStats, Level, LogLine};
use skins::{SKIN_POLL, SkinWork};
use view_work::ViewWork;
pub use view_work::{OffscreenShooter, Shooter, look_at_pose};

/// Sends replies through the server (none in a view of a remote hub: its
/// messages go to the hub through the [`ViewLink`]).
struct ServerOutbox(Option<ServerHandle>);

impl Outbox for ServerOutbox {
    fn send(&self, client: u64, reply: Reply) -> bool {
        self.0.as_ref().is_some_and(|s| s.send(client, reply))
    }
    fn broadcast(&self, reply: &Reply) -> usize {
        self.0.as_ref().map_or(0, |s| s.broadcast(reply))
    }
}

/// The scene, the chain and the queue they drain.
pub struct Runtime {
    pub scene: Scene,
    chain: Chain,
    queue: Arc<ByteQueue<Event>>,
    out: ServerOutbox,
    log: VecDeque<LogLine>,
    /// Messages handled since start.
    pub handled: u64,
    /// Load errors already shown in the log.
    load_errors: Vec<String>,
    clients: std::collections::HashMap<u64, ClientStats>,
    last_sample: Instant,
    /// Screenshot and view-camera requests the chain let through, in arrival
    /// order, carried out by the window or headless loop in `step`.
    view_work: Vec<ViewWork>,
    /// The main view's camera as of the last step (SET_CAMERA is checked
    /// against it on arrival when no queued work can move it first).
    view_camera: Option<Camera>,
    /// The hub's own view's camera and when it last moved (the main camera is
    /// the one a person moved last: this one or a view's).
    own_camera: Option<(Camera, Instant)>,
    /// Remote-rendered image windows and their cameras.
    pub images: ImageHub,
    /// Writes every accepted message when recording.
    recorder: Option<Recorder>,
    /// Where files go that clients ask for (saved scenes), `[viewer] export_dir`.
    export_dir: PathBuf,
    /// The local client whose messages are the panels' edits.
    viewer_client: ClientRef,
    /// Clients that asked for selection and camera events (`subscribe`).
    subscribers: HashMap<u64, Subscription>,
    /// The selection last announced to subscribers.
    selection_sent: (Option<u64>, Option<[f32; 3]>),
    /// The main view's camera (and size) last announced, and when.
    camera_sent: Option<(Camera, (u32, u32))>,
    camera_sent_at: Option<Instant>,
    /// `images.viewport_version` the shooter last got.
    backgrounds_seen: u64,
    /// Body-model skinning running on the rayon pool (`Scene::defer_skinning`).
    skins: SkinWork,
    /// Video exports waiting and running, served in turn.
    exports: Exports,
    /// Time per step spent rendering video frames (at least one frame per
    /// step, one frame of each running export in turn): zero in the window
    /// (a frame per UI frame), a little more headless.
    export_budget: Duration,
    /// Video size when a request gives none (`[viewer] video_width/height`).
    video_size: (u32, u32),
    video_fps: f64,
    /// The last export's outcome, for the window and `--video`.
    pub last_export: Option<Result<ExportDone, String>>,
    /// The views of this hub (`hub.rs`).
    hub: Hub,
    /// The link to a remote hub, when this runtime is a view (`--connect`).
    link: Option<ViewLink>,
    /// While the scene plays: when the playhead last moved (or playback
    /// started); the next tick is `1/fps` later ([`Runtime::step_playback`]).
    playback_tick: Option<Instant>,
}

/// How a [`Runtime`] is set up, given to [`Runtime::new`] and
/// [`Runtime::view`]: the binary builds it from the configuration file
/// ([`RuntimeConfig::from_config`]), tests take the defaults.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// World Z is up (`[viewer] z_up`): the image windows' and the view
    /// camera's coordinates. The window changes it later with its options.
    pub z_up: bool,
    /// Where files go that clients ask for (saved scenes, videos), `[viewer] export_dir`.
    pub export_dir: PathBuf,
    /// Video size when a request gives none (`[viewer] video_width/height`).
    pub video_size: (u32, u32),
    /// Video frames per second when a request gives none (`[viewer] video_fps`).
    pub video_fps: f64,
    /// Time per step spent rendering video frames (at least one frame per
    /// step, one frame of each running export in turn): zero in the window
    /// (a frame per UI frame), a little more headless.
    pub export_budget: Duration,
    /// Remote-rendered images: their cameras' pace and what decoded images may hold (`[images]`).
    pub images: ImagesSection,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            z_up: false,
            export_dir: PathBuf::from("exports"),
            video_size: (1280, 720),
            video_fps: 30.0,
            export_budget: Duration::ZERO,
            images: ImagesSection::default(),
        }
    }
}

impl RuntimeConfig {
    /// The settings of `config` (its paths already resolved against the
    /// configuration file's folder); `export_budget` is zero (the window's).
    pub fn from_config(config: &Config) -> Self {
        Self {
            z_up: config.viewer.z_up,
            export_dir: config.viewer.export_dir.clone(),
            video_size: (config.viewer.video_width, config.viewer.video_height),
            video_fps: config.viewer.video_fps,
            export_budget: Duration::ZERO,
            images: config.images.clone(),
        }
    }
}

/// What one [`Runtime::step`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Messages handled.
    pub handled: usize,
    /// Messages are still queued (the budget ran out): step again at once.
    pub more_queued: bool,
    /// Something is due after this long (a replayed record, settling script
    /// changes, a throttled camera).
    pub again_in: Option<Duration>,
}

impl Step {
    fn again(&mut self, after: Duration) {
        self.again_in = Some(self.again_in.map_or(after, |a| a.min(after)));
    }
}

impl Runtime {
    pub fn new(
        scene: Scene,
        chain: Chain,
        queue: Arc<ByteQueue<Event>>,
        server: ServerHandle,
        config: RuntimeConfig,
    ) -> Self {
        Self::build(scene, chain, queue, Some(server), None, config)
    }

    /// A view of a remote hub (`periscope --connect`): the scene is a mirror
    /// fed by `link`, the panels' messages go to the hub, and there is no
    /// server, chain or recorder of its own. Screenshots, videos and saved
    /// scenes are made here, from the mirror, into this machine's export folder.
    pub fn view(link: ViewLink, config: RuntimeConfig) -> Self {
        let queue = Arc::new(ByteQueue::new(1 << 20, 16));
        let mut rt = Self::build(Scene::default(), Chain::new(Vec::new()), queue, None, Some(link), config);
        rt.scene.defer_skinning = false;
        rt
    }

    fn build(
        scene: Scene,
        chain: Chain,
        queue: Arc<ByteQueue<Event>>,
        server: Option<ServerHandle>,
        link: Option<ViewLink>,
        config: RuntimeConfig,
    ) -> Self {
        let RuntimeConfig { z_up, export_dir, video_size, video_fps, export_budget, images } = config;
        let mut image_hub = ImageHub::new(z_up);
        image_hub.target_fps = images.target_fps;
        image_hub.min_scale = images.min_scale;
        image_hub.budget = crate::images::Budget::new(images.max_decoded_mb, images.max_decoded_mb_per_client);
        let load_errors: Vec<String> = chain.status().into_iter().filter_map(|s| s.load_error).collect();
        let mut rt = Self {
            scene,
            chain,
            queue,
            out: ServerOutbox(server),
            log: VecDeque::new(),
            handled: 0,
            load_errors: Vec::new(),
            clients: Default::default(),
            last_sample: Instant::now(),
            view_work: Vec::new(),
            view_camera: None,
            own_camera: None,
            images: image_hub,
            recorder: None,
            export_dir,
            viewer_client: ClientRef::detached(periscope_scene::VIEWER_CLIENT, "viewer", "local"),
            subscribers: HashMap::new(),
            selection_sent: (None, None),
            camera_sent: None,
            camera_sent_at: None,
            backgrounds_seen: 0,
            exports: Exports::default(),
            export_budget,
            video_size,
            video_fps,
            last_export: None,
            hub: Hub::default(),
            link,
            playback_tick: None,
            skins: SkinWork::default(),
        };
        rt.scene.defer_skinning = true;
        // Scripts were loaded before the log existed: show their errors now.
        for e in &load_errors {
            rt.note(Level::Error, e.clone());
        }
        rt.load_errors = load_errors;
        rt.sync_keep_frames();
        rt
    }

    /// Received frames are kept with their messages only while something
    /// reads them: a plugin (borrows args/kwargs) or the recorder (writes them).
    fn sync_keep_frames(&self) {
        if let Some(s) = &self.out.0 {
            s.set_keep_frames(self.recorder.is_some() || self.chain.wants_raw_frames());
        }
    }

    /// Where files go that clients and the window ask for (`[viewer] export_dir`).
    pub fn export_dir(&self) -> &std::path::Path {
        &self.export_dir
    }

    /// The server this process listens with (`None` in a view of a remote hub).
    pub fn server(&self) -> Option<&ServerHandle> {
        self.out.0.as_ref()
    }

    /// The link to the hub, when this runtime is a view of a remote one.
    pub fn link(&self) -> Option<&ViewLink> {
        self.link.as_ref()
    }

    /// This hub's views.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn queue(&self) -> &ByteQueue<Event> {
        &self.queue
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Every stage's state, for the Scripts panel.
    pub fn stages(&self) -> Vec<StageStatus> {
        if let Some(link) = &self.link {
            return link.hub_stages();
        }
        self.chain.status()
    }

    /// Applies settled script and plugin changes (hot reload); notes what
    /// changed and any new load errors in the log. Cheap when nothing changed.
    pub fn poll_scripts(&mut self) -> PollResult {
        let r = self.chain.poll(&mut self.scene);
        if !r.rescanned {
            return r;
        }
        if r.changed {
            self.sync_keep_frames();
            let names = self.chain.stage_names().join(", ");
            self.note(Level::Info, format!("scripts reloaded; chain: {names}"));
        }
        let errors: Vec<String> = self.chain.status().into_iter().filter_map(|s| s.load_error).collect();
        let seen = std::mem::replace(&mut self.load_errors, errors.clone());
        for e in errors.into_iter().filter(|e| !seen.contains(e)) {
            self.note(Level::Error, e);
        }
        r
    }

    /// Handles queued events for up to `budget`; returns how many.
    pub fn pump(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut n = 0;
        while !self.skins.gate.full()
            && let Some(ev) = self.queue.try_pop()
        {
            self.handle(ev);
            n += 1;
            if start.elapsed() >= budget {
                break;
            }
        }
        n
    }

    /// Waits up to `timeout` for one event, then handles whatever else is queued.
    pub fn pump_blocking(&mut self, timeout: Duration, budget: Duration) -> usize {
        match self.queue.pop_timeout(timeout) {
            Some(ev) => {
                self.handle(ev);
                1 + self.pump(budget)
            }
            None => 0,
        }
    }

    /// Updates image windows from the decoder and sends cameras that changed;
    /// returns when to call again (a throttled camera is waiting).
    pub fn poll_images(&mut self) -> Option<Duration> {
        self.images.poll(&self.out)
    }

    /// One turn of the viewer's loop, the same for the window and `--headless`:
    /// feed a replay, handle queued messages for up to `budget` (waiting up to
    /// `wait` for the first when idle), apply script reloads, answer screenshot
    /// requests with `shooter`, update image windows.
    pub fn step(
        &mut self,
        replay: Option<&mut Replay>,
        wait: Duration,
        budget: Duration,
        shooter: &mut dyn Shooter,
    ) -> Step {
        let mut step = Step::default();
        let mut wait = wait;
        if let Some(r) = replay
            && let Some(next) = r.step(self, budget)
        {
            step.again(next);
            wait = wait.min(next);
        }
        self.finish_skins();
        if self.skins_pending() {
            wait = wait.min(SKIN_POLL);
            step.again(SKIN_POLL);
        }
        step.handled = if self.link.is_some() {
            // A view: its scene comes from the hub (the link wakes the window;
            // look again soon when the budget ran out before the link was drained).
            let n = self.pump_link(budget);
            step.again(if n > 0 { Duration::ZERO } else { LINK_POLL });
            n
        } else if wait.is_zero() {
            self.pump(budget)
        } else {
            self.pump_blocking(wait, budget)
        };
        self.finish_skins();
        if let Some(again) = self.poll_scripts().again_in {
            step.again(again);
        }
        if let Some(again) = self.step_playback(Instant::now()) {
            step.again(again);
        }
        self.do_view_work(shooter);
        if let Some(again) = self.step_export(shooter) {
            step.again(again);
        }
        self.selection_events();
        let (moved_by, camera, size) = self.main_camera(shooter);
        if let Some(again) = self.camera_events(moved_by, &camera, size) {
            step.again(again);
        }
        let linger = Duration::from_secs_f64(self.scene.config().controls_linger_s.max(0.0));
        if let Some(again) = self.scene.expire_controls(linger, Instant::now()) {
            step.again(again);
        }
        self.view_camera = Some(shooter.camera());
        // Remote renderers follow the camera a person moved last (here or in a view).
        self.images.set_view(camera, size);
        if let Some(again) = self.poll_images() {
            step.again(again);
        }
        if self.images.viewport_version != self.backgrounds_seen {
            self.backgrounds_seen = self.images.viewport_version;
            shooter.set_backgrounds(&self.images.backgrounds());
        }
        if let Some(server) = &self.out.0 {
            let published = self.hub.publish(&mut self.scene, server);
            for (id, why, before) in published.resynced {
                // At 1, 2, 4, ... snapshots of one view: a view stuck for hours does not flood the log.
                if (before + 1).is_power_of_two() {
                    self.info(format!("view #{id} is sent a fresh snapshot (snapshot {}): {why}", before + 1));
                }
            }
            if let Some(again) = published.again_in {
                step.again(again);
            }
        }
        step.more_queued = !self.queue.is_empty();
        step
    }

    /// Handles a message of the local "viewer" client (the panels' edits): it
    /// passes the dispatch chain and the recorder like a client's message.
    pub fn submit(&mut self, envelope: periscope_protocol::Envelope) {
        if let Some(link) = &self.link {
            // A view: the hub applies it (as this view's client) and sends the change back.
            link.send(envelope);
            return;
        }
        let request = match Request::decode(&envelope) {
            Ok(r) => r,
            Err(e) => {
                self.error(format!("viewer: {e}"));
                return;
            }
        };
        let client = self.viewer_client.clone();
        let bytes = 0;
        self.handle(Event::Message { client, envelope, request, bytes, received: Instant::now(), coalesced: 0 });
    }

    /// Handles an event that did not come from the server (a replayed recording).
    pub fn inject(&mut self, ev: Event) {
        self.handle(ev);
    }

    /// Carries out what a request asks of the viewer once the chain has let it
    /// through: the one place where typed requests leave the chain. Scene
    /// changes were made by the `builtin` stage. An error is for the sender.
    fn execute(
        &mut self,
        client: &ClientRef,
        envelope: &periscope_protocol::Envelope,
        request: &Request,
        coalesced: u32,
        received: Instant,
    ) -> Result<(), String> {
        match request {
            Request::Scene(_) | Request::Custom(_) => {}
            Request::QueryChain => {
                self.out.send(client.id(), self.chain.state_reply(envelope.seq));
            }
            Request::Screenshot(shot) => self.queue_screenshot(client.id(), envelope.seq, shot),
            Request::SetCamera(pose) => self.queue_set_camera(client.id(), envelope.seq, pose)?,
            Request::QueryCamera => self.queue_query_camera(client.id(), envelope.seq),
            Request::ViewResync if self.hub.is_view(client.id()) => self.hub.resync(client.id()),
            Request::ViewMoved { pose, size } if self.hub.is_view(client.id()) => {
                let mut camera = Camera::default();
                look_at_pose(&mut camera, self.images.z_up, pose);
                self.hub.view_moved(client.id(), camera, *size);
            }
            Request::ViewMoved { .. } => {
                return Err("view_moved: only a view (hello role = \"view\") reports its camera".into());
            }
            Request::ViewResync => {
                return Err("view_resync: only a view (hello role = \"view\") is sent snapshots".into());
            }
            Request::SaveScene { name } => self.save_scene_request(client.id(), envelope, name),
            Request::ExportVideo(_) if ClientKind::is_replay(client.id()) => {
                // A replay shows what happened; it does not render the session's videos again.
                self.info(format!("replay: export_video by {} not repeated", client.name()));
            }
            Request::ExportVideo(msg) => {
                match ExportRequest::from_message(
                    client.id(),
                    envelope.seq,
                    msg,
                    &self.export_dir,
                    self.video_size,
                    self.video_fps,
                ) {
                    Ok(req) => {
                        // A refusal (busy) was answered already.
                        self.queue_export(req).ok();
                    }
                    Err(e) => return Err(e),
                }
            }
            Request::Subscribe { select, camera } => self.subscribe(client.id(), *select, *camera),
            Request::Images
            | Request::ViewportImage
            | Request::ClearViewport
            | Request::RequireCamera { .. }
            | Request::ReadRemote { .. }
            | Request::QueryImages => {
                let (id, name) = (client.id(), client.name());
                self.images.handle(id, name, envelope, request, coalesced, received, &self.out)?;
                if matches!(request, Request::Images | Request::ViewportImage | Request::ClearViewport) {
                    // Views show the remote renderers' images too (newest wins).
                    self.hub.image(id, name, envelope);
                }
            }
        }
        Ok(())
    }

    fn handle(&mut self, ev: Event) {
        let id = ev.client().id();
        // Behind held events of its client, or waiting for skinning: keep the order.
        let reads = skins::reads_scene(&ev);
        if let Some(ev) = self.skins.gate.admit(id, reads, ev) {
            self.handle_now(ev);
        }
    }

    fn handle_now(&mut self, ev: Event) {
        self.record(&ev);
        match ev {
            Event::Connected { client, resumed } => {
                if client.is_view() {
                    self.hub.add_view(client.id());
                }
                self.scene.client_connected(client.id(), client.name(), client.addr_text());
                let how = if resumed { "resumed" } else { "connected" };
                self.note(Level::Info, format!("{} #{} {how} from {}", client.name(), client.id(), client.addr_text()));
            }
            Event::Disconnected { client } => {
                self.hub.remove_view(client.id());
                self.drop_client_exports(client.id());
                self.scene.client_disconnected(client.id());
                self.subscribers.remove(&client.id());
                self.images.client_disconnected(client.id());
                self.hub.image_client_gone(client.id());
                self.note(Level::Info, format!("{} #{} disconnected", client.name(), client.id()));
            }
            Event::Rejected { client, reason } => {
                self.clients.entry(client.id()).or_default().errors += 1;
                self.note(Level::Error, format!("{} #{}: {reason}", client.name(), client.id()));
            }
            Event::Message { client, envelope, request, bytes, received, coalesced } => {
                self.handled += 1;
                let stats = self.clients.entry(client.id()).or_default();
                stats.messages += 1;
                stats.bytes += bytes as u64;
                let msg = Incoming {
                    envelope: &envelope,
                    client: ClientCtx { id: client.id(), name: client.name(), addr: client.addr_text() },
                };
                let report = self.chain.run(&msg, &mut self.scene, &self.out);
                self.start_skins(envelope.seq, envelope.kind);
                if !report.errors.is_empty() {
                    self.clients.entry(client.id()).or_default().errors += 1;
                }
                if report.stopped_by.is_none()
                    && let Some(request) = &request
                    && let Err(e) = self.execute(&client, &envelope, request, coalesced, received)
                {
                    let reply = Reply::error(envelope.seq, Some(envelope.kind), None, "bad_value", e.clone());
                    self.out.send(client.id(), reply);
                    self.clients.entry(client.id()).or_default().errors += 1;
                    self.note(Level::Error, format!("{} #{} seq {:?}: {e}", client.name(), client.id(), envelope.seq));
                }
                for e in report.errors {
                    self.note(Level::Error, format!("{} #{} seq {:?}: {e}", client.name(), client.id(), envelope.seq));
                }
            }
        }
    }
}
