//! Selection and camera events for the clients that subscribed to them.

use std::time::{Duration, Instant};

use periscope_protocol::{CameraEvent, Event, Reply, SelectEvent};

use periscope_dispatch::Outbox as _;

use super::Runtime;
use periscope_render::Camera;

use super::view_work::{Shooter, view_camera};

/// The events a client asked for besides its own controls'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Subscription {
    select: bool,
    camera: bool,
}

/// Camera events go out at most this often (newest wins in between).
pub const CAMERA_EVENT_INTERVAL: Duration = Duration::from_millis(33);

impl Runtime {
    fn subscribed(&self, wants: impl Fn(&Subscription) -> bool) -> Vec<u64> {
        self.subscribers.iter().filter(|(_, s)| wants(s)).map(|(id, _)| *id).collect()
    }

    /// Tells subscribers when the selection changed (a click, the tree, a
    /// script, a plugin or a client's `select`).
    pub(super) fn selection_events(&mut self) {
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
        let reply = Reply::Event(Event::Select(SelectEvent {
            node_id: node.map(|n| n.id),
            client_id: node.map(|n| n.client),
            uid: node.and_then(|n| n.uid),
            name: node.map(|n| n.name.clone()),
            kind: node.map(|n| n.kind.name().to_owned()),
            point: now.1,
        }));
        for id in to {
            self.out.send(id, reply.clone());
        }
    }

    /// The main camera: the one a person moved last, the hub's own view's
    /// (`moved_by` 0) or a view's (its client id, from `view_moved`), with its
    /// size in pixels.
    pub(super) fn main_camera(&mut self, shooter: &dyn Shooter) -> (u64, Camera, (u32, u32)) {
        let own = shooter.camera();
        if self.own_camera.map(|(c, _)| c) != Some(own) {
            self.own_camera = Some((own, Instant::now()));
        }
        let own_at = self.own_camera.map(|(_, at)| at);
        match self.hub.moved() {
            Some(m) if own_at.is_none_or(|t| m.at > t) => (m.id, m.camera, m.size),
            _ => (0, own, shooter.view_size()),
        }
    }

    /// Tells subscribers when the main camera changed, at most every
    /// [`CAMERA_EVENT_INTERVAL`] (the newest camera wins), saying which view
    /// moved it (`view`: 0 for the hub's own); returns when to look again.
    pub(super) fn camera_events(&mut self, moved_by: u64, camera: &Camera, size: (u32, u32)) -> Option<Duration> {
        let to = self.subscribed(|s| s.camera);
        if to.is_empty() {
            return None;
        }
        let now = (*camera, size);
        if self.camera_sent.as_ref() == Some(&now) {
            return None;
        }
        if let Some(at) = self.camera_sent_at
            && at.elapsed() < CAMERA_EVENT_INTERVAL
        {
            return Some(CAMERA_EVENT_INTERVAL - at.elapsed());
        }
        let camera = view_camera(&now.0, self.images.z_up, now.1);
        let reply = Reply::Event(Event::Camera(CameraEvent { camera, view: moved_by }));
        for id in to {
            self.out.send(id, reply.clone());
        }
        self.camera_sent = Some(now);
        self.camera_sent_at = Some(Instant::now());
        None
    }

    /// Changes what `client` subscribed to (`subscribe`; a field not given keeps its value).
    pub(super) fn subscribe(&mut self, client: u64, select: Option<bool>, camera: Option<bool>) {
        let s = self.subscribers.entry(client).or_default();
        s.select = select.unwrap_or(s.select);
        s.camera = camera.unwrap_or(s.camera);
        if s.camera {
            // The current camera is the first event.
            self.camera_sent = None;
        }
        if *s == Subscription::default() {
            self.subscribers.remove(&client);
        }
    }
}
