//! Remote-rendered images with camera feedback (the remote renderer workflow).
//!
//! A renderer sends `images` (type 306): one window per list index. Images are
//! newest-wins everywhere: in the server queue (a waiting `images` message is
//! replaced by a newer one), in the decoder (one waiting image per window) and
//! in the window (one texture, updated in place). A renderer that asked for the
//! camera (307) gets the window's camera (308) on request and whenever the user
//! moves it, throttled to 100 Hz, newest wins.
//!
//! Decoded images are bounded in memory ([`Budget`]): before an image is
//! decoded, its size (array shape, or the JPEG/PNG header) is checked against
//! the client's share and the total (`[images] max_decoded_mb_per_client`,
//! `max_decoded_mb`), so a decompression bomb is refused without allocating;
//! a message has at most [`decode::MAX_WINDOWS`] images.

pub mod camera;
mod decode;
pub mod window;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use periscope_dispatch::Outbox;
use periscope_protocol::{
    CameraRequest, CameraStream, CameraTarget, Envelope, ImageWindowState, ImagesState, MessageType, RendererState,
    Reply, Request, Value, ViewportState,
};
use periscope_render::{Background, Camera};

pub use camera::CameraModel;
use decode::Decoder;
pub use decode::{Decoded, ImageKey, SourceCamera, VIEWPORT_INDEX, Wake};

/// The least time between two camera messages to one client (100 Hz).
const CAMERA_INTERVAL: Duration = Duration::from_millis(10);
/// Camera size reported before the renderer's first window exists.
const DEFAULT_SIZE: [u32; 2] = [640, 480];
/// Camera send times kept for round-trip latency.
const SENT_HISTORY: usize = 64;
/// The camera counts as moving until it has been still this long; then one
/// full-resolution camera follows.
const SETTLE: Duration = Duration::from_millis(150);
/// The render scale is adjusted at most this often while moving.
const ADAPT_INTERVAL: Duration = Duration::from_millis(100);
/// Smallest side of an adaptive camera, in pixels.
const MIN_SIDE: f32 = 16.0;
/// While the decoder works, the loop looks for its results this often (the
/// window is also woken by the decoder; headless mode is not).
const DECODE_POLL: Duration = Duration::from_millis(2);
/// A client's refusals for the memory budget are logged at most this often
/// (each one is still answered).
const LIMIT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What decoded images may hold, per client and in total: each window's (and
/// main-view image's) newest accepted image counts its decoded size (RGBA8,
/// plus depth), reserved before decoding from the size the array or header
/// declares. A newer image for a window replaces that window's share.
#[derive(Debug)]
pub struct Budget {
    /// Most bytes all clients' images may hold (`[images] max_decoded_mb`).
    pub total_limit: usize,
    /// Most bytes one client's images may hold (`[images] max_decoded_mb_per_client`).
    pub client_limit: usize,
    held: HashMap<ImageKey, usize>,
    per_client: HashMap<u64, usize>,
    total: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(1024, 256)
    }
}

impl Budget {
    /// Limits in mebibytes.
    pub fn new(total_mb: usize, client_mb: usize) -> Self {
        Self {
            total_limit: total_mb.saturating_mul(1 << 20),
            client_limit: client_mb.saturating_mul(1 << 20),
            held: HashMap::new(),
            per_client: HashMap::new(),
            total: 0,
        }
    }

    /// Bytes held by all clients' images.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Reserves room for `images` of `client` (each replacing what its window
    /// holds), all or none; the error names the first image that does not fit
    /// (its position in `images`) and the limit.
    fn reserve(&mut self, client: u64, images: &[(ImageKey, usize)]) -> Result<(), (usize, String)> {
        let mut mine = self.per_client.get(&client).copied().unwrap_or(0);
        let mut total = self.total;
        for (i, &(key, bytes)) in images.iter().enumerate() {
            let old = self.held.get(&key).copied().unwrap_or(0);
            mine = mine.saturating_sub(old).saturating_add(bytes);
            total = total.saturating_sub(old).saturating_add(bytes);
            let over = if mine > self.client_limit {
                Some(("this client's images", mine, "max_decoded_mb_per_client", self.client_limit))
            } else if total > self.total_limit {
                Some(("all clients' images", total, "max_decoded_mb", self.total_limit))
            } else {
                None
            };
            if let Some((whose, would, key, limit)) = over {
                return Err((
                    i,
                    format!(
                        "decoded it takes {}; {whose} would hold {}, more than [images] {key} ({})",
                        decode::mib(bytes),
                        decode::mib(would),
                        decode::mib(limit)
                    ),
                ));
            }
        }
        for &(key, bytes) in images {
            self.held.insert(key, bytes);
        }
        self.per_client.insert(client, mine);
        self.total = total;
        Ok(())
    }

    /// Frees one window's share (the main-view image was cleared).
    fn release(&mut self, key: ImageKey) {
        if let Some(bytes) = self.held.remove(&key) {
            self.total = self.total.saturating_sub(bytes);
            if let Some(m) = self.per_client.get_mut(&key.0) {
                *m = m.saturating_sub(bytes);
            }
        }
    }

    /// Frees everything a client's images held (it left).
    fn release_client(&mut self, client: u64) {
        self.held.retain(|k, _| k.0 != client);
        if let Some(m) = self.per_client.remove(&client) {
            self.total = self.total.saturating_sub(m);
        }
    }
}

/// One image window's state.
pub struct ImageWindow {
    pub key: ImageKey,
    pub width: usize,
    pub height: usize,
    pub format: &'static str,
    /// Images that arrived for this window (including dropped ones).
    pub received: u64,
    /// Images decoded (what the window could show).
    pub decoded: u64,
    /// Images replaced by newer ones before they were shown, or refused while paused.
    pub dropped: u64,
    pub errors: u64,
    /// `seq` of the newest decoded image.
    pub last_seq: Option<u64>,
    /// Decoded images per second (smoothed).
    pub fps: f32,
    /// Milliseconds the last decode took.
    pub decode_ms: f32,
    /// Arrival to ready-to-show, in milliseconds (smoothed): the viewer's own latency.
    pub latency_ms: Option<f32>,
    /// Camera sent to the first image rendered from it (cited as `camera_seq`)
    /// ready to show, in milliseconds: the renderer round trip (smoothed).
    pub camera_rtt_ms: Option<f32>,
    /// The newest camera a round trip was measured for.
    rtt_seq: u64,
    last_decoded_at: Option<Instant>,
    /// The newest decoded image, not yet uploaded to a texture.
    pub pending: Option<Decoded>,
    pub texture: Option<eframe::egui::TextureHandle>,
    /// Shown in the side panel instead of a floating window.
    pub docked: bool,
}

impl ImageWindow {
    fn new(key: ImageKey) -> Self {
        Self {
            key,
            width: 0,
            height: 0,
            format: "",
            received: 0,
            decoded: 0,
            dropped: 0,
            errors: 0,
            last_seq: None,
            fps: 0.0,
            decode_ms: 0.0,
            latency_ms: None,
            camera_rtt_ms: None,
            rtt_seq: 0,
            last_decoded_at: None,
            pending: None,
            texture: None,
            docked: false,
        }
    }
}

/// A renderer client's camera and reading state.
pub struct RendererClient {
    pub name: String,
    pub camera: Camera,
    /// The renderer asked for the camera (307).
    pub require_camera: bool,
    /// False after a `single` image until "Read remote".
    pub reading: bool,
    /// The user paused this renderer's images.
    pub paused: bool,
    /// Drawable size of the client's first window (or of the main view): the size it should render at.
    pub size: [u32; 2],
    /// Whose camera it gets: its windows' or the main view's.
    pub target: CameraTarget,
    /// Fraction of `size` asked for while the camera moves (adaptive resolution).
    pub scale: f32,
    /// When the camera last moved.
    last_move: Option<Instant>,
    scale_at: Option<Instant>,
    /// The last camera sent said `moving: true`.
    sent_moving: bool,
    /// The last camera sent, for main-view images that do not say theirs.
    pub last_source: Option<SourceCamera>,
    seq: u64,
    dirty: bool,
    last_sent: Option<Instant>,
    sent_at: VecDeque<(u64, Instant)>,
    /// When a refusal for the memory budget was last logged, and how many
    /// were answered without a log line since.
    limit_logged: Option<Instant>,
    limit_quiet: u64,
}

impl RendererClient {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            camera: Camera::default(),
            require_camera: false,
            reading: true,
            paused: false,
            size: DEFAULT_SIZE,
            target: CameraTarget::Windows,
            scale: 1.0,
            last_move: None,
            scale_at: None,
            sent_moving: false,
            last_source: None,
            seq: 0,
            dirty: false,
            last_sent: None,
            sent_at: VecDeque::new(),
            limit_logged: None,
            limit_quiet: 0,
        }
    }
}

/// A renderer's image in the main view.
pub struct ViewportImage {
    pub background: Arc<Background>,
    pub decoded: u64,
    pub errors: u64,
    /// Decoded images per second (smoothed).
    pub fps: f32,
    last_decoded_at: Option<Instant>,
}

/// Every renderer's windows and cameras.
pub struct ImageHub {
    decoder: Decoder,
    wake: Arc<Mutex<Option<Wake>>>,
    pub windows: BTreeMap<ImageKey, ImageWindow>,
    pub clients: BTreeMap<u64, RendererClient>,
    /// Camera matrices are in world coordinates: with z up, the display space is rotated.
    pub z_up: bool,
    /// Images drawn into the main view, per renderer client.
    pub viewport: BTreeMap<u64, ViewportImage>,
    /// Bumped when `viewport` changes (the renderer uploads again).
    pub viewport_version: u64,
    /// The main view's camera and size (for renderers that asked for it).
    view: (Camera, [u32; 2]),
    /// Renderers are asked for smaller images while the camera moves so that
    /// they keep about this many frames per second (`[images] target_fps`).
    pub target_fps: f32,
    /// The smallest fraction of the full size asked for (`[images] min_scale`).
    pub min_scale: f32,
    /// What decoded images may hold.
    pub budget: Budget,
}

impl ImageHub {
    pub fn new(z_up: bool) -> Self {
        let wake: Arc<Mutex<Option<Wake>>> = Arc::default();
        Self {
            decoder: Decoder::new(Arc::clone(&wake)),
            wake,
            windows: BTreeMap::new(),
            clients: BTreeMap::new(),
            z_up,
            viewport: BTreeMap::new(),
            viewport_version: 0,
            view: (Camera::default(), DEFAULT_SIZE),
            target_fps: 30.0,
            min_scale: 0.25,
            budget: Budget::default(),
        }
    }

    /// The images for the main view, in client order.
    pub fn backgrounds(&self) -> Vec<Arc<Background>> {
        self.viewport.values().map(|v| Arc::clone(&v.background)).collect()
    }

    /// Follows the main view's camera and size for renderers that draw into it.
    pub fn set_view(&mut self, camera: Camera, size: (u32, u32)) {
        let size = [size.0.max(1), size.1.max(1)];
        self.view = (camera, size);
        let now = Instant::now();
        for c in self.clients.values_mut().filter(|c| c.target == CameraTarget::Viewport) {
            if c.camera != camera {
                c.camera = camera;
                c.dirty = true;
                c.last_move = Some(now);
            }
            if c.size != size {
                c.size = size;
                c.dirty = true;
            }
        }
    }

    /// Sets the function called when a decoded image is ready (the window repaints).
    pub fn set_wake(&self, wake: Wake) {
        *self.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(wake);
    }

    fn client(&mut self, id: u64, name: &str) -> &mut RendererClient {
        self.clients.entry(id).or_insert_with(|| RendererClient::new(name))
    }

    /// Handles an image request from `client`; `coalesced` counts earlier
    /// `images` messages this one replaced in the queue. An error is for the sender.
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &mut self,
        client: u64,
        name: &str,
        env: &Envelope,
        request: &Request,
        coalesced: u32,
        received: Instant,
        out: &dyn Outbox,
    ) -> Result<(), String> {
        match *request {
            Request::Images => self.images(client, name, env, coalesced, received, out),
            Request::ViewportImage => {
                let last = self.client(client, name).last_source.clone();
                let img = decode::parse_viewport(client, env, received, last.as_ref())
                    .map_err(|e| format!("viewport_image: {e}"))?;
                let kind = MessageType::ViewportImage.as_i64();
                if let Err((_, e)) = self.budget.reserve(client, &[(img.key, img.decoded_bytes())]) {
                    self.refuse(client, env.seq, kind, format!("viewport_image: field \"image\": {e}"), out);
                    return Ok(());
                }
                self.decoder.push(img);
                Ok(())
            }
            Request::ClearViewport => {
                if self.viewport.remove(&client).is_some() {
                    self.viewport_version += 1;
                }
                self.budget.release((client, VIEWPORT_INDEX));
                Ok(())
            }
            Request::RequireCamera { enabled, target } => {
                let view = self.view;
                let c = self.client(client, name);
                c.require_camera = enabled;
                if c.target != target {
                    c.target = target;
                    c.last_source = None;
                }
                if target == CameraTarget::Viewport {
                    (c.camera, c.size) = view;
                }
                if enabled {
                    // Answer the request right away, then on every change.
                    c.dirty = true;
                    c.last_sent = None;
                }
                Ok(())
            }
            Request::ReadRemote { client_id } => {
                self.read_remote(client_id);
                Ok(())
            }
            Request::QueryImages => {
                out.send(client, self.state(env.seq));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn images(
        &mut self,
        client: u64,
        name: &str,
        env: &Envelope,
        coalesced: u32,
        received: Instant,
        out: &dyn Outbox,
    ) -> Result<(), String> {
        let images = decode::parse(client, env, received)?;
        let single = env.kwarg("single").and_then(Value::as_bool).unwrap_or(false);
        let c = self.client(client, name);
        let accept = c.reading && !c.paused;
        if accept {
            // Room for every image of the message, before any is decoded (or none is shown).
            let sizes: Vec<(ImageKey, usize)> = images.iter().map(|i| (i.key, i.decoded_bytes())).collect();
            if let Err((i, e)) = self.budget.reserve(client, &sizes) {
                let (w, h) = images[i].size.unwrap_or((0, 0));
                let message = format!("images[{}]: {w}x{h}: {e}", images[i].key.1);
                self.refuse(client, env.seq, MessageType::Images.as_i64(), message, out);
                return Ok(());
            }
        }
        let c = self.client(client, name);
        if accept && single {
            c.reading = false;
        }
        for img in images {
            let w = self.windows.entry(img.key).or_insert_with(|| ImageWindow::new(img.key));
            w.received += 1 + u64::from(coalesced);
            w.dropped += u64::from(coalesced);
            if !accept {
                w.dropped += 1;
                continue;
            }
            if self.decoder.push(img) {
                w.dropped += 1;
            }
        }
        Ok(())
    }

    /// Answers a refusal for the memory budget (code `limit`) and logs it, at
    /// most every [`LIMIT_LOG_INTERVAL`] per client (a renderer sending 60
    /// refused frames a second makes one line, not 60).
    fn refuse(&mut self, client: u64, seq: Option<u64>, kind: i64, message: String, out: &dyn Outbox) {
        let now = Instant::now();
        if let Some(c) = self.clients.get_mut(&client) {
            if c.limit_logged.is_none_or(|t| now.duration_since(t) >= LIMIT_LOG_INTERVAL) {
                let quiet = std::mem::take(&mut c.limit_quiet);
                let more =
                    if quiet > 0 { format!(" ({quiet} more refused since the last line)") } else { String::new() };
                tracing::warn!(client, "{message}{more}");
                c.limit_logged = Some(now);
            } else {
                c.limit_quiet += 1;
            }
        }
        out.send(client, Reply::error(seq, Some(kind), None, "limit", message));
    }

    /// Resumes reading images (after `single`), for one client or all.
    pub fn read_remote(&mut self, only: Option<u64>) {
        for (id, c) in &mut self.clients {
            if only.is_none_or(|o| o == *id) {
                c.reading = true;
            }
        }
    }

    /// Moves a renderer's camera (the user dragged in its window).
    pub fn set_camera(&mut self, client: u64, camera: Camera) {
        if let Some(c) = self.clients.get_mut(&client)
            && c.camera != camera
        {
            c.camera = camera;
            c.dirty = true;
            c.last_move = Some(Instant::now());
        }
    }

    /// Records the drawable size of a renderer's first window.
    pub fn set_size(&mut self, client: u64, size: [u32; 2]) {
        if let Some(c) = self.clients.get_mut(&client)
            && c.size != size
        {
            c.size = size;
            c.dirty = true;
        }
    }

    /// A renderer left: its windows close and its image leaves the main view.
    /// Drops every client's images (a view connected to a hub again).
    pub fn clear_clients(&mut self) {
        let mut ids: Vec<u64> = self.clients.keys().copied().collect();
        ids.extend(self.windows.keys().map(|k| k.0));
        ids.extend(self.viewport.keys().copied());
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.client_disconnected(id);
        }
    }

    pub fn client_disconnected(&mut self, client: u64) {
        self.clients.remove(&client);
        self.budget.release_client(client);
        self.windows.retain(|k, _| k.0 != client);
        if self.viewport.remove(&client).is_some() {
            self.viewport_version += 1;
        }
    }

    /// A decoded main-view image: drawn with the camera it was rendered from
    /// (intrinsics scaled when the image has another size than that camera).
    fn viewport_image(&mut self, mut d: Decoded, now: Instant) {
        let key = d.key;
        let Some(background) = periscope_ui::images::viewport_background(&mut d, self.z_up) else { return };
        let background = Arc::new(background);
        let v = self.viewport.entry(key.0).or_insert_with(|| ViewportImage {
            background: Arc::clone(&background),
            decoded: 0,
            errors: 0,
            fps: 0.0,
            last_decoded_at: None,
        });
        if let Some(prev) = v.last_decoded_at {
            let dt = now.duration_since(prev).as_secs_f32().max(1e-4);
            v.fps = if v.fps == 0.0 { 1.0 / dt } else { v.fps * 0.8 + 0.2 / dt };
        }
        v.last_decoded_at = Some(now);
        v.decoded += 1;
        v.background = background;
        self.viewport_version += 1;
    }

    /// How many images per second `client` delivers now: its best window or
    /// its main-view image, counting the time since the last one (a renderer
    /// that stopped keeping up reads as slow at once). `None` before any image.
    fn renderer_fps(&self, client: u64, now: Instant) -> Option<f32> {
        let rate = |fps: f32, last: Option<Instant>| {
            last.map(|t| fps.min(1.0 / now.duration_since(t).as_secs_f32().max(1e-3)))
        };
        let windows =
            self.windows.values().filter(|w| w.key.0 == client).filter_map(|w| rate(w.fps, w.last_decoded_at));
        let view = self.viewport.get(&client).and_then(|v| rate(v.fps, v.last_decoded_at));
        windows.chain(view).reduce(f32::max)
    }

    /// Takes decoded images into their windows, reports decoding failures to
    /// their senders, and sends cameras that changed. Returns when to call
    /// again for a throttled camera.
    pub fn poll(&mut self, out: &dyn Outbox) -> Option<Duration> {
        let now = Instant::now();
        for result in self.decoder.take() {
            match result {
                // A client that left meanwhile: its image is not shown (its share was freed).
                Ok(d) if !self.clients.contains_key(&d.key.0) => {}
                Ok(d) if d.key.1 == VIEWPORT_INDEX => self.viewport_image(d, now),
                Ok(d) => {
                    let Some(w) = self.windows.get_mut(&d.key) else { continue };
                    let smooth = |old: Option<f32>, new: f32| Some(old.map_or(new, |o| o * 0.8 + new * 0.2));
                    let latency = now.duration_since(d.received).as_secs_f32() * 1000.0;
                    w.latency_ms = smooth(w.latency_ms, latency);
                    // Only the first image from a newer camera measures the round trip.
                    if let Some(seq) = d.camera_seq.filter(|s| *s > w.rtt_seq)
                        && let Some(&(_, sent)) =
                            self.clients.get(&d.key.0).and_then(|c| c.sent_at.iter().find(|(q, _)| *q == seq))
                    {
                        w.rtt_seq = seq;
                        w.camera_rtt_ms = smooth(w.camera_rtt_ms, now.duration_since(sent).as_secs_f32() * 1000.0);
                    }
                    if let Some(prev) = w.last_decoded_at {
                        let dt = now.duration_since(prev).as_secs_f32().max(1e-4);
                        w.fps = if w.fps == 0.0 { 1.0 / dt } else { w.fps * 0.8 + 0.2 / dt };
                    }
                    w.last_decoded_at = Some(now);
                    (w.width, w.height, w.format, w.decode_ms) = (d.width, d.height, d.format, d.decode_ms);
                    w.last_seq = d.seq;
                    w.decoded += 1;
                    if w.pending.replace(d).is_some() {
                        // Decoded but replaced before the window showed it.
                        w.dropped += 1;
                    }
                }
                Err((img, e)) if img.key.1 == VIEWPORT_INDEX => {
                    // The view keeps the last good image.
                    if let Some(v) = self.viewport.get_mut(&img.key.0) {
                        v.errors += 1;
                    }
                    let (seq, kind) = (img.seq, MessageType::ViewportImage.as_i64());
                    let message = format!("viewport_image: {e}");
                    tracing::warn!(client = img.key.0, "{message}");
                    out.send(img.key.0, Reply::error(seq, Some(kind), None, "bad_image", message));
                }
                Err((img, e)) => {
                    if let Some(w) = self.windows.get_mut(&img.key) {
                        w.errors += 1;
                    }
                    let message = format!("images[{}]: {e}", img.key.1);
                    let reply = Reply::error(img.seq, Some(MessageType::Images.as_i64()), None, "bad_image", message);
                    out.send(img.key.0, reply);
                }
            }
        }
        let mut again: Option<Duration> = self.decoder.busy().then_some(DECODE_POLL);
        // The renderers' rates, only for cameras that are moving (adaptive resolution).
        let moving =
            |c: &RendererClient| c.require_camera && c.last_move.is_some_and(|t| now.duration_since(t) < SETTLE);
        let fps: BTreeMap<u64, Option<f32>> =
            self.clients.iter().filter(|(_, c)| moving(c)).map(|(id, _)| (*id, self.renderer_fps(*id, now))).collect();
        let (target_fps, min_scale) = (self.target_fps.max(1.0), self.min_scale.clamp(0.01, 1.0));
        for (id, c) in &mut self.clients {
            let moving = c.last_move.is_some_and(|t| now.duration_since(t) < SETTLE);
            if c.require_camera && moving {
                // Look again when it settles, for the full-resolution camera.
                let left = SETTLE - now.duration_since(c.last_move.expect("moving"));
                again = Some(again.map_or(left, |a| a.min(left)));
            }
            if c.sent_moving && !moving {
                c.dirty = true;
            }
            if !(c.require_camera && c.dirty) {
                continue;
            }
            if let Some(last) = c.last_sent
                && now.duration_since(last) < CAMERA_INTERVAL
            {
                let wait = CAMERA_INTERVAL - now.duration_since(last);
                again = Some(again.map_or(wait, |a| a.min(wait)));
                continue;
            }
            // Adaptive resolution: while the camera moves, ask for an image
            // small enough for the renderer to keep `target_fps`.
            if moving
                && c.scale_at.is_none_or(|t| now.duration_since(t) >= ADAPT_INTERVAL)
                && let Some(Some(f)) = fps.get(id)
            {
                c.scale_at = Some(now);
                if *f < target_fps * 0.9 {
                    c.scale = (c.scale * (f / target_fps).sqrt().clamp(0.5, 0.95)).max(min_scale);
                } else if *f > target_fps * 1.3 {
                    c.scale = (c.scale * 1.1).min(1.0);
                }
            }
            let scale = if moving { c.scale } else { 1.0 };
            let side = |n: u32| ((n as f32 * scale).round().max(MIN_SIDE) as u32).min(n.max(1));
            let model = CameraModel::new(&c.camera, self.z_up, side(c.size[0]), side(c.size[1]));
            let reply = Reply::Camera(CameraRequest {
                seq: c.seq + 1,
                params: model.params(),
                stream: Some(CameraStream {
                    moving,
                    full_width: c.size[0],
                    full_height: c.size[1],
                    target: c.target.name().to_owned(),
                }),
            });
            // A full outbox (the renderer is not reading) keeps it dirty: the newest goes next time.
            if out.send(*id, reply) {
                c.seq += 1;
                c.dirty = false;
                c.sent_moving = moving;
                c.last_source = Some(SourceCamera::from(&model));
                c.last_sent = Some(now);
                if c.sent_at.len() >= SENT_HISTORY {
                    c.sent_at.pop_front();
                }
                c.sent_at.push_back((c.seq, now));
            } else {
                again = Some(again.map_or(CAMERA_INTERVAL, |a| a.min(CAMERA_INTERVAL)));
            }
        }
        again
    }

    /// The answer to `query_images` (310).
    pub fn state(&self, ref_seq: Option<u64>) -> Reply {
        let windows = self
            .windows
            .values()
            .map(|w| ImageWindowState {
                client_id: w.key.0,
                index: w.key.1 as u64,
                width: w.width as u64,
                height: w.height as u64,
                format: w.format.to_owned(),
                received: w.received,
                decoded: w.decoded,
                dropped: w.dropped,
                errors: w.errors,
                last_seq: w.last_seq,
                fps: w.fps,
                latency_ms: w.latency_ms,
                camera_rtt_ms: w.camera_rtt_ms,
            })
            .collect();
        let clients = self
            .clients
            .iter()
            .map(|(id, c)| RendererState {
                client_id: *id,
                name: c.name.clone(),
                require_camera: c.require_camera,
                reading: c.reading,
                paused: c.paused,
                width: c.size[0],
                height: c.size[1],
                camera_seq: c.seq,
                target: c.target.name().to_owned(),
                scale: c.scale,
            })
            .collect();
        let viewport = self
            .viewport
            .iter()
            .map(|(id, v)| ViewportState {
                client_id: *id,
                width: v.background.width,
                height: v.background.height,
                depth: v.background.depth.is_some(),
                decoded: v.decoded,
                errors: v.errors,
                fps: v.fps,
            })
            .collect();
        Reply::ImagesState(ImagesState { ref_seq, windows, clients, viewport })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_each_windows_newest_image_per_client_and_in_total() {
        const MB: usize = 1 << 20;
        let mut b = Budget::new(10, 4);
        b.reserve(1, &[((1, 0), 2 * MB), ((1, 1), 2 * MB)]).unwrap();
        // A newer image for a window replaces its share.
        b.reserve(1, &[((1, 0), MB)]).unwrap();
        assert_eq!(b.total(), 3 * MB);
        // Over the client's share: refused whole, naming the image, nothing reserved.
        let (i, e) = b.reserve(1, &[((1, 2), MB / 2), ((1, 3), MB)]).unwrap_err();
        assert_eq!(i, 1);
        assert!(e.contains("max_decoded_mb_per_client (4.0 MiB)"), "{e}");
        assert_eq!(b.total(), 3 * MB);
        b.reserve(2, &[((2, 0), 4 * MB)]).unwrap();
        b.reserve(3, &[((3, VIEWPORT_INDEX), 3 * MB)]).unwrap();
        let (_, e) = b.reserve(4, &[((4, 0), MB)]).unwrap_err();
        assert!(
            e.contains("all clients' images would hold 11.0 MiB, more than [images] max_decoded_mb (10.0 MiB)"),
            "{e}"
        );
        b.release((3, VIEWPORT_INDEX));
        b.release_client(2);
        assert_eq!(b.total(), 3 * MB);
        b.reserve(4, &[((4, 0), 4 * MB)]).unwrap();
    }
}
