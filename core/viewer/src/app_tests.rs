//! egui_kittest tests of the window's panels, fed by a real server and a real
//! client over loopback (no GPU: the viewport is left out, the panels are real).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use periscope_client::Viewer;
use periscope_dispatch::{BuiltinStage, Chain};
use periscope_protocol::{NdArray, Value};
use periscope_scene::Scene;
use periscope_server::{ByteQueue, Server, ServerConfig};

use crate::app::ViewerApp;
use crate::config::ViewerSection;
use crate::runtime::{Runtime, RuntimeConfig};

struct Fixture {
    harness: Harness<'static, ViewerApp>,
    _server: Server,
    client: Viewer,
}

/// A window app over a real server on an ephemeral port, and a client connected to it.
fn fixture() -> Fixture {
    let queue = Arc::new(ByteQueue::new(64 << 20, 10_000));
    let config = ServerConfig { port: 0, ..Default::default() };
    let server = Server::start(config, Arc::clone(&queue)).expect("server starts");
    let listen = server.local_addr();
    let chain = Chain::new(vec![Box::new(BuiltinStage)]);
    let rt = Runtime::new(Scene::default(), chain, queue, server.handle(), RuntimeConfig::default());
    let app = ViewerApp::new(rt, ViewerSection::default(), listen, None, Arc::new(AtomicBool::new(false)));
    let client = Viewer::connect(listen, "kittest").expect("client connects");
    Fixture { harness: harness(app), _server: server, client }
}

/// A harness that ticks and draws `app` each frame, as eframe does.
fn harness(app: ViewerApp) -> Harness<'static, ViewerApp> {
    Harness::builder().with_size(eframe::egui::vec2(1400.0, 900.0)).build_ui_state(
        |ui, app: &mut ViewerApp| {
            app.tick(ui.ctx());
            app.draw(ui);
        },
        app,
    )
}

/// Steps the UI until `done` holds (the runtime drains the queue each frame).
fn step_until(h: &mut Harness<'static, ViewerApp>, what: &str, done: impl Fn(&ViewerApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(2);
}

fn spheres(frames: usize) -> NdArray {
    NdArray::from_f32(vec![frames, 2, 3], (0..frames * 6).map(|i| i as f32).collect::<Vec<_>>())
}

#[test]
fn tree_lists_client_nodes_and_selecting_shows_properties() {
    let mut f = fixture();
    f.client.spheres(spheres(3), vec![("name".into(), Value::from("Ring"))]).unwrap();
    f.client.spheres(spheres(1), vec![("name".into(), Value::from("Dots"))]).unwrap();
    step_until(&mut f.harness, "two nodes", |a| a.rt.scene.nodes().count() == 2);

    // Each row names the node and its client.
    f.harness.get_by_label("Ring  · kittest");
    f.harness.get_by_label("Dots  · kittest").click();
    f.harness.run_steps(2);
    let dots = f.harness.state().rt.scene.nodes().find(|n| n.name == "Dots").unwrap().id;
    assert_eq!(f.harness.state().rt.scene.selected(), Some(dots));
    f.harness.get_by_label("Properties");
    f.harness.get_by_label("1 (showing 0)");

    // The row's checkbox hides the node.
    f.harness.get_by_label("Show or hide Dots").click();
    f.harness.run_steps(2);
    assert!(!f.harness.state().rt.scene.node(dots).unwrap().enabled);
    // The server panel lists the client.
    f.harness.get_by_label("kittest #1");
    let port = f.client.raw_socket().get_ref().tcp().local_addr().unwrap().port();
    f.harness.get_by_label(&format!("127.0.0.1:{port}"));
}

#[test]
fn playback_buttons_step_and_play_frames() {
    let mut f = fixture();
    f.client.spheres(spheres(5), vec![]).unwrap();
    step_until(&mut f.harness, "a node", |a| a.rt.scene.n_frames() == 5);
    assert_eq!(f.harness.state().rt.scene.current_frame(), 0);

    f.harness.get_by_label(">").click();
    f.harness.run_steps(2);
    assert_eq!(f.harness.state().rt.scene.current_frame(), 1);
    f.harness.get_by_label("<").click();
    f.harness.run_steps(2);
    assert_eq!(f.harness.state().rt.scene.current_frame(), 0);

    f.harness.get_by_label("Play").click();
    f.harness.run_steps(1);
    assert!(f.harness.state().rt.scene.playing());
    step_until(&mut f.harness, "playback to advance", |a| a.rt.scene.current_frame() >= 2);
    f.harness.get_by_label("Pause").click();
    f.harness.run_steps(2);
    assert!(!f.harness.state().rt.scene.playing());
    let stopped = f.harness.state().rt.scene.current_frame();
    std::thread::sleep(Duration::from_millis(100));
    f.harness.run_steps(3);
    assert_eq!(f.harness.state().rt.scene.current_frame(), stopped, "paused playback stays put");
}

#[test]
fn playback_bar_clicks_are_messages_that_are_recorded_and_replayed() {
    let mut f = fixture();
    let path = std::env::temp_dir().join(format!("periscope-playback-bar-{}.psr", std::process::id()));
    f.harness.state_mut().rt.start_recording(&path).unwrap();
    f.client.spheres(spheres(5), vec![]).unwrap();
    step_until(&mut f.harness, "a node", |a| a.rt.scene.n_frames() == 5);
    let calls = |a: &ViewerApp| a.rt.chain().status().iter().find(|s| s.name == "builtin").unwrap().calls;
    let before = calls(f.harness.state());
    for _ in 0..3 {
        f.harness.get_by_label(">").click();
        f.harness.run_steps(2);
    }
    f.harness.get_by_label("<").click();
    f.harness.run_steps(2);
    assert_eq!(f.harness.state().rt.scene.current_frame(), 2);
    f.harness.get_by_label("Play").click();
    f.harness.run_steps(1);
    assert!(f.harness.state().rt.scene.playing());
    assert_eq!(calls(f.harness.state()) - before, 5, "each click passed the chain");
    f.harness.state_mut().rt.stop_recording();

    // The replay repeats the clicks (not the ticks of the live playback).
    let replayed = replay_into_fresh_runtime(&path);
    assert!(replayed.scene.playing(), "the recorded playback message");
    let _ = std::fs::remove_file(path);
}

#[test]
fn frames_are_kept_only_while_recording_or_plugins_read_them() {
    let mut f = fixture();
    let rt = &mut f.harness.state_mut().rt;
    assert!(!rt.server().unwrap().keeps_frames(), "builtin only: decoded frames are dropped at once");
    let path = std::env::temp_dir().join(format!("periscope-keep-frames-{}.psr", std::process::id()));
    rt.start_recording(&path).unwrap();
    assert!(rt.server().unwrap().keeps_frames(), "the recorder writes frames as they arrived");
    rt.stop_recording();
    assert!(!rt.server().unwrap().keeps_frames());
    let _ = std::fs::remove_file(path);
}

#[test]
fn errors_show_in_the_log() {
    let mut f = fixture();
    // A delete of a node that does not exist is refused; the log says so.
    f.client.send_message(100, Some(42), vec![], vec![]).unwrap();
    step_until(&mut f.harness, "the error", |a| a.rt.log().any(|l| l.text.contains("uid 42")));
    f.harness.get_by_label_contains("no node with uid 42");
}

#[test]
fn image_windows_show_stats_pause_and_read_remote() {
    let mut f = fixture();
    let img = || Value::NdArray(NdArray::from_f32(vec![6, 8, 3], vec![0.5; 6 * 8 * 3]));
    let single = vec![("images".into(), Value::Array(vec![img()])), ("single".into(), Value::Bool(true))];
    f.client.send_message(306, None, vec![], single).unwrap();
    step_until(&mut f.harness, "the image", |a| a.rt.images.windows.values().any(|w| w.decoded == 1));
    f.harness.get_by_label_contains("kittest #1 · image 0");
    f.harness.get_by_label_contains("8x6 raw");

    // After a single image the window offers "Read remote"; clicking it resumes reading.
    let id = f.client.client_id();
    assert!(!f.harness.state().rt.images.clients[&id].reading);
    f.harness.get_by_label("Read remote").click();
    f.harness.run_steps(2);
    assert!(f.harness.state().rt.images.clients[&id].reading);

    // Pause drops what arrives.
    f.harness.get_by_label("Pause").click();
    f.harness.run_steps(2);
    assert!(f.harness.state().rt.images.clients[&id].paused);
    f.client.send_message(306, None, vec![], vec![("images".into(), img())]).unwrap();
    step_until(&mut f.harness, "a dropped image", |a| a.rt.images.windows.values().any(|w| w.dropped == 1));
    assert_eq!(f.harness.state().rt.images.windows.values().next().unwrap().decoded, 1);
}

/// Steps `replay` into a fresh runtime (no server traffic) until every record is fed.
fn replay_into_fresh_runtime(path: &std::path::Path) -> Runtime {
    let queue = Arc::new(ByteQueue::new(64 << 20, 10_000));
    let server = Server::start(ServerConfig { port: 0, ..Default::default() }, Arc::clone(&queue)).unwrap();
    let chain = Chain::new(vec![Box::new(BuiltinStage)]);
    let mut rt = Runtime::new(Scene::default(), chain, queue, server.handle(), RuntimeConfig::default());
    let mut replay = crate::replay::Replay::open(path, 0.0).expect("the recording opens");
    let mut shooter = NoScreenshots;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !replay.finished() {
        assert!(Instant::now() < deadline, "replay did not finish");
        rt.step(Some(&mut replay), Duration::ZERO, Duration::from_millis(50), &mut shooter);
    }
    rt
}

struct NoScreenshots;
impl crate::runtime::Shooter for NoScreenshots {
    fn shoot(
        &mut self,
        _: &Scene,
        _: &crate::screenshot::ScreenshotRequest,
    ) -> Result<(periscope_render::Image, usize), String> {
        Err("no renderer in this test".into())
    }
    fn camera(&self) -> periscope_render::Camera {
        periscope_render::Camera::default()
    }
    fn set_camera(&mut self, _: periscope_render::Camera) {}
    fn view_size(&self) -> (u32, u32) {
        (1, 1)
    }
    fn set_backgrounds(&mut self, _: &[Arc<periscope_render::Background>]) {}
    fn bounds(
        &mut self,
        _: periscope_render::SceneView<'_>,
        _: Option<periscope_scene::NodeId>,
    ) -> Option<(glam::Vec3, glam::Vec3)> {
        None
    }
    fn render_frame(
        &mut self,
        _: periscope_render::SceneView<'_>,
        _: &periscope_render::Camera,
        _: u32,
        _: u32,
    ) -> Result<periscope_render::Image, String> {
        Err("no renderer in this test".into())
    }
}

#[test]
fn panel_edits_pass_the_chain_are_recorded_and_replayed() {
    let mut f = fixture();
    let path = std::env::temp_dir().join(format!("periscope-panel-edit-{}.psr", std::process::id()));
    f.harness.state_mut().rt.start_recording(&path).unwrap();
    f.client.spheres(spheres(1), vec![("name".into(), Value::from("Dots"))]).unwrap();
    step_until(&mut f.harness, "the node", |a| a.rt.scene.nodes().count() == 1);
    f.harness.get_by_label("Dots  · kittest").click();
    f.harness.run_steps(2);

    // Rename in the properties panel and hide it from the tree: both are
    // set_properties messages of the local "viewer" client.
    let name_field = egui_kittest::kittest::By::new().role(eframe::egui::accesskit::Role::TextInput).value("Dots");
    f.harness.get(name_field.clone()).click();
    f.harness.run_steps(2);
    f.harness.get(name_field).type_text(" edited");
    f.harness.run_steps(3);
    f.harness.get_by_label_contains("Show or hide Dots").click();
    f.harness.run_steps(2);
    let rt = &mut f.harness.state_mut().rt;
    let live = rt.scene.nodes().next().unwrap().clone();
    assert!(live.name.contains("edited"), "the panel renamed the node: {:?}", live.name);
    assert!(!live.enabled, "the tree hid the node");
    let via_chain = rt.chain().status().iter().find(|s| s.name == "builtin").unwrap().calls;
    assert!(via_chain >= 3, "edits passed the builtin stage ({via_chain} calls)");
    rt.stop_recording();

    let replayed = replay_into_fresh_runtime(&path);
    let node = replayed.scene.nodes().next().expect("the replay made the node");
    assert_eq!((node.name.as_str(), node.enabled), (live.name.as_str(), false), "the replay shows the edits");
    let _ = std::fs::remove_file(path);
}

/// Drags with the primary button from `from` to `to` in a few steps, as a hand would.
fn drag(h: &mut Harness<'static, ViewerApp>, from: eframe::egui::Pos2, to: eframe::egui::Pos2) {
    use eframe::egui::{Event, Modifiers, PointerButton};
    let press = |pos, pressed| Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::NONE,
    };
    h.event(Event::PointerMoved(from));
    h.step();
    h.event(press(from, true));
    h.step();
    for i in 1..=8 {
        h.event(Event::PointerMoved(from + (to - from) * (i as f32 / 8.0)));
        h.step();
        std::thread::sleep(Duration::from_millis(4));
    }
    h.event(press(to, false));
    h.run_steps(2);
}

/// The client's next control event (others are skipped), as (action, value).
fn next_control_event(client: &mut Viewer) -> (String, Value) {
    let e = client.next_event(Duration::from_secs(10)).unwrap().expect("an event within 10 s");
    let periscope_protocol::Event::Control(e) = e else { panic!("not a control event: {e:?}") };
    assert_eq!(e.client_id, 0, "changed by the viewer's own client");
    (e.action, e.value)
}

#[test]
fn the_controls_panel_clicks_a_button_and_drags_a_slider_and_the_owner_hears_it() {
    let mut f = fixture();
    let path = std::env::temp_dir().join(format!("periscope-controls-{}.psr", std::process::id()));
    f.harness.state_mut().rt.start_recording(&path).unwrap();
    // Sent without waiting for the answers: this test's thread also runs the UI.
    let add = periscope_protocol::MessageType::AddControl.as_i64();
    let k = |key: &str, v: Value| (key.to_owned(), v);
    f.client.send_message(add, Some(1), vec![], vec![k("kind", "button".into()), k("label", "Reset".into())]).unwrap();
    let slider = vec![
        k("kind", "slider".into()),
        k("label", "Speed".into()),
        k("min", 0.0.into()),
        k("max", 10.0.into()),
        k("value", 0.0.into()),
    ];
    f.client.send_message(add, Some(2), vec![], slider).unwrap();
    step_until(&mut f.harness, "two controls", |a| a.rt.scene.controls().len() == 2);
    let id = |a: &ViewerApp, uid| a.rt.scene.controls().by_remote(1, uid).unwrap().id;
    let (reset, speed) = (id(f.harness.state(), 1), id(f.harness.state(), 2));
    f.harness.run_steps(2);
    // The owner's section (the server panel names the client too).
    assert_eq!(f.harness.query_all_by_label("kittest #1").count(), 2);

    // A real click on the button: the owner gets one "click" event.
    f.harness.get_by_label("Reset").click();
    f.harness.run_steps(2);
    assert_eq!(next_control_event(&mut f.client), ("click".to_owned(), Value::Bool(true)));
    assert_eq!(f.harness.state().rt.scene.controls().get(reset).unwrap().clicks, 1);

    // Drag the slider to the right: updates while dragging (at most every
    // 10 ms, newest wins) and always the final value.
    let slider = f
        .harness
        .get(egui_kittest::kittest::By::new().role(eframe::egui::accesskit::Role::Slider).label("Speed"))
        .rect();
    drag(&mut f.harness, slider.left_center() + eframe::egui::vec2(2.0, 0.0), slider.right_center());
    let final_value = f.harness.state().rt.scene.controls().get(speed).unwrap().value.as_f64();
    assert!(final_value > 5.0, "the drag moved the slider: {final_value}");
    let mut updates = Vec::new();
    while updates.last() != Some(&final_value) {
        let (action, value) = next_control_event(&mut f.client);
        assert_eq!(action, "update");
        updates.push(value.as_f64().unwrap());
    }
    assert!(updates.windows(2).all(|w| w[0] <= w[1]), "values follow the drag: {updates:?}");
    assert!(updates.len() <= 9, "at most one event per drag step: {updates:?}");

    // Controls, values and events were recorded; a replay rebuilds them.
    f.harness.state_mut().rt.stop_recording();
    let replayed = replay_into_fresh_runtime(&path);
    let controls: Vec<_> =
        replayed.scene.controls().iter().map(|c| (c.label.clone(), c.value.as_f64(), c.clicks)).collect();
    assert_eq!(controls, vec![("Reset".to_owned(), 0.0, 1), ("Speed".to_owned(), final_value, 0)]);
    let _ = std::fs::remove_file(path);
}

#[test]
fn selecting_in_the_tree_is_a_select_message_subscribers_hear() {
    let mut f = fixture();
    let dots = f.client.spheres(spheres(1), vec![("name".into(), Value::from("Dots"))]).unwrap();
    f.client.subscribe(true, false).unwrap();
    step_until(&mut f.harness, "the node", |a| a.rt.scene.nodes().count() == 1);
    f.harness.get_by_label("Dots  · kittest").click();
    f.harness.run_steps(2);
    let e = f.client.next_event(Duration::from_secs(10)).unwrap().expect("a select event");
    let periscope_protocol::Event::Select(e) = e else { panic!("not a select event: {e:?}") };
    assert_eq!(e.uid, Some(dots));
    assert_eq!(e.name.as_deref(), Some("Dots"));
    // The client selects nothing; the panel shows no properties then.
    f.client.select(None).unwrap();
    step_until(&mut f.harness, "no selection", |a| a.rt.scene.selected().is_none());
    let e = f.client.next_event(Duration::from_secs(10)).unwrap().expect("a second select event");
    let periscope_protocol::Event::Select(e) = e else { panic!("not a select event: {e:?}") };
    assert_eq!(e.node_id, None);
}

#[test]
fn image_windows_open_side_by_side_and_dock_into_the_panel() {
    let mut f = fixture();
    let img = |w: usize| Value::NdArray(NdArray::from_f32(vec![90, w, 3], vec![0.5; 90 * w * 3]));
    let two = vec![("images".into(), Value::Array(vec![img(160), img(120)]))];
    f.client.send_message(306, None, vec![], two).unwrap();
    step_until(&mut f.harness, "two images", |a| a.rt.images.windows.values().filter(|w| w.decoded == 1).count() == 2);
    f.harness.run_steps(3);
    let title = |i: usize| format!("kittest #1 · image {i}");
    let (a, b) = (f.harness.get_by_label(&title(0)).rect(), f.harness.get_by_label(&title(1)).rect());
    let overlap = a.intersect(b);
    assert!(!overlap.is_positive() || overlap.area() < 0.05 * a.area(), "tiled, not piled: {a:?} {b:?}");

    // Dock the second image: it moves into the side panel's "Images" section.
    let docks: Vec<_> = f.harness.query_all_by_label("Dock").collect();
    assert_eq!(docks.len(), 2);
    docks[1].click();
    f.harness.run_steps(3);
    assert!(f.harness.state().rt.images.windows.values().filter(|w| w.docked).count() == 1);
    f.harness.get_by_label("Images");
    f.harness.get_by_label("Undock");
}

#[test]
fn tiles_fill_the_area_in_a_grid_keeping_the_aspect_ratio() {
    use crate::images::window::tile;
    use eframe::egui::{Rect, pos2, vec2};
    let area = Rect::from_min_size(pos2(0.0, 0.0), vec2(1000.0, 600.0));
    let (p0, s0) = tile(area, 2, 0, vec2(640.0, 480.0));
    let (p1, _) = tile(area, 2, 1, vec2(640.0, 480.0));
    assert!(p1.x >= p0.x + s0.x, "side by side: {p0:?} {s0:?} {p1:?}");
    assert!(((s0.x / (s0.y - 28.0)) - 640.0 / 480.0).abs() < 0.01, "aspect kept: {s0:?}");
    let (p3, _) = tile(area, 4, 3, vec2(100.0, 100.0));
    assert!(p3.y > 250.0, "a second row for four tiles: {p3:?}");
    // A tall area stacks two 4:3 images instead of squeezing them side by side.
    let tall = Rect::from_min_size(pos2(0.0, 0.0), vec2(595.0, 640.0));
    let (q0, t0) = tile(tall, 2, 0, vec2(640.0, 480.0));
    let (q1, _) = tile(tall, 2, 1, vec2(640.0, 480.0));
    assert!(q1.y >= q0.y + t0.y && t0.x > 300.0, "stacked and larger: {q0:?} {t0:?} {q1:?}");
}

#[test]
fn a_tree_of_thousands_of_nodes_lays_out_only_the_visible_rows() {
    let mut f = fixture();
    for i in 0..3_000 {
        f.client.spheres(spheres(1), vec![("name".into(), Value::from(format!("n{i}")))]).unwrap();
    }
    step_until(&mut f.harness, "3,000 nodes", |a| a.rt.scene.nodes().count() == 3_000);
    let rows = f.harness.query_all_by_label_contains("· kittest").count();
    assert!(rows > 5 && rows < 100, "only a screenful of rows is laid out, not 3,000: {rows}");
    f.harness.get_by_label("n0  · kittest");
}

/// A body model that takes its time (a stand-in for a 1,000-frame SMPL
/// sequence): each vertex is the frame's first pose parameter.
struct SlowBodies(Duration);

impl periscope_scene::BodyModels for SlowBodies {
    fn skin(
        &self,
        _: &str,
        _: &str,
        frames: &[periscope_scene::BodyPose<'_>],
    ) -> Result<periscope_scene::Skinned, String> {
        std::thread::sleep(self.0);
        if frames.iter().any(|f| f.body.first() == Some(&-1.0)) {
            return Err("the model refuses pose -1".into());
        }
        Ok(periscope_scene::Skinned {
            vertices: frames.iter().flat_map(|f| [f.body[0]; 9]).collect(),
            joints: frames.iter().flat_map(|f| [f.body[0]; 3]).collect(),
            n_vertices: 3,
            n_joints: 1,
            faces: Arc::new(vec![0, 1, 2]),
            bones: Arc::new(vec![[-1, 0]]),
            notes: Vec::new(),
        })
    }
}

#[test]
fn body_sequences_skin_off_the_ui_thread_and_the_senders_order_holds() {
    let queue = Arc::new(ByteQueue::new(64 << 20, 10_000));
    let server = Server::start(ServerConfig { port: 0, ..Default::default() }, Arc::clone(&queue)).unwrap();
    let mut scene = Scene::default();
    scene.set_body_models(Arc::new(SlowBodies(Duration::from_millis(400))));
    let mut rt =
        Runtime::new(scene, Chain::new(vec![Box::new(BuiltinStage)]), queue, server.handle(), RuntimeConfig::default());
    let mut client = Viewer::connect(server.local_addr(), "bodies").unwrap();
    let mut other = Viewer::connect(server.local_addr(), "other").unwrap();
    let poses = |x: f32| Value::NdArray(NdArray::from_f32(vec![2, 3], vec![x; 6]));
    let smpl = periscope_protocol::MessageType::Smpl.as_i64();
    client.send_message(smpl, Some(1), vec![poses(0.5)], vec![]).unwrap();
    let query = client.send_message(300, None, vec![], vec![]).unwrap();
    // The other client is not held up (its read of the body is, below).
    other.spheres(spheres(1), vec![]).unwrap();

    let mut shooter = NoScreenshots;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rt.skins_pending() {
        assert!(Instant::now() < deadline, "the body sequence never started skinning");
        rt.step(None, Duration::from_millis(20), Duration::from_millis(50), &mut shooter);
    }
    // The step that took the message returned while skinning runs on the pool:
    // the node is there without vertices yet, and the sender's query waits.
    let body = rt.scene.node_by_remote(client.client_id(), 1).expect("the node exists at once");
    assert!(body.attr("vertices").is_none(), "skinning runs elsewhere");
    // Another client reads the body meanwhile: its read waits for the skinning.
    let read = vec![
        ("attribute".into(), Value::from("vertices")),
        ("frame".into(), Value::Int(1)),
        ("client_id".into(), Value::from(client.client_id())),
    ];
    let other_query = other.send_message(300, Some(1), vec![], read).unwrap();
    while rt.scene.nodes().count() < 2 {
        assert!(Instant::now() < deadline, "the other client's node never came");
        rt.step(None, Duration::from_millis(20), Duration::from_millis(50), &mut shooter);
    }
    assert!(rt.skins_pending(), "another client's message was handled while the body was skinning");
    while rt.skins_pending() {
        assert!(Instant::now() < deadline, "skinning never finished");
        rt.step(None, Duration::from_millis(20), Duration::from_millis(50), &mut shooter);
    }
    rt.step(None, Duration::ZERO, Duration::from_millis(50), &mut shooter);
    let node = rt.scene.node_by_remote(client.client_id(), 1).unwrap();
    assert_eq!(node.attr("vertices").map(|v| v.len()), Some(2), "both frames skinned");
    assert_eq!(node.frame_data("vertices", 1).unwrap()[0], 0.5);
    // The query sent after the sequence was answered after the skinning.
    let answered = loop {
        match client.recv(Duration::from_secs(5)).unwrap().expect("the query's answer") {
            periscope_protocol::Reply::SceneState(s) if s.ref_seq == Some(query) => break s,
            _ => {}
        }
    };
    assert!(answered.nodes.iter().any(|n| n.uid == Some(1) && n.n_frames == 2));
    let data = loop {
        match other.recv(Duration::from_secs(5)).unwrap().expect("the other client's read") {
            periscope_protocol::Reply::SceneState(s) if s.ref_seq == Some(other_query) => break s.data,
            periscope_protocol::Reply::Problem { message, .. } => panic!("the read did not wait: {message}"),
            _ => {}
        }
    };
    let Some(Value::NdArray(v)) = data else { panic!("vertices of frame 1: {data:?}") };
    assert_eq!(v.to_f32()[0], 0.5, "another client's read saw the skinned frame");

    // A failure comes back to the sender naming the message, and the node is as before.
    let add = periscope_protocol::MessageType::AddFrames.as_i64();
    let bad = client.send_message(add, Some(1), vec![], vec![("poses_body".into(), poses(-1.0))]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        assert!(Instant::now() < deadline, "no error for the failed skinning");
        rt.step(None, Duration::from_millis(20), Duration::from_millis(50), &mut shooter);
        if let Some(periscope_protocol::Reply::Problem { warning: false, ref_seq, message, .. }) =
            client.recv(Duration::from_millis(1)).unwrap()
        {
            break (ref_seq, message);
        }
    };
    assert_eq!(error, (Some(bad), "the model refuses pose -1".to_owned()));
    let node = rt.scene.node_by_remote(client.client_id(), 1).unwrap();
    assert_eq!(node.attr("poses_body").map(|p| p.len()), Some(2), "the refused frames were taken back");
}

/// The repository's `.venv` Python (made by `make venv`), if there is one.
fn venv_python() -> Option<std::path::PathBuf> {
    let py = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if py.exists() {
        return Some(py);
    }
    assert!(
        std::env::var_os("PERISCOPE_REQUIRE_PYTHON").is_none(),
        "PERISCOPE_REQUIRE_PYTHON is set but {} does not exist (make venv)",
        py.display()
    );
    eprintln!("skipping: no .venv (make venv)");
    None
}

#[test]
fn a_python_clients_callbacks_fire_when_the_panel_is_clicked_and_dragged() {
    let Some(py) = venv_python() else { return };
    let mut f = fixture();
    let port = f._server.local_addr().port();
    // A real Python client on a real socket: it defines a button and a slider
    // and prints what its callbacks (on its periscope-events thread) receive.
    let script = format!(
        "import sys, threading\n\
         from periscope import RemoteViewer\n\
         v = RemoteViewer('127.0.0.1', {port}, client_name='py')\n\
         done = threading.Event(); got = []\n\
         b = v.gui.add_button('Py button')\n\
         s = v.gui.add_slider('Py slider', min=0.0, max=1.0, value=0.0)\n\
         b.on_click(lambda e: (print('click', e.client, threading.current_thread().name, flush=True)))\n\
         s.on_update(lambda e: (print('update', e.value, flush=True), e.value > 0.5 and done.set()))\n\
         print('ready', flush=True)\n\
         done.wait(30); v.close()\n"
    );
    let mut child = std::process::Command::new(py)
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    step_until(&mut f.harness, "the Python client's controls", |a| a.rt.scene.controls().len() == 2);
    f.harness.run_steps(2);
    f.harness.get_by_label("Py button").click();
    f.harness.run_steps(2);
    let slider =
        f.harness.get(egui_kittest::kittest::By::new().role(eframe::egui::accesskit::Role::Slider).label("Py slider"));
    let rect = slider.rect();
    drag(&mut f.harness, rect.left_center() + eframe::egui::vec2(2.0, 0.0), rect.right_center());
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l: &String| {
        l.starts_with("update") && l.split(' ').nth(1).is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v > 0.5))
    }) {
        assert!(Instant::now() < deadline, "the Python callbacks did not fire: {lines:?}");
        f.harness.step();
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(20)) {
            lines.push(l);
        }
    }
    assert!(lines.iter().any(|l| l == "click 0 periscope-events"), "the click reached the callback thread: {lines:?}");
    let _ = child.wait();
}

/// A window app with a real GPU viewport (lavapipe in CI), or `None` (test
/// skipped) when no adapter exists and `PERISCOPE_REQUIRE_RENDER` is unset.
fn fixture_with_viewport(export_dir: &std::path::Path) -> Option<Fixture> {
    use eframe::egui_wgpu;
    let setup = egui_wgpu::WgpuSetup::without_display_handle();
    let state = pollster::block_on(async {
        let instance = setup.new_instance().await;
        let config = egui_wgpu::WgpuConfiguration { wgpu_setup: setup, ..Default::default() };
        egui_wgpu::RenderState::create(&config, &instance, None, Default::default()).await
    });
    let rs = match state {
        Ok(rs) => rs,
        Err(e) if std::env::var_os("PERISCOPE_REQUIRE_RENDER").is_none() => {
            eprintln!("skipping: no GPU adapter: {e}");
            return None;
        }
        Err(e) => panic!("PERISCOPE_REQUIRE_RENDER is set but no adapter: {e}"),
    };
    let queue = Arc::new(ByteQueue::new(64 << 20, 10_000));
    let server = Server::start(ServerConfig { port: 0, ..Default::default() }, Arc::clone(&queue)).unwrap();
    let listen = server.local_addr();
    let config = RuntimeConfig { export_dir: export_dir.to_owned(), ..Default::default() };
    let rt = Runtime::new(Scene::default(), Chain::new(vec![Box::new(BuiltinStage)]), queue, server.handle(), config);
    let cfg = ViewerSection { export_dir: export_dir.to_owned(), ..ViewerSection::default() };
    let viewport = crate::viewport::Viewport::new(&rs, cfg.render_options());
    let app = ViewerApp::new(rt, cfg, listen, Some(viewport), Arc::new(AtomicBool::new(false)));
    let client = Viewer::connect(listen, "kittest").expect("client connects");
    Some(Fixture { harness: harness(app), _server: server, client })
}

#[test]
fn the_video_dialog_exports_with_progress_and_cancel_leaves_nothing() {
    let dir = std::env::temp_dir().join(format!("periscope-video-dialog-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let Some(mut f) = fixture_with_viewport(&dir) else { return };
    f.client.spheres(spheres(4), vec![]).unwrap();
    step_until(&mut f.harness, "a node", |a| a.rt.scene.n_frames() == 4);
    f.harness.get_by_label("Video").click();
    f.harness.run_steps(2);
    f.harness.get_by_label("Orbit").click();
    {
        let v = &mut f.harness.state_mut().video;
        (v.name, v.width, v.height) = ("dialog.gif".into(), 64, 48);
    }
    f.harness.run_steps(1);
    f.harness.get_by_label("Export video").click();
    step_until(&mut f.harness, "the export", |a| a.rt.last_export.is_some());
    let done = f.harness.state().rt.last_export.clone().unwrap().expect("exported");
    assert_eq!((done.written.frames, done.width, done.height), (4, 64, 48));
    assert_eq!(done.written.path, dir.join("dialog.gif"));
    f.harness.get_by_label(&format!("wrote {} (4 frames)", dir.join("dialog.gif").display()));
    // A long export: the progress bar shows, Cancel stops it and removes the partial file.
    {
        let v = &mut f.harness.state_mut().video;
        (v.name, v.all_frames, v.start, v.stop) = ("long.mp4".into(), false, 0, 2000);
    }
    f.harness.get_by_label("Export video").click();
    step_until(&mut f.harness, "some frames", |a| a.rt.export_progress().is_some_and(|(done, _, _)| done >= 2));
    let (_, total, _) = f.harness.state().rt.export_progress().unwrap();
    assert_eq!(total, 2000);
    f.harness.get_by_label("Cancel").click();
    f.harness.run_steps(2);
    assert!(f.harness.state().rt.export_progress().is_none());
    assert!(matches!(&f.harness.state().rt.last_export, Some(Err(e)) if e == "cancelled"));
    let mut left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, vec!["dialog.gif".to_owned()], "the cancelled export left files");
    // A bad name is refused in the dialog.
    f.harness.state_mut().video.name = "clip.avi".into();
    f.harness.get_by_label("Export video").click();
    f.harness.run_steps(2);
    assert!(matches!(&f.harness.state().rt.last_export, Some(Err(e)) if e.contains("avi")));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn keyframes_are_added_from_the_view_exported_and_saved_with_the_view() {
    let dir = std::env::temp_dir().join(format!("periscope-keyframes-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let Some(mut f) = fixture_with_viewport(&dir) else { return };
    f.client.spheres(spheres(2), vec![]).unwrap();
    step_until(&mut f.harness, "a node", |a| a.rt.scene.n_frames() == 2);
    f.harness.get_by_label("Video").click();
    f.harness.run_steps(2);
    f.harness.get_by_label("Keyframes").click();
    f.harness.run_steps(2);
    f.harness.get_by_label("Add from view").click();
    f.harness.run_steps(1);
    // Move the camera, add a second keyframe: 1 s after the first.
    f.harness.state_mut().viewport.as_mut().unwrap().camera.orbit(200.0, 0.0);
    f.harness.get_by_label("Add from view").click();
    f.harness.run_steps(2);
    let keys = f.harness.state().video.path.keyframes.clone();
    assert_eq!(keys.iter().map(|k| k.time).collect::<Vec<_>>(), vec![Some(0.0), Some(1.0)]);
    assert_ne!(keys[0].position, keys[1].position);
    // Save view stores them; Restore view brings them back.
    f.harness.get_by_label("Save view").click();
    f.harness.run_steps(1);
    let text = std::fs::read_to_string(dir.join("view.toml")).unwrap();
    assert!(text.contains("[[camera_path.keyframes]]"), "{text}");
    f.harness.state_mut().video.path.keyframes.clear();
    f.harness.get_by_label("Restore view").click();
    f.harness.run_steps(1);
    assert_eq!(f.harness.state().video.path.keyframes, keys);
    // Exported along them: the first frame is seen from the first keyframe.
    {
        let v = &mut f.harness.state_mut().video;
        (v.name, v.width, v.height, v.fps) = ("keys.png".into(), 48, 32, 2.0);
    }
    f.harness.get_by_label("Export video").click();
    step_until(&mut f.harness, "the export", |a| a.rt.last_export.is_some());
    let done = f.harness.state().rt.last_export.clone().unwrap().expect("exported");
    assert_eq!(done.written.files.len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}
