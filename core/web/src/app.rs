//! The browser view's window: the same scene tree, properties, controls,
//! playback bar, Look menu and viewport as the native window
//! (`periscope-ui`), over a mirror of the hub's scene fed by the view stream.
//! What a person does is sent to the hub as messages of this view's client;
//! nothing here changes the mirror except the hub's changes.
//!
//! The socket is behind [`Link`]: the page's `WebSocket` in the browser
//! (src/web.rs). The app never blocks: it takes what the socket delivered at
//! the start of each frame.

use std::collections::VecDeque;
use std::time::Duration;

use periscope_protocol::{Envelope, Reply};
use periscope_render::RenderOptions;
use periscope_scene::Scene;
use periscope_ui::UiHost;
use periscope_ui::controls_panel::ControlsPanel;
use periscope_ui::stream::{StreamItem, resync_message};
use periscope_ui::viewport::{Viewport, look_at_pose, view_moved_message};
use web_time::Instant;

use crate::images::ImageView;
use crate::session::{Incoming, Phase, Session, refusal_wants_token};

/// What the socket reports.
#[derive(Debug)]
pub enum SocketEvent {
    Open,
    Message(Vec<u8>),
    /// A message of this many bytes arrived and was not copied in (over
    /// [`Link::set_max_message`]).
    TooLarge(u64),
    Closed(String),
}

/// The page's connection to the hub.
pub trait Link {
    /// Opens a new socket (closing any old one).
    fn open(&mut self);
    /// Closes the socket (no `Closed` event follows).
    fn close(&mut self);
    /// Messages larger than this are not taken into the page: the socket
    /// reports [`SocketEvent::TooLarge`] instead (the page's budget left).
    fn set_max_message(&mut self, bytes: u64);
    /// What the socket delivered since the last call.
    fn drain(&mut self) -> Vec<SocketEvent>;
    /// Sends one binary message.
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), String>;
    /// Bytes queued in the socket and not yet sent.
    fn buffered(&self) -> u64;
    /// The hub's address, for the status line.
    fn url(&self) -> String;
    /// Keeps the token for this tab only (the page's session storage).
    fn remember_token(&mut self, _token: &str) {}
    /// A token the person put in the address (`#token=…`) since the last call.
    fn new_token(&mut self) -> Option<String> {
        None
    }
}

/// Waits between reconnection attempts (doubling up to the last).
const RETRY_MS: [u64; 5] = [250, 500, 1000, 2000, 4000];
/// Log lines kept.
const LOG_LINES: usize = 200;
/// A view's camera is reported at most this often (and not while the socket is congested).
const REPORT_EVERY: Duration = Duration::from_millis(33);
/// Bytes queued in the socket above which camera reports wait.
const CONGESTED: u64 = 256 * 1024;
/// The page's budget for scene data when the hub names none
/// (`[server] web_view_budget_mb`'s default), and the least it takes.
const DEFAULT_BUDGET: u64 = 1500 << 20;
const MIN_BUDGET: u64 = 1 << 20;

/// The scene mirror and what the panels sent this frame.
struct Mirror {
    scene: Scene,
    out: Vec<Envelope>,
}

impl UiHost for Mirror {
    fn scene(&self) -> &Scene {
        &self.scene
    }
    fn submit(&mut self, envelope: Envelope) {
        self.out.push(envelope);
    }
}

/// How the page draws: chosen by eframe (WebGPU, or WebGL2 as the fallback).
#[derive(Clone, Debug)]
pub struct Backend {
    /// "WebGPU" or "WebGL2".
    pub name: String,
    /// The adapter's own description.
    pub adapter: String,
}

pub struct WebApp {
    mirror: Mirror,
    link: Box<dyn Link>,
    session: Session,
    name: String,
    token: Option<String>,
    /// The token field shown when the hub refused for want of one.
    token_prompt: Option<String>,
    viewport: Option<Viewport>,
    backend: Option<Backend>,
    controls: ControlsPanel,
    images: ImageView,
    log: VecDeque<(bool, String)>,
    reconnect_at: Option<Instant>,
    attempt: usize,
    camera_reported: Option<(periscope_render::Camera, Instant)>,
    camera_requests_seen: u64,
    /// The most scene data (array bytes) the page holds, and an upper bound
    /// of what the mirror holds now (exact after [`WebApp::mirror_bytes`]).
    budget: u64,
    held: u64,
    /// The last playback tick of a dropped file's scene (the hub plays its own).
    tick: Option<Instant>,
    show_side: bool,
    show_log: bool,
    /// Frames drawn with something in the scene (the page's tests wait for one).
    pub frames_with_scene: u64,
    /// Bytes of array data the mirror holds, updated as changes are applied
    /// (the page's `data-bytes`: the web benchmark waits for the whole scene).
    pub scene_bytes: usize,
    /// Screenshots read back and encoded, for the page to hand to the
    /// browser as downloads ([`WebApp::take_screenshots`]).
    screenshots: Vec<Vec<u8>>,
}

impl WebApp {
    /// A view of the hub behind `link`; `render_state` is eframe's wgpu state
    /// (`None`: no renderer, the panels still work).
    pub fn new(
        link: Box<dyn Link>,
        token: Option<String>,
        render_state: Option<&egui_wgpu::RenderState>,
        backend: Option<Backend>,
    ) -> Self {
        // The hub's client list (its Server panel, `query`) says who watches on what.
        let name = match &backend {
            Some(b) => format!("browser ({})", b.name),
            None => "browser (no renderer)".to_owned(),
        };
        let viewport = render_state.map(|rs| {
            let mut vp = Viewport::new(rs, RenderOptions::default());
            vp.set_async_reads(true);
            vp
        });
        let mut app = Self {
            mirror: Mirror { scene: Scene::new(periscope_scene::SceneConfig::default()), out: Vec::new() },
            session: Session::new(&name, token.clone()),
            link,
            name,
            token,
            token_prompt: None,
            viewport,
            backend,
            controls: ControlsPanel::default(),
            images: ImageView::default(),
            log: VecDeque::new(),
            reconnect_at: None,
            attempt: 0,
            camera_reported: None,
            camera_requests_seen: 0,
            budget: DEFAULT_BUDGET,
            held: 0,
            tick: None,
            show_side: true,
            show_log: false,
            frames_with_scene: 0,
            scene_bytes: 0,
            screenshots: Vec::new(),
        };
        app.connect();
        app
    }

    /// The screenshots (PNG) taken since the last call, oldest first.
    pub fn take_screenshots(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.screenshots)
    }

    fn say(&mut self, error: bool, text: String) {
        if error {
            tracing::warn!("{text}");
        } else {
            tracing::info!("{text}");
        }
        self.log.push_back((error, text));
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }

    fn connect(&mut self) {
        self.session = Session::new(&self.name, self.token.clone());
        // The snapshot replaces the mirror: its first part may take the whole budget.
        self.link.set_max_message(self.budget);
        self.reconnect_at = None;
        self.link.open();
    }

    /// Handles what the socket delivered.
    fn pump(&mut self) {
        for ev in self.link.drain() {
            match ev {
                SocketEvent::Open => {
                    let hello = self.session.hello();
                    if let Err(e) = self.link.send(hello) {
                        self.say(true, format!("cannot send the hello: {e}"));
                    }
                }
                SocketEvent::Message(bytes) => self.incoming(&bytes),
                SocketEvent::TooLarge(n) => self.over_budget(n),
                SocketEvent::Closed(reason) => self.closed(reason),
            }
            if let Phase::Refused(_) | Phase::OverBudget(_) | Phase::Local(_) = self.session.phase {
                break; // what else arrived is not for this page any more
            }
        }
        if let Some(token) = self.link.new_token() {
            self.token = Some(token);
            self.token_prompt = None;
            self.attempt = 0;
            self.connect();
        } else if self.reconnect_at.is_some_and(|t| Instant::now() >= t) {
            self.connect();
        }
    }

    fn closed(&mut self, reason: String) {
        if let Phase::Refused(_) | Phase::OverBudget(_) | Phase::Local(_) = self.session.phase {
            return; // the refusal or notice stays on the page; no reconnecting by itself
        }
        if !matches!(self.session.phase, Phase::Lost(_)) {
            self.say(true, format!("disconnected from the hub ({reason}): reconnecting"));
        }
        self.session.phase = Phase::Lost(reason);
        let wait = RETRY_MS[self.attempt.min(RETRY_MS.len() - 1)];
        self.attempt += 1;
        self.reconnect_at = Some(Instant::now() + Duration::from_millis(wait));
    }

    fn incoming(&mut self, bytes: &[u8]) {
        match self.session.read(bytes) {
            Incoming::Welcome { client_id, budget } => {
                self.attempt = 0;
                self.budget = budget.unwrap_or(DEFAULT_BUDGET).max(MIN_BUDGET);
                self.link.set_max_message(self.budget.saturating_sub(self.held));
                if let Some(vp) = &mut self.viewport {
                    vp.set_backgrounds(&[]); // the old hub's renderers are gone
                }
                let url = self.link.url();
                self.say(false, format!("connected to {url} as view #{client_id}"));
                self.images.clear();
                if let Some(t) = &self.token {
                    let t = t.clone();
                    self.link.remember_token(&t);
                }
            }
            Incoming::Refused(reason) => {
                self.say(true, format!("the hub refused this view: {reason}"));
                if refusal_wants_token(&reason) {
                    self.token_prompt = Some(String::new());
                }
            }
            Incoming::Unreadable(e) => self.say(true, format!("an unreadable message from the hub: {e}")),
            Incoming::Stream(item) => self.stream_item(*item),
        }
    }

    fn stream_item(&mut self, item: StreamItem) {
        let changes = match item {
            StreamItem::Reset(changes) => {
                self.mirror.scene.clear_mirror();
                self.held = 0;
                self.scene_bytes = 0;
                self.link.set_max_message(self.budget);
                changes
            }
            StreamItem::Changes(changes) => changes,
            StreamItem::Images { client, name, message } => {
                let z_up = self.z_up();
                if let Err(e) = self.images.handle(client, &name, message.as_ref(), z_up) {
                    self.say(true, format!("an image of {name} #{client} from the hub: {e}"));
                }
                if let Some(vp) = &mut self.viewport {
                    vp.set_backgrounds(&self.images.backgrounds());
                }
                return;
            }
            StreamItem::Gap(_) => {
                self.send(resync_message());
                return;
            }
            StreamItem::Skip => return,
            StreamItem::Other(Reply::Problem { warning, code, message, .. }) => {
                self.say(!warning, format!("hub: {code}: {message}"));
                return;
            }
            StreamItem::Other(_) => return,
        };
        if !self.fits(&changes) {
            return;
        }
        use periscope_scene::Change;
        let data = changes.iter().any(|c| matches!(c, Change::Node(_) | Change::Frames { .. } | Change::Removed(_)));
        if let Err(e) = self.mirror.scene.apply_changes(changes) {
            self.say(true, format!("the view missed a change ({e}): asking the hub for a snapshot"));
            self.session.await_snapshot();
            self.send(resync_message());
        }
        if data {
            // Only when arrays changed: a playhead batch (30-60 a second) does not walk every frame.
            self.scene_bytes = self.mirror.scene.nodes().map(|n| n.data_bytes()).sum();
        }
    }

    /// Bytes of array data the mirror keeps allocated.
    fn mirror_bytes(&self) -> u64 {
        self.mirror.scene.held_bytes() as u64
    }

    /// Whether the page can take `changes` within its budget. When not, the
    /// stream stops (the socket closes, no reconnecting by itself): the
    /// page keeps showing the scene as it was, with a notice, rather than
    /// growing until the tab runs out of memory.
    fn fits(&mut self, changes: &[periscope_scene::Change]) -> bool {
        use periscope_scene::Change;
        let adds: u64 = changes
            .iter()
            .filter(|c| matches!(c, Change::Node(_) | Change::Frames { .. }))
            .map(|c| c.weight() as u64)
            .sum();
        if self.held + adds <= self.budget {
            self.held += adds;
            self.link.set_max_message(self.budget - self.held);
            return true;
        }
        // The running sum only grows (a replaced node counts twice): measure.
        self.held = self.mirror_bytes();
        if self.held + adds <= self.budget {
            self.held += adds;
            self.link.set_max_message(self.budget - self.held);
            return true;
        }
        self.over_budget(adds);
        false
    }

    /// Stops the stream: the next change (`adds` bytes) does not fit.
    fn over_budget(&mut self, adds: u64) {
        let mb = |b: u64| b as f64 / (1 << 20) as f64;
        let notice = format!(
            "the hub's scene outgrew this page's budget ({:.0} MB, [server] web_view_budget_mb): it holds {:.1} MB \
             and the next change adds {:.1} MB. Showing the scene as it was; periscope --connect shows all of it",
            mb(self.budget),
            mb(self.held),
            mb(adds)
        );
        self.say(true, notice.clone());
        self.session.phase = Phase::OverBudget(notice);
        self.link.close();
    }

    /// Shows a recording or saved scene (`.psr`) dropped on the page instead
    /// of the hub: its records are applied, in order and at once, to a scene
    /// of the page's own (through `Scene::apply`, as the hub would), the
    /// socket is closed, and the page's panels and playback act on that
    /// scene until the person goes back to the hub. A file larger than the
    /// page's budget is refused.
    pub fn open_file(&mut self, name: &str, bytes: Vec<u8>) {
        if bytes.len() as u64 > self.budget {
            return self.file_too_large(name, bytes.len() as f64);
        }
        let recording = match periscope_record::read_bytes(bytes::Bytes::from(bytes), name) {
            Ok(r) => r,
            Err(e) => return self.say(true, format!("cannot open {name}: {e}")),
        };
        let mut scene = Scene::new(periscope_scene::SceneConfig::default());
        let (mut applied, mut refused) = (0usize, 0usize);
        for r in &recording.records {
            match r.kind {
                periscope_record::Kind::Connect => scene.client_connected(r.client, &r.name, "recording"),
                periscope_record::Kind::Disconnect => scene.client_disconnected(r.client),
                periscope_record::Kind::Message => {
                    let limits = periscope_protocol::DecodeLimits::default();
                    match Envelope::decode_frame(r.frame.clone(), limits) {
                        Ok(env) if scene.apply(r.client, &env).is_ok() => applied += 1,
                        _ => refused += 1,
                    }
                }
            }
        }
        if let Some(w) = recording.warning {
            self.say(true, format!("{name}: {w}"));
        }
        let note = if refused > 0 { format!(", {refused} not applied (see the hub for those)") } else { String::new() };
        self.say(false, format!("showing {name}: {applied} messages{note}; not the hub"));
        self.link.close();
        self.session.phase = Phase::Local(name.to_owned());
        self.mirror.scene = scene;
        self.held = self.mirror_bytes();
        self.scene_bytes = self.mirror.scene.nodes().map(|n| n.data_bytes()).sum();
        self.images.clear();
        if let Some(vp) = &mut self.viewport {
            vp.set_backgrounds(&[]);
            vp.fit_all();
        }
    }

    /// Plays a dropped file's scene: one `next_frame` per `1/fps` while it plays.
    fn local_playback(&mut self, ctx: &egui::Context) {
        if !matches!(self.session.phase, Phase::Local(_)) || !self.mirror.scene.playing() {
            self.tick = None;
            return;
        }
        let interval = Duration::from_secs_f64(1.0 / self.mirror.scene.fps());
        let now = Instant::now();
        let last = *self.tick.get_or_insert(now);
        if now >= last + interval {
            let next = Envelope::new(periscope_protocol::MessageType::NextFrame.as_i64());
            if self.mirror.scene.n_frames() > 1 {
                let _ = self.mirror.scene.apply(periscope_scene::VIEWER_CLIENT, &next);
            }
            self.tick = Some(now);
        }
        ctx.request_repaint_after(interval);
    }

    /// A dropped file too large to take into the page.
    pub fn file_too_large(&mut self, name: &str, size: f64) {
        self.say(
            true,
            format!(
                "{name} is {:.0} MB, more than this page's budget ({:.0} MB): open it on the hub (periscope FILE)",
                size / (1 << 20) as f64,
                self.budget as f64 / (1 << 20) as f64
            ),
        );
    }

    /// The most bytes a dropped file may have.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    fn send(&mut self, env: Envelope) {
        if matches!(self.session.phase, Phase::Local(_)) {
            // The page's own scene: its one door, as the hub's.
            if let Err(e) = self.mirror.scene.apply(periscope_scene::VIEWER_CLIENT, &env) {
                self.say(true, format!("{}: {}", e.code, e.message));
            }
            return;
        }
        if !matches!(self.session.phase, Phase::Viewing { .. }) {
            return; // typed while disconnected: not replayed later
        }
        let bytes = self.session.encode(env);
        if let Err(e) = self.link.send(bytes) {
            self.say(true, format!("cannot send to the hub: {e}"));
        }
    }

    fn z_up(&self) -> bool {
        self.viewport.as_ref().is_some_and(|vp| vp.options().z_up)
    }

    /// The connection's state for the top bar, colored for a dark or a light theme.
    fn status(&self, dark: bool) -> (egui::Color32, String) {
        let tone = |on_dark: (u8, u8, u8), on_light: (u8, u8, u8)| {
            let (r, g, b) = if dark { on_dark } else { on_light };
            egui::Color32::from_rgb(r, g, b)
        };
        let red = tone((255, 128, 128), (210, 40, 40));
        match &self.session.phase {
            Phase::Connecting => (tone((255, 255, 0), (160, 120, 0)), format!("connecting to {}", self.link.url())),
            Phase::Viewing { client_id } => {
                (tone((144, 238, 144), (20, 130, 50)), format!("connected to {} (view #{client_id})", self.link.url()))
            }
            Phase::Refused(reason) => (red, format!("refused: {reason}")),
            Phase::Lost(reason) => (red, format!("disconnected — reconnecting ({reason})")),
            Phase::OverBudget(_) => (tone((230, 140, 40), (230, 140, 40)), "stopped: the scene is over budget".into()),
            Phase::Local(name) => {
                (tone((173, 216, 230), (30, 90, 200)), format!("showing {name} (dropped on the page), not the hub"))
            }
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Periscope");
            ui.separator();
            let (color, text) = self.status(ui.visuals().dark_mode);
            let status = ui.colored_label(color, text);
            let again = match &self.session.phase {
                Phase::OverBudget(notice) => {
                    status.on_hover_text(notice.as_str());
                    true
                }
                Phase::Refused(_) => self.token_prompt.is_none(),
                Phase::Local(_) => true,
                _ => false,
            };
            let label = if matches!(self.session.phase, Phase::Local(_)) { "Back to the hub" } else { "Reconnect" };
            if again && ui.button(label).on_hover_text("Connect to the hub again").clicked() {
                self.attempt = 0;
                self.connect();
            }
            ui.separator();
            let clients = self.mirror.scene.clients().filter(|c| c.connected).count();
            ui.label(format!("{clients} client(s) on the hub"));
            ui.separator();
            ui.label(format!("{} node(s)", self.mirror.scene.nodes().count()));
            ui.separator();
            if let Some(vp) = &mut self.viewport {
                if ui.button("Fit").on_hover_text("Frame the whole scene (Home)").clicked() {
                    vp.fit_all();
                }
                if ui.button("Center").on_hover_text("Frame the selected node (X, or double-click)").clicked() {
                    vp.center_on(self.mirror.scene.selected());
                }
                if ui.button("Screenshot").on_hover_text("Download the 3D view as a PNG (P)").clicked() {
                    vp.request_screenshot();
                }
                let mut o = vp.options().clone();
                periscope_ui::look::look_menu(ui, &mut o, vp.capabilities());
                if &o != vp.options() {
                    vp.set_options(o);
                }
                ui.separator();
            }
            if let Some(b) = &self.backend {
                ui.label(&b.name)
                    .on_hover_text(format!("{}\nAdd ?renderer=webgl2 to the address to use WebGL2.", b.adapter));
                ui.separator();
            }
            ui.toggle_value(&mut self.show_side, "Panels");
            ui.toggle_value(&mut self.show_log, "Log");
        });
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        let keys_free = !ui.ctx().egui_wants_keyboard_input();
        let Some(vp) = &mut self.viewport else {
            ui.centered_and_justified(|ui| {
                ui.colored_label(
                    egui::Color32::LIGHT_RED,
                    "This browser could draw neither with WebGPU nor with WebGL2: the panels work, the 3D view \
                     does not. Try another browser, or enable hardware acceleration.",
                );
            });
            return;
        };
        if let Some((pose, n)) = self.mirror.scene.camera_request()
            && n != self.camera_requests_seen
        {
            // The hub's `set_camera` moves every view; not reported back.
            self.camera_requests_seen = n;
            let z_up = vp.options().z_up;
            look_at_pose(&mut vp.camera, z_up, &pose);
            vp.keep_camera();
            self.camera_reported = Some((vp.camera, Instant::now()));
        }
        let out = vp.show(ui, &self.mirror.scene, keys_free);
        if self.mirror.scene.nodes().next().is_some() {
            self.frames_with_scene += 1;
        }
        // The camera moved by hand: the hub's camera events and remote renderers follow it.
        if let Some(size) = vp.last_size()
            && self.camera_reported.is_none_or(|(c, at)| c != vp.camera && at.elapsed() >= REPORT_EVERY)
            && self.link.buffered() < CONGESTED
        {
            self.camera_reported = Some((vp.camera, Instant::now()));
            let env = view_moved_message(&vp.camera, size, vp.options().z_up);
            self.mirror.out.push(env);
        } else if self.camera_reported.is_some_and(|(c, _)| c != vp.camera) {
            ui.ctx().request_repaint_after(REPORT_EVERY);
        }
        if let Some((node, point)) = out.picked {
            let to_world = periscope_render::world_to_display(vp.options().z_up).inverse();
            let point = point.map(|p| to_world.transform_point3(p).to_array());
            let node = node.and_then(|id| self.mirror.scene.node(id));
            let msg = periscope_scene::select_message(node, point);
            self.mirror.out.push(msg);
        }
        match out.screenshot {
            Some(Ok(image)) => match image.encode_png() {
                Ok(png) => {
                    self.say(
                        false,
                        format!("screenshot {}x{}: handed to the browser to download", image.width, image.height),
                    );
                    self.screenshots.push(png);
                }
                Err(e) => self.say(true, format!("screenshot not encoded: {e}")),
            },
            Some(Err(e)) => self.say(true, format!("screenshot failed: {e}")),
            None => {}
        }
    }

    fn token_window(&mut self, ctx: &egui::Context) {
        let Some(text) = &mut self.token_prompt else { return };
        let reason = match &self.session.phase {
            Phase::Refused(r) => r.clone(),
            _ => String::new(),
        };
        let mut submit = false;
        egui::Window::new("This hub needs a token")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                if !reason.is_empty() {
                    ui.colored_label(egui::Color32::LIGHT_RED, format!("Refused: {reason}"));
                }
                ui.label("The token is kept for this tab only. You can also open the page as …/#token=YOUR_TOKEN.");
                let r = ui.add(egui::TextEdit::singleline(text).password(true).hint_text("token"));
                submit =
                    ui.button("Connect").clicked() || (r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)));
            });
        if submit && !text.is_empty() {
            self.token = Some(std::mem::take(text));
            self.token_prompt = None;
            self.attempt = 0;
            self.connect();
        }
    }

    /// Where the connection is.
    pub fn phase(&self) -> &Phase {
        &self.session.phase
    }

    /// Draws the whole page.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        self.pump();
        self.local_playback(ui.ctx());
        let keys_free = !ui.ctx().egui_wants_keyboard_input();
        periscope_ui::playback::playback_keys(ui.ctx(), &mut self.mirror, keys_free);
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("playback").show(ui, |ui| periscope_ui::playback::playback_bar(ui, &mut self.mirror));
        if self.show_log {
            egui::Panel::bottom("log").resizable(true).default_size(110.0).show(ui, |ui| {
                egui::ScrollArea::vertical().stick_to_bottom(true).show(ui, |ui| {
                    for (error, line) in &self.log {
                        if *error {
                            ui.colored_label(egui::Color32::LIGHT_RED, line);
                        } else {
                            ui.label(line);
                        }
                    }
                });
            });
        }
        if self.show_side {
            egui::Panel::left("scene")
                .resizable(true)
                .default_size(280.0)
                .show(ui, |ui| periscope_ui::panels::scene_tree(ui, &mut self.mirror));
            egui::Panel::right("side").resizable(true).default_size(300.0).show(ui, |ui| {
                egui::ScrollArea::vertical().id_salt("side").show(ui, |ui| {
                    egui::CollapsingHeader::new("Controls").default_open(true).show(ui, |ui| {
                        self.controls.show(ui, &mut self.mirror);
                    });
                    egui::CollapsingHeader::new("Server").default_open(false).show(ui, |ui| {
                        let (color, text) = self.status(ui.visuals().dark_mode);
                        ui.colored_label(color, text);
                        ui.add_space(4.0);
                        periscope_ui::panels::hub_clients(ui, &self.mirror.scene);
                    });
                    if self.images.has_windows() {
                        egui::CollapsingHeader::new("Images").default_open(true).show(ui, |ui| {
                            self.images.show_docked(ui);
                        });
                    }
                });
            });
        }
        if let Phase::OverBudget(notice) = &self.session.phase {
            egui::Panel::top("notice").show(ui, |ui| {
                ui.colored_label(egui::Color32::from_rgb(230, 140, 40), notice.as_str());
            });
        }
        egui::CentralPanel::default().frame(egui::Frame::NONE).show(ui, |ui| self.central(ui));
        self.token_window(ui.ctx());
        for env in std::mem::take(&mut self.mirror.out) {
            self.send(env);
        }
        if let Some(t) = self.reconnect_at {
            ui.ctx().request_repaint_after(t.saturating_duration_since(Instant::now()));
        }
    }
}
