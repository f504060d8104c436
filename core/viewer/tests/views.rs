//! A headless hub and its views over real loopback sockets: each view's
//! mirror (the same `ViewLink` + `Scene::apply_changes` that
//! `periscope --connect` runs) must equal the hub's scene, bit for bit
//! (`Scene::digest`), including a view that joins late, changes made by a
//! script, and a view that stops reading.

mod common;

use std::time::{Duration, Instant};

use common::{Periscope, example_scripts, test_dir};
use periscope_client::{ConnectOptions, Viewer, kw};
use periscope_protocol::{Envelope, MessageType, NdArray, Value};
use periscope_scene::Scene;
use periscope_viewer::view_link::{LinkEvent, LinkOptions, ViewLink};

struct Mirror {
    link: ViewLink,
    scene: Scene,
}

impl Mirror {
    fn connect(hub: &Periscope, name: &str) -> Self {
        let opts = LinkOptions { url: format!("ws://{}", hub.addr), token: None, name: name.into(), ca_cert: None };
        Self { link: ViewLink::start(opts).unwrap(), scene: Scene::default() }
    }

    /// Applies what arrived until the link is quiet for 20 ms; true if anything did.
    fn pump(&mut self) -> bool {
        let mut any = false;
        while let Some(ev) = self.link.next_timeout(Duration::from_millis(20)) {
            any = true;
            match ev {
                LinkEvent::Reset => self.scene.clear_mirror(),
                LinkEvent::Changes(c) => self.scene.apply_changes(c).expect("the mirror applies every change"),
                _ => {}
            }
        }
        any
    }

    /// Waits until the mirror's digest is `want`.
    fn wait_for(&mut self, want: &str, what: &str) {
        if let Err(e) = self.try_wait_for(want, what) {
            panic!("{e}");
        }
    }

    fn try_wait_for(&mut self, want: &str, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut first = true;
        loop {
            // The digest reads every frame: only when something new arrived.
            if (self.pump() || first) && self.scene.digest() == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what}: the mirror ({} nodes, frame {}) never matched the hub",
                    self.scene.nodes().count(),
                    self.scene.current_frame()
                ));
            }
            first = false;
        }
    }
}

fn verts(frames: usize, base: f32) -> NdArray {
    NdArray::from_f32(vec![frames, 4, 3], (0..frames * 12).map(|i| base + i as f32 * 0.01).collect::<Vec<_>>())
}

fn faces() -> NdArray {
    NdArray::from_i64(vec![2, 3], vec![0, 1, 2, 0, 2, 3])
}

fn hub_with_script() -> Periscope {
    let dir = test_dir();
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::copy(example_scripts().join("color_by_client.rhai"), scripts.join("color_by_client.rhai")).unwrap();
    Periscope::start_in(dir, "[dispatch]\nchain = [\"builtin\", \"scripts/*.rhai\"]\n", false)
}

#[test]
fn views_mirror_the_hub_exactly_including_one_that_joins_after_5000_frames() {
    let hub = hub_with_script();
    let mut early = Mirror::connect(&hub, "early");
    let mut producer = hub.client("producer");

    let mesh = producer.meshes(verts(3, 0.0), faces(), vec![kw("name", "mesh")]).unwrap();
    let points = NdArray::from_f32(vec![100, 3], (0..300).map(|i| i as f32 * 0.1).collect::<Vec<_>>());
    let colors = NdArray::from_u8(vec![100, 4], (0..400).map(|i| (i * 13 % 256) as u8).collect::<Vec<_>>());
    let cloud = producer.point_clouds(points, vec![kw("colors", Value::NdArray(colors))]).unwrap();
    producer.update_frames(mesh, vec![Value::NdArray(verts(1, 9.0))], &[1], vec![]).unwrap();
    producer.remove_frames(mesh, &[0]).unwrap();
    let seq = producer.meshes(verts(1, 0.0), faces(), vec![kw("name", "stream")]).unwrap();
    // 5,000 frames one message at a time: the case users hit most.
    for i in 0..5000 {
        producer.add_frames(seq, vec![Value::NdArray(verts(1, i as f32))], vec![]).unwrap();
    }
    producer.set_frame(1234).unwrap();
    let slider = Envelope::new(MessageType::AddControl.as_i64())
        .with_uid(1)
        .with_kwarg("kind", "slider")
        .with_kwarg("label", "speed")
        .with_kwarg("min", 0.0f64)
        .with_kwarg("max", 2.0f64)
        .with_kwarg("value", 1.0f64);
    producer.send(slider).unwrap();
    let want = producer.digest().unwrap();
    early.wait_for(&want, "the early view");
    let s = &early.scene;
    let stream = s.node_by_remote(producer.client_id(), seq).expect("the streamed node");
    assert_eq!(stream.n_frames(), 5001);
    assert_eq!(s.current_frame(), 1234);
    assert_ne!(
        s.node_by_remote(producer.client_id(), mesh).unwrap().color,
        periscope_scene::DEFAULT_COLOR,
        "the script's color arrived"
    );
    assert!(s.node_by_remote(producer.client_id(), cloud).is_some());
    assert_eq!(s.controls().len(), 1);

    // A view that joins after 5,000 frames gets the same scene from its snapshot.
    let mut late = Mirror::connect(&hub, "late");
    late.wait_for(&want, "the late view");

    // What a view sends back (selection, a control) are messages of its
    // client: the hub applies them and every view follows.
    let cloud_node = late.scene.node_by_remote(producer.client_id(), cloud).unwrap();
    let cloud_id = cloud_node.id;
    late.link.send(periscope_scene::select_message(Some(cloud_node), None));
    let c = late.scene.controls().iter().next().unwrap();
    let control = c.id;
    late.link.send(periscope_scene::set_control_message(c, Value::from(1.5f64)));
    let deadline = Instant::now() + Duration::from_secs(20);
    let want = loop {
        late.pump();
        let d = producer.digest().unwrap();
        if late.scene.digest() == d && late.scene.selected() == Some(cloud_id) {
            break d;
        }
        assert!(Instant::now() < deadline, "the view's selection never came back from the hub");
    };
    early.wait_for(&want, "the early view after the late view's edits");
    let c = early.scene.controls().get(control).unwrap();
    assert_eq!(c.value, periscope_scene::ControlValue::Number(1.5));

    // Deleting reaches the views too.
    producer.delete(mesh).unwrap();
    let want = producer.digest().unwrap();
    early.wait_for(&want, "after a delete");
    late.wait_for(&want, "after a delete");
    assert!(early.scene.node_by_remote(producer.client_id(), mesh).is_none());
}

#[test]
fn a_view_that_stops_reading_is_resynced_and_costs_the_hub_bounded_memory() {
    let hub = Periscope::start_in(test_dir(), "[server]\noutbox_bytes = 4194304\n", true);
    // A view that never reads.
    let opts = ConnectOptions { client_name: "stalled".into(), view: true, ..Default::default() };
    let stalled = Viewer::connect_with(hub.addr, opts).unwrap();
    let mut producer = hub.client("producer");
    // ~110 MB of frames: more than the view's outbox (4 MiB), write buffer (64 MiB) and backlog (16 MiB).
    let big = NdArray::from_f32(vec![1, 40_000, 3], vec![0.5f32; 120_000]);
    let seq = producer.meshes(big.clone(), faces(), vec![]).unwrap();
    for _ in 0..230 {
        producer.add_frames(seq, vec![Value::NdArray(big.clone())], vec![]).unwrap();
    }
    let want = producer.digest().unwrap();
    let rss = rss_kb(hub.child.id());
    // The scene holds ~110 MB; the stalled view may hold its outbox, write
    // buffer and backlog (4 + 64 + 16 MiB at most), never a copy per change.
    assert!(rss < 450_000, "hub RSS {rss} kB with a stalled view");
    // Once it reads again it is brought up to date by a fresh snapshot.
    let log = hub.log();
    assert!(log.contains("is sent a fresh snapshot"), "no resync logged:\n{log}");
    drop(stalled);
    let mut view = Mirror::connect(&hub, "after");
    if let Err(e) = view.try_wait_for(&want, "a view after the stalled one") {
        let log = hub.log();
        let log: Vec<&str> = log.lines().filter(|l| !l.contains("bad_shape")).collect();
        panic!("{e}; the hub's log:\n{}", log.join("\n"));
    }
}

#[test]
fn views_are_bounded_by_max_views_and_need_the_token() {
    let hub = Periscope::start("[server]\nmax_views = 1\ntoken = \"s3cret\"\n");
    let view = |token: &str| {
        let opts =
            ConnectOptions { client_name: "v".into(), token: Some(token.into()), view: true, ..Default::default() };
        Viewer::connect_with(hub.addr, opts)
    };
    let wrong = view("nope").err().expect("a wrong token is refused").to_string();
    assert!(wrong.contains("token"), "{wrong}");
    let first = view("s3cret").expect("one view");
    let second = view("s3cret").err().expect("max_views = 1").to_string();
    assert!(second.contains("max_views = 1"), "{second}");
    drop(first);
    // Its place is free again once it is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while view("s3cret").is_err() {
        assert!(Instant::now() < deadline, "the view's place was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn vec3(p: [f64; 3]) -> Value {
    Value::Array(p.iter().map(|&x| Value::from(x)).collect())
}

#[test]
fn the_view_moved_last_drives_camera_events_and_set_camera_moves_every_view() {
    let hub = Periscope::start("");
    let mut watcher = hub.client("watcher");
    watcher.send(Envelope::new(MessageType::Subscribe.as_i64()).with_kwarg("camera", true)).unwrap();
    let opts = ConnectOptions { client_name: "laptop".into(), view: true, ..Default::default() };
    let mut view = Viewer::connect_with(hub.addr, opts).unwrap();
    // A person moves the view's camera: the view reports it.
    let moved = Envelope::new(MessageType::ViewMoved.as_i64())
        .with_kwarg("position", vec3([0.0, 2.0, 7.0]))
        .with_kwarg("target", vec3([0.0, 1.0, 0.0]))
        .with_kwarg("fov_y", 50.0f64)
        .with_kwarg("width", 800i64)
        .with_kwarg("height", 600i64);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = Instant::now() - Duration::from_secs(1);
    let event = loop {
        assert!(Instant::now() < deadline, "no camera event from the view");
        // The person keeps moving it (the hub's own camera may settle once
        // after the first report, on a slow machine, and be the newer one).
        if sent.elapsed() > Duration::from_millis(300) {
            view.send(moved.clone()).unwrap();
            sent = Instant::now();
        }
        if let Some(periscope_protocol::Reply::Event(periscope_protocol::Event::Camera(e))) =
            watcher.recv(Duration::from_millis(100)).unwrap()
            && e.view == view.client_id()
        {
            break e.camera;
        }
    };
    let p = event.params.position;
    assert!((p[1] - 2.0).abs() < 1e-3 && (p[2] - 7.0).abs() < 1e-3, "the event has the view's camera: {p:?}");
    assert_eq!(event.params.width, 800);

    // Only a view reports its camera.
    let refused = watcher.send(
        Envelope::new(MessageType::ViewMoved.as_i64())
            .with_kwarg("position", vec3([0.0, 2.0, 7.0]))
            .with_kwarg("target", vec3([0.0, 1.0, 0.0]))
            .with_kwarg("fov_y", 50.0f64)
            .with_kwarg("width", 800i64)
            .with_kwarg("height", 600i64),
    );
    let seq = refused.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "view_moved from a client was not refused");
        if let Some(periscope_protocol::Reply::Problem { ref_seq, message, .. }) =
            watcher.recv(Duration::from_millis(100)).unwrap()
            && ref_seq == Some(seq)
        {
            assert!(message.contains("only a view"), "{message}");
            break;
        }
    }

    // set_camera from code moves every view: the view's mirror gets the request.
    let mut mirror = Mirror::connect(&hub, "mirror");
    let set = Envelope::new(MessageType::SetCamera.as_i64()).with_kwarg("position", vec3([3.0, 4.0, 5.0]));
    watcher.send(set).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        mirror.pump();
        if let Some((pose, _)) = mirror.scene.camera_request() {
            assert_eq!(pose.position, Some([3.0, 4.0, 5.0]));
            break;
        }
        assert!(Instant::now() < deadline, "the view was not asked to move");
    }
}

#[test]
fn a_frame_bigger_than_max_reply_bytes_still_reaches_the_views() {
    // View parts are split by the hub; one frame over max_reply_bytes travels
    // whole instead of being replaced by an error (the view would resync forever).
    let hub = Periscope::start("[server]\nmax_reply_bytes = 1048576\n");
    let mut view = Mirror::connect(&hub, "view");
    let mut producer = hub.client("producer");
    let frame = NdArray::from_f32(vec![1, 200_000, 3], (0..600_000).map(|i| i as f32).collect::<Vec<_>>());
    producer.meshes(frame, faces(), vec![kw("name", "big")]).unwrap();
    let want = producer.digest().unwrap();
    view.wait_for(&want, "a 2.4 MB frame with max_reply_bytes = 1 MiB");
}

#[test]
fn views_get_each_remote_renderers_latest_images_and_hear_when_it_leaves() {
    let hub = Periscope::start("");
    let mut renderer = hub.client("renderer");
    let image = |v: u8| {
        let px = NdArray::from_u8(vec![4, 6, 3], vec![v; 72]);
        Envelope::new(MessageType::Images.as_i64()).with_arg(Value::Array(vec![Value::NdArray(px)]))
    };
    // Sent before the view connects: the view gets the latest after its snapshot.
    renderer.send(image(10)).unwrap();
    renderer.send(image(200)).unwrap();
    renderer.query().unwrap();
    let link = ViewLink::start(LinkOptions {
        url: format!("ws://{}", hub.addr),
        token: None,
        name: "view".into(),
        ca_cert: None,
    })
    .unwrap();
    let next_images = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "{what}");
            if let Some(LinkEvent::Images { client, message, .. }) = link.next_timeout(Duration::from_millis(50)) {
                break (client, message);
            }
        }
    };
    let (client, message) = next_images("no images after the snapshot");
    assert_eq!(client, renderer.client_id());
    let env = message.expect("an image message");
    assert_eq!(env.kind, MessageType::Images.as_i64());
    let Value::Array(list) = &env.args[0] else { panic!("{env:?}") };
    let Value::NdArray(px) = &list[0] else { panic!("{list:?}") };
    assert_eq!(px.to_f32()[0], 200.0, "the latest image, not the first");
    // A new image reaches the view; the renderer leaving too.
    renderer.send(image(77)).unwrap();
    let (_, message) = next_images("the next image");
    let Value::Array(list) = &message.unwrap().args[0] else { panic!() };
    let Value::NdArray(px) = &list[0] else { panic!() };
    assert_eq!(px.to_f32()[0], 77.0);
    let renderer_id = renderer.client_id();
    renderer.close().unwrap();
    let (client, message) = next_images("the renderer leaving");
    assert_eq!((client, message.is_none()), (renderer_id, true));
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

/// The example plugin that creates geometry (each mesh's bounding box), built by cargo.
fn bbox_plugin() -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "-q", "-p", "periscope-bbox"])
        .status();
    assert!(status.unwrap().success(), "building the bbox plugin failed");
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_periscope"));
    exe.parent().unwrap().join(format!(
        "{}periscope_bbox{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

#[test]
fn a_python_program_a_script_a_plugin_and_two_views_share_one_scene() {
    let Some(py) = venv_python() else { return };
    let dir = test_dir();
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::copy(example_scripts().join("color_by_client.rhai"), scripts.join("color_by_client.rhai")).unwrap();
    let models = dir.join("models");
    let config = format!(
        "[dispatch]\nchain = [\"builtin\", \"bbox\", \"scripts/*.rhai\"]\n[plugins]\npaths = [\"{}\"]\n[smpl]\nmodels_dir = \"{}\"\n",
        bbox_plugin().display(),
        models.display()
    );
    let hub = Periscope::start_in(dir, &config, true);
    let mut early = Mirror::connect(&hub, "early");

    // A real Python program: a mesh sequence streamed frame by frame (5,000
    // frames), a point cloud, an SMPL body (skinned by the hub), a slider.
    let tests = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clients/python/tests");
    let script = format!(
        "import sys, numpy as np\n\
         sys.path.insert(0, {tests:?})\n\
         from smpl_reference import synthetic_model\n\
         import os; os.makedirs({models:?} + '/smpl', exist_ok=True)\n\
         np.savez({models:?} + '/smpl/SMPL_NEUTRAL.npz', **synthetic_model(n_vertices=200))\n\
         from periscope import RemoteViewer, RemoteMeshes, RemotePointClouds, RemoteSMPLSequence\n\
         v = RemoteViewer('127.0.0.1', {port}, client_name='trainer')\n\
         quad = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)\n\
         m = RemoteMeshes(v, quad, np.array([[0, 1, 2], [0, 2, 3]]), name='stream')\n\
         for i in range(5000):\n    m.add_frames(quad + [0, 0, i * 0.001])\n\
         rng = np.random.default_rng(0)\n\
         pc = RemotePointClouds(v, rng.random((3, 500, 3)).astype(np.float32), colors=rng.integers(0, 255, (3, 500, 3), dtype=np.uint8), name='cloud')\n\
         body = RemoteSMPLSequence(v, rng.normal(0, 0.2, (4, 69)).astype(np.float32), name='body')\n\
         s = v.gui.add_slider('speed', min=0.0, max=2.0, value=1.0)\n\
         v.set_playback(playing=True, fps=60)\n\
         v.sync()\n\
         print('streamed', flush=True)\n\
         sys.stdin.readline()\n\
         v.close()\n",
        models = models.display().to_string(),
        port = hub.addr.port(),
    );
    let mut child = std::process::Command::new(py)
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut line = String::new();
    use std::io::BufRead as _;
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "streamed", "the Python program failed");

    // A view that joins after the 5,000 frames; playback runs on the headless hub.
    let mut late = Mirror::connect(&hub, "late");
    let mut checker = hub.client("checker");
    let state = checker.query().unwrap();
    let find = |name: &str| state.nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("{name}: {state:?}"));
    assert_eq!(find("stream").n_frames, 5001);
    assert_eq!(find("body").n_frames, 4);
    assert!(state.nodes.iter().any(|n| n.client_id != find("stream").client_id), "the plugin made geometry");

    // Panel edits from the late view: hide the cloud, select the body, move the slider, pause.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !late.scene.controls().iter().any(|c| c.label == "speed") || late.scene.nodes().count() < state.nodes.len() {
        late.pump();
        assert!(
            Instant::now() < deadline,
            "the late view never got the scene: {} controls, {} of {} nodes, link {:?}; the hub's log:\n{}",
            late.scene.controls().len(),
            late.scene.nodes().count(),
            state.nodes.len(),
            late.link.state(),
            hub.log()
        );
    }
    let cloud = late.scene.nodes().find(|n| n.name == "cloud").unwrap().clone();
    let body = late.scene.nodes().find(|n| n.name == "body").unwrap().clone();
    late.link.send(periscope_scene::set_properties_message(&cloud).with_kwarg("enabled", false));
    late.link.send(periscope_scene::select_message(Some(&body), None));
    let slider = late.scene.controls().iter().find(|c| c.label == "speed").unwrap().clone();
    late.link.send(periscope_scene::set_control_message(&slider, Value::from(1.75f64)));
    late.link.send(periscope_scene::playback_message(Some(false), None));

    // Once everything settled, each view equals the hub, bit for bit.
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = loop {
        let state = checker.query().unwrap();
        let hidden = state.nodes.iter().any(|n| n.name == "cloud" && !n.enabled);
        if hidden && !state.playing && state.selected == Some(body.id) {
            break checker.digest().unwrap();
        }
        assert!(Instant::now() < deadline, "the view's edits never reached the hub: {state:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    early.wait_for(&want, "the early view");
    late.wait_for(&want, "the late view");
    assert_eq!(late.scene.controls().get(slider.id).unwrap().value, periscope_scene::ControlValue::Number(1.75));
    assert!(!late.scene.playing() && late.scene.selected() == Some(body.id));
    let skinned = late.scene.node(body.id).unwrap();
    assert_eq!(skinned.attr("vertices").map(|v| v.len()), Some(4), "the hub's skinned body frames arrived");
    drop(child.stdin.take());
    let _ = child.wait();
}
