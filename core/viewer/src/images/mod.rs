//! Remote-rendered images with camera feedback (the remote renderer workflow).
//!
//! A renderer sends `images` (type 306): one window per list index. Images are
//! newest-wins everywhere: in the server queue (a waiting `images` message is
//! replaced by a newer one), in the decoder (one waiting image per window) and
//! in the window (one texture, updated in place). A renderer that asked for the
//! camera (307) gets the window's camera (308) on request and whenever the user
//! moves it, throttled to 100 Hz, newest wins.

pub mod camera;
mod decode;
pub mod window;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use periscope_dispatch::Outbox;
use periscope_protocol::{Envelope, MessageType, Reply, Request, Value};
use periscope_render::Camera;

pub use camera::CameraModel;
use decode::Decoder;
pub use decode::{Decoded, ImageKey, Wake};

/// The least time between two camera messages to one client (100 Hz).
const CAMERA_INTERVAL: Duration = Duration::from_millis(10);
/// Camera size reported before the renderer's first window exists.
const DEFAULT_SIZE: [u32; 2] = [640, 480];
/// Camera send times kept for round-trip latency.
const SENT_HISTORY: usize = 64;

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
    /// Drawable size of the client's first window: the size it should render at.
    pub size: [u32; 2],
    seq: u64,
    dirty: bool,
    last_sent: Option<Instant>,
    sent_at: VecDeque<(u64, Instant)>,
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
            seq: 0,
            dirty: false,
            last_sent: None,
            sent_at: VecDeque::new(),
        }
    }
}

/// Every renderer's windows and cameras.
pub struct ImageHub {
    decoder: Decoder,
    wake: Arc<Mutex<Option<Wake>>>,
    pub windows: BTreeMap<ImageKey, ImageWindow>,
    pub clients: BTreeMap<u64, RendererClient>,
    /// Camera matrices are in world coordinates: with z up, the display space is rotated.
    pub z_up: bool,
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
            Request::Images => self.images(client, name, env, coalesced, received),
            Request::RequireCamera { enabled } => {
                let c = self.client(client, name);
                c.require_camera = enabled;
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
    ) -> Result<(), String> {
        let images = decode::parse(client, env, received)?;
        let single = env.kwarg("single").and_then(Value::as_bool).unwrap_or(false);
        let c = self.client(client, name);
        let accept = c.reading && !c.paused;
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

    /// A renderer left: its windows close.
    pub fn client_disconnected(&mut self, client: u64) {
        self.clients.remove(&client);
        self.windows.retain(|k, _| k.0 != client);
    }

    /// Takes decoded images into their windows, reports decoding failures to
    /// their senders, and sends cameras that changed. Returns when to call
    /// again for a throttled camera.
    pub fn poll(&mut self, out: &dyn Outbox) -> Option<Duration> {
        let now = Instant::now();
        for result in self.decoder.take() {
            match result {
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
                Err((img, e)) => {
                    if let Some(w) = self.windows.get_mut(&img.key) {
                        w.errors += 1;
                    }
                    let message = format!("image {}: {e}", img.key.1);
                    let reply = Reply::error(img.seq, Some(MessageType::Images.as_i64()), None, "bad_image", message);
                    out.send(img.key.0, reply);
                }
            }
        }
        let mut again: Option<Duration> = None;
        for (id, c) in &mut self.clients {
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
            let model = CameraModel::new(&c.camera, self.z_up, c.size[0], c.size[1]);
            // A full outbox (the renderer is not reading) keeps it dirty: the newest goes next time.
            if out.send(*id, model.reply(c.seq + 1)) {
                c.seq += 1;
                c.dirty = false;
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
            .map(|w| {
                Value::map([
                    ("client_id", Value::from(w.key.0)),
                    ("index", Value::from(w.key.1)),
                    ("width", Value::from(w.width)),
                    ("height", Value::from(w.height)),
                    ("format", Value::from(w.format)),
                    ("received", Value::from(w.received)),
                    ("decoded", Value::from(w.decoded)),
                    ("dropped", Value::from(w.dropped)),
                    ("errors", Value::from(w.errors)),
                    ("last_seq", w.last_seq.map_or(Value::Nil, Value::from)),
                    ("fps", Value::from(w.fps)),
                    ("latency_ms", w.latency_ms.map_or(Value::Nil, Value::from)),
                    ("camera_rtt_ms", w.camera_rtt_ms.map_or(Value::Nil, Value::from)),
                ])
            })
            .collect();
        let clients = self
            .clients
            .iter()
            .map(|(id, c)| {
                Value::map([
                    ("client_id", Value::from(*id)),
                    ("name", Value::from(c.name.as_str())),
                    ("require_camera", Value::from(c.require_camera)),
                    ("reading", Value::from(c.reading)),
                    ("paused", Value::from(c.paused)),
                    ("width", Value::from(u64::from(c.size[0]))),
                    ("height", Value::from(u64::from(c.size[1]))),
                    ("camera_seq", Value::from(c.seq)),
                ])
            })
            .collect();
        Reply::Other {
            kind: MessageType::ImagesState.as_i64(),
            fields: vec![
                ("ref_seq".into(), ref_seq.map_or(Value::Nil, Value::from)),
                ("windows".into(), Value::Array(windows)),
                ("clients".into(), Value::Array(clients)),
            ],
        }
    }
}
