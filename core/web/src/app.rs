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
    Closed(String),
}

/// The page's connection to the hub.
pub trait Link {
    /// Opens a new socket (closing any old one).
    fn open(&mut self);
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
    show_side: bool,
    show_log: bool,
    /// Frames drawn with something in the scene (the page's tests wait for one).
    pub frames_with_scene: u64,
    /// Bytes of array data the mirror holds, updated as changes are applied
    /// (the page's `data-bytes`: the web benchmark waits for the whole scene).
    pub scene_bytes: usize,
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
        let name = "browser".to_owned();
        let viewport = render_state.map(|rs| {
            let mut vp = Viewport::new(rs, RenderOptions::default());
            vp.set_async_pick(true);
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
            show_side: true,
            show_log: false,
            frames_with_scene: 0,
            scene_bytes: 0,
        };
        app.connect();
        app
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
                SocketEvent::Closed(reason) => self.closed(reason),
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
        if let Phase::Refused(_) = self.session.phase {
            return; // the refusal stays on the page; no reconnecting with the same token
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
            Incoming::Welcome { client_id } => {
                self.attempt = 0;
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
        if let Err(e) = self.mirror.scene.apply_changes(changes) {
            self.say(true, format!("the view missed a change ({e}): asking the hub for a snapshot"));
            self.send(resync_message());
        }
        self.scene_bytes = self.mirror.scene.nodes().map(|n| n.data_bytes()).sum();
    }

    fn send(&mut self, env: Envelope) {
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

    fn status(&self) -> (egui::Color32, String) {
        match &self.session.phase {
            Phase::Connecting => (egui::Color32::YELLOW, format!("connecting to {}", self.link.url())),
            Phase::Viewing { client_id } => {
                (egui::Color32::LIGHT_GREEN, format!("connected to {} (view #{client_id})", self.link.url()))
            }
            Phase::Refused(reason) => (egui::Color32::LIGHT_RED, format!("refused: {reason}")),
            Phase::Lost(reason) => (egui::Color32::LIGHT_RED, format!("disconnected — reconnecting ({reason})")),
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("Periscope");
            ui.separator();
            let (color, text) = self.status();
            ui.colored_label(color, text);
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
                    if self.images.has_windows() {
                        egui::CollapsingHeader::new("Images").default_open(true).show(ui, |ui| {
                            self.images.show_docked(ui);
                        });
                    }
                });
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
