//! The dispatch chain and rhai scripts, through the real server.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Periscope, example_scripts, test_dir};
use periscope_client::{Viewer, kw};
use periscope_protocol::{NdArray, Reply, Value};

const AFTER: &str = "[dispatch]\nchain = [\"builtin\", \"scripts/*.rhai\"]\n";

fn write(dir: &Path, name: &str, text: &str) {
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    // Write then rename, as editors do, so the watcher never sees half a file.
    let tmp = scripts.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, scripts.join(name)).unwrap();
}

fn with_examples(names: &[&str]) -> std::path::PathBuf {
    let dir = test_dir();
    for n in names {
        write(&dir, n, &std::fs::read_to_string(example_scripts().join(n)).unwrap());
    }
    dir
}

fn points(n: usize) -> NdArray {
    NdArray::from_f32(vec![n, 3], (0..n * 3).map(|i| i as f32).collect::<Vec<_>>())
}

/// The next custom reply of type `kind`.
fn reply_of(v: &mut Viewer, kind: i64) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(Reply::Other { kind: k, fields }) = v.recv(Duration::from_millis(200)).unwrap()
            && k == kind
        {
            return fields;
        }
    }
    panic!("no reply of type {kind}");
}

fn field<'a>(fields: &'a [(String, Value)], key: &str) -> &'a Value {
    &fields.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no field {key} in {fields:?}")).1
}

/// The chain's stages as the chain query reports them.
fn stages(v: &mut Viewer) -> Vec<Value> {
    let seq = v.send_message(302, None, vec![], vec![]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(Reply::ChainState(state)) = v.recv(Duration::from_millis(200)).unwrap()
            && state.ref_seq == Some(seq)
        {
            return state.stages.iter().map(periscope_protocol::StageStatus::to_value).collect();
        }
    }
    panic!("no chain_state");
}

fn stage<'a>(stages: &'a [Value], name: &str) -> &'a Value {
    stages
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no stage {name}"))
}

/// Sends a request until `check` accepts the reply (hot reload takes a moment).
fn eventually(v: &mut Viewer, what: &str, mut check: impl FnMut(&mut Viewer) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check(v) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn custom_viewer_selects_and_centers() {
    let p = Periscope::start_in(with_examples(&["custom_viewer.rhai"]), AFTER, false);
    let mut v = p.client("cv");
    for _ in 0..3 {
        v.spheres(points(2), vec![]).unwrap();
    }
    let s = v.query().unwrap();
    let ids: Vec<u64> = s.nodes.iter().map(|n| n.id).collect();
    assert_eq!((s.selected, s.focused), (Some(ids[2]), Some(ids[2])), "the newest node is selected and centered");
    v.send_message(10_000, None, vec![], vec![kw("index", 0i64)]).unwrap();
    let s = v.query().unwrap();
    assert_eq!((s.selected, s.focused), (Some(ids[0]), Some(ids[0])));
    assert!(v.drain().unwrap().is_empty());
}

#[test]
fn color_by_client_and_log_messages() {
    let dir = with_examples(&["color_by_client.rhai", "log_messages.rhai"]);
    let p = Periscope::start_in(dir, AFTER, true);
    let mut a = p.client("alpha");
    let mut b = p.client("beta");
    a.spheres(points(2), vec![]).unwrap();
    b.spheres(points(2), vec![]).unwrap();
    b.spheres(points(2), vec![kw("color", Value::from(vec![0.0f64, 0.0, 0.0, 1.0])), kw("name", "explicit")]).unwrap();
    a.add_frames(1, vec![NdArray::from_f32(vec![1, 2, 3], vec![0.0; 6]).into()], vec![]).unwrap();
    a.query().unwrap();
    let s = b.query().unwrap();
    // Messages of different clients interleave, so look nodes up by owner.
    let color_of = |client: u64, name: Option<&str>| {
        s.nodes.iter().find(|n| n.client_id == client && name.is_none_or(|x| n.name == x)).unwrap().color
    };
    assert_eq!(color_of(a.client_id(), None), [0.25, 0.60, 0.90, 1.0], "client 1 gets palette entry 1");
    let b_plain = s.nodes.iter().find(|n| n.client_id == b.client_id() && n.name != "explicit").unwrap().color;
    assert_eq!(b_plain, [0.30, 0.75, 0.35, 1.0], "client 2 gets palette entry 2");
    assert_eq!(color_of(b.client_id(), Some("explicit")), [0.0, 0.0, 0.0, 1.0], "an explicit color is kept");
    let log = p.log();
    let line = log
        .lines()
        .find(|l| l.contains("type 101, uid 1, from alpha #1 (127.0.0.1:"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("message #"), "{line}");
    assert!(log.contains("message #5:"), "every message is counted by the script's persistent state: {log}");
    assert!(log.contains("float32[1, 2, 3]"), "array arguments are described by dtype and shape: {log}");
}

#[test]
fn two_way_summary_request() {
    let p = Periscope::start_in(with_examples(&["scene_summary.rhai"]), AFTER, false);
    let mut v = p.client("asker");
    v.spheres(points(3), vec![kw("name", "dots")]).unwrap();
    v.send_message(10_001, None, vec![], vec![kw("request", "summary")]).unwrap();
    let r = reply_of(&mut v, 10_002);
    assert_eq!(field(&r, "served"), &Value::Int(1));
    let Value::Array(nodes) = field(&r, "nodes") else { panic!() };
    assert_eq!(nodes[0].get("name"), Some(&Value::from("dots")));
    assert_eq!(nodes[0].get("kind"), Some(&Value::from("spheres")));
    v.send_message(10_001, None, vec![], vec![kw("request", "summary")]).unwrap();
    assert_eq!(field(&reply_of(&mut v, 10_002), "served"), &Value::Int(2), "top-level state persists");
}

const VERSIONED: &str = r#"
let calls = 0;
fn process_message(type, uid, args, kwargs, client) {
    if type == 10005 { calls += 1; send(client, #{ type: 10006, version: VERSION, calls: calls }); }
}
"#;

fn versioned(n: i64) -> String {
    format!("const VERSION = {n};{VERSIONED}")
}

fn version_reply(v: &mut Viewer) -> (i64, i64) {
    v.send_message(10_005, None, vec![], vec![]).unwrap();
    let r = reply_of(v, 10_006);
    (field(&r, "version").as_i64().unwrap(), field(&r, "calls").as_i64().unwrap())
}

#[test]
fn hot_reload_edit_error_fix_add_and_delete() {
    let dir = test_dir();
    write(&dir, "ver.rhai", &versioned(1));
    let p = Periscope::start_in(dir, AFTER, false);
    let mut v = p.client("reload");
    assert_eq!(version_reply(&mut v), (1, 1));
    assert_eq!(version_reply(&mut v), (1, 2));

    write(p.dir(), "ver.rhai", &versioned(2));
    eventually(&mut v, "version 2", |v| version_reply(v).0 == 2);
    assert_eq!(stage(&stages(&mut v), "ver.rhai").get("generation"), Some(&Value::Int(2)));

    // A syntax error keeps version 2 running and is reported with file, line and column.
    write(
        p.dir(),
        "ver.rhai",
        "const VERSION = 3;\nfn process_message(type, uid, args, kwargs, client) {\n  let x = ;\n}\n",
    );
    eventually(&mut v, "the load error", |v| stage(&stages(v), "ver.rhai").get("load_error") != Some(&Value::Nil));
    let st = stages(&mut v);
    let err = stage(&st, "ver.rhai").get("load_error").and_then(Value::as_str).unwrap().to_owned();
    assert!(err.starts_with("ver.rhai: ") && err.contains("line 3, position"), "{err}");
    assert_eq!(version_reply(&mut v).0, 2, "the last good version keeps running");

    write(p.dir(), "ver.rhai", &versioned(3));
    eventually(&mut v, "version 3", |v| version_reply(v).0 == 3);
    assert_eq!(stage(&stages(&mut v), "ver.rhai").get("load_error"), Some(&Value::Nil));

    // A new file is picked up; a deleted one is dropped.
    write(
        p.dir(),
        "new.rhai",
        "fn process_message(type, uid, args, kwargs, client) { if type == 10007 { send(client, #{type: 10008}); } }",
    );
    eventually(&mut v, "new.rhai", |v| stages(v).iter().any(|s| s.get("name") == Some(&Value::from("new.rhai"))));
    v.send_message(10_007, None, vec![], vec![]).unwrap();
    reply_of(&mut v, 10_008);
    std::fs::remove_file(p.dir().join("scripts/new.rhai")).unwrap();
    eventually(&mut v, "new.rhai removed", |v| {
        !stages(v).iter().any(|s| s.get("name") == Some(&Value::from("new.rhai")))
    });
}

#[test]
fn infinite_loop_is_stopped_and_throwing_script_does_not_block_builtin() {
    let dir = test_dir();
    write(&dir, "a_loop.rhai", "fn process_message(type, uid, args, kwargs, client) { if type == 10009 { loop { } } }");
    write(
        &dir,
        "b_throw.rhai",
        "fn process_message(type, uid, args, kwargs, client) { if type == 3 { throw \"boom\"; } }",
    );
    let config =
        "[dispatch]\nchain = [\"scripts/*.rhai\", \"builtin\"]\n[scripts]\nmax_operations = 100000\nmax_failures = 3\n";
    let p = Periscope::start_in(dir, config, false);
    let mut v = p.client("faults");

    let seq = v.send_message(10_009, None, vec![], vec![]).unwrap();
    let Some(Reply::Problem { ref_seq, code, message, .. }) = v.recv(Duration::from_secs(10)).unwrap() else {
        panic!()
    };
    assert_eq!((ref_seq, code.as_str()), (Some(seq), "stage_failed"));
    assert!(message.contains("a_loop.rhai failed: stopped after too many operations"), "{message}");

    // The throwing script runs before builtin; every node is still created.
    for _ in 0..2 {
        v.spheres(points(1), vec![]).unwrap();
    }
    assert_eq!(v.query().unwrap().nodes.len(), 2);
    let errors: Vec<Reply> = v.drain().unwrap();
    assert_eq!(errors.len(), 1, "a failing stage is reported to a client once: {errors:?}");
    let Reply::Problem { message, .. } = &errors[0] else { panic!() };
    assert!(message.contains("b_throw.rhai failed: Runtime error: boom"), "{message}");

    // Three failures in a row (the query above succeeded, so the streak restarts) disable it,
    // visibly; builtin still runs, and a disabled stage is skipped.
    for _ in 0..3 {
        v.spheres(points(1), vec![]).unwrap();
    }
    let st = stages(&mut v);
    let throw = stage(&st, "b_throw.rhai");
    let disabled = throw.get("disabled").and_then(Value::as_str).unwrap_or_else(|| panic!("{throw:?}")).to_owned();
    assert!(disabled.starts_with("disabled after 3 failures in a row"), "{disabled}");
    assert_eq!(throw.get("failures"), Some(&Value::Int(5)));
    v.spheres(points(1), vec![]).unwrap();
    assert_eq!(v.query().unwrap().nodes.len(), 6);
    assert_eq!(
        stage(&stages(&mut v), "b_throw.rhai").get("failures"),
        Some(&Value::Int(5)),
        "disabled stages are skipped"
    );

    // Editing the file reloads and re-enables it.
    write(p.dir(), "b_throw.rhai", "fn process_message(type, uid, args, kwargs, client) { }");
    eventually(&mut v, "re-enabled", |v| stage(&stages(v), "b_throw.rhai").get("disabled") == Some(&Value::Nil));
}

#[test]
fn script_api_nodes_arrays_and_creation() {
    let dir = test_dir();
    write(
        &dir,
        "api.rhai",
        r#"
        let made = ();
        fn init() { made = add_spheres([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], #{ name: "from init", radius: 0.5 }); }
        fn process_message(type, uid, args, kwargs, client) {
            if type == 2 {
                let n = node(uid, client);
                n.name = "renamed " + n.kind;
                n.position = [1, 2, 3];
                n.scale = 2;
                let v = kwargs.vertices;
                let fd = n.frame_data("vertices", 0);
                let missing = "";
                try { n.frame_data("normals"); } catch (e) { missing = e; }
                send(client, #{ type: 10010, dtype: v.dtype, shape: v.shape, x: v.at([1, 0]), last: v[-1],
                                n_frames: n.n_frames, client_name: n.client_name, made: made.name,
                                fd_shape: fd.shape, fd_y: fd.at([2, 1]), fd_now: n.frame_data("vertices").len(),
                                missing: missing });
            } else if type == 10011 {
                let l = add_lines([[0, 0, 0], [1, 0, 0], [1, 1, 0]], #{ mode: "line_strip" });
                let m = add_mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], #{ name: "script mesh" });
                node(1, client).delete();
                set_frame(0);
                play();
                // Playback changes are `playback` messages: a bad speed is refused naming the field.
                let fps_error = "";
                try { set_fps(0.0); } catch (e) { fps_error = e; }
                set_fps(48);
                // A setter's value is read by `set_properties` like a client's: a
                // non-number is refused, not dropped (this took [1, 2, 3]).
                let pos_error = "";
                try { m.position = [1, "x", 2, 3]; } catch (e) { pos_error = e; }
                send(client, #{ type: 10012, lines: l.kind, mesh: m.name, selected: selected(),
                                fps_error: fps_error, fps: fps(), playing: is_playing(),
                                pos_error: pos_error, pos: m.position });
                broadcast(#{ type: 10013, from: client.name });
            }
        }
        "#,
    );
    let p = Periscope::start_in(dir, AFTER, false);
    let mut v = p.client("api");
    let verts = NdArray::from_f32(vec![3, 3], vec![0., 1., 2., 3., 4., 5., 6., 7., 8.]);
    let faces = NdArray::from_i64(vec![1, 3], vec![0, 1, 2]);
    v.create(periscope_protocol::MessageType::Meshes, vec![], vec![kw("vertices", verts), kw("faces", faces)]).unwrap();
    let r = reply_of(&mut v, 10_010);
    assert_eq!(field(&r, "dtype"), &Value::from("float32"));
    assert_eq!(field(&r, "shape"), &Value::from(vec![3i64, 3]));
    assert_eq!(field(&r, "x"), &Value::Float(3.0));
    assert_eq!(field(&r, "last"), &Value::Float(8.0));
    assert_eq!(field(&r, "client_name"), &Value::from("api"));
    assert_eq!(field(&r, "made"), &Value::from("from init"));
    // The node's stored frame, read back as an ndarray view.
    assert_eq!(field(&r, "fd_shape"), &Value::from(vec![3i64, 3]));
    assert_eq!(field(&r, "fd_y"), &Value::Float(7.0));
    assert_eq!(field(&r, "fd_now"), &Value::Int(9));
    let missing = field(&r, "missing").as_str().unwrap();
    assert!(missing.contains("no attribute \"normals\"") && missing.contains("vertices"), "{missing}");
    let s = v.query().unwrap();
    assert_eq!(s.nodes[0].name, "from init");
    assert_eq!(s.nodes[0].client_id, 0, "script nodes belong to client 0");
    assert_eq!(s.nodes[1].name, "renamed meshes");
    assert_eq!(v.query_data(1, "position", 0).unwrap().to_f32().as_slice(), &[1.0, 2.0, 3.0]);

    let mut other = p.client("bystander");
    other.query().unwrap();
    v.send_message(10_011, None, vec![], vec![]).unwrap();
    let r = reply_of(&mut v, 10_012);
    assert_eq!((field(&r, "lines"), field(&r, "mesh")), (&Value::from("lines"), &Value::from("script mesh")));
    assert_eq!(field(&reply_of(&mut other, 10_013), "from"), &Value::from("api"), "broadcast reaches every client");
    let fps_error = field(&r, "fps_error").as_str().unwrap();
    assert!(
        fps_error.contains("playback: field \"fps\" must be a finite number in [0.001, 240], found 0.0"),
        "{fps_error}"
    );
    assert_eq!((field(&r, "fps"), field(&r, "playing")), (&Value::Float(48.0), &Value::Bool(true)));
    let pos_error = field(&r, "pos_error").as_str().unwrap();
    assert!(
        pos_error.contains("set_properties: field \"position\" must be 3 finite numbers, found a list of 4"),
        "{pos_error}"
    );
    assert_eq!(field(&r, "pos"), &Value::from(vec![0.0, 0.0, 0.0]), "the position is unchanged");
    let s = v.query().unwrap();
    let names: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"script mesh") && !names.contains(&"renamed meshes"), "{names:?}");
    assert!(s.playing);
    assert_eq!(s.fps, 48.0, "the script's set_fps is the scene's playback speed");
}

#[test]
fn unknown_chain_entry_is_a_clear_startup_error() {
    let dir = test_dir();
    std::fs::write(dir.join("config.toml"), "[dispatch]\nchain = [\"builtin\", \"stats\"]\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_periscope"))
        .args(["--headless", "--port", "0", "--config"])
        .arg(dir.join("config.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "dispatch.chain entry \"stats\" is neither \"builtin\", a .rhai script path or glob, nor a loaded plugin (loaded: none)"
        ),
        "{err}"
    );
}

fn gain_script(version: i64) -> String {
    format!(
        "let gain = add_slider(\"Gain\", 0.0, 1.0, 0.5);\n\
         fn process_message(type, uid, args, kwargs, client) {{\n\
           if type == 10020 {{ send(client, #{{type: 10021, gain: gain.value, version: {version}}}); }}\n\
         }}\n"
    )
}

#[test]
fn script_controls_keep_their_value_across_a_hot_reload() {
    let dir = test_dir();
    write(&dir, "gain.rhai", &gain_script(1));
    let p = Periscope::start_in(dir, AFTER, false);
    let mut v = p.client("controls");
    let controls = v.controls().unwrap();
    let [gain] = &controls[..] else { panic!("{controls:?}") };
    assert_eq!(gain.get("folder").and_then(Value::as_str), Some("gain.rhai"));
    let id = gain.get("id").and_then(Value::as_i64).unwrap() as u64;
    v.set_control(id, 0.8).unwrap();
    let gain_of = |v: &mut Viewer| {
        v.send_message(10_020, None, vec![], vec![]).unwrap();
        let r = reply_of(v, 10_021);
        (field(&r, "version").as_i64().unwrap(), field(&r, "gain").as_f64().unwrap())
    };
    assert_eq!(gain_of(&mut v), (1, 0.8), "the script reads the value the client set");
    write(p.dir(), "gain.rhai", &gain_script(2));
    eventually(&mut v, "version 2", |v| gain_of(v).0 == 2);
    assert_eq!(gain_of(&mut v), (2, 0.8), "the reloaded script finds its control with the value kept");
    assert_eq!(v.controls().unwrap().len(), 1, "not added twice");
    std::fs::remove_file(p.dir().join("scripts/gain.rhai")).unwrap();
    eventually(&mut v, "the deleted script's control to go", |v| v.controls().unwrap().is_empty());
}
