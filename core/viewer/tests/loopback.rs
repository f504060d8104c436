//! End-to-end tests over real loopback sockets against the real binary.

mod common;

use std::time::Duration;

use common::Periscope;
use periscope_client::{ClientError, ConnectOptions, Viewer, kw};
use periscope_protocol::{Envelope, Event, MessageType, NdArray, Reply, Value, encode_value};
use tungstenite::Message;

fn verts(frames: usize, v: usize, base: f32) -> NdArray {
    let n = frames * v * 3;
    NdArray::from_f32(vec![frames, v, 3], (0..n).map(|i| base + (i / (v * 3)) as f32).collect::<Vec<_>>())
}

fn tri_faces(v: usize) -> NdArray {
    let t = v - 2;
    NdArray::from_i64(vec![t, 3], (0..t).flat_map(|i| [0, i as i64 + 1, i as i64 + 2]).collect::<Vec<_>>())
}

/// The next error reply, skipping anything else (a generous deadline: CI
/// machines are slow and run tests in parallel).
#[track_caller]
fn next_error(v: &mut Viewer) -> (Option<u64>, String, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut skipped = Vec::new();
    while std::time::Instant::now() < deadline {
        match v.recv(Duration::from_secs(1)) {
            Ok(Some(Reply::Problem { warning: false, ref_seq, code, message, .. })) => {
                return (ref_seq, code, message);
            }
            Ok(Some(other)) => skipped.push(other.kind()),
            Ok(None) => {}
            Err(e) => panic!("waiting for an error reply: {e} (skipped replies of types {skipped:?})"),
        }
    }
    panic!("no error reply within 30 s (skipped replies of types {skipped:?})");
}

#[test]
fn three_meshes_full_flow() {
    let p = Periscope::start("");
    let mut v = p.client("flow");
    let a = v.meshes(verts(200, 8, 0.0), tri_faces(8), vec![kw("name", "A")]).unwrap();
    let b = v.meshes(verts(1, 8, 0.0), tri_faces(8), vec![kw("name", "B"), kw("flat_shading", true)]).unwrap();
    for f in 1..200 {
        v.add_frames(b, vec![verts(1, 8, f as f32).into()], vec![]).unwrap();
    }
    let c = v.meshes(verts(100, 8, 0.0), tri_faces(8), vec![kw("name", "C")]).unwrap();
    let s = v.query().unwrap();
    let frames: Vec<usize> = s.nodes.iter().map(|n| n.n_frames).collect();
    assert_eq!(frames, vec![200, 200, 100]);
    assert_eq!(s.n_frames, 200);

    // update_frames with an int, a list and a range-like list
    v.update_frames(a, vec![verts(1, 8, 1000.0).into()], &[100], vec![]).unwrap();
    v.update_frames(b, vec![verts(2, 8, 2000.0).into()], &[5, 7], vec![]).unwrap();
    let range: Vec<i64> = (10..20).collect();
    v.update_frames(c, vec![verts(10, 8, 3000.0).into()], &range, vec![]).unwrap();
    assert_eq!(v.query_data(a, "vertices", 100).unwrap().to_f32()[0], 1000.0);
    assert_eq!(v.query_data(b, "vertices", 7).unwrap().to_f32()[0], 2001.0);
    assert_eq!(v.query_data(c, "vertices", 19).unwrap().to_f32()[0], 3009.0);
    assert_eq!(v.query_data(b, "vertices", 150).unwrap().to_f32()[0], 150.0);

    // remove_frames(range(100, 199)) on A leaves frames 0..100 and 199
    let range: Vec<i64> = (100..199).collect();
    v.remove_frames(a, &range).unwrap();
    assert_eq!(v.query_data(a, "vertices", 100).unwrap().to_f32()[0], 199.0);

    v.set_frame(150).unwrap();
    let s = v.query().unwrap();
    assert_eq!(s.current_frame, 150);
    let cur: Vec<usize> = s.nodes.iter().map(|n| n.current_frame).collect();
    assert_eq!(cur, vec![100, 150, 99], "shorter nodes hold their last frame");
    v.set_frame(199).unwrap();
    v.next_frame().unwrap();
    assert_eq!(v.query().unwrap().current_frame, 0);
    v.previous_frame().unwrap();
    assert_eq!(v.query().unwrap().current_frame, 199);

    v.delete(b).unwrap();
    let s = v.query().unwrap();
    let names: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["A", "C"]);
    assert_eq!(s.n_frames, 101);
    assert_eq!(s.current_frame, 100, "the playhead is clamped when the scene shrinks");
    assert!(v.drain().unwrap().is_empty(), "no errors or warnings expected");
}

#[test]
fn every_kind_and_custom_messages() {
    let p = Periscope::start("");
    let mut v = p.client("kinds");
    let pts = |n: usize| NdArray::from_f32(vec![n, 3], vec![0.5; n * 3]);
    v.node(vec![kw("position", Value::from(vec![1.0f64, 2.0, 3.0]))]).unwrap();
    v.meshes(verts(2, 4, 0.0), tri_faces(4), vec![kw("draw_edges", true)]).unwrap();
    v.spheres(pts(10), vec![kw("radius", 0.1f64), kw("color", Value::from(vec![1.0f64, 0.0, 0.0, 1.0]))]).unwrap();
    v.lines(pts(6), vec![kw("mode", "lines"), kw("r_base", 0.02f64)]).unwrap();
    v.arrows(pts(3), pts(3), vec![kw("r_head", 0.05f64)]).unwrap();
    let ori = NdArray::from_f32(vec![2, 3, 3], [1., 0., 0., 0., 1., 0., 0., 0., 1.].repeat(2));
    v.rigid_bodies(pts(2), ori, vec![kw("length", 0.3f64)]).unwrap();
    let conn = NdArray::from_i64(vec![3, 2], vec![-1, 0, 0, 1, 1, 2]);
    v.skeletons(pts(3), conn, vec![]).unwrap();
    let colors = NdArray::from_u8(vec![4, 3], vec![255; 12]);
    let cloud = v.point_clouds(pts(4), vec![kw("colors", colors), kw("point_size", 4.0f64)]).unwrap();
    v.add_frames(cloud, vec![pts(7).into()], vec![]).unwrap();
    assert_eq!(v.query_data(cloud, "points", 1).unwrap().shape(), &[7, 3]);
    assert_eq!(v.query_data(cloud, "colors", 0).unwrap().shape(), &[4, 4]);
    v.send_message(10_001, None, vec![Value::from("hello")], vec![kw("x", 1i64)]).unwrap();
    let s = v.query().unwrap();
    let kinds: Vec<&str> = s.nodes.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["node", "meshes", "spheres", "lines", "arrows", "rigid_bodies", "skeletons", "point_clouds"]);
    assert!(v.drain().unwrap().is_empty());
}

#[test]
fn bad_input_gets_clear_errors_and_nothing_else_is_lost() {
    let p = Periscope::start("[server]\nmax_message_bytes = 1000000\n");
    let mut good = p.client("good");
    let mesh = good.meshes(verts(3, 4, 0.0), tri_faces(4), vec![]).unwrap();
    // Sent is not handled: wait for the scene to have it before counting nodes below.
    assert_eq!(good.query().unwrap().nodes.len(), 1);
    let mut bad = p.client("bad");

    // garbage bytes
    bad.raw_socket().send(Message::binary(vec![0xc1, 0xff, 0x00])).unwrap();
    let (seq, code, msg) = next_error(&mut bad);
    assert_eq!((seq, code.as_str()), (Some(1), "bad_message"));
    assert!(msg.contains("invalid MessagePack marker 0xc1 at offset 0"), "{msg}");

    // truncated MessagePack
    let mut frame = encode_value(&Envelope::new(2).with_arg(Value::NdArray(verts(1, 4, 0.0))).to_value());
    frame.truncate(frame.len() - 5);
    bad.raw_socket().send(Message::binary(frame)).unwrap();
    let (_, code, msg) = next_error(&mut bad);
    assert_eq!(code, "bad_message");
    assert!(msg.starts_with("truncated MessagePack"), "{msg}");

    // a text frame
    bad.raw_socket().send(Message::text("hello")).unwrap();
    assert!(next_error(&mut bad).2.contains("text frames are not accepted"));

    // wrong shape, unknown uid, unknown type
    let wrong = NdArray::from_f32(vec![4, 2], vec![0.0; 8]);
    bad.meshes(wrong, tri_faces(4), vec![]).unwrap();
    let (rs, code, msg) = next_error(&mut bad);
    assert_eq!((rs, code.as_str()), (Some(1), "bad_shape"), "cites the client's own seq");
    assert_eq!(msg, "vertices must have shape (V,3) or (F,V,3), got (4, 2)");
    let seq = bad.add_frames(12345, vec![verts(1, 4, 0.0).into()], vec![]).unwrap();
    let (rs, code, msg) = next_error(&mut bad);
    assert_eq!(
        (rs, code.as_str(), msg.as_str()),
        (Some(seq), "unknown_uid", "add_frames: no node with uid 12345 for this client")
    );
    bad.send_message(999, None, vec![], vec![]).unwrap();
    assert_eq!(next_error(&mut bad).2, "unknown message type 999");

    // another client's nodes are not addressable by uid
    let seq = bad.delete(mesh).unwrap();
    assert_eq!(
        next_error(&mut bad),
        (Some(seq), "unknown_uid".into(), format!("delete: no node with uid {mesh} for this client"))
    );

    // the bad client still works after all that
    bad.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    assert_eq!(bad.query().unwrap().nodes.len(), 2);

    // an array over the limit sent in parts: refused naming the limit, the
    // connection goes on (parts are tested in big_arrays_arrive_in_parts...)
    let big = NdArray::from_f32(vec![100_000, 3], vec![0.0; 300_000]);
    bad.add_frames(1, vec![big.clone().into()], vec![]).unwrap();
    let (_, code, msg) = next_error(&mut bad);
    assert_eq!(code, "bad_value");
    assert!(msg.contains("exceeds server.max_message_bytes (1000000)"), "{msg}");
    let (_, _, msg) = next_error(&mut bad);
    assert!(msg.contains("its parts were refused"), "then the message that needed it: {msg}");
    assert_eq!(bad.query().unwrap().nodes.len(), 2);

    // oversized message sent whole: error, then the connection is closed (code 1009)
    bad.set_array_parts(false);
    let _ = bad.add_frames(1, vec![big.into()], vec![]);
    let (_, code, msg) = next_error(&mut bad);
    assert_eq!(code, "too_large");
    assert!(msg.contains("exceeds server.max_message_bytes (1000000 bytes)"), "{msg}");

    // the good client and its node are untouched
    good.add_frames(mesh, vec![verts(1, 4, 9.0).into()], vec![]).unwrap();
    let s = good.query().unwrap();
    assert_eq!(s.nodes.iter().find(|n| n.uid == Some(mesh)).unwrap().n_frames, 4);
    assert!(good.drain().unwrap().is_empty());
}

#[test]
fn unknown_kwargs_warn() {
    let p = Periscope::start("");
    let mut v = p.client("warn");
    v.meshes(verts(1, 4, 0.0), tri_faces(4), vec![kw("gui_affine", true)]).unwrap();
    match v.recv(Duration::from_secs(10)).unwrap() {
        Some(Reply::Problem { warning: true, ref_seq, code, message, .. }) => {
            assert_eq!(ref_seq, Some(1), "the first message after hello has seq 1");
            assert_eq!(code, "unknown_kwarg");
            assert_eq!(message, "meshes: keyword \"gui_affine\" is not known and was ignored");
        }
        other => panic!("expected a warning, got {other:?}"),
    }
    assert_eq!(v.query().unwrap().nodes.len(), 1);
}

#[test]
fn sessions_resume_and_nodes_survive_disconnect() {
    let p = Periscope::start("");
    let mut v = p.client("resumer");
    let uid = v.meshes(verts(1, 4, 0.0), tri_faces(4), vec![]).unwrap();
    let session = v.session().to_owned();
    let id = v.client_id();
    v.close().unwrap();

    let opts = ConnectOptions { client_name: "resumer".into(), session: Some(session.clone()), ..Default::default() };
    let mut v = Viewer::connect_with(p.addr, opts.clone()).unwrap();
    assert!(v.resumed());
    assert_eq!(v.client_id(), id);
    v.add_frames(uid, vec![verts(1, 4, 5.0).into()], vec![]).unwrap();
    assert_eq!(v.query().unwrap().nodes[0].n_frames, 2);
    // a second live connection cannot take the same session
    match Viewer::connect_with(p.addr, opts) {
        Err(ClientError::Refused(r)) => assert_eq!(r, "that session is in use by a live connection"),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    // a fresh client cannot address the node
    let mut other = p.client("other");
    other.delete(uid).unwrap();
    assert_eq!(next_error(&mut other).1, "unknown_uid");
}

#[test]
fn handshake_refusals() {
    let p = Periscope::start("[server]\ntoken = \"s3cret\"\n");
    match Viewer::connect(p.addr, "no-token") {
        Err(ClientError::Refused(r)) => assert!(r.contains("bad or missing token"), "{r}"),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let opts = ConnectOptions { client_name: "ok".into(), token: Some("s3cret".into()), ..Default::default() };
    let mut v = Viewer::connect_with(p.addr, opts).unwrap();
    assert_eq!(v.query().unwrap().clients.len(), 1);

    // wrong protocol version
    let stream = std::net::TcpStream::connect(p.addr).unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{}/", p.addr), stream).unwrap();
    let hello = Envelope::new(MessageType::Hello.as_i64())
        .with_kwarg("protocol", "periscope")
        .with_kwarg("version", 99i64)
        .with_kwarg("token", "s3cret");
    ws.send(Message::binary(encode_value(&hello.to_value()))).unwrap();
    let Message::Binary(b) = ws.read().unwrap() else { panic!() };
    let reply = Reply::from_value(periscope_protocol::decode_value(&b, Default::default()).unwrap()).unwrap();
    assert_eq!(
        reply,
        Reply::Refused {
            reason: "protocol mismatch: this viewer speaks periscope version 1, the client sent periscope version 99"
                .into()
        }
    );
}

#[test]
fn concurrent_clients_keep_their_order() {
    let p = Periscope::start("");
    let addr = p.addr;
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut v = Viewer::connect(addr, &format!("c{i}")).unwrap();
                let uid = v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
                for f in 1..300 {
                    v.add_frames(uid, vec![NdArray::from_f32(vec![1, 3], vec![f as f32; 3]).into()], vec![]).unwrap();
                }
                // in-order handling: the last frame holds the last value sent
                let last = v.query_data(uid, "positions", 299).unwrap();
                assert_eq!(last.to_f32()[0], 299.0);
                v.query().unwrap().nodes.len()
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap() >= 1);
    }
    let mut v = p.client("check");
    let s = v.query().unwrap();
    assert_eq!(s.nodes.len(), 8);
    assert!(s.nodes.iter().all(|n| n.n_frames == 300));
}

#[test]
fn ctrl_c_shuts_down_cleanly_with_clients_connected() {
    let p = Periscope::start("");
    let mut v = p.client("stay");
    v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    v.query().unwrap();
    let status = p.interrupt();
    assert!(status.success(), "{status:?}");
}

#[test]
fn rust_client_controls_events_select_and_camera() {
    let p = Periscope::start("");
    let mut owner = p.client("owner");
    let mut other = p.client("other");
    let speed = owner.add_control("slider", "Speed", vec![kw("min", 0.0), kw("max", 10.0), kw("value", 1.0)]).unwrap();
    assert_eq!(speed.state.get("value").and_then(Value::as_f64), Some(1.0));
    let mode = owner
        .add_control("dropdown", "Mode", vec![kw("options", Value::Array(vec!["rgb".into(), "depth".into()]))])
        .unwrap();

    // Another client changes them as a person would; the owner hears it.
    let state = other.set_control(speed.id, 4.0).unwrap();
    assert_eq!(state.get("value").and_then(Value::as_f64), Some(4.0));
    let Event::Control(e) = owner.next_event(Duration::from_secs(10)).unwrap().expect("an event") else {
        panic!("a control event first")
    };
    assert_eq!(e.uid, speed.uid);
    assert_eq!(e.value.as_f64(), Some(4.0));
    assert_eq!(e.client_id, other.client_id());
    match other.set_control(mode.id, "hsv") {
        Err(ClientError::Rejected { code, message, .. }) => {
            assert_eq!(code, "bad_value");
            assert_eq!(message, r#"set_control: field "value" must be one of ["rgb", "depth"], found "hsv""#);
        }
        r => panic!("expected a refusal, got {r:?}"),
    }
    let listed = other.controls().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].get("value").and_then(Value::as_str), Some("rgb"), "a refused set changes nothing");

    // Selection and camera events for a subscriber.
    let dots = owner.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    owner.subscribe(true, true).unwrap();
    owner.query().unwrap();
    let first = owner.next_event(Duration::from_secs(10)).unwrap().expect("the current camera");
    assert!(matches!(first, Event::Camera(_)), "{first:?}");
    owner.select(Some(dots)).unwrap();
    owner.set_camera(Some([0.0, 2.0, 6.0]), Some([0.0, 0.0, 0.0]), Some(50.0)).unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match owner.next_event(Duration::from_secs(10)).unwrap().expect("select and camera events") {
            Event::Select(e) => {
                assert_eq!(e.uid, Some(dots));
                kinds.push("select");
            }
            Event::Camera(e) => {
                assert!((e.camera.params.fov_y - 50.0).abs() < 1e-3);
                kinds.push("camera");
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["camera", "select"]);
}

/// Big arrays go as ARRAY_PART messages (docs/protocol.md, "Large arrays in
/// parts") and arrive whole; bad parts are refused naming the field and the
/// connection goes on; sent whole they arrive the same.
#[test]
fn big_arrays_arrive_in_parts_and_bad_parts_are_refused() {
    let p = Periscope::start("[server]\nmax_message_bytes = 50000000\n");
    let mut v = p.client("parts");
    // 2 frames x 100,000 vertices: 2.4 MB of float32, about 37 parts.
    let big = verts(2, 100_000, 0.5);
    let uid = v.meshes(big.clone(), tri_faces(100_000), vec![]).unwrap();
    let back = v.query_data(uid, "vertices", 1).unwrap();
    assert_eq!(back.to_f32().as_slice(), &big.to_f32()[300_000..]);
    // The same whole (as fragments): the same data.
    v.set_array_parts(false);
    v.add_frames(uid, vec![verts(1, 100_000, 7.0).into()], vec![]).unwrap();
    assert_eq!(v.query_data(uid, "vertices", 2).unwrap().to_f32()[0], 7.0);
    assert!(v.drain().unwrap().is_empty(), "no errors or warnings");

    let part = |kwargs: Vec<(&str, Value)>| {
        let mut e = Envelope::new(MessageType::ArrayPart.as_i64());
        for (k, val) in kwargs {
            e = e.with_kwarg(k, val);
        }
        Message::binary(encode_value(&e.to_value()))
    };
    let data = || Value::Bin(vec![0; 8]);
    let cases: Vec<(Vec<Message>, &str)> = vec![
        (vec![part(vec![("transfer", Value::Int(1)), ("data", data())])], "needs field \"dtype\""),
        (
            vec![part(vec![
                ("transfer", Value::Int(3)),
                ("data", data()),
                ("dtype", "float32".into()),
                ("nbytes", Value::Int(100_000_000)),
            ])],
            "exceeds server.max_message_bytes (50000000)",
        ),
        (vec![part(vec![("transfer", "x".into()), ("data", data())])], "field \"transfer\" must be an int"),
        (
            vec![
                part(vec![
                    ("transfer", Value::Int(2)),
                    ("data", data()),
                    ("dtype", "float32".into()),
                    ("nbytes", Value::Int(8)),
                ]),
                Message::binary(encode_value(&Envelope::new(MessageType::NextFrame.as_i64()).to_value())),
            ],
            "1 array(s) sent in parts were not used",
        ),
    ];
    for (frames, want) in cases {
        for f in frames {
            v.raw_socket().send(f).unwrap();
        }
        let (_, code, msg) = next_error(&mut v);
        assert_eq!(code, "bad_value");
        assert!(msg.contains(want), "{want:?} not in {msg:?}");
    }
    // A reference to parts that never came.
    let ghost = Value::Map(vec![
        (Value::from("__ndarray__"), Value::from("float32")),
        (Value::from("shape"), Value::Array(vec![Value::from(1u64), Value::from(3u64)])),
        (Value::from("transfer"), Value::Int(99)),
    ]);
    let env = Envelope::new(MessageType::Spheres.as_i64()).with_uid(50).with_arg(ghost);
    v.raw_socket().send(Message::binary(encode_value(&env.to_value()))).unwrap();
    let (_, _, msg) = next_error(&mut v);
    assert!(msg.contains("\"transfer\" 99: no such array parts were sent"), "{msg}");
    // Nothing else was lost: the client goes on.
    v.set_array_parts(true);
    v.add_frames(uid, vec![verts(1, 100_000, 9.0).into()], vec![]).unwrap();
    assert_eq!(v.query().unwrap().nodes.iter().find(|n| n.uid == Some(uid)).unwrap().n_frames, 4);
}

#[test]
fn rust_client_exports_a_video_and_gets_clear_errors() {
    let p = Periscope::start("");
    let mut v = p.client("video");
    v.spheres(verts(6, 2, 0.0), vec![kw("radius", 0.2)]).unwrap();
    v.query().unwrap();
    let orbit = Value::map([("orbit", Value::map([("turns", Value::Float(0.5))]))]);
    let kwargs = vec![
        kw("frame_range", Value::Array(vec![Value::Int(0), Value::Int(6)])),
        kw("width", 64i64),
        kw("height", 48i64),
        kw("camera_path", orbit),
        kw("return_bytes", true),
    ];
    let fields = match v.export_video("orbit.gif", kwargs, Duration::from_secs(120)) {
        Ok(f) => f,
        // No renderer at all (no software Vulkan): CI sets PERISCOPE_REQUIRE_RENDER.
        Err(ClientError::Rejected { message, .. })
            if message.contains("rendering unavailable") && std::env::var_os("PERISCOPE_REQUIRE_RENDER").is_none() =>
        {
            eprintln!("skipping: {message}");
            return;
        }
        Err(e) => panic!("export failed: {e}"),
    };
    assert_eq!(fields.frames, 6);
    assert_eq!((fields.width, fields.height), (64, 48));
    let path = std::path::PathBuf::from(&fields.path);
    assert_eq!(path, p.dir().join("exports").join("orbit.gif"));
    let Some(Value::Bin(data)) = fields.data else { panic!("no bytes") };
    assert_eq!(data, std::fs::read(&path).unwrap());
    assert_eq!(&data[..6], b"GIF89a");
    // A bad request names the field; the connection goes on.
    let err = v.export_video("clip.webm", vec![], Duration::from_secs(10)).unwrap_err().to_string();
    assert!(err.contains("unknown video extension \"webm\""), "{err}");
    let err = v.export_video("clip.mp4", vec![kw("fps", -1.0)], Duration::from_secs(10)).unwrap_err().to_string();
    assert!(err.contains("\"fps\""), "{err}");
    assert_eq!(v.query().unwrap().nodes.len(), 1);
}

#[test]
fn a_screenshot_over_max_reply_bytes_is_answered_by_an_error() {
    // 100 kB: a 64x64 screenshot (16 kB) fits, a 200x200 one (160 kB) does not.
    let p = Periscope::start("[server]\nmax_reply_bytes = 100000\n");
    let mut v = p.client("shots");
    v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![]).unwrap();
    assert_eq!(v.screenshot(64, 64).unwrap().shape(), &[64, 64, 4]);
    match v.screenshot(200, 200) {
        Err(ClientError::Rejected { code, message, .. }) => {
            assert_eq!(code, "reply_too_large");
            assert!(message.contains("screenshot_result reply would be 160"), "{message}");
            assert!(message.contains("server.max_reply_bytes (100000 bytes)"), "{message}");
        }
        other => panic!("expected reply_too_large, got {:?}", other.map(|a| a.shape().to_vec())),
    }
    // The connection still serves.
    assert_eq!(v.screenshot(32, 32).unwrap().shape(), &[32, 32, 4]);
}

/// Queries until `done` holds for the scene's state (10 s at most); returns that state.
#[track_caller]
fn query_until(
    v: &mut Viewer,
    what: &str,
    mut done: impl FnMut(&periscope_protocol::SceneState) -> bool,
) -> periscope_protocol::SceneState {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = v.query().unwrap();
        if done(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what} (current frame {})",
            s.current_frame
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_headless_viewer_plays_at_the_scenes_fps() {
    let p = Periscope::start("");
    let mut v = p.client("player");
    v.spheres(verts(10, 2, 0.0), vec![]).unwrap();
    let s = v.query().unwrap();
    assert_eq!((s.n_frames, s.current_frame, s.playing, s.fps), (10, 0, false, 30.0), "the configured default speed");

    // PLAYBACK starts it: the headless loop advances the playhead on its own.
    v.set_playback(Some(true), Some(50.0)).unwrap();
    let s = v.query().unwrap();
    assert!(s.playing);
    assert_eq!(s.fps, 50.0);
    let mut seen = std::collections::BTreeSet::new();
    query_until(&mut v, "the playhead to move through 4 frames", |s| {
        seen.insert(s.current_frame);
        seen.len() >= 4
    });

    // Paused, it stays put.
    v.pause().unwrap();
    let stopped = v.query().unwrap().current_frame;
    std::thread::sleep(Duration::from_millis(150));
    let s = v.query().unwrap();
    assert_eq!((s.current_frame, s.playing), (stopped, false), "paused playback stays put");

    // Wall-clock pace, never a burst: at 5 fps no more than one frame per 200 ms.
    v.set_frame(0).unwrap();
    v.query().unwrap();
    let start = std::time::Instant::now();
    v.set_playback(Some(true), Some(5.0)).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    v.pause().unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let moved = v.query().unwrap().current_frame;
    assert!(moved >= 1, "700 ms at 5 fps moved the playhead");
    assert!(moved as f64 <= elapsed * 5.0 + 1e-9, "{moved} frames in {elapsed:.3} s at 5 fps");

    // Bad values are refused naming the field; playback is unchanged.
    let seq = v.set_playback(Some(true), Some(0.0)).unwrap();
    let (ref_seq, code, message) = next_error(&mut v);
    assert_eq!((ref_seq, code.as_str()), (Some(seq), "bad_value"));
    assert_eq!(message, "playback: field \"fps\" must be a finite number in [0.001, 240], found 0.0");
    let seq = v.send_message(MessageType::Playback.as_i64(), None, vec![], vec![kw("fps", 1e9)]).unwrap();
    let (ref_seq, _, message) = next_error(&mut v);
    assert_eq!(ref_seq, Some(seq));
    assert!(message.contains("field \"fps\""), "{message}");
    let s = v.query().unwrap();
    assert_eq!((s.playing, s.fps), (false, 5.0));
}
