//! Rust client for the Periscope viewer.
//!
//! Mirrors the Python client (`clients/python`): connect, create nodes,
//! add/update/remove frames, move the playhead, send custom messages and read
//! what the viewer sends back.
//!
//! ```no_run
//! use periscope_client::{Viewer, kw};
//! use periscope_protocol::NdArray;
//!
//! let mut v = Viewer::connect("127.0.0.1:8417", "example")?;
//! let vertices = NdArray::from_f32(vec![3, 3], vec![0., 0., 0., 1., 0., 0., 0., 1., 0.]);
//! let faces = NdArray::from_i64(vec![1, 3], vec![0, 1, 2]);
//! let mesh = v.meshes(vertices, faces, vec![kw("name", "triangle")])?;
//! v.set_frame(0)?;
//! let state = v.query()?;
//! assert!(state.nodes.iter().any(|n| n.uid == Some(mesh)));
//! # Ok::<(), periscope_client::ClientError>(())
//! ```

mod controls;
mod stream;

pub use controls::ControlRef;

use std::collections::VecDeque;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use stream::ClientStream;

use periscope_protocol::{
    DecodeLimits, Envelope, Hello, MessageType, NdArray, Reply, SceneState, Value, VideoExported, decode_value,
    encode_value, encode_value_into,
};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// Replies kept for [`Viewer::recv`] while waiting for a query's answer.
const MAX_PENDING: usize = 10_000;
/// The send buffer is kept between messages up to this size.
const MAX_KEPT_SEND_BUFFER: usize = 64 << 20;
/// How long [`Viewer::query`] waits for its answer by default.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Messages above this go as WebSocket fragments of this size (to a viewer
/// that does not take arrays in parts).
pub const FRAGMENT_BYTES: usize = 1 << 20;
/// Arrays above this go as `ARRAY_PART` messages ...
pub const PART_THRESHOLD: usize = 128 << 10;
/// ... of this size: small enough that every buffer a part passes through
/// is reused memory (the allocator hands out fresh pages, which are slow to
/// touch, for blocks above 128 KiB).
pub const PART_SIZE: usize = 64 << 10;
/// A screenshot of a big scene on a software renderer takes a while.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(180);

/// A keyword argument.
pub type Kwarg = (String, Value);

/// Builds a keyword argument: `kw("name", "cube")`.
pub fn kw(name: &str, value: impl Into<Value>) -> Kwarg {
    (name.to_owned(), value.into())
}

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("WebSocket error: {0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("the viewer refused the connection: {0}")]
    Refused(String),
    #[error("unexpected message from the viewer: {0}")]
    Protocol(String),
    #[error("no answer from the viewer within {0:?}")]
    Timeout(Duration),
    #[error("the viewer refused message {seq:?}: [{code}] {message}")]
    Rejected { seq: Option<u64>, code: String, message: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("bad viewer URL {url:?}: {why}")]
    Url { url: String, why: String },
}

/// Connection options beyond the address.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    pub client_name: String,
    pub token: Option<String>,
    /// A session from an earlier [`Viewer::session`], to address that client's nodes again.
    pub session: Option<String>,
    /// For `wss://` URLs: a PEM file with the certificate(s) to trust, e.g.
    /// the viewer's own self-signed `server.tls_cert`. Without it the client
    /// trusts the system bundle (`SSL_CERT_FILE`, else the distribution's).
    pub ca_cert: Option<PathBuf>,
    /// Connect as a view (`hello` `role = "view"`): the viewer sends the
    /// scene's snapshot and changes (docs/protocol.md, "Views").
    pub view: bool,
}

/// A connection to a viewer.
pub struct Viewer {
    ws: WebSocket<ClientStream>,
    seq: u64,
    next_uid: i64,
    next_control_uid: i64,
    client_id: u64,
    session: String,
    resumed: bool,
    pending: VecDeque<Reply>,
    dropped: u64,
    send_buf: Vec<u8>,
    /// Big arrays go in parts (`welcome.array_parts`, [`Self::set_array_parts`]).
    array_parts: bool,
    viewer_takes_parts: bool,
    next_transfer: i64,
}

impl Viewer {
    /// Connects and does the handshake.
    pub fn connect(addr: impl ToSocketAddrs + std::fmt::Debug, client_name: &str) -> Result<Self, ClientError> {
        Self::connect_with(addr, ConnectOptions { client_name: client_name.to_owned(), ..Default::default() })
    }

    /// Connects with a token and/or a session to resume.
    pub fn connect_with(addr: impl ToSocketAddrs + std::fmt::Debug, opts: ConnectOptions) -> Result<Self, ClientError> {
        let label = format!("{addr:?}");
        let stream =
            TcpStream::connect(&addr).map_err(|source| ClientError::Connect { addr: label.clone(), source })?;
        let peer = stream.peer_addr().map_err(|source| ClientError::Connect { addr: label, source })?;
        Self::start(ClientStream::Plain(stream), format!("ws://{peer}/"), opts)
    }

    /// Connects to `ws://host:port`, `wss://host:port` (TLS, see
    /// [`ConnectOptions::ca_cert`]) or a bare `host[:port]`; the port defaults to 8417.
    ///
    /// ```no_run
    /// use periscope_client::{ConnectOptions, Viewer};
    /// let opts = ConnectOptions {
    ///     client_name: "trainer".into(),
    ///     token: std::env::var("PERISCOPE_TOKEN").ok(),
    ///     ca_cert: Some("viewer-cert.pem".into()),
    ///     ..Default::default()
    /// };
    /// let v = Viewer::connect_url("wss://gpu-box.lan:8417", opts)?;
    /// # Ok::<(), periscope_client::ClientError>(())
    /// ```
    pub fn connect_url(url: &str, opts: ConnectOptions) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError::Url { url: url.to_owned(), why: why.to_owned() };
        let (tls, rest) = match url.split_once("://") {
            Some(("wss", rest)) => (true, rest),
            Some(("ws", rest)) => (false, rest),
            Some((scheme, _)) => return Err(bad(&format!("the scheme must be ws or wss, not {scheme:?}"))),
            None => (false, url),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("expected host[:port]"))?;
        let tcp = TcpStream::connect((host, port))
            .map_err(|source| ClientError::Connect { addr: format!("{host}:{port}"), source })?;
        let stream =
            if tls { ClientStream::tls(tcp, host, opts.ca_cert.as_deref())? } else { ClientStream::Plain(tcp) };
        let scheme = if tls { "wss" } else { "ws" };
        Self::start(stream, format!("{scheme}://{authority}/"), opts)
    }

    /// The WebSocket handshake, then hello/welcome.
    fn start(stream: ClientStream, url: String, opts: ConnectOptions) -> Result<Self, ClientError> {
        stream.tcp().set_nodelay(true).ok();
        let config = WebSocketConfig::default().max_message_size(None).max_frame_size(None);
        let (mut ws, _) = tungstenite::client::client_with_config(url, stream, Some(config)).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => ClientError::WebSocket(e),
            tungstenite::HandshakeError::Interrupted(_) => ClientError::Protocol("handshake interrupted".into()),
        })?;
        let mut hello = Hello::new(opts.client_name);
        hello.token = opts.token;
        hello.session = opts.session;
        hello.view = opts.view;
        ws.send(Message::binary(encode_value(&hello.to_envelope().to_value())))?;
        let reply = read_reply(&mut ws)?;
        match reply {
            Reply::Welcome { client_id, session, resumed, array_parts, .. } => {
                let mut v = Self {
                    ws,
                    seq: 0,
                    next_uid: 1,
                    next_control_uid: 1,
                    client_id,
                    session,
                    resumed,
                    pending: VecDeque::new(),
                    dropped: 0,
                    send_buf: Vec::new(),
                    array_parts,
                    viewer_takes_parts: array_parts,
                    next_transfer: 1,
                };
                if resumed {
                    // Continue numbering after this client's existing nodes.
                    let state = v.query()?;
                    let max = state.nodes.iter().filter(|n| n.client_id == client_id).filter_map(|n| n.uid).max();
                    v.next_uid = max.unwrap_or(0) + 1;
                }
                Ok(v)
            }
            Reply::Refused { reason } => Err(ClientError::Refused(reason)),
            other => Err(ClientError::Protocol(format!("expected welcome, got type {}", other.kind()))),
        }
    }

    /// Sends big arrays in parts (the default when the viewer takes them) or
    /// whole (`false`: for comparisons; the viewer's reply decides `true`).
    pub fn set_array_parts(&mut self, on: bool) {
        self.array_parts = on && self.viewer_takes_parts;
    }

    /// The viewer's id for this client.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// The session token to resume this identity after a reconnect.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Whether this connection resumed an earlier session.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Uids start after `first`; use after resuming so new nodes do not reuse old uids.
    pub fn set_next_uid(&mut self, first: i64) {
        self.next_uid = first;
    }

    /// Sends a message; fills in `seq` and returns it. Arrays over
    /// [`PART_THRESHOLD`] go first as `ARRAY_PART` messages (docs/protocol.md,
    /// "Large arrays in parts") when the viewer takes them.
    pub fn send(&mut self, mut env: Envelope) -> Result<u64, ClientError> {
        self.seq += 1;
        env.seq = Some(self.seq);
        if self.array_parts {
            let seq = self.seq;
            for v in env.args.iter_mut().chain(env.kwargs.iter_mut().map(|(_, v)| v)) {
                self.send_in_parts(v, seq)?;
            }
        }
        self.send_frame(&env)?;
        Ok(self.seq)
    }

    /// Sends the arrays over [`PART_THRESHOLD`] in `v` (nested in lists and maps
    /// too) as parts and puts a reference to them in their place.
    fn send_in_parts(&mut self, v: &mut Value, seq: u64) -> Result<(), ClientError> {
        match v {
            Value::NdArray(a) if a.nbytes() > PART_THRESHOLD => {
                let id = self.next_transfer;
                self.next_transfer += 1;
                let bytes = a.le_bytes();
                for (i, chunk) in bytes.chunks(PART_SIZE).enumerate() {
                    let mut kwargs = vec![
                        (Value::from("transfer"), Value::from(id)),
                        (Value::from("data"), Value::Bin(chunk.to_vec())),
                    ];
                    if i == 0 {
                        kwargs.push((Value::from("dtype"), Value::from(a.dtype().to_string())));
                        kwargs.push((Value::from("nbytes"), Value::from(a.nbytes() as u64)));
                    }
                    // `type` first: the viewer then reads the part in place.
                    let part = Value::Map(vec![
                        (Value::from("type"), Value::Int(MessageType::ArrayPart.as_i64())),
                        (Value::from("kwargs"), Value::Map(kwargs)),
                        (Value::from("seq"), Value::from(seq)),
                    ]);
                    self.send_value(&part)?;
                }
                let shape = Value::Array(a.shape().iter().map(|&d| Value::from(d as u64)).collect());
                *v = Value::Map(vec![
                    (Value::from(periscope_protocol::NDARRAY_KEY), Value::from(a.dtype().to_string())),
                    (Value::from("shape"), shape),
                    (Value::from("transfer"), Value::from(id)),
                ]);
            }
            Value::Array(items) => {
                for item in items {
                    self.send_in_parts(item, seq)?;
                }
            }
            Value::Map(entries) => {
                for (_, item) in entries {
                    self.send_in_parts(item, seq)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Encodes and sends one message.
    fn send_frame(&mut self, env: &Envelope) -> Result<(), ClientError> {
        self.send_value(&env.to_value())
    }

    /// Encodes and sends one frame.
    fn send_value(&mut self, value: &Value) -> Result<(), ClientError> {
        // One send buffer for every message: encoding into memory already
        // faulted in is much cheaper than into a fresh allocation each time.
        let mut buf = std::mem::take(&mut self.send_buf);
        buf.clear();
        encode_value_into(&mut buf, value);
        let frame = bytes::Bytes::from(buf);
        let sent = if frame.len() > FRAGMENT_BYTES {
            self.send_fragments(&frame)
        } else {
            self.ws.send(Message::Binary(frame.clone()))
        };
        // tungstenite has copied the frame into its write buffer and dropped
        // its handle, so the buffer is ours again (large ones are let go).
        if let Ok(back) = frame.try_into_mut()
            && back.capacity() <= MAX_KEPT_SEND_BUFFER
        {
            self.send_buf = back.into();
        }
        sent?;
        Ok(())
    }

    /// A big message as WebSocket fragments of [`FRAGMENT_BYTES`], each a view
    /// of the encoded message (no copy): the viewer then reassembles it in a
    /// buffer of its own that it frees after decoding, instead of growing the
    /// connection's read buffer to the message's size for as long as the
    /// connection lasts.
    fn send_fragments(&mut self, frame: &bytes::Bytes) -> Result<(), tungstenite::Error> {
        use tungstenite::protocol::frame::Frame;
        use tungstenite::protocol::frame::coding::{Data, OpCode};
        let n = frame.len().div_ceil(FRAGMENT_BYTES);
        for i in 0..n {
            let part = frame.slice(i * FRAGMENT_BYTES..((i + 1) * FRAGMENT_BYTES).min(frame.len()));
            let opcode = OpCode::Data(if i == 0 { Data::Binary } else { Data::Continue });
            self.ws.send(Message::Frame(Frame::message(part, opcode, i + 1 == n)))?;
        }
        Ok(())
    }

    /// Sends any message (custom ones use types >= 10000).
    pub fn send_message(
        &mut self,
        kind: i64,
        uid: Option<i64>,
        args: Vec<Value>,
        kwargs: Vec<Kwarg>,
    ) -> Result<u64, ClientError> {
        self.send(Envelope { kind, uid, args, kwargs, seq: None, raw: None })
    }

    /// Creates a node of `kind` and returns its uid.
    pub fn create(&mut self, kind: MessageType, args: Vec<Value>, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        let uid = self.next_uid;
        self.next_uid += 1;
        self.send_message(kind.as_i64(), Some(uid), args, kwargs)?;
        Ok(uid)
    }

    /// A plain node (transform only).
    pub fn node(&mut self, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::Node, vec![], kwargs)
    }

    /// Meshes: vertices `(V,3)` or `(F,V,3)`, faces `(T,3)`.
    pub fn meshes(&mut self, vertices: NdArray, faces: NdArray, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::Meshes, vec![vertices.into(), faces.into()], kwargs)
    }

    /// Spheres at `(N,3)` or `(F,N,3)` positions.
    pub fn spheres(&mut self, positions: NdArray, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::Spheres, vec![positions.into()], kwargs)
    }

    /// Lines through `(N,3)` or `(F,N,3)` points (`mode` `line_strip` or `lines`).
    pub fn lines(&mut self, lines: NdArray, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::Lines, vec![lines.into()], kwargs)
    }

    /// Arrows from `origins` to `tips`, each `(N,3)` or `(F,N,3)`.
    pub fn arrows(&mut self, origins: NdArray, tips: NdArray, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::Arrows, vec![origins.into(), tips.into()], kwargs)
    }

    /// Rigid bodies: positions `(N,3)`/`(F,N,3)`, orientations `(N,3,3)`/`(F,N,3,3)`.
    pub fn rigid_bodies(&mut self, rb_pos: NdArray, rb_ori: NdArray, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::RigidBodies, vec![rb_pos.into(), rb_ori.into()], kwargs)
    }

    /// Skeletons: joints `(J,3)`/`(F,J,3)`, connections `(N,2)` with -1 for roots.
    pub fn skeletons(
        &mut self,
        joint_positions: NdArray,
        joint_connections: NdArray,
        kwargs: Vec<Kwarg>,
    ) -> Result<i64, ClientError> {
        self.create(MessageType::Skeletons, vec![joint_positions.into(), joint_connections.into()], kwargs)
    }

    /// A point cloud: points `(N,3)`/`(F,N,3)` (send frames of other sizes with
    /// [`Self::add_frames`]); kwargs `colors` (`(N,3|4)`, float or uint8),
    /// `point_size` (pixels) or `point_size_world`.
    pub fn point_clouds(&mut self, points: NdArray, kwargs: Vec<Kwarg>) -> Result<i64, ClientError> {
        self.create(MessageType::PointClouds, vec![points.into()], kwargs)
    }

    /// Appends frames: positional data in the kind's order (e.g. `vertices`).
    pub fn add_frames(&mut self, uid: i64, args: Vec<Value>, kwargs: Vec<Kwarg>) -> Result<u64, ClientError> {
        self.send_message(MessageType::AddFrames.as_i64(), Some(uid), args, kwargs)
    }

    /// Replaces the listed frames (one frame of data is applied to all of them).
    pub fn update_frames(
        &mut self,
        uid: i64,
        args: Vec<Value>,
        frames: &[i64],
        mut kwargs: Vec<Kwarg>,
    ) -> Result<u64, ClientError> {
        kwargs.push(kw("frames", frames.to_vec()));
        self.send_message(MessageType::UpdateFrames.as_i64(), Some(uid), args, kwargs)
    }

    /// Removes the listed frames.
    pub fn remove_frames(&mut self, uid: i64, frames: &[i64]) -> Result<u64, ClientError> {
        self.send_message(MessageType::RemoveFrames.as_i64(), Some(uid), vec![], vec![kw("frames", frames.to_vec())])
    }

    /// Deletes a node.
    pub fn delete(&mut self, uid: i64) -> Result<u64, ClientError> {
        self.send_message(MessageType::Delete.as_i64(), Some(uid), vec![], vec![])
    }

    pub fn set_frame(&mut self, frame: i64) -> Result<u64, ClientError> {
        self.send_message(MessageType::SetFrame.as_i64(), None, vec![frame.into()], vec![])
    }

    pub fn next_frame(&mut self) -> Result<u64, ClientError> {
        self.send_message(MessageType::NextFrame.as_i64(), None, vec![], vec![])
    }

    pub fn previous_frame(&mut self) -> Result<u64, ClientError> {
        self.send_message(MessageType::PreviousFrame.as_i64(), None, vec![], vec![])
    }

    /// Starts or stops playback (`playing`) and sets its speed in frames per
    /// second (`fps`, in [0.001, 240]); `None` keeps each (a `playback` message).
    pub fn set_playback(&mut self, playing: Option<bool>, fps: Option<f64>) -> Result<u64, ClientError> {
        let mut kwargs = Vec::new();
        if let Some(p) = playing {
            kwargs.push(kw("playing", p));
        }
        if let Some(f) = fps {
            kwargs.push(kw("fps", f));
        }
        self.send_message(MessageType::Playback.as_i64(), None, vec![], kwargs)
    }

    /// Starts playback: the viewer advances the playhead at the scene's fps.
    pub fn play(&mut self) -> Result<u64, ClientError> {
        self.set_playback(Some(true), None)
    }

    /// Stops playback; the playhead stays where it is.
    pub fn pause(&mut self) -> Result<u64, ClientError> {
        self.set_playback(Some(false), None)
    }

    /// The scene state. Because each client's messages are handled in order,
    /// this also confirms that everything sent before it was processed.
    pub fn query(&mut self) -> Result<SceneState, ClientError> {
        let seq = self.send_message(MessageType::Query.as_i64(), None, vec![], vec![])?;
        self.await_state(seq, QUERY_TIMEOUT)
    }

    /// The scene's digest (`query` with `digest=True`): equal for a hub and
    /// each of its views once they caught up (docs/protocol.md, "Views").
    pub fn digest(&mut self) -> Result<String, ClientError> {
        let seq = self.send_message(MessageType::Query.as_i64(), None, vec![], vec![kw("digest", true)])?;
        match self.await_state(seq, QUERY_TIMEOUT)?.data {
            Some(Value::Str(d)) => Ok(d),
            _ => Err(ClientError::Protocol("query answer without a digest".into())),
        }
    }

    /// One frame of one attribute of one of this client's nodes (e.g. `vertices`).
    pub fn query_data(&mut self, uid: i64, attribute: &str, frame: i64) -> Result<NdArray, ClientError> {
        let seq = self.send_message(
            MessageType::Query.as_i64(),
            Some(uid),
            vec![],
            vec![kw("attribute", attribute), kw("frame", frame)],
        )?;
        let state = self.await_state(seq, QUERY_TIMEOUT)?;
        match state.data {
            Some(Value::NdArray(a)) => Ok(a),
            _ => Err(ClientError::Protocol("query answer without data".into())),
        }
    }

    /// Renders the scene on the viewer (`width` x `height`, its current camera)
    /// and returns the image, RGBA uint8 `(H, W, 4)`.
    pub fn screenshot(&mut self, width: u32, height: u32) -> Result<NdArray, ClientError> {
        let kwargs = vec![kw("width", i64::from(width)), kw("height", i64::from(height))];
        let seq = self.send_message(MessageType::Screenshot.as_i64(), None, vec![], kwargs)?;
        match self.await_answer(seq, MessageType::ScreenshotResult, SCREENSHOT_TIMEOUT)? {
            Reply::ScreenshotResult(r) => Ok(r.image),
            _ => Err(ClientError::Protocol("screenshot answer without image".into())),
        }
    }

    /// Renders a video in the viewer's export folder (`name`: a plain file
    /// name, `.mp4`, `.gif` or `.png`; `kwargs` as docs/protocol.md *Video
    /// export*: `fps`, `frames`, `frame_range`, `width`, `height`,
    /// `camera_path`, `orbit`, `return_bytes`) and waits up to `timeout` for
    /// the answer (`path`, `frames`, `width`, `height`, ...).
    pub fn export_video(
        &mut self,
        name: &str,
        mut kwargs: Vec<Kwarg>,
        timeout: Duration,
    ) -> Result<VideoExported, ClientError> {
        kwargs.push(kw("name", name));
        let seq = self.send_message(MessageType::ExportVideo.as_i64(), None, vec![], kwargs)?;
        match self.await_answer(seq, MessageType::VideoExported, timeout)? {
            Reply::VideoExported(r) => Ok(r),
            _ => Err(ClientError::Protocol("video_exported answer not readable".into())),
        }
    }

    /// Waits up to `timeout` for the answer (of type `answer`) to request
    /// `seq`; other messages are kept for [`Viewer::recv`].
    pub(crate) fn await_answer(
        &mut self,
        seq: u64,
        answer: MessageType,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        let is_answer = |r: &Reply| r.kind() == answer.as_i64() && r.ref_seq() == Some(seq);
        self.await_reply(seq, timeout, is_answer)
    }

    fn await_state(&mut self, seq: u64, timeout: Duration) -> Result<SceneState, ClientError> {
        let is_answer = |r: &Reply| matches!(r, Reply::SceneState(s) if s.ref_seq == Some(seq));
        match self.await_reply(seq, timeout, is_answer)? {
            Reply::SceneState(s) => Ok(s),
            _ => unreachable!("await_reply returns what is_answer accepted"),
        }
    }

    /// Waits for the reply `is_answer` accepts, or the error citing `seq`;
    /// other messages are kept for [`Viewer::recv`].
    pub(crate) fn await_reply(
        &mut self,
        seq: u64,
        timeout: Duration,
        is_answer: impl Fn(&Reply) -> bool,
    ) -> Result<Reply, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout(timeout));
            }
            match self.read_timeout(left)? {
                Some(r) if is_answer(&r) => return Ok(r),
                Some(Reply::Problem { warning: false, ref_seq: Some(r), code, message, .. }) if r == seq => {
                    return Err(ClientError::Rejected { seq: Some(r), code, message });
                }
                Some(other) => self.stash(other),
                None => {}
            }
        }
    }

    fn stash(&mut self, reply: Reply) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(reply);
    }

    fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Reply>, ClientError> {
        self.ws.get_ref().tcp().set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).ok();
        match read_reply(&mut self.ws) {
            Ok(r) => Ok(Some(r)),
            Err(ClientError::WebSocket(tungstenite::Error::Io(e)))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The next message from the viewer (errors, warnings, custom replies),
    /// waiting up to `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<Reply>, ClientError> {
        if let Some(r) = self.pending.pop_front() {
            return Ok(Some(r));
        }
        self.read_timeout(timeout)
    }

    /// Every message already received, without waiting for more than a moment.
    pub fn drain(&mut self) -> Result<Vec<Reply>, ClientError> {
        let mut out: Vec<Reply> = self.pending.drain(..).collect();
        while let Some(r) = self.read_timeout(Duration::from_millis(1))? {
            out.push(r);
        }
        Ok(out)
    }

    /// Replies dropped because more than 10,000 were waiting unread.
    pub fn dropped_replies(&self) -> u64 {
        self.dropped
    }

    /// Closes the connection politely.
    pub fn close(mut self) -> Result<(), ClientError> {
        self.ws.close(None)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => break,
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// The raw WebSocket, for tests that need to send malformed frames.
    pub fn raw_socket(&mut self) -> &mut WebSocket<ClientStream> {
        &mut self.ws
    }
}

/// `host:port`, `[v6]:port`, or a host alone (port 8417).
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    const DEFAULT_PORT: u16 = 8417;
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return None,
        };
        return Some((host, port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, DEFAULT_PORT),
    };
    (!host.is_empty()).then_some((host, port))
}

fn read_reply(ws: &mut WebSocket<ClientStream>) -> Result<Reply, ClientError> {
    loop {
        match ws.read()? {
            Message::Binary(bytes) => {
                let v =
                    decode_value(&bytes, DecodeLimits::default()).map_err(|e| ClientError::Protocol(e.to_string()))?;
                return Reply::from_value(v).ok_or_else(|| ClientError::Protocol("a reply without a type".into()));
            }
            Message::Close(frame) => {
                let why = frame.map(|f| format!("{} ({})", f.reason, u16::from(f.code))).unwrap_or_default();
                return Err(ClientError::Protocol(format!("the viewer closed the connection {why}")));
            }
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("gpu-box:9000"), Some(("gpu-box", 9000)));
        assert_eq!(split_host_port("127.0.0.1"), Some(("127.0.0.1", 8417)));
        assert_eq!(split_host_port("[::1]:9"), Some(("::1", 9)));
        assert_eq!(split_host_port("[::1]"), Some(("::1", 8417)));
        assert_eq!(split_host_port("host:notaport"), None);
        assert_eq!(split_host_port(":80"), None);
        assert_eq!(split_host_port("[::1]x"), None);
    }
}
