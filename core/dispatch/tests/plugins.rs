//! Native plugins through the real loader: the example and test plugins are
//! built as real cdylibs by cargo, then loaded, called, reloaded and broken.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use periscope_dispatch::{
    Chain, ChainError, ClientCtx, DispatchConfig, Incoming, Outbox, PluginError, PluginsConfig, ScriptsConfig,
};
use periscope_protocol::{Envelope, MessageType, NdArray, Reply, Value, encode_value};
use periscope_scene::Scene;

/// Builds the plugin crates once and returns the directory holding the libraries.
fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = std::process::Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["build", "-q", "-p", "periscope-stats", "-p", "periscope-recolor", "-p", "periscope-bbox"])
            .args(["-p", "periscope-test-probe", "-p", "periscope-test-bad_abi"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the plugins failed");
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        target.join("debug")
    })
}

fn lib(name: &str) -> PathBuf {
    plugin_dir().join(format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
}

#[derive(Default)]
struct Collect(RefCell<Vec<(u64, Reply)>>);
impl Outbox for Collect {
    fn send(&self, client: u64, reply: Reply) -> bool {
        self.0.borrow_mut().push((client, reply));
        true
    }
    fn broadcast(&self, reply: &Reply) -> usize {
        self.send(0, reply.clone());
        1
    }
}

fn chain(entries: &[&str], libs: &[PathBuf], settings: &str, scene: &mut Scene) -> Result<Chain, ChainError> {
    let plugins = PluginsConfig {
        paths: libs.iter().map(|p| p.display().to_string()).collect(),
        settings: toml::from_str(settings).unwrap(),
    };
    let dispatch = DispatchConfig { chain: entries.iter().map(|s| s.to_string()).collect() };
    let scripts = ScriptsConfig { watch: false, ..ScriptsConfig::default() };
    Chain::from_config(&dispatch, &scripts, &plugins, Path::new("."), scene)
}

/// Runs `env` from client `id` as if it came over the wire (MessagePack, raw frame kept).
fn run(c: &mut Chain, scene: &mut Scene, out: &Collect, id: u64, env: Envelope) {
    let frame = encode_value(&env.to_value());
    let env = Envelope::decode_frame(frame.into(), Default::default()).unwrap();
    let name = format!("client{id}");
    c.run(&Incoming { envelope: &env, client: ClientCtx { id, name: &name, addr: "127.0.0.1:9" } }, scene, out);
}

fn spheres(uid: i64) -> Envelope {
    Envelope::new(MessageType::Spheres.as_i64()).with_uid(uid).with_arg(NdArray::from_f32(vec![2, 3], vec![0.0; 6]))
}

#[test]
fn stats_counts_and_answers() {
    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c =
        chain(&["stats", "builtin"], &[lib("periscope_stats")], "[stats]\nreply_type = 10099\n", &mut scene).unwrap();
    run(&mut c, &mut scene, &out, 1, spheres(1));
    run(&mut c, &mut scene, &out, 1, spheres(2));
    run(&mut c, &mut scene, &out, 1, Envelope::new(MessageType::SetFrame.as_i64()).with_arg(Value::Int(0)));
    run(&mut c, &mut scene, &out, 2, Envelope::new(10_005).with_kwarg("x", 1i64));
    run(&mut c, &mut scene, &out, 2, Envelope::new(10_020));
    assert_eq!(scene.nodes().count(), 2, "builtin ran after the plugin");
    let replies = out.0.borrow();
    let (to, Reply::Other { kind: 10099, fields }) = &replies[0] else { panic!("{replies:?}") };
    assert_eq!(*to, 2);
    let get = |k: &str| &fields.iter().find(|(f, _)| f == k).unwrap().1;
    assert_eq!(get("total"), &Value::Int(4), "the request itself is not counted");
    let Value::Array(clients) = get("clients") else { panic!() };
    assert_eq!(clients[0].get("messages"), Some(&Value::Int(3)));
    assert_eq!(clients[0].get("name"), Some(&Value::from("client1")));
    let types = clients[0].get("types").unwrap();
    assert_eq!((types.get("3"), types.get("200")), (Some(&Value::Int(2)), Some(&Value::Int(1))));
    assert!(clients[0].get("bytes").unwrap().as_i64().unwrap() > 2 * 24, "argument bytes are counted");
    let status = c.status();
    assert_eq!((status[0].name.as_str(), status[0].generation), ("stats", 1));
}

#[test]
fn recolor_changes_data_on_the_way_in() {
    let mut scene = Scene::default();
    let out = Collect::default();
    let settings = "[recolor]\npalette = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.5]]\n";
    let mut c = chain(&["builtin", "recolor"], &[lib("periscope_recolor")], settings, &mut scene).unwrap();
    run(&mut c, &mut scene, &out, 1, spheres(1));
    run(&mut c, &mut scene, &out, 2, spheres(1));
    run(&mut c, &mut scene, &out, 2, spheres(2).with_kwarg("color", Value::from(vec![0.0f64, 0.0, 1.0])));
    let colors: Vec<[f32; 4]> = scene.nodes().map(|n| n.color).collect();
    assert_eq!(colors, vec![[0.0, 1.0, 0.0, 0.5], [1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]]);
    assert!(out.0.borrow().is_empty());

    // A chain with a plugin asks the server to keep received frames; the
    // plugin also works on messages without one (re-encoded args/kwargs).
    assert!(c.wants_raw_frames());
    assert!(!Chain::default().wants_raw_frames());
    let mut scene2 = Scene::default();
    let mut c2 = chain(&["builtin", "recolor"], &[lib("periscope_recolor")], settings, &mut scene2).unwrap();
    let blue = spheres(2).with_kwarg("color", Value::from(vec![0.0f64, 0.0, 1.0]));
    for (id, env) in [(1, spheres(1)), (2, spheres(1)), (2, blue)] {
        assert!(env.raw.is_none());
        let name = format!("client{id}");
        let msg = Incoming { envelope: &env, client: ClientCtx { id, name: &name, addr: "127.0.0.1:9" } };
        c2.run(&msg, &mut scene2, &out);
    }
    assert_eq!(scene2.nodes().map(|n| n.color).collect::<Vec<_>>(), colors);
    // Without a palette, init fails with a clear error.
    let err = chain(&["recolor"], &[lib("periscope_recolor")], "", &mut scene).unwrap_err().to_string();
    assert!(err.contains("plugin recolor") && err.contains("failed to initialize: recolor needs `palette"), "{err}");
}

#[test]
fn loading_errors_are_clear() {
    let mut scene = Scene::default();
    let err = chain(&[], &[PathBuf::from("/nonexistent/libnothing.so")], "", &mut scene).unwrap_err().to_string();
    assert_eq!(err, "plugin file /nonexistent/libnothing.so does not exist");

    let dir = std::env::temp_dir().join(format!("periscope-plugin-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("libgarbage.so");
    std::fs::write(&garbage, b"this is not a shared library").unwrap();
    let err = chain(&[], std::slice::from_ref(&garbage), "", &mut scene).unwrap_err();
    assert!(matches!(err, ChainError::Plugin(PluginError::NotALibrary { .. })), "{err}");
    assert!(err.to_string().starts_with(&format!("{} is not a loadable library", garbage.display())), "{err}");

    if let Some(system_lib) =
        ["/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib64/libm.so.6"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    {
        let err = chain(&[], std::slice::from_ref(&system_lib), "", &mut scene).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{} is not a Periscope plugin (it exports no `periscope_plugin` symbol)", system_lib.display())
        );
    }

    let bad = lib("periscope_test_bad_abi");
    let err = chain(&[], std::slice::from_ref(&bad), "", &mut scene).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{} was built for plugin ABI version 1, but this viewer speaks version 2; rebuild it against this viewer's periscope-plugin-api",
            bad.display()
        )
    );

    let err = chain(&[], &[lib("periscope_test_probe")], "[probe]\nmode = \"init_panic\"\n", &mut scene).unwrap_err();
    assert!(err.to_string().contains("failed to initialize: panicked: probe was told to panic in init"), "{err}");

    let err = chain(&["nope"], &[lib("periscope_test_probe")], "", &mut scene).unwrap_err().to_string();
    assert!(err.contains("entry \"nope\"") && err.contains("(loaded: probe)"), "{err}");
}

#[test]
fn errors_are_reported_and_panics_disable_the_plugin() {
    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c = chain(&["probe", "builtin"], &[lib("periscope_test_probe")], "[probe]\nmode = \"error\"\n", &mut scene)
        .unwrap();
    run(&mut c, &mut scene, &out, 1, Envelope::new(10_030));
    run(&mut c, &mut scene, &out, 1, Envelope::new(10_030));
    run(&mut c, &mut scene, &out, 1, spheres(1));
    assert_eq!(scene.nodes().count(), 1, "builtin keeps running after a failing plugin");
    let replies = out.0.borrow();
    assert_eq!(replies.len(), 1, "reported to the client once: {replies:?}");
    let Reply::Problem { code, message, .. } = &replies[0].1 else { panic!() };
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("stage_failed", "stage probe failed: probe refuses message type 10030")
    );
    drop(replies);

    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c = chain(&["probe", "builtin"], &[lib("periscope_test_probe")], "[probe]\nmode = \"panic\"\n", &mut scene)
        .unwrap();
    run(&mut c, &mut scene, &out, 1, Envelope::new(10_030));
    run(&mut c, &mut scene, &out, 1, spheres(1));
    assert_eq!(scene.nodes().count(), 1, "a panic in a plugin does not take the viewer down");
    let status = &c.status()[0];
    let disabled = status.disabled.as_deref().unwrap();
    assert!(
        disabled.starts_with("disabled: stage probe failed: panicked: probe was told to panic on type 10030"),
        "{disabled}"
    );
    assert_eq!(status.calls, 1, "a disabled plugin is not called again");
}

#[test]
fn a_rebuilt_plugin_is_reloaded_without_restarting() {
    let dir = std::env::temp_dir().join(format!("periscope-plugin-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{}probe{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    std::fs::copy(lib("periscope_test_probe"), &file).unwrap();
    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c = chain(&["probe"], std::slice::from_ref(&file), "[probe]\nmode = \"panic\"\n", &mut scene).unwrap();
    run(&mut c, &mut scene, &out, 1, Envelope::new(10_030));
    assert!(c.status()[0].disabled.is_some());
    // "Rebuild": replace the file (new mtime and contents), then rescan.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut bytes = std::fs::read(lib("periscope_test_probe")).unwrap();
    bytes.extend_from_slice(&[0u8; 16]);
    std::fs::write(&file, bytes).unwrap();
    assert!(c.rescan(&mut scene));
    let status = &c.status()[0];
    assert_eq!((status.generation, status.disabled.as_deref()), (2, None), "reloaded and re-enabled");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_functions_read_and_write_nodes() {
    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c =
        chain(&["builtin", "probe"], &[lib("periscope_test_probe")], "[probe]\nmode = \"info\"\n", &mut scene).unwrap();
    let mut frames = spheres(7).with_kwarg("name", "dots");
    frames.args = vec![NdArray::from_f32(vec![5, 2, 3], vec![0.0; 30]).into()];
    run(&mut c, &mut scene, &out, 1, frames);
    scene.apply(1, &Envelope::new(MessageType::SetFrame.as_i64()).with_arg(Value::Int(3))).unwrap();
    run(&mut c, &mut scene, &out, 1, Envelope::new(10_030).with_uid(7));
    let replies = out.0.borrow();
    let (_, Reply::Other { kind: 10_031, fields }) = &replies[0] else { panic!("{replies:?}") };
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).unwrap().1.clone();
    assert_eq!(get("name"), Value::from("dots"));
    assert_eq!(
        (get("n_frames"), get("current_frame"), get("enabled")),
        (Value::Int(5), Value::Int(3), Value::Bool(true))
    );
    assert_eq!(scene.nodes().next().unwrap().name, "dots (seen)", "set_name reached the scene");
}

#[test]
fn a_plugins_apply_of_a_request_the_viewer_answers_is_an_error() {
    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c = chain(&["builtin", "probe"], &[lib("periscope_test_probe")], "[probe]\nmode = \"apply\"\n", &mut scene)
        .unwrap();
    let ask = |t: MessageType| Envelope::new(10_030).with_kwarg("apply_type", t.as_i64());
    for t in [MessageType::Query, MessageType::Screenshot, MessageType::ExportVideo, MessageType::Subscribe] {
        run(&mut c, &mut scene, &out, 1, ask(t));
    }
    run(&mut c, &mut scene, &out, 1, ask(MessageType::NextFrame));
    let replies = out.0.borrow();
    let answers: Vec<(bool, String)> = replies
        .iter()
        .filter_map(|(_, r)| match r {
            Reply::Other { kind: 10_031, fields } => {
                let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
                Some((get("ok")?.as_bool()?, get("error")?.as_str()?.to_owned()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 5, "{replies:?}");
    for (i, name) in ["query", "screenshot", "export_video", "subscribe"].iter().enumerate() {
        let (ok, error) = &answers[i];
        assert!(!ok, "{name} must not succeed silently");
        assert!(error.starts_with("unsupported: ") && error.contains(name), "{error}");
    }
    assert_eq!(answers[4], (true, String::new()), "a message that changes the scene still applies");
}

fn mesh(uid: i64, frames: &[[f32; 3]]) -> Envelope {
    // One triangle per frame: (0,0,0), (1,0,0) and the frame's own third vertex.
    let data: Vec<f32> = frames.iter().flat_map(|p| [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, p[0], p[1], p[2]]).collect();
    Envelope::new(MessageType::Meshes.as_i64())
        .with_uid(uid)
        .with_arg(NdArray::from_f32(vec![frames.len(), 3, 3], data))
        .with_arg(NdArray::from_i64(vec![1, 3], vec![0, 1, 2]))
        .with_kwarg("name", "tri")
}

/// The (min, max) corner of one frame of the box node's line points.
fn box_extent(scene: &Scene, node: u64, frame: usize) -> ([f32; 3], [f32; 3]) {
    let points = scene.node(node).unwrap().attr("lines").unwrap().frame(frame).unwrap().to_vec();
    assert_eq!(points.len(), 24 * 3, "12 edges of 2 points");
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for p in points.chunks(3) {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

#[test]
fn abi2_plugin_creates_a_node_adds_frames_and_reads_vertices() {
    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c = chain(&["builtin", "bbox"], &[lib("periscope_bbox")], "", &mut scene).unwrap();
    run(&mut c, &mut scene, &out, 1, mesh(7, &[[0.0, 2.0, 0.0], [0.0, 3.0, 1.0]]));
    assert!(out.0.borrow().is_empty(), "{:?}", out.0.borrow());

    // The plugin read the mesh's vertices and created a lines node of its own.
    let boxes: Vec<_> = scene.nodes().filter(|n| n.name == "tri bbox").map(|n| (n.id, n.client)).collect();
    let [(bbox, owner)] = boxes[..] else { panic!("one box node: {boxes:?}") };
    assert!(
        matches!(periscope_scene::ClientKind::of(owner), periscope_scene::ClientKind::Plugin(_)),
        "owned by the plugin's client"
    );
    assert_eq!(scene.client(owner).unwrap().name, "plugin bbox");
    assert_eq!(scene.node(bbox).unwrap().n_frames(), 2);
    assert_eq!(box_extent(&scene, bbox, 0), ([0.0, 0.0, 0.0], [1.0, 2.0, 0.0]));
    assert_eq!(box_extent(&scene, bbox, 1), ([0.0, 0.0, 0.0], [1.0, 3.0, 1.0]));

    // New frames of the mesh are boxed as they arrive (added, not rebuilt).
    let more = Envelope::new(MessageType::AddFrames.as_i64())
        .with_uid(7)
        .with_arg(NdArray::from_f32(vec![1, 3, 3], vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -2.0, 0.5, 0.5]));
    run(&mut c, &mut scene, &out, 1, more);
    assert_eq!(scene.node(bbox).unwrap().n_frames(), 3, "the same node, one more frame");
    assert_eq!(box_extent(&scene, bbox, 2), ([-2.0, 0.0, 0.0], [1.0, 0.5, 0.5]));

    // Another client's mesh with the same uid gets its own box; deleting a mesh deletes its box.
    run(&mut c, &mut scene, &out, 2, mesh(7, &[[5.0, 5.0, 5.0]]));
    assert_eq!(scene.nodes().filter(|n| n.name == "tri bbox").count(), 2);
    run(&mut c, &mut scene, &out, 1, Envelope::new(MessageType::Delete.as_i64()).with_uid(7));
    assert!(scene.node(bbox).is_none(), "the box went with its mesh");
    assert_eq!(scene.nodes().filter(|n| n.name == "tri bbox").count(), 1);
    assert!(out.0.borrow().is_empty(), "{:?}", out.0.borrow());

    // The plugin's checkbox in the Controls panel: unticking it (as the
    // window's panel does, client 0) hides every box.
    let toggle = scene.controls().iter().find(|k| k.label == "Show boxes").expect("the plugin's control").clone();
    assert_eq!(toggle.client, owner);
    let untick = periscope_scene::set_control_message(&toggle, false.into());
    run(&mut c, &mut scene, &out, 0, untick);
    assert!(scene.nodes().filter(|n| n.name == "tri bbox").all(|n| !n.enabled), "boxes hidden");
    run(&mut c, &mut scene, &out, 2, mesh(8, &[[1.0, 1.0, 1.0]]));
    assert_eq!(scene.nodes().filter(|n| n.name == "tri bbox" && !n.enabled).count(), 2, "new boxes start hidden");
}

#[test]
fn plugin_api_type_numbers_match_the_protocol_table() {
    use periscope_plugin_api::types as t;
    for (n, ty) in [
        (t::NODE, MessageType::Node),
        (t::MESHES, MessageType::Meshes),
        (t::SPHERES, MessageType::Spheres),
        (t::LINES, MessageType::Lines),
        (t::ARROWS, MessageType::Arrows),
        (t::RIGID_BODIES, MessageType::RigidBodies),
        (t::SMPL, MessageType::Smpl),
        (t::SKELETONS, MessageType::Skeletons),
        (t::POINT_CLOUDS, MessageType::PointClouds),
        (t::DELETE, MessageType::Delete),
        (t::ADD_FRAMES, MessageType::AddFrames),
        (t::UPDATE_FRAMES, MessageType::UpdateFrames),
        (t::REMOVE_FRAMES, MessageType::RemoveFrames),
        (t::SET_FRAME, MessageType::SetFrame),
        (t::SET_PROPERTIES, MessageType::SetProperties),
        (t::ADD_CONTROL, MessageType::AddControl),
        (t::UPDATE_CONTROL, MessageType::UpdateControl),
        (t::REMOVE_CONTROL, MessageType::RemoveControl),
        (t::SET_CONTROL, MessageType::SetControl),
        (t::SELECT, MessageType::Select),
        (t::USER_MESSAGE, MessageType::UserMessage),
    ] {
        assert_eq!(n, ty.as_i64(), "{}", ty.name());
    }
}

/// The code blocks of `plugins/README.md`'s "Writing one" section: the Cargo.toml
/// fragment and the plugin source.
fn readme_example() -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("plugins/README.md")).unwrap();
    let section = readme.split("## Writing one").nth(1).expect("a 'Writing one' section");
    let block = |fence: &str| {
        let start = section.find(fence).unwrap_or_else(|| panic!("no {fence} block")) + fence.len();
        section[start..][..section[start..].find("```").unwrap()].to_owned()
    };
    (block("```toml\n"), block("```rust\n"))
}

#[test]
fn the_readme_plugin_builds_creates_a_node_adds_frames_and_reads_vertices() {
    let (manifest, source) = readme_example();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let dir = std::env::temp_dir().join(format!("periscope-readme-plugin-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    // The README's manifest, as a crate outside this workspace next to plugins/api.
    let api = root.join("plugins/api").display().to_string();
    let manifest = manifest.replace("path = \"../api\"", &format!("path = {api:?}"));
    let package = "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n";
    std::fs::write(dir.join("Cargo.toml"), format!("{package}{manifest}")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
    let target = root.join("target/readme-plugin");
    let build = |offline: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.current_dir(&dir).env("CARGO_TARGET_DIR", &target).args(["build", "-q"]);
        if offline {
            cmd.arg("--offline"); // the workspace build has fetched what it needs
        }
        cmd.status().expect("run cargo build").success()
    };
    assert!(build(true) || build(false), "the README's example plugin does not build");
    let lib =
        target.join("debug").join(format!("{}hello{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));

    let mut scene = Scene::default();
    let out = Collect::default();
    let mut c = chain(&["builtin", "hello"], &[lib], "", &mut scene).unwrap();
    let vertices = NdArray::from_f32(vec![3, 3], vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let mesh = Envelope::new(MessageType::Meshes.as_i64())
        .with_uid(4)
        .with_arg(vertices)
        .with_arg(NdArray::from_i64(vec![1, 3], vec![0, 1, 2]));
    run(&mut c, &mut scene, &out, 1, mesh);
    assert!(out.0.borrow().is_empty(), "{:?}", out.0.borrow());
    let mesh = scene.node_by_remote(1, 4).expect("the client's mesh");
    assert_eq!(mesh.name, "seen by hello");
    // The plugin created a node of its own and added a frame to it, from the mesh's first vertex.
    let sphere = scene.nodes().find(|n| n.kind == periscope_scene::NodeKind::Spheres).expect("the plugin's node");
    assert_eq!(scene.client(sphere.client).unwrap().name, "plugin hello");
    assert_eq!(sphere.n_frames(), 2);
    assert_eq!(sphere.attr("positions").unwrap().frame(1).unwrap(), &[1.0, 2.0, 3.0]);
    let _ = std::fs::remove_dir_all(dir);
}
