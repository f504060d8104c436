//! The scene: nodes by id, the (client, uid) map, clients and the playhead.

use std::collections::{BTreeMap, HashMap};

use periscope_protocol::{ClientSummary, NodeSummary, SceneState};

use crate::node::{ClientId, Node, NodeId};

/// Scene settings (the `[scene]` section of `config.toml`; unknown keys are refused).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SceneConfig {
    /// Delete a client's nodes when it disconnects (aitviewer keeps them).
    pub drop_nodes_on_disconnect: bool,
    /// Refuse node creation beyond this many nodes.
    pub max_nodes: usize,
    /// Refuse node creation by one client beyond this many of its nodes (0: no limit).
    pub max_nodes_per_client: usize,
    /// Refuse data from one client once its nodes hold this many bytes (0: no limit).
    pub max_bytes_per_client: usize,
    /// Refuse control creation by one client beyond this many controls (0: no limit).
    pub max_controls_per_client: usize,
    /// Refuse control creation beyond this many controls of all clients
    /// together, lingering ones included (0: no limit).
    pub max_controls: usize,
    /// Seconds a disconnected client's controls stay (greyed) for it to resume
    /// its session; then they are removed.
    pub controls_linger_s: f64,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            drop_nodes_on_disconnect: false,
            max_nodes: 100_000,
            max_nodes_per_client: 0,
            max_bytes_per_client: 0,
            max_controls_per_client: 1000,
            max_controls: 10_000,
            controls_linger_s: 30.0,
        }
    }
}

/// A client as the scene knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub id: ClientId,
    pub name: String,
    /// `ip:port` of its latest connection.
    pub addr: String,
    pub connected: bool,
    /// When it last disconnected (`None` while connected).
    pub disconnected_at: Option<web_time::Instant>,
}

/// Every node the viewer holds, and the playhead.
#[derive(Debug)]
pub struct Scene {
    pub(crate) config: SceneConfig,
    pub(crate) nodes: BTreeMap<NodeId, Node>,
    pub(crate) by_remote: HashMap<(ClientId, i64), NodeId>,
    pub(crate) clients: BTreeMap<ClientId, ClientInfo>,
    pub(crate) next_node_id: NodeId,
    pub(crate) current_frame: usize,
    /// Whether playback runs (`Runtime::step` advances frames, window or headless).
    pub(crate) playing: bool,
    /// Playback speed in frames per second, in [`MIN_PLAYBACK_FPS`, `MAX_PLAYBACK_FPS`].
    pub(crate) fps: f64,
    /// The selected node (UI, scripts and plugins share it; a `select` message).
    pub(crate) selected: Option<NodeId>,
    /// Where the selection was hit (world coordinates), when it came from a click.
    pub(crate) selected_point: Option<[f32; 3]>,
    /// The controls clients, scripts and plugins defined (`controls.rs`).
    pub(crate) controls: crate::controls::Controls,
    /// The node the view should center on, with a counter bumped per request
    /// so the renderer can tell a new request from an old one.
    /// The latest request that every view look from a pose (`set_camera`).
    pub(crate) camera_request: Option<(periscope_protocol::ViewPose, u64)>,
    pub(crate) focus: Option<(NodeId, u64)>,
    /// Bumped on every change, so the UI and renderer know when to look again.
    pub(crate) version: u64,
    /// Unique per scene in this process, so caches keyed by node id can tell scenes apart.
    instance: u64,
    /// Computes body-model meshes (SMPL); none until the viewer installs one.
    pub(crate) body_models: crate::body::ModelSlot,
    /// Queue body-model skinning as [`crate::SkinJob`]s for a worker instead
    /// of computing it inside `apply` (the viewer sets it: skinning a long
    /// sequence must not freeze the window).
    pub defer_skinning: bool,
    pub(crate) skin_jobs: Vec<crate::body::SkinJob>,
    /// What views were last sent, while views are attached (`changes.rs`).
    pub(crate) tracker: Option<Box<crate::changes::Tracker>>,
}

/// Playback speed of a new scene, frames per second (`[viewer] playback_fps` replaces it).
pub const DEFAULT_FPS: f64 = 30.0;

static NEXT_INSTANCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Default for Scene {
    fn default() -> Self {
        Self::new(SceneConfig::default())
    }
}

impl Scene {
    pub fn new(config: SceneConfig) -> Self {
        Self {
            config,
            nodes: BTreeMap::new(),
            by_remote: HashMap::new(),
            clients: BTreeMap::new(),
            next_node_id: 1,
            current_frame: 0,
            playing: false,
            fps: DEFAULT_FPS,
            selected: None,
            selected_point: None,
            controls: Default::default(),
            camera_request: None,
            focus: None,
            version: 0,
            instance: NEXT_INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            body_models: Default::default(),
            defer_skinning: false,
            skin_jobs: Vec::new(),
            tracker: None,
        }
    }

    /// Installs the provider that turns body-model parameters (SMPL) into meshes.
    pub fn set_body_models(&mut self, models: std::sync::Arc<dyn crate::BodyModels>) {
        self.body_models.0 = Some(models);
    }

    /// The scene with playback speed `fps` (the configured default); a rate
    /// outside [`MIN_PLAYBACK_FPS`, `MAX_PLAYBACK_FPS`] keeps the default. Later changes are
    /// `playback` messages.
    pub fn with_fps(mut self, fps: f64) -> Self {
        if crate::playback::valid_fps(fps) {
            self.fps = fps;
        }
        self
    }

    /// Whether playback runs.
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Playback speed, frames per second.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// The selected node.
    pub fn selected(&self) -> Option<NodeId> {
        self.selected
    }

    /// Where the selected node was hit (world coordinates), when a click selected it.
    pub fn selected_point(&self) -> Option<[f32; 3]> {
        self.selected_point
    }

    /// The node the view should center on, with a counter bumped per request.
    pub fn focus(&self) -> Option<(NodeId, u64)> {
        self.focus
    }

    /// Starts or stops playback and sets its speed (`None` keeps each); the
    /// `playback` message's handler (`playback.rs`) checks the values.
    pub(crate) fn set_playback(&mut self, playing: Option<bool>, fps: Option<f64>) {
        if let Some(p) = playing {
            self.playing = p;
        }
        if let Some(f) = fps {
            self.fps = f;
        }
        self.touch();
    }

    /// A process-unique id of this scene (node ids repeat across scenes).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Asks the view to center on `id` (the renderer moves the camera).
    pub fn request_focus(&mut self, id: NodeId) {
        let n = self.focus.map_or(1, |(_, n)| n + 1);
        self.focus = Some((id, n));
        self.touch();
    }

    /// Asks every view to look from `pose` (world coordinates; `set_camera`
    /// from code moves every view), with a counter bumped per request.
    pub fn request_camera(&mut self, pose: periscope_protocol::ViewPose) {
        let n = self.camera_request.map_or(1, |(_, n)| n + 1);
        self.camera_request = Some((pose, n));
        self.touch();
    }

    /// The latest camera request ([`Scene::request_camera`]) and its counter.
    pub fn camera_request(&self) -> Option<(periscope_protocol::ViewPose, u64)> {
        self.camera_request
    }

    pub fn config(&self) -> &SceneConfig {
        &self.config
    }

    /// A counter bumped on every change.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn touch(&mut self) {
        self.version += 1;
    }

    /// Nodes in creation order.
    /// Bytes of array data the scene keeps allocated: every shared chunk
    /// once and whole (frames replaced one by one leave their old chunk alive
    /// while any frame still points into it). A browser view weighs its
    /// mirror with this against its budget.
    pub fn held_bytes(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        self.nodes.values().flat_map(Node::chunks).filter(|(at, _)| seen.insert(*at)).map(|(_, bytes)| bytes).sum()
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(&id)
    }

    /// Mutable access to a node; marks the scene and the node changed.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.version += 1;
        self.mark(id);
        let node = self.nodes.get_mut(&id)?;
        node.version += 1;
        Some(node)
    }

    /// The node a client calls `uid`.
    pub fn node_by_remote(&self, client: ClientId, uid: i64) -> Option<&Node> {
        self.by_remote.get(&(client, uid)).and_then(|id| self.nodes.get(id))
    }

    /// Removes a node and its uid mapping.
    pub fn remove_node(&mut self, id: NodeId) -> Option<Node> {
        let node = self.nodes.remove(&id)?;
        self.mark(id);
        if self.selected == Some(id) {
            self.select(None, None);
        }
        if self.focus.is_some_and(|(f, _)| f == id) {
            self.focus = None;
        }
        if let Some(uid) = node.uid {
            self.by_remote.remove(&(node.client, uid));
        }
        self.clamp_frame();
        self.touch();
        Some(node)
    }

    /// Scene frame count: the longest node (at least 1).
    pub fn n_frames(&self) -> usize {
        self.nodes.values().map(Node::n_frames).max().unwrap_or(1)
    }

    pub fn current_frame(&self) -> usize {
        self.current_frame
    }

    /// The scene frame `set_frame(frame)` would show: `frame` clamped to
    /// `[0, n_frames)` (screenshots and video frames render it without moving the playhead).
    pub fn clamped_frame(&self, frame: i64) -> usize {
        frame.clamp(0, self.n_frames() as i64 - 1) as usize
    }

    /// Sets the playhead, clamped to `[0, n_frames)` (aitviewer clamps too).
    /// Outside the scene crate the playhead moves by messages (`set_frame`).
    pub(crate) fn set_frame(&mut self, frame: i64) {
        self.current_frame = self.clamped_frame(frame);
        self.touch();
    }

    /// Next frame, wrapping from the last to the first.
    pub(crate) fn next_frame(&mut self) {
        self.current_frame = (self.current_frame + 1) % self.n_frames();
        self.touch();
    }

    /// Previous frame, wrapping from the first to the last.
    pub(crate) fn previous_frame(&mut self) {
        let n = self.n_frames();
        self.current_frame = (self.current_frame + n - 1) % n;
        self.touch();
    }

    pub(crate) fn clamp_frame(&mut self) {
        self.current_frame = self.current_frame.min(self.n_frames() - 1);
    }

    /// Records a client connection (new or resumed).
    pub fn client_connected(&mut self, id: ClientId, name: &str, addr: &str) {
        let info =
            ClientInfo { id, name: name.to_owned(), addr: addr.to_owned(), connected: true, disconnected_at: None };
        self.clients.insert(id, info);
        self.touch();
    }

    /// Records a disconnection; drops the client's nodes if so configured.
    pub fn client_disconnected(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.connected = false;
            c.disconnected_at = Some(web_time::Instant::now());
        }
        self.controls.version += 1;
        if self.config.drop_nodes_on_disconnect {
            let ids: Vec<NodeId> = self.nodes.values().filter(|n| n.client == id).map(|n| n.id).collect();
            for nid in ids {
                self.remove_node(nid);
            }
        }
        self.touch();
    }

    /// Selects a node (or nothing), with the point that was hit if known.
    /// Outside the scene crate selection changes by `select` messages.
    pub(crate) fn select(&mut self, node: Option<NodeId>, point: Option<[f32; 3]>) {
        self.selected = node.filter(|id| self.nodes.contains_key(id));
        self.selected_point = self.selected.and(point);
        self.touch();
    }

    pub fn clients(&self) -> impl Iterator<Item = &ClientInfo> {
        self.clients.values()
    }

    pub fn client(&self, id: ClientId) -> Option<&ClientInfo> {
        self.clients.get(&id)
    }

    /// Summary of the scene, as sent in answer to a query.
    pub fn state(&self) -> SceneState {
        let client_name = |id: ClientId| self.clients.get(&id).map(|c| c.name.clone()).unwrap_or_default();
        SceneState {
            ref_seq: None,
            n_frames: self.n_frames(),
            current_frame: self.current_frame,
            playing: self.playing,
            fps: self.fps,
            nodes: self
                .nodes
                .values()
                .map(|n| NodeSummary {
                    id: n.id,
                    uid: n.uid,
                    client_id: n.client,
                    client_name: client_name(n.client),
                    name: n.name.clone(),
                    kind: n.kind.name().to_owned(),
                    n_frames: n.n_frames(),
                    current_frame: n.frame_for(self.current_frame),
                    enabled: n.enabled,
                    color: n.color,
                })
                .collect(),
            clients: self
                .clients
                .values()
                .map(|c| ClientSummary { id: c.id, name: c.name.clone(), addr: c.addr.clone(), connected: c.connected })
                .collect(),
            selected: self.selected,
            focused: self.focus.map(|(id, _)| id),
            data: None,
        }
    }
}
