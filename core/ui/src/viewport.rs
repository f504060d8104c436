//! The 3D viewport: the renderer's target shown as an egui image, with the
//! turntable camera, picking, fit/center and screenshots.
//!
//! It renders only when the scene, the camera, the size or the look changed,
//! so an idle window costs nothing.

use web_time::Instant;

use egui;
use egui_wgpu;
use periscope_render::{Camera, Image, RenderOptions, RenderTarget, Renderer, SceneView, wgpu};
use periscope_scene::{NodeId, Scene};

/// What happened in the viewport this frame that the app reports.
#[derive(Default)]
pub struct ViewportOutput {
    /// The screenshot asked for with [`Viewport::request_screenshot`]: the
    /// frame as rendered (the host writes it where it keeps files, the page
    /// downloads it), or the error. With asynchronous reads it comes a frame
    /// or two after the request.
    pub screenshot: Option<Result<Image, String>>,
    /// A click picked this node (or nothing), at this display-space point.
    pub picked: Option<(Option<NodeId>, Option<glam::Vec3>)>,
}

/// The viewport's GPU state and camera.
pub struct Viewport {
    rs: egui_wgpu::RenderState,
    renderer: Renderer,
    target: Option<RenderTarget>,
    texture: Option<egui::TextureId>,
    pub camera: Camera,
    /// Camera, size and options of the last render, to skip identical ones.
    last: Option<(Camera, [u32; 2], RenderOptions)>,
    /// The camera was fitted to data once (auto-fit when the first data arrives).
    fitted: bool,
    focus_seen: u64,
    /// Milliseconds the last render took on the CPU side (encode + submit).
    pub render_ms: f32,
    pub renders: u64,
    screenshot_requested: bool,
    /// Video frames are rendered here (export size), not into the window's target.
    export_target: Option<RenderTarget>,
    /// Clicks are picked and screenshots read without waiting for the GPU
    /// (the browser: see [`Viewport::set_async_reads`]); the reads under way.
    async_reads: bool,
    pending_pick: Option<periscope_render::PendingRead<u32>>,
    pending_shot: Option<periscope_render::PendingRead<Image>>,
}

impl Viewport {
    pub fn new(rs: &egui_wgpu::RenderState, options: RenderOptions) -> Self {
        Self {
            renderer: Renderer::new(&rs.device, &rs.queue, options),
            rs: rs.clone(),
            target: None,
            texture: None,
            camera: Camera::default(),
            last: None,
            fitted: false,
            focus_seen: 0,
            render_ms: 0.0,
            renders: 0,
            screenshot_requested: false,
            export_target: None,
            async_reads: false,
            pending_pick: None,
            pending_shot: None,
        }
    }

    /// Picks and takes screenshots without blocking on the GPU: the answer
    /// comes a frame or two later, and a pick without the 3D point (the
    /// browser cannot wait for a buffer mapping, and WebGL2 cannot read a
    /// depth texture back).
    pub fn set_async_reads(&mut self, on: bool) {
        self.async_reads = on;
    }

    /// Sets the camera from code (`set_camera`): kept, not refitted when the first data arrives.
    pub fn set_camera_from_code(&mut self, camera: Camera) {
        self.camera = camera;
        self.fitted = true;
    }

    /// Remote-rendered images drawn into the view from the next frame on.
    pub fn set_backgrounds(&mut self, list: &[std::sync::Arc<periscope_render::Background>]) {
        self.renderer.set_backgrounds(list);
        self.last = None;
    }

    /// The size of the last render in pixels.
    pub fn last_size(&self) -> Option<(u32, u32)> {
        self.last.as_ref().map(|(_, [w, h], _)| (*w, *h))
    }

    pub fn options(&self) -> &RenderOptions {
        self.renderer.options()
    }

    pub fn set_options(&mut self, o: RenderOptions) {
        self.renderer.set_options(o);
    }

    /// What this device draws (the Look menu greys out the rest).
    pub fn capabilities(&self) -> &periscope_render::Capabilities {
        self.renderer.capabilities()
    }

    pub fn stats(&self) -> periscope_render::FrameStats {
        self.renderer.stats()
    }

    /// Brings the GPU data in line with `view` (so bounds are current).
    pub fn prepare(&mut self, view: SceneView<'_>) {
        self.renderer.prepare(view);
    }

    /// Frames the whole scene.
    pub fn fit_all(&mut self) {
        if let Some((lo, hi)) = self.renderer.display_bounds(None) {
            self.camera.fit(lo, hi);
        }
    }

    /// Frames one node (the selection), or everything when it has no bounds.
    pub fn center_on(&mut self, id: Option<NodeId>) {
        match id.and_then(|id| self.renderer.display_bounds(Some(id))) {
            Some((lo, hi)) => self.camera.fit(lo, hi),
            None => self.fit_all(),
        }
    }

    /// Display-space bounds of what was last prepared.
    pub fn last_bounds(&self) -> Option<(glam::Vec3, glam::Vec3)> {
        self.renderer.display_bounds(None)
    }

    /// The camera was set from a saved view: the first data does not refit it.
    pub fn keep_camera(&mut self) {
        self.fitted = true;
    }

    /// Asks for a screenshot of the next rendered frame (also the P key).
    pub fn request_screenshot(&mut self) {
        self.screenshot_requested = true;
    }

    /// Shows the viewport in `rect`, handles camera input, renders if needed.
    pub fn show(&mut self, ui: &mut egui::Ui, scene: &Scene, keys_free: bool) -> ViewportOutput {
        let mut out = ViewportOutput::default();
        let rect = ui.available_rect_before_wrap();
        let response = ui.allocate_rect(rect, egui::Sense::click_and_drag());
        let changed = self.renderer.prepare(scene);

        // First data in an empty view: frame it, like opening a file would.
        if !self.fitted && self.renderer.display_bounds(None).is_some() {
            self.fit_all();
            self.fitted = true;
        }
        if let Some((id, n)) = scene.focus()
            && n != self.focus_seen
        {
            self.focus_seen = n;
            self.center_on(Some(id));
        }
        if let Some(pending) = self.pending_pick.take() {
            match pending.poll(&self.rs.device) {
                Some(Ok(id)) => out.picked = Some((self.renderer.node_for_pick(id), None)),
                Some(Err(e)) => tracing::warn!("picking failed: {e}"),
                None => {
                    self.pending_pick = Some(pending);
                    ui.ctx().request_repaint();
                }
            }
        }
        if let Some(picked) = self.handle_input(ui, &response, scene, keys_free) {
            out.picked = Some(picked);
        }

        let ppp = ui.pixels_per_point();
        let size = target_size([rect.width() * ppp, rect.height() * ppp], self.renderer.capabilities().max_texture);
        self.ensure_target(size);
        let state = (self.camera, size, self.renderer.options().clone());
        if changed || self.last.as_ref() != Some(&state) || self.screenshot_requested {
            let t0 = Instant::now();
            let target = self.target.as_ref().expect("ensured");
            self.renderer.render(target, &self.camera);
            self.render_ms = t0.elapsed().as_secs_f32() * 1000.0;
            self.renders += 1;
            self.last = Some(state);
        }
        if let Some(pending) = self.pending_shot.take() {
            match pending.poll(&self.rs.device) {
                Some(read) => out.screenshot = Some(read.map_err(|e| e.to_string())),
                None => {
                    self.pending_shot = Some(pending);
                    ui.ctx().request_repaint();
                }
            }
        }
        if std::mem::take(&mut self.screenshot_requested) {
            if !self.async_reads {
                out.screenshot = Some(self.read_image());
            } else if self.pending_shot.is_none() {
                let target = self.target.as_ref().expect("ensured");
                self.pending_shot = Some(target.begin_read_color(&self.rs.device, &self.rs.queue));
                ui.ctx().request_repaint();
            }
        }
        if let Some(tex) = self.texture {
            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
            ui.painter().image(tex, rect, uv, egui::Color32::WHITE);
        }
        out
    }

    fn ensure_target(&mut self, size: [u32; 2]) {
        if self.target.as_ref().is_some_and(|t| [t.width, t.height] == size) {
            return;
        }
        let target = RenderTarget::new(&self.rs.device, size[0], size[1]);
        let mut egui_renderer = self.rs.renderer.write();
        match self.texture {
            Some(id) => egui_renderer.update_egui_texture_from_wgpu_texture(
                &self.rs.device,
                &target.color_view_linear,
                wgpu::FilterMode::Linear,
                id,
            ),
            None => {
                self.texture = Some(egui_renderer.register_native_texture(
                    &self.rs.device,
                    &target.color_view_linear,
                    wgpu::FilterMode::Linear,
                ))
            }
        }
        self.target = Some(target);
    }

    /// Camera input and keys; returns what a click picked.
    fn handle_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        scene: &Scene,
        keys_free: bool,
    ) -> Option<(Option<NodeId>, Option<glam::Vec3>)> {
        let shift = ui.input(|i| i.modifiers.shift);
        let delta = response.drag_delta();
        if response.dragged_by(egui::PointerButton::Secondary)
            || response.dragged_by(egui::PointerButton::Middle)
            || (shift && response.dragged_by(egui::PointerButton::Primary))
        {
            self.camera.pan(delta.x, delta.y, response.rect.height());
        } else if response.dragged_by(egui::PointerButton::Primary) {
            self.camera.orbit(delta.x, delta.y);
        }
        if response.hovered() {
            let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            if scroll != 0.0 {
                self.camera.zoom(scroll / 50.0);
            }
            if zoom != 1.0 {
                self.camera.zoom(zoom.ln() * 10.0);
            }
        }
        let mut picked = None;
        if response.clicked()
            && let Some(pos) = response.interact_pointer_pos()
        {
            // Target pixels (the target may be smaller than the view: see `target_size`).
            let p = pos - response.rect.min;
            let (w, h) = self.target.as_ref().map_or((1, 1), |t| (t.width, t.height));
            let (x, y) =
                (p.x / response.rect.width().max(1.0) * w as f32, p.y / response.rect.height().max(1.0) * h as f32);
            let (x, y) = (x.max(0.0) as u32, y.max(0.0) as u32);
            if self.async_reads {
                self.begin_pick(x, y);
                ui.ctx().request_repaint();
            } else {
                picked = Some(self.pick(x, y));
            }
        }
        if response.double_clicked() {
            self.center_on(scene.selected());
        }
        if keys_free {
            // P once per press: a held key repeats, and each screenshot is a file.
            let (x, home, p) = ui.input(|i| {
                let p = i
                    .events
                    .iter()
                    .any(|e| matches!(e, egui::Event::Key { key: egui::Key::P, pressed: true, repeat: false, .. }));
                (i.key_pressed(egui::Key::X), i.key_pressed(egui::Key::Home), p)
            });
            if x {
                self.center_on(scene.selected());
            }
            if home {
                self.fit_all();
            }
            if p {
                self.request_screenshot();
            }
        }
        picked
    }

    /// Starts an asynchronous pick at target pixel (`x`, `y`); the answer
    /// comes from a later [`Viewport::show`].
    fn begin_pick(&mut self, x: u32, y: u32) {
        let Some(t) = self.target.as_ref() else { return };
        self.renderer.render_pick(t, &self.camera);
        self.pending_pick = t.begin_read_id(&self.rs.device, &self.rs.queue, x, y);
    }

    /// The node under target pixel (`x`, `y`) from the current camera, and
    /// the display-space point hit.
    fn pick(&mut self, x: u32, y: u32) -> (Option<NodeId>, Option<glam::Vec3>) {
        let Some(t) = self.target.as_ref() else { return (None, None) };
        self.renderer.render_pick(t, &self.camera);
        let (device, queue) = (&self.rs.device, &self.rs.queue);
        // No depth on the limited tier (`Capabilities::pick_depth`): the node without the point.
        let depth_known = self.renderer.capabilities().pick_depth.is_ok();
        let read = t.read_id(device, queue, x, y).and_then(|id| {
            let depth = if depth_known { t.read_pick_depth(device, queue, x, y)? } else { 1.0 };
            Ok((id, depth))
        });
        match read {
            Ok((id, depth)) => {
                let node = self.renderer.node_for_pick(id);
                let point = (node.is_some() && depth < 1.0)
                    .then(|| self.camera.unproject(x as f32, y as f32, depth, t.width, t.height));
                (node, point)
            }
            Err(e) => {
                tracing::warn!("picking failed: {e}");
                (None, None)
            }
        }
    }

    /// Renders `scene` from the current camera into a separate `width` x `height`
    /// image (screenshot requests from clients); the window's view is untouched.
    pub fn capture(&mut self, view: SceneView<'_>, width: u32, height: u32) -> Result<Image, String> {
        let camera = self.camera;
        self.render_frame(view, &camera, width, height)
    }

    /// Display-space bounds of what `view` shows (or one node).
    pub fn bounds(&mut self, view: SceneView<'_>, node: Option<NodeId>) -> Option<(glam::Vec3, glam::Vec3)> {
        self.renderer.prepare(view);
        self.renderer.display_bounds(node)
    }

    /// Renders `scene` from `camera` at `width` x `height` into a target kept
    /// for the next image of the same size (video frames, screenshots).
    pub fn render_frame(
        &mut self,
        view: SceneView<'_>,
        camera: &Camera,
        width: u32,
        height: u32,
    ) -> Result<Image, String> {
        let max = self.rs.device.limits().max_texture_dimension_2d;
        if width > max || height > max {
            return Err(format!("{width}x{height} exceeds the GPU's {max} pixel limit"));
        }
        self.renderer.prepare(view);
        if self.export_target.as_ref().is_none_or(|t| (t.width, t.height) != (width, height)) {
            self.export_target = Some(RenderTarget::new(&self.rs.device, width, height));
        }
        let target = self.export_target.as_ref().expect("just made");
        self.renderer.render(target, camera);
        // The window's image shows another frame now: draw it again.
        self.last = None;
        let image = target.read_color(&self.rs.device, &self.rs.queue).map_err(|e| e.to_string());
        if !target.worth_keeping() {
            self.export_target = None;
        }
        image
    }

    /// The last rendered frame.
    pub fn read_image(&self) -> Result<Image, String> {
        if cfg!(target_arch = "wasm32") {
            // A page cannot wait for the GPU to hand the image back.
            return Err("a page reads screenshots asynchronously (Viewport::set_async_reads)".into());
        }
        let t = self.target.as_ref().ok_or("nothing rendered yet")?;
        t.read_color(&self.rs.device, &self.rs.queue).map_err(|e| e.to_string())
    }
}

/// The target's size for a view of `px` pixels: at least 1x1, scaled down
/// (keeping the aspect) to the device's largest texture (2048 on WebGL2;
/// egui stretches the image over the view).
fn target_size(px: [f32; 2], max: u32) -> [u32; 2] {
    let scale = (max as f32 / px[0].max(px[1])).min(1.0);
    px.map(|p| ((p * scale).round() as u32).clamp(1, max.max(1)))
}

/// A view's `view_moved` message (docs/protocol.md, "Views"): its camera, in
/// world coordinates, and its size in pixels, for the hub's camera events and
/// remote renderers.
pub fn view_moved_message(camera: &Camera, size: (u32, u32), z_up: bool) -> periscope_protocol::Envelope {
    use periscope_protocol::{Envelope, MessageType, Value};
    let to_world = periscope_render::world_to_display(z_up).inverse();
    let world = |p: glam::Vec3| {
        let w = to_world.transform_point3(p);
        Value::Array(w.to_array().iter().map(|&x| Value::from(x)).collect())
    };
    Envelope::new(MessageType::ViewMoved.as_i64())
        .with_kwarg("position", world(camera.eye()))
        .with_kwarg("target", world(glam::Vec3::from(camera.target)))
        .with_kwarg("fov_y", f64::from(camera.fov_y.to_degrees()))
        .with_kwarg("width", i64::from(size.0))
        .with_kwarg("height", i64::from(size.1))
}

/// Points `camera` from a world-space pose (what it leaves out is kept): a
/// view's reported camera, and a `set_camera` that moves every view.
pub fn look_at_pose(camera: &mut Camera, z_up: bool, pose: &periscope_protocol::ViewPose) {
    let (position, target) = display_points(z_up, pose);
    camera.look(position, target, pose.fov_y_deg.map(f32::to_radians));
}

/// A pose's position and target in display space.
pub fn display_points(z_up: bool, pose: &periscope_protocol::ViewPose) -> (Option<glam::Vec3>, Option<glam::Vec3>) {
    let to_display = periscope_render::world_to_display(z_up);
    let point = |p: Option<[f32; 3]>| p.map(|p| to_display.transform_point3(glam::Vec3::from(p)));
    (point(pose.position), point(pose.target))
}
