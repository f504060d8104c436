//! The page's side (wasm32 only): `start` (called by index.html) reads the
//! address, the renderer choice and the token, starts eframe's web runner on
//! the canvas, and connects a browser `WebSocket` to the hub that served the
//! page (`ws://` beside `http://`, `wss://` beside `https://`).
//!
//! For the page's tests, the body's `data-status`, `data-backend`,
//! `data-frames` and `data-bytes` attributes say where the view is
//! (connecting, viewing, refused: …, lost: …), what draws it, how many frames
//! showed a scene (up to 1,000) and how many bytes of array data its mirror
//! holds (the web benchmark waits for the whole scene with it);
//! `window.periscopeFramesDrawn` counts every frame the page drew (the web
//! benchmark's frame rate).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::app::{Backend, Link, SocketEvent, WebApp};
use crate::session::Phase;

/// Where the tab keeps the token (session storage: this tab only, gone when it closes).
const TOKEN_KEY: &str = "periscope-token";

type Handler = Closure<dyn FnMut(JsValue)>;

/// The browser `WebSocket` to the hub.
struct WsLink {
    url: String,
    ws: Option<web_sys::WebSocket>,
    inbox: Rc<RefCell<Vec<SocketEvent>>>,
    /// Events of an older socket are dropped.
    generation: Rc<RefCell<u64>>,
    ctx: egui::Context,
    handlers: Vec<Handler>,
    /// Messages larger than this are reported, not copied in.
    max_message: Rc<std::cell::Cell<u64>>,
    /// A token from the address (`#token=…`) typed after the page loaded.
    hash_token: Rc<RefCell<Option<String>>>,
    _on_hash: Handler,
}

impl WsLink {
    fn handler(&self, f: impl Fn(JsValue) -> Option<SocketEvent> + 'static) -> Handler {
        let (inbox, generation, ctx) = (Rc::clone(&self.inbox), Rc::clone(&self.generation), self.ctx.clone());
        let mine = *self.generation.borrow();
        Closure::wrap(Box::new(move |ev: JsValue| {
            if *generation.borrow() != mine {
                return;
            }
            if let Some(e) = f(ev) {
                inbox.borrow_mut().push(e);
                ctx.request_repaint();
            }
        }) as Box<dyn FnMut(JsValue)>)
    }

    fn close_old(&mut self) {
        *self.generation.borrow_mut() += 1;
        if let Some(ws) = self.ws.take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            let _ = ws.close();
        }
        self.handlers.clear();
    }
}

impl Link for WsLink {
    fn open(&mut self) {
        self.close_old();
        let ws = match web_sys::WebSocket::new(&self.url) {
            Ok(ws) => ws,
            Err(e) => {
                self.inbox.borrow_mut().push(SocketEvent::Closed(format!("cannot open {}: {e:?}", self.url)));
                return;
            }
        };
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let on_open = self.handler(|_| Some(SocketEvent::Open));
        let max = Rc::clone(&self.max_message);
        let on_message = self.handler(move |ev| {
            let data = ev.dyn_into::<web_sys::MessageEvent>().ok()?.data();
            let buf = data.dyn_into::<js_sys::ArrayBuffer>().ok()?;
            let len = u64::from(buf.byte_length());
            if len > max.get() {
                return Some(SocketEvent::TooLarge(len));
            }
            Some(SocketEvent::Message(js_sys::Uint8Array::new(&buf).to_vec()))
        });
        let on_close = self.handler(|ev| {
            let why = match ev.dyn_into::<web_sys::CloseEvent>() {
                Ok(c) if !c.reason().is_empty() => format!("closed: {} ({})", c.reason(), c.code()),
                Ok(c) => format!("closed ({})", c.code()),
                Err(_) => "closed".into(),
            };
            Some(SocketEvent::Closed(why))
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.handlers = vec![on_open, on_message, on_close];
        self.ws = Some(ws);
    }

    fn close(&mut self) {
        self.close_old();
    }

    fn set_max_message(&mut self, bytes: u64) {
        self.max_message.set(bytes);
    }

    fn drain(&mut self) -> Vec<SocketEvent> {
        std::mem::take(&mut *self.inbox.borrow_mut())
    }

    fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        let ws = self.ws.as_ref().ok_or("not connected")?;
        ws.send_with_u8_array(&bytes).map_err(|e| format!("{e:?}"))
    }

    fn buffered(&self) -> u64 {
        self.ws.as_ref().map_or(0, |ws| u64::from(ws.buffered_amount()))
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn new_token(&mut self) -> Option<String> {
        self.hash_token.borrow_mut().take()
    }

    fn remember_token(&mut self, token: &str) {
        if let Some(s) = session_storage() {
            let _ = s.set_item(TOKEN_KEY, token);
        }
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// A file dropped on the page, read (the browser reads files asynchronously).
type Dropped = Rc<RefCell<Vec<(String, Result<Vec<u8>, String>)>>>;

/// The app with the page's status attributes and its dropped files.
struct Shell {
    app: WebApp,
    shown: (String, u64, usize),
    /// Every frame drawn (`window.periscopeFramesDrawn`, for the web benchmark).
    drawn: f64,
    dropped: Dropped,
}

impl Shell {
    /// Starts reading the files dropped this frame; opens those read.
    fn files(&mut self, ctx: &egui::Context) {
        for f in ctx.input(|i| i.raw.dropped_files.clone()) {
            let name = f.path().display().to_string();
            // Refused before reading when the browser says it is too large.
            let size = f.web_file().map_or(0.0, |file| file.size());
            if size > self.app.budget() as f64 {
                self.app.file_too_large(&name, size);
                continue;
            }
            let (slot, ctx) = (Rc::clone(&self.dropped), ctx.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let read = f.bytes_async().await;
                slot.borrow_mut().push((name, read));
                ctx.request_repaint();
            });
        }
        let read = std::mem::take(&mut *self.dropped.borrow_mut());
        for (name, bytes) in read {
            match bytes {
                Ok(bytes) => self.app.open_file(&name, bytes),
                Err(e) => tracing::warn!("cannot read {name}: {e}"),
            }
        }
    }
}

impl eframe::App for Shell {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.files(ui.ctx());
        self.app.draw(ui);
        for png in self.app.take_screenshots() {
            // Named like the hub's own screenshots (`periscope-<unix seconds>.png`).
            let name = format!("periscope-{}.png", (js_sys::Date::now() / 1000.0) as u64);
            if let Err(e) = download(&name, &png, "image/png") {
                tracing::warn!("the screenshot could not be downloaded: {e:?}");
            }
        }
        self.drawn += 1.0;
        if let Some(w) = web_sys::window() {
            let _ =
                js_sys::Reflect::set(&w, &JsValue::from_str("periscopeFramesDrawn"), &JsValue::from_f64(self.drawn));
        }
        let status = match self.app.phase() {
            Phase::Connecting => "connecting".to_owned(),
            Phase::Viewing { .. } => "viewing".to_owned(),
            Phase::Refused(r) => format!("refused: {r}"),
            Phase::Lost(r) => format!("lost: {r}"),
            Phase::OverBudget(r) => format!("over budget: {r}"),
            Phase::Local(name) => format!("local: {name}"),
        };
        let state = (status, self.app.frames_with_scene.min(1000), self.app.scene_bytes);
        if state != self.shown {
            if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
                let _ = body.set_attribute("data-status", &state.0);
                let _ = body.set_attribute("data-frames", &state.1.to_string());
                let _ = body.set_attribute("data-bytes", &state.2.to_string());
            }
            self.shown = state;
        }
    }
}

/// Hands `bytes` to the browser as a download named `name` (a link to a
/// blob, clicked; the blob is released a minute later).
fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let link: web_sys::HtmlAnchorElement = window.document().ok_or("no document")?.create_element("a")?.dyn_into()?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    let release = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    window.set_timeout_with_callback_and_timeout_and_arguments_0(release.unchecked_ref(), 60_000)?;
    Ok(())
}

/// The token in the address (`#token=…`), removed from the address bar (and
/// from what a person copies from it); it never reaches a server's log.
fn token_from_hash() -> Result<Option<String>, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let loc = window.location();
    let hash = loc.hash()?;
    let from_hash = hash
        .strip_prefix("#token=")
        .map(|t| js_sys::decode_uri_component(t).ok().and_then(|s| s.as_string()).unwrap_or_else(|| t.to_owned()));
    if from_hash.is_some() {
        let path = format!("{}{}", loc.pathname()?, loc.search()?);
        let _ = window.history()?.replace_state_with_url(&JsValue::NULL, "", Some(&path));
    }
    Ok(from_hash)
}

/// The page's address pieces: the hub's WebSocket URL, the renderer asked
/// for, and the token from the address or from this tab's storage.
fn from_location() -> Result<(String, bool, Option<String>), JsValue> {
    let loc = web_sys::window().ok_or("no window")?.location();
    let scheme = if loc.protocol()? == "https:" { "wss" } else { "ws" };
    let url = format!("{scheme}://{}/", loc.host()?);
    let webgl2 = loc.search()?.contains("renderer=webgl2");
    let token = token_from_hash()?.or_else(|| session_storage().and_then(|s| s.get_item(TOKEN_KEY).ok().flatten()));
    Ok((url, webgl2, token))
}

/// Console output for `tracing` (no clock: `SystemTime` does not exist here).
struct Console;

impl std::io::Write for Console {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        web_sys::console::log_1(&String::from_utf8_lossy(buf).trim_end().into());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts the view on the canvas with id `canvas_id`.
#[wasm_bindgen]
pub async fn start(canvas_id: String) -> Result<(), JsValue> {
    let _ = tracing_subscriber::fmt().without_time().with_ansi(false).with_writer(|| Console).try_init();
    let (url, webgl2, token) = from_location()?;
    let canvas = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(&canvas_id))
        .ok_or("no canvas")?
        .dyn_into::<web_sys::HtmlCanvasElement>()?;
    let mut options = eframe::WebOptions::default();
    if webgl2 && let egui_wgpu::WgpuSetup::CreateNew(create) = &mut options.wgpu_options.wgpu_setup {
        create.instance_descriptor.backends = eframe::wgpu::Backends::GL;
    }
    let started = eframe::WebRunner::new()
        .start(
            canvas,
            options,
            Box::new(move |cc| {
                let rs = cc.wgpu_render_state.as_ref();
                let backend = rs.map(|rs| {
                    let info = rs.adapter.get_info();
                    let name = match info.backend {
                        eframe::wgpu::Backend::Gl => "WebGL2",
                        _ => "WebGPU",
                    };
                    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
                        let _ = body.set_attribute("data-backend", name);
                    }
                    Backend { name: name.to_owned(), adapter: format!("{} ({:?})", info.name, info.backend) }
                });
                let hash_token: Rc<RefCell<Option<String>>> = Rc::default();
                let on_hash = {
                    let (slot, ctx) = (Rc::clone(&hash_token), cc.egui_ctx.clone());
                    Closure::wrap(Box::new(move |_: JsValue| {
                        if let Ok(Some(t)) = token_from_hash() {
                            *slot.borrow_mut() = Some(t);
                            ctx.request_repaint();
                        }
                    }) as Box<dyn FnMut(JsValue)>)
                };
                if let Some(w) = web_sys::window() {
                    let _ = w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
                }
                let link = WsLink {
                    url,
                    ws: None,
                    inbox: Rc::default(),
                    generation: Rc::default(),
                    ctx: cc.egui_ctx.clone(),
                    handlers: Vec::new(),
                    max_message: Rc::new(std::cell::Cell::new(u64::MAX)),
                    hash_token,
                    _on_hash: on_hash,
                };
                let app = WebApp::new(Box::new(link), token, rs, backend);
                Ok(Box::new(Shell {
                    app,
                    shown: (String::new(), u64::MAX, usize::MAX),
                    drawn: 0.0,
                    dropped: Rc::default(),
                }))
            }),
        )
        .await;
    // index.html writes the error on the page, outside the canvas.
    started.map_err(|e| {
        let why = e.as_string().unwrap_or_else(|| format!("{e:?}"));
        JsValue::from_str(&format!(
            "this browser could start neither WebGPU nor WebGL2 ({why}). Try another browser, or turn on hardware \
             acceleration."
        ))
    })
}
