//! The part of the viewer shared by the window and `--headless`: drains the
//! server's queue, runs the dispatch chain, keeps a short log for the UI.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glam::Vec3;
use periscope_dispatch::{Chain, ClientCtx, Incoming, Outbox, PollResult, StageStatus};
use periscope_protocol::{MessageType, NdArray, Reply, Request, Screenshot, Value, ViewPose};
use periscope_render::{Camera, Image, SceneView, world_to_display};
use periscope_scene::Scene;
use periscope_server::{ByteQueue, ClientRef, Event, ServerHandle};

use std::path::{Path, PathBuf};

use periscope_record::{Kind, Recorder};

use crate::export::{ExportDone, ExportJob, ExportRequest};
use crate::hub::Hub;
use crate::images::ImageHub;
use crate::images::camera::CameraModel;
use crate::replay::{Replay, frame_of};
use crate::screenshot::{HeadlessRenderer, ScreenshotRequest};
use crate::view_link::{LinkEvent, ViewLink};

/// Lines kept for the UI's log panel.
const LOG_LINES: usize = 500;

/// How serious a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// One line of the UI log.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub at: Instant,
    /// Wall-clock time of day (UTC, like the terminal log), `HH:MM:SS`.
    pub clock: String,
    pub level: Level,
    pub text: String,
}

/// `HH:MM:SS` (UTC) of `t`: the same clock the terminal log prints, and it
/// stays right in a window that does not repaint while idle.
fn clock(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Traffic of one client, for the Server panel.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    pub messages: u64,
    pub bytes: u64,
    /// Messages refused by the server or failed in the chain.
    pub errors: u64,
    /// Messages and bytes per second over the last sampling interval.
    pub rate_messages: f64,
    pub rate_bytes: f64,
    sampled: (u64, u64),
}

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
    /// Remote-rendered image windows and their cameras.
    pub images: ImageHub,
    /// Writes every accepted message when recording.
    recorder: Option<Recorder>,
    /// Where files go that clients ask for (saved scenes), `[viewer] export_dir`.
    pub export_dir: PathBuf,
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
    pub export_budget: Duration,
    /// Video size when a request gives none (`[viewer] video_width/height`).
    pub video_size: (u32, u32),
    pub video_fps: f64,
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
struct Exports {
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

/// Skinning jobs in flight, and the events of their clients held meanwhile:
/// a client's messages are handled in order, so nothing it sent after a body
/// sequence is handled (a query, a screenshot) before its vertices exist.
struct SkinWork {
    tx: std::sync::mpsc::Sender<(periscope_scene::SkinDone, Option<u64>, i64)>,
    rx: std::sync::mpsc::Receiver<(periscope_scene::SkinDone, Option<u64>, i64)>,
    /// Jobs in flight per client.
    busy: HashMap<u64, usize>,
    /// Events of busy clients, in arrival order, each with its place in the
    /// arrival order of all held events.
    held: HashMap<u64, VecDeque<(u64, Event)>>,
    /// Events held so far (the next one's place).
    arrivals: u64,
    /// Clients with a read held until all skinning in flight is done (their
    /// later events wait behind it).
    waiting: std::collections::HashSet<u64>,
    held_total: usize,
}

/// Events held for busy clients beyond this stop the queue from being drained
/// (every client waits until skinning catches up; the queue's own budget then
/// pushes back on senders).
const MAX_HELD: usize = 65_536;
/// While skinning runs, the loop looks for finished jobs this often.
const SKIN_POLL: Duration = Duration::from_millis(2);

/// The events a client asked for besides its own controls'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Subscription {
    select: bool,
    camera: bool,
}

/// Camera events go out at most this often (newest wins in between).
pub const CAMERA_EVENT_INTERVAL: Duration = Duration::from_millis(33);

/// The client id of the viewer's own panels ([`Runtime::submit`]); network
/// clients are numbered from 1.
pub const VIEWER_CLIENT_ID: u64 = 0;

/// Whether `id` is a client that connected over the network (not the viewer
/// itself, a plugin, or a replayed recording's client).
pub fn is_network_client(id: u64) -> bool {
    id != VIEWER_CLIENT_ID && id < periscope_dispatch::plugin::PLUGIN_CLIENT_BASE
}

/// Renders a client's screenshot request: the window with its viewport and
/// camera, headless mode with an offscreen renderer. Returns the image and the
/// frame shown.
pub trait Shooter {
    /// Renders `scene` at the request's frame (the playhead when it names
    /// none; the playhead does not move).
    fn shoot(&mut self, scene: &Scene, req: &ScreenshotRequest) -> Result<(Image, usize), String>;
    /// The main view's camera now.
    fn camera(&self) -> Camera;
    /// Whether the view has a camera of its own yet (headless: not until data
    /// was framed or a camera set); a video without a path frames the data otherwise.
    fn has_camera(&self) -> bool {
        true
    }
    /// Sets the main view's camera (from code: it is kept, not refitted to new data).
    fn set_camera(&mut self, camera: Camera);
    /// The main view's size in pixels, for the camera's intrinsics.
    fn view_size(&self) -> (u32, u32);
    /// Remote-rendered images to draw into the main view (composited by depth).
    fn set_backgrounds(&mut self, list: &[Arc<periscope_render::Background>]);
    /// Display-space bounds of what `view` shows (or of one node), after
    /// bringing the GPU data in line with it.
    fn bounds(&mut self, view: SceneView<'_>, node: Option<periscope_scene::NodeId>) -> Option<(Vec3, Vec3)>;
    /// Renders `view` (the scene at a frame) from `camera` offscreen at `width` x `height` (a video
    /// frame: the main view's camera and image, and the playhead, are left alone).
    fn render_frame(&mut self, view: SceneView<'_>, camera: &Camera, width: u32, height: u32) -> Result<Image, String>;
}

/// The main view's camera as a `view_camera` answer: the fields of the image
/// windows' camera message plus `target` (world coordinates) and `ref_seq`.
fn view_camera_reply(camera: &Camera, z_up: bool, (w, h): (u32, u32), ref_seq: Option<u64>) -> Reply {
    let Reply::Other { mut fields, .. } = CameraModel::new(camera, z_up, w, h).reply(0) else {
        unreachable!("a camera model replies with fields")
    };
    fields.retain(|(k, _)| k != "seq");
    let target = world_to_display(z_up).inverse().transform_point3(Vec3::from(camera.target));
    fields.push(("target".into(), Value::NdArray(NdArray::from_f32(vec![3], target.to_array().to_vec()))));
    fields.push(("ref_seq".into(), Value::from(ref_seq)));
    Reply::Other { kind: MessageType::ViewCamera.as_i64(), fields }
}

/// Something the main view does for a client, in the order asked.
enum ViewWork {
    Screenshot(ScreenshotRequest),
    SetCamera { pose: ViewPose, client: u64, seq: Option<u64> },
    QueryCamera { client: u64, seq: Option<u64> },
}

/// Why the camera cannot take `pose` (display-space `position`/`target`, each
/// given or kept from `camera`): the position it would end up with is on the
/// target, or infinitely far from it. The request decoder refuses both given
/// and equal; this catches one given and equal to the camera's other one,
/// which [`Camera::look`] would otherwise ignore without a word.
/// A pose's position and target in display space.
fn display_points(z_up: bool, pose: &ViewPose) -> (Option<Vec3>, Option<Vec3>) {
    let to_display = world_to_display(z_up);
    let point = |p: Option<[f32; 3]>| p.map(|p| to_display.transform_point3(Vec3::from(p)));
    (point(pose.position), point(pose.target))
}

fn look_error(camera: &Camera, pose: &ViewPose, position: Option<Vec3>, target: Option<Vec3>) -> Option<String> {
    let eye = position.unwrap_or_else(|| camera.eye());
    let distance = eye.distance(target.unwrap_or(Vec3::from(camera.target)));
    if distance > 1e-6 && distance.is_finite() {
        return None;
    }
    let (field, value, other) = match (pose.position, pose.target) {
        (None, Some(t)) => ("target", t, "the camera's position"),
        (Some(p), None) => ("position", p, "the view's target"),
        (p, _) => ("position", p.unwrap_or_default(), "target"),
    };
    let what = if distance.is_finite() {
        format!("a point other than {other}")
    } else {
        format!("a point at a finite distance from {other}")
    };
    Some(format!("set_camera: field {field:?} must be {what}, found {value:?}"))
}

/// Headless mode renders offscreen at the requested size (or `size`).
pub struct OffscreenShooter<'a> {
    pub renderer: &'a mut HeadlessRenderer,
    pub size: (u32, u32),
}

impl Shooter for OffscreenShooter<'_> {
    fn shoot(&mut self, scene: &Scene, req: &ScreenshotRequest) -> Result<(Image, usize), String> {
        let (w, h) = (req.width.unwrap_or(self.size.0), req.height.unwrap_or(self.size.1));
        let view = SceneView::at(scene, req.frame);
        self.renderer.render(view, w, h, req.camera, req.fit).map(|img| (img, view.frame))
    }

    fn camera(&self) -> Camera {
        self.renderer.camera.unwrap_or_default()
    }

    fn has_camera(&self) -> bool {
        self.renderer.camera.is_some()
    }

    fn set_camera(&mut self, camera: Camera) {
        self.renderer.camera = Some(camera);
    }

    fn view_size(&self) -> (u32, u32) {
        self.size
    }

    fn set_backgrounds(&mut self, list: &[Arc<periscope_render::Background>]) {
        self.renderer.set_backgrounds(list);
    }

    fn bounds(&mut self, view: SceneView<'_>, node: Option<periscope_scene::NodeId>) -> Option<(Vec3, Vec3)> {
        self.renderer.bounds(view, node)
    }

    fn render_frame(&mut self, view: SceneView<'_>, camera: &Camera, width: u32, height: u32) -> Result<Image, String> {
        self.renderer.render_with(view, camera, width, height)
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

/// How often a view looks for what its link received.
const LINK_POLL: Duration = Duration::from_millis(100);

/// Screenshot requests waiting beyond this are refused (a client asking faster than we render).
const MAX_PENDING_SCREENSHOTS: usize = 8;

impl Runtime {
    pub fn new(scene: Scene, chain: Chain, queue: Arc<ByteQueue<Event>>, server: ServerHandle) -> Self {
        Self::build(scene, chain, queue, Some(server), None)
    }

    /// A view of a remote hub (`periscope --connect`): the scene is a mirror
    /// fed by `link`, the panels' messages go to the hub, and there is no
    /// server, chain or recorder of its own. Screenshots, videos and saved
    /// scenes are made here, from the mirror, into this machine's export folder.
    pub fn view(link: ViewLink) -> Self {
        let queue = Arc::new(ByteQueue::new(1 << 20, 16));
        let mut rt = Self::build(Scene::default(), Chain::new(Vec::new()), queue, None, Some(link));
        rt.scene.defer_skinning = false;
        rt
    }

    fn build(
        scene: Scene,
        chain: Chain,
        queue: Arc<ByteQueue<Event>>,
        server: Option<ServerHandle>,
        link: Option<ViewLink>,
    ) -> Self {
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
            images: ImageHub::new(false),
            recorder: None,
            export_dir: PathBuf::from("exports"),
            viewer_client: ClientRef::detached(VIEWER_CLIENT_ID, "viewer", "local"),
            subscribers: HashMap::new(),
            selection_sent: (None, None),
            camera_sent: None,
            camera_sent_at: None,
            backgrounds_seen: 0,
            exports: Exports::default(),
            export_budget: Duration::ZERO,
            video_size: (1280, 720),
            video_fps: 30.0,
            last_export: None,
            hub: Hub::default(),
            link,
            playback_tick: None,
            skins: {
                let (tx, rx) = std::sync::mpsc::channel();
                SkinWork {
                    tx,
                    rx,
                    busy: HashMap::new(),
                    held: HashMap::new(),
                    arrivals: 0,
                    waiting: Default::default(),
                    held_total: 0,
                }
            },
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

    /// Applies what the link to a remote hub received (a view's step).
    fn pump_link(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut n = 0;
        while let Some(ev) = self.link.as_ref().and_then(ViewLink::try_next) {
            n += 1;
            match ev {
                LinkEvent::Connected { client_id } => {
                    let url = self.link.as_ref().map(|l| l.url.clone()).unwrap_or_default();
                    self.info(format!("connected to {url} as view #{client_id}"));
                }
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

    /// Whether body-model skinning is still running (a headless `--screenshot`
    /// waits for it).
    pub fn skins_pending(&self) -> bool {
        !self.skins.busy.is_empty()
    }

    /// Starts the skinning jobs the last message made on the rayon pool; their
    /// client is busy until they finish.
    fn start_skins(&mut self, seq: Option<u64>, kind: i64) {
        for job in self.scene.take_skin_jobs() {
            *self.skins.busy.entry(job.client).or_default() += 1;
            let tx = self.skins.tx.clone();
            let wake = self.queue.waker();
            rayon::spawn(move || {
                let done = job.run();
                // The runtime may be gone (shutdown): nothing to tell then.
                let _ = tx.send((done, seq, kind));
                wake();
            });
        }
    }

    /// Applies finished skinning, reports failures to the sender, and handles
    /// the events held for clients that are no longer busy.
    fn finish_skins(&mut self) {
        while let Ok((done, seq, kind)) = self.skins.rx.try_recv() {
            let client = done.client;
            match self.scene.finish_skin(done) {
                Ok(notes) => {
                    for n in notes {
                        tracing::info!(client, seq, "{n}");
                        self.out.send(client, Reply::warning(seq, Some(kind), None, "note", n));
                    }
                }
                Err(e) => {
                    self.error(format!("client #{client} seq {seq:?}: {}", e.message));
                    self.out.send(client, Reply::error(seq, Some(kind), None, e.code, e.message));
                }
            }
            if let Some(n) = self.skins.busy.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    self.skins.busy.remove(&client);
                }
            }
            self.release_held();
        }
    }

    /// Whether `ev` from client `id`, arrived `at` (its place among held
    /// events; `u64::MAX` for one not held), must wait: for its client's own
    /// skinning, or, for a read (query, screenshot, save, video), for anyone's and for
    /// every event of another client held before it, so that a read sees every
    /// body sequence that arrived before it.
    fn must_wait(&self, id: u64, ev: &Event, at: u64) -> bool {
        if self.skins.busy.contains_key(&id) || self.skins.waiting.contains(&id) {
            return true;
        }
        let read = matches!(ev, Event::Message { envelope, .. }
            if [MessageType::Query, MessageType::Screenshot, MessageType::SaveScene, MessageType::ExportVideo]
                .iter()
                .any(|t| t.as_i64() == envelope.kind));
        read && (!self.skins.busy.is_empty()
            || self.skins.held.iter().any(|(&other, q)| other != id && q.front().is_some_and(|(t, _)| *t < at)))
    }

    /// Handles held events in the order they arrived, each client's in order,
    /// as far as nothing they wait for is still running.
    fn release_held(&mut self) {
        if self.skins.busy.is_empty() {
            self.skins.waiting.clear();
        }
        loop {
            // The earliest front that may go now.
            let next = self
                .skins
                .held
                .iter()
                .filter_map(|(&client, q)| q.front().map(|(at, ev)| (*at, client, ev)))
                .filter(|&(at, client, ev)| !self.must_wait(client, ev, at))
                .min_by_key(|&(at, ..)| at)
                .map(|(_, client, _)| client);
            let Some(client) = next else { break };
            let queue = self.skins.held.get_mut(&client).expect("client has held events");
            let (_, ev) = queue.pop_front().expect("front exists");
            if queue.is_empty() {
                self.skins.held.remove(&client);
            }
            self.skins.held_total -= 1;
            self.handle_now(ev);
        }
    }

    /// Handles queued events for up to `budget`; returns how many.
    pub fn pump(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut n = 0;
        while self.skins.held_total < MAX_HELD
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

    /// Adds an info line to the UI log (and the tracing log).
    pub fn info(&mut self, text: String) {
        tracing::info!("{text}");
        self.note(Level::Info, text);
    }

    /// Adds an error line to the UI log (and the tracing log); the window shows it as a toast.
    pub fn error(&mut self, text: String) {
        tracing::error!("{text}");
        self.note(Level::Error, text);
    }

    fn note(&mut self, level: Level, text: String) {
        if self.log.len() >= LOG_LINES {
            self.log.pop_front();
        }
        let clock = clock(std::time::SystemTime::now());
        self.log.push_back(LogLine { at: Instant::now(), clock, level, text });
    }

    /// Traffic of client `id` (zeros for an unknown one).
    pub fn client_stats(&self, id: u64) -> ClientStats {
        self.clients.get(&id).cloned().unwrap_or_default()
    }

    /// Updates the per-client rates when a second has passed since the last sample.
    pub fn sample_rates(&mut self) {
        let dt = self.last_sample.elapsed().as_secs_f64();
        if dt < 1.0 {
            return;
        }
        self.last_sample = Instant::now();
        for s in self.clients.values_mut() {
            s.rate_messages = (s.messages - s.sampled.0) as f64 / dt;
            s.rate_bytes = (s.bytes - s.sampled.1) as f64 / dt;
            s.sampled = (s.messages, s.bytes);
        }
    }

    fn queue_screenshot(&mut self, client: u64, seq: Option<u64>, shot: &Screenshot) {
        let waiting = self.view_work.iter().filter(|w| matches!(w, ViewWork::Screenshot(_))).count();
        if waiting >= MAX_PENDING_SCREENSHOTS {
            let message = "too many screenshot requests waiting; try again".to_owned();
            self.out.send(client, Reply::error(seq, Some(MessageType::Screenshot.as_i64()), None, "busy", message));
        } else {
            self.view_work.push(ViewWork::Screenshot(ScreenshotRequest::new(client, seq, shot)));
        }
    }

    /// Updates image windows from the decoder and sends cameras that changed;
    /// returns when to call again (a throttled camera is waiting).
    pub fn poll_images(&mut self) -> Option<Duration> {
        self.images.poll(&self.out)
    }

    /// Sends a rendered screenshot (or the failure) to the client that asked.
    pub fn answer_screenshot(&mut self, req: &ScreenshotRequest, result: Result<(Image, usize), String>) {
        let reply = match result {
            Ok((image, frame)) => req.reply(&image, frame),
            Err(e) => {
                self.error(format!("screenshot for client #{} failed: {e}", req.client));
                req.error(e)
            }
        };
        self.out.send(req.client, reply);
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
        for work in std::mem::take(&mut self.view_work) {
            match work {
                ViewWork::Screenshot(req) => {
                    let result = shooter.shoot(&self.scene, &req);
                    self.answer_screenshot(&req, result);
                }
                ViewWork::SetCamera { pose, client, seq } => {
                    let mut camera = shooter.camera();
                    let (position, target) = display_points(self.images.z_up, &pose);
                    if let Some(e) = look_error(&camera, &pose, position, target) {
                        self.error(format!("client #{client} seq {seq:?}: {e}"));
                        let kind = Some(MessageType::SetCamera.as_i64());
                        self.out.send(client, Reply::error(seq, kind, None, "bad_value", e));
                        continue;
                    }
                    camera.look(position, target, pose.fov_y_deg.map(f32::to_radians));
                    shooter.set_camera(camera);
                }
                ViewWork::QueryCamera { client, seq } => {
                    let reply = view_camera_reply(&shooter.camera(), self.images.z_up, shooter.view_size(), seq);
                    self.out.send(client, reply);
                }
            }
        }
        if let Some(again) = self.step_export(shooter) {
            step.again(again);
        }
        self.selection_events();
        if let Some(again) = self.camera_events(shooter) {
            step.again(again);
        }
        let linger = Duration::from_secs_f64(self.scene.config().controls_linger_s.max(0.0));
        if let Some(again) = self.scene.expire_controls(linger, Instant::now()) {
            step.again(again);
        }
        self.view_camera = Some(shooter.camera());
        self.images.set_view(shooter.camera(), shooter.view_size());
        if let Some(again) = self.poll_images() {
            step.again(again);
        }
        if self.images.viewport_version != self.backgrounds_seen {
            self.backgrounds_seen = self.images.viewport_version;
            shooter.set_backgrounds(&self.images.backgrounds());
        }
        if let Some(server) = &self.out.0 {
            let published = self.hub.publish(&mut self.scene, server);
            for (id, why) in published.resynced {
                self.info(format!("view #{id} is sent a fresh snapshot: {why}"));
            }
            if self.hub.busy() {
                step.again(Duration::from_millis(2));
            }
        }
        step.more_queued = !self.queue.is_empty();
        step
    }

    /// Plays the scene: while it is playing, moves the playhead one frame per
    /// `1/fps` seconds of wall-clock time, a `next_frame` of the viewer's own
    /// client applied by `Scene::apply` (not through the chain or the
    /// recorder: ticks follow from the recorded `playback` message, and a
    /// replay plays them again). At most one frame per step: a step that
    /// comes late moves one frame and starts the cadence again from `now`
    /// instead of catching up in a burst. Returns when the next tick is due.
    fn step_playback(&mut self, now: Instant) -> Option<Duration> {
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
            if let Err(e) = self.scene.apply(VIEWER_CLIENT_ID, &tick) {
                tracing::warn!("playback: {}", e.message);
            }
        }
        // On time (within one interval): keep the cadence; later: start it again from now.
        let tick = if now - due < interval { due } else { now };
        self.playback_tick = Some(tick);
        Some((tick + interval).saturating_duration_since(now))
    }

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
    fn drop_client_exports(&mut self, id: u64) {
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
    fn step_export(&mut self, shooter: &mut dyn Shooter) -> Option<Duration> {
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

    fn subscribed(&self, wants: impl Fn(&Subscription) -> bool) -> Vec<u64> {
        self.subscribers.iter().filter(|(_, s)| wants(s)).map(|(id, _)| *id).collect()
    }

    /// Tells subscribers when the selection changed (a click, the tree, a
    /// script, a plugin or a client's `select`).
    fn selection_events(&mut self) {
        let now = (self.scene.selected(), self.scene.selected_point());
        if now == self.selection_sent {
            return;
        }
        self.selection_sent = now;
        let to = self.subscribed(|s| s.select);
        if to.is_empty() {
            return;
        }
        let node = now.0.and_then(|id| self.scene.node(id));
        let point = now.1.map_or(Value::Nil, |p| Value::NdArray(NdArray::from_f32(vec![3], p.to_vec())));
        let fields = vec![
            ("event".into(), Value::from("select")),
            ("node_id".into(), Value::from(node.map(|n| n.id))),
            ("client_id".into(), Value::from(node.map(|n| n.client))),
            ("uid".into(), node.and_then(|n| n.uid).map_or(Value::Nil, Value::Int)),
            ("name".into(), Value::from(node.map(|n| n.name.clone()))),
            ("kind".into(), Value::from(node.map(|n| n.kind.name().to_owned()))),
            ("point".into(), point),
        ];
        let reply = Reply::Other { kind: MessageType::Event.as_i64(), fields };
        for id in to {
            self.out.send(id, reply.clone());
        }
    }

    /// Tells subscribers when the main view's camera changed, at most every
    /// [`CAMERA_EVENT_INTERVAL`] (the newest camera wins); returns when to look again.
    fn camera_events(&mut self, shooter: &dyn Shooter) -> Option<Duration> {
        let to = self.subscribed(|s| s.camera);
        if to.is_empty() {
            return None;
        }
        let now = (shooter.camera(), shooter.view_size());
        if self.camera_sent.as_ref() == Some(&now) {
            return None;
        }
        if let Some(at) = self.camera_sent_at
            && at.elapsed() < CAMERA_EVENT_INTERVAL
        {
            return Some(CAMERA_EVENT_INTERVAL - at.elapsed());
        }
        let Reply::Other { fields, .. } = view_camera_reply(&now.0, self.images.z_up, now.1, None) else {
            unreachable!("view_camera_reply builds fields")
        };
        let camera =
            Value::Map(fields.into_iter().filter(|(k, _)| k != "ref_seq").map(|(k, v)| (Value::from(k), v)).collect());
        let reply = Reply::Other {
            kind: MessageType::Event.as_i64(),
            fields: vec![("event".into(), Value::from("camera")), ("camera".into(), camera)],
        };
        for id in to {
            self.out.send(id, reply.clone());
        }
        self.camera_sent = Some(now);
        self.camera_sent_at = Some(Instant::now());
        None
    }

    /// Recent log lines, oldest first.
    pub fn log(&self) -> impl DoubleEndedIterator<Item = &LogLine> {
        self.log.iter()
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

    /// Starts writing every accepted message to `path`.
    pub fn start_recording(&mut self, path: &Path) -> Result<(), String> {
        let r = Recorder::create(path).map_err(|e| e.to_string())?;
        // Clients already connected appear connected at the start of the recording.
        let mut r = r;
        for c in self.scene.clients().filter(|c| c.connected && is_network_client(c.id)) {
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

    fn record(&mut self, ev: &Event) {
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

    fn save_scene_request(&mut self, client: u64, envelope: &periscope_protocol::Envelope, name: &str) {
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
                    Reply::Other {
                        kind: MessageType::SceneSaved.as_i64(),
                        fields: vec![
                            (
                                "ref_seq".into(),
                                envelope.seq.map_or(periscope_protocol::Value::Nil, periscope_protocol::Value::from),
                            ),
                            ("path".into(), periscope_protocol::Value::from(path.display().to_string())),
                            ("records".into(), periscope_protocol::Value::from(records)),
                        ],
                    }
                }
                Err(e) => {
                    self.error(format!("cannot save the scene: {e}"));
                    Reply::error(envelope.seq, Some(envelope.kind), None, "io", e)
                }
            }
        };
        self.out.send(client, reply);
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
            Request::SetCamera(pose) => {
                // Checked now when nothing queued moves the camera first, so the
                // error comes before the answer to a later query (the clients'
                // sync); otherwise when the work is carried out.
                let queued = self.view_work.iter().any(|w| !matches!(w, ViewWork::QueryCamera { .. }));
                if !queued && let Some(camera) = &self.view_camera {
                    let (position, target) = display_points(self.images.z_up, pose);
                    if let Some(e) = look_error(camera, pose, position, target) {
                        return Err(e);
                    }
                }
                self.view_work.push(ViewWork::SetCamera { pose: **pose, client: client.id(), seq: envelope.seq })
            }
            Request::QueryCamera => {
                self.view_work.push(ViewWork::QueryCamera { client: client.id(), seq: envelope.seq })
            }
            Request::ViewResync if self.hub.is_view(client.id()) => self.hub.resync(client.id()),
            Request::ViewResync => {
                return Err("view_resync: only a view (hello role = \"view\") is sent snapshots".into());
            }
            Request::SaveScene { name } => self.save_scene_request(client.id(), envelope, name),
            Request::ExportVideo(_) if client.id() >= crate::replay::REPLAY_ID_BASE => {
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
            Request::Subscribe { select, camera } => {
                let s = self.subscribers.entry(client.id()).or_default();
                s.select = select.unwrap_or(s.select);
                s.camera = camera.unwrap_or(s.camera);
                if s.camera {
                    // The current camera is the first event.
                    self.camera_sent = None;
                }
                if *s == Subscription::default() {
                    self.subscribers.remove(&client.id());
                }
            }
            Request::Images
            | Request::ViewportImage
            | Request::ClearViewport
            | Request::RequireCamera { .. }
            | Request::ReadRemote { .. }
            | Request::QueryImages => {
                let (id, name) = (client.id(), client.name());
                self.images.handle(id, name, envelope, request, coalesced, received, &self.out)?;
            }
        }
        Ok(())
    }

    fn handle(&mut self, ev: Event) {
        let id = ev.client().id();
        // Behind held events of its client, or waiting for skinning: keep the order.
        if self.skins.held.contains_key(&id) || self.must_wait(id, &ev, u64::MAX) {
            if !self.skins.busy.contains_key(&id) {
                self.skins.waiting.insert(id);
            }
            let at = self.skins.arrivals;
            self.skins.arrivals += 1;
            self.skins.held.entry(id).or_default().push_back((at, ev));
            self.skins.held_total += 1;
            return;
        }
        self.handle_now(ev);
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn log_clock_is_utc_time_of_day() {
        assert_eq!(super::clock(UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 3_661)), "01:01:01");
        assert_eq!(super::clock(UNIX_EPOCH + Duration::from_secs(86_399)), "23:59:59");
    }
}
