//! The message type table is the one source of the wire numbers: the Python
//! client's `Message` enum and the type table in `docs/protocol.md` must agree
//! with it, and the wire form of every message type is snapshot-tested so a
//! protocol change is a visible diff (`UPDATE_SNAPSHOTS=1` rewrites it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use periscope_protocol::{
    DType, Direction, Envelope, MessageType, NdArray, Reply, SceneState, Value, decode_value, encode_value,
};

fn repo_file(rel: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

/// `NAME = number` lines of the Python `Message` enum.
fn python_enum() -> BTreeMap<String, i64> {
    let (_, text) = repo_file("clients/python/periscope/message.py");
    let body = text.split("class Message(").nth(1).expect("class Message in message.py");
    let body = body.split("\nPROTOCOL_NAME").next().unwrap_or(body);
    body.lines()
        .filter_map(|l| {
            let (name, value) = l.trim().split_once(" = ")?;
            let ok = name.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            Some((name.to_owned(), value.trim().parse().ok()?)).filter(|_| ok)
        })
        .collect()
}

/// `| number | NAME | direction |` rows of the docs' type table.
fn docs_table() -> BTreeMap<i64, (String, String)> {
    let (_, text) = repo_file("docs/protocol.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            if cells.len() < 4 {
                return None;
            }
            let n: i64 = cells[1].parse().ok()?;
            Some((n, (cells[2].to_owned(), cells[3].to_owned())))
        })
        .collect()
}

#[test]
fn python_enum_matches_the_table() {
    let py = python_enum();
    let rust: BTreeMap<String, i64> = MessageType::ALL.iter().map(|t| (t.const_name(), t.as_i64())).collect();
    assert_eq!(
        py, rust,
        "clients/python/periscope/message.py must list exactly the types of core/protocol/src/types.rs"
    );
}

#[test]
fn docs_table_matches_the_table() {
    let docs = docs_table();
    let rust: BTreeMap<i64, (String, String)> = MessageType::ALL
        .iter()
        .filter(|t| **t != MessageType::UserMessage)
        .map(|t| (t.as_i64(), (t.const_name(), t.traits().direction.arrow().to_owned())))
        .collect();
    assert_eq!(docs, rust, "docs/protocol.md's type table (| number | NAME | direction |) must match types.rs");
}

/// A typical message of each type, as a client or the viewer sends it.
fn example(t: MessageType) -> Value {
    use MessageType as T;
    let a = NdArray::from_f32(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let env = |kind: MessageType| {
        let mut e = Envelope::new(kind.as_i64());
        e.seq = Some(7);
        e
    };
    let reply = |kind: MessageType, fields: Vec<(&str, Value)>| {
        let mut f = vec![("ref_seq".to_owned(), Value::from(7u64))];
        f.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
        Reply::Other { kind: kind.as_i64(), fields: f }.to_value()
    };
    match t {
        T::Node => env(t).with_uid(1).with_kwarg("name", "root"),
        T::Meshes => env(t)
            .with_uid(2)
            .with_arg(Value::NdArray(a.clone()))
            .with_arg(Value::NdArray(NdArray::from_i64(vec![1, 3], vec![0, 1, 1])))
            .with_kwarg("flat_shading", true),
        T::Spheres | T::Lines | T::RigidBodies | T::Skeletons | T::Arrows | T::Smpl => env(t)
            .with_uid(3)
            .with_arg(Value::NdArray(a.clone()))
            .with_kwarg("color", Value::Array(vec![Value::from(1.0); 3])),
        T::PointClouds => env(t)
            .with_uid(4)
            .with_arg(Value::NdArray(a.clone()))
            .with_kwarg("colors", Value::NdArray(NdArray::from_u8(vec![1, 3], vec![255, 128, 0])))
            .with_kwarg("point_size", 3.0),
        T::Delete => env(t).with_uid(2),
        T::AddFrames | T::UpdateFrames => env(t).with_uid(2).with_kwarg("vertices", Value::NdArray(a.clone())),
        T::RemoveFrames => env(t).with_uid(2).with_kwarg("frames", Value::Array(vec![Value::Int(0)])),
        T::SetFrame => env(t).with_arg(Value::Int(3)),
        T::Playback => env(t).with_kwarg("playing", true).with_kwarg("fps", 50.0),
        T::NextFrame | T::PreviousFrame | T::QueryChain | T::QueryImages => env(t),
        T::Query => env(t).with_uid(2).with_kwarg("attribute", "vertices").with_kwarg("frame", Value::Int(0)),
        T::Screenshot => env(t).with_kwarg("width", 64i64).with_kwarg("height", 48i64).with_kwarg("fit", true),
        T::Images => env(t).with_arg(Value::Array(vec![Value::NdArray(
            NdArray::from_le_bytes(DType::U8, vec![1, 1, 3], &[255, 0, 0]).expect("3 bytes"),
        )])),
        T::RequireCamera => env(t).with_kwarg("enabled", true),
        T::ReadRemote => env(t).with_kwarg("client_id", 1i64),
        T::SaveScene => env(t).with_kwarg("name", "scene.psr"),
        T::ExportVideo => env(t)
            .with_kwarg("name", "turntable.mp4")
            .with_kwarg("fps", 30.0)
            .with_kwarg("frame_range", Value::Array(vec![Value::Int(0), Value::Int(100)]))
            .with_kwarg("width", 640i64)
            .with_kwarg("height", 360i64)
            .with_kwarg("camera_path", Value::map([("orbit", Value::map([("turns", Value::Float(1.0))]))])),
        T::SetProperties => env(t).with_uid(2).with_kwarg("client_id", 1i64).with_kwarg("enabled", false),
        T::SetCamera => env(t)
            .with_kwarg("position", Value::Array(vec![Value::from(0.0), Value::from(1.0), Value::from(3.0)]))
            .with_kwarg("fov_y", 45.0),
        T::QueryCamera | T::QueryControls => env(t),
        T::AddControl => env(t)
            .with_uid(1)
            .with_kwarg("kind", "slider")
            .with_kwarg("label", "Speed")
            .with_kwarg("min", 0.0)
            .with_kwarg("max", 10.0)
            .with_kwarg("value", 1.0),
        T::UpdateControl => env(t).with_uid(1).with_kwarg("value", 3.0).with_kwarg("disabled", true),
        T::RemoveControl => env(t).with_uid(1),
        T::SetControl => env(t).with_kwarg("control_id", 1i64).with_kwarg("value", 2.5),
        T::Select => env(t).with_uid(2).with_kwarg("point", Value::Array(vec![Value::from(0.5); 3])),
        T::ViewportImage => env(t)
            .with_kwarg(
                "image",
                Value::NdArray(NdArray::from_le_bytes(DType::U8, vec![1, 1, 3], &[255, 0, 0]).expect("3 bytes")),
            )
            .with_kwarg("depth", Value::NdArray(NdArray::from_f32(vec![1, 1], vec![5.0]))),
        T::ClearViewport => env(t),
        T::ArrayPart => env(t)
            .with_kwarg("transfer", 1i64)
            .with_kwarg("data", Value::Bin(vec![0, 0, 128, 63]))
            .with_kwarg("dtype", "float32")
            .with_kwarg("nbytes", 4i64),
        T::Subscribe => env(t).with_kwarg("select", true).with_kwarg("camera", false),
        T::ViewResync => env(t),
        T::ViewMoved => env(t)
            .with_kwarg("position", Value::Array(vec![Value::from(0.0), Value::from(1.0), Value::from(3.0)]))
            .with_kwarg("target", Value::Array(vec![Value::from(0.0); 3]))
            .with_kwarg("fov_y", 45.0)
            .with_kwarg("width", 640i64)
            .with_kwarg("height", 480i64),
        T::ViewImages => {
            let inner = env(T::ClearViewport).to_value();
            return Value::map([
                ("type", Value::Int(t.as_i64())),
                ("client", Value::Int(3)),
                ("client_name", Value::from("renderer")),
                ("message", inner),
            ]);
        }
        T::ViewSnapshot | T::ViewChanges => {
            let change = Value::map([
                ("op", Value::from("playhead")),
                ("frame", Value::Int(3)),
                ("playing", Value::Bool(false)),
                ("fps", Value::from(30.0)),
            ]);
            let place = if t == T::ViewSnapshot { "next" } else { "batch" };
            return Value::map([
                ("type", Value::Int(t.as_i64())),
                (place, Value::Int(4)),
                ("part", Value::Int(0)),
                ("last", Value::Bool(true)),
                ("changes", Value::Array(vec![change])),
            ]);
        }
        T::ControlState => return reply(t, vec![("control", Value::map([("id", Value::Int(1))]))]),
        T::Controls => return reply(t, vec![("controls", Value::Array(vec![]))]),
        T::Event => {
            let fields = vec![
                ("event".to_owned(), Value::from("control")),
                ("control_id".to_owned(), Value::Int(1)),
                ("value".to_owned(), Value::from(2.5)),
            ];
            return Reply::Other { kind: t.as_i64(), fields }.to_value();
        }
        T::Hello => {
            let mut h = periscope_protocol::Hello::new("snapshot").to_envelope();
            h.seq = None;
            h
        }
        T::UserMessage => env(t).with_kwarg("anything", "goes"),
        T::SceneState => return Reply::SceneState(SceneState { ref_seq: Some(7), ..Default::default() }).to_value(),
        T::ChainState => return reply(t, vec![("stages", Value::Array(vec![]))]),
        T::ScreenshotResult => {
            return reply(t, vec![("width", Value::Int(1)), ("height", Value::Int(1)), ("frame", Value::Int(0))]);
        }
        T::Camera => return reply(t, vec![("index", Value::Int(0)), ("width", Value::Int(640))]),
        T::ImagesState => return reply(t, vec![("windows", Value::Array(vec![]))]),
        T::ViewCamera => return reply(t, vec![("width", Value::Int(640)), ("fov_y", Value::from(45.0))]),
        T::SceneSaved => return reply(t, vec![("path", "exports/scene.psr".into()), ("records", Value::Int(3))]),
        T::VideoExported => {
            return reply(
                t,
                vec![
                    ("path", "exports/turntable.mp4".into()),
                    ("frames", Value::Int(100)),
                    ("width", Value::Int(640)),
                    ("height", Value::Int(360)),
                    ("fps", Value::Float(30.0)),
                    ("bytes", Value::Int(123456)),
                    ("seconds", Value::Float(2.5)),
                ],
            );
        }
        T::Error => return Reply::error(Some(7), Some(2), Some(2), "bad_shape", "vertices must be (V, 3)").to_value(),
        T::Warning => return Reply::warning(Some(7), Some(2), None, "unknown_kwarg", "ignored").to_value(),
        T::Welcome => {
            return Reply::Welcome {
                server: "periscope".into(),
                version: 1,
                client_id: 1,
                session: "s".into(),
                resumed: false,
                max_message_bytes: 1 << 30,
                array_parts: true,
                web_view_budget_bytes: None,
            }
            .to_value();
        }
        T::Refused => return Reply::Refused { reason: "bad token".into() }.to_value(),
    }
    .to_value()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n    ")
}

#[test]
fn wire_snapshots() {
    let mut text = String::from(
        "# The wire form of one message of every type (core/protocol/tests/agreement.rs).\n\
         # A change here is a protocol change: update docs/protocol.md and the clients with it.\n\
         # Rewrite with UPDATE_SNAPSHOTS=1 cargo test -p periscope-protocol --test agreement\n",
    );
    for &t in MessageType::ALL {
        let v = example(t);
        let bytes = encode_value(&v);
        let back = decode_value(&bytes, Default::default()).expect("decodes");
        assert_eq!(back, v, "{} round-trips", t.name());
        let dir = match t.traits().direction {
            Direction::ToViewer => "client -> viewer",
            Direction::ToClient => "viewer -> client",
        };
        text.push_str(&format!("\n{} {} ({dir})\n    {}\n", t.as_i64(), t.const_name(), hex(&bytes)));
    }
    let (path, old) = match std::env::var_os("UPDATE_SNAPSHOTS") {
        Some(_) => (PathBuf::new(), String::new()),
        None => repo_file("core/protocol/tests/snapshots/wire.txt"),
    };
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/wire.txt");
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("snapshot dir");
        std::fs::write(&path, &text).expect("write snapshot");
        return;
    }
    assert!(
        old == text,
        "{} differs from the wire form of the current types; if the change is intended, rerun with UPDATE_SNAPSHOTS=1 and commit the diff",
        path.display()
    );
}

/// A complete message of each of the viewer's typed answers and events
/// ([`Reply`]'s typed variants), as it goes on the wire.
fn typed_examples() -> Vec<(&'static str, Reply)> {
    use periscope_protocol::{
        CameraEvent, CameraParams, CameraRequest, CameraStream, ChainState, ControlEvent, ControlList, ControlState,
        Event, ImageWindowState, ImagesState, RendererState, SceneSaved, ScreenshotResult, SelectEvent, StageStatus,
        VideoExported, ViewCamera, ViewCameraState, ViewportState,
    };
    let identity = std::array::from_fn(|i| if i % 5 == 0 { 1.0 } else { 0.0 });
    let params = CameraParams {
        width: 640,
        height: 480,
        fx: 500.0,
        fy: 500.0,
        cx: 320.0,
        cy: 240.0,
        fov_x: 65.0,
        fov_y: 50.0,
        znear: 0.01,
        zfar: 100.0,
        world_to_camera: identity,
        camera_to_world: identity,
        view: identity,
        projection: identity,
        position: [0.0, 1.0, 3.0],
    };
    let camera = ViewCamera { params: params.clone(), target: [0.0; 3] };
    let control = Value::map([("id", Value::Int(1)), ("kind", Value::from("slider")), ("value", Value::from(2.5))]);
    vec![
        ("control_state", Reply::ControlState(ControlState { ref_seq: Some(7), control: control.clone() })),
        ("controls", Reply::Controls(ControlList { ref_seq: Some(7), controls: vec![control] })),
        (
            "event control",
            Reply::Event(Event::Control(ControlEvent {
                action: "update".into(),
                control_id: 1,
                uid: 3,
                kind: "slider".into(),
                label: "Speed".into(),
                value: Value::from(2.5),
                client_id: 2,
                client_name: "py".into(),
            })),
        ),
        (
            "event select",
            Reply::Event(Event::Select(SelectEvent {
                node_id: Some(4),
                client_id: Some(1),
                uid: Some(2),
                name: Some("Dots".into()),
                kind: Some("spheres".into()),
                point: Some([0.5, 0.5, 0.5]),
            })),
        ),
        ("event camera", Reply::Event(Event::Camera(CameraEvent { camera: camera.clone(), view: 0 }))),
        (
            "camera",
            Reply::Camera(CameraRequest {
                seq: 1,
                params,
                stream: Some(CameraStream {
                    moving: false,
                    full_width: 640,
                    full_height: 480,
                    target: "window".into(),
                }),
            }),
        ),
        ("view_camera", Reply::ViewCamera(ViewCameraState { ref_seq: Some(7), camera })),
        (
            "images_state",
            Reply::ImagesState(ImagesState {
                ref_seq: Some(7),
                windows: vec![ImageWindowState {
                    client_id: 1,
                    width: 64,
                    height: 48,
                    format: "png".into(),
                    received: 2,
                    decoded: 2,
                    last_seq: Some(2),
                    fps: 30.0,
                    ..Default::default()
                }],
                clients: vec![RendererState {
                    client_id: 1,
                    name: "renderer".into(),
                    require_camera: true,
                    reading: true,
                    width: 640,
                    height: 480,
                    camera_seq: 1,
                    target: "window".into(),
                    scale: 1.0,
                    ..Default::default()
                }],
                viewport: vec![ViewportState { client_id: 1, width: 640, height: 480, ..Default::default() }],
            }),
        ),
        (
            "screenshot_result",
            Reply::ScreenshotResult(ScreenshotResult {
                ref_seq: Some(7),
                width: 1,
                height: 1,
                frame: 0,
                image: NdArray::from_le_bytes(DType::U8, vec![1, 1, 4], &[255, 0, 0, 255]).expect("4 bytes"),
            }),
        ),
        (
            "video_exported",
            Reply::VideoExported(VideoExported {
                ref_seq: Some(7),
                path: "exports/turntable.mp4".into(),
                frames: 100,
                width: 640,
                height: 360,
                fps: 30.0,
                bytes: 123_456,
                seconds: 2.5,
                files: vec![],
                data: None,
            }),
        ),
        (
            "scene_saved",
            Reply::SceneSaved(SceneSaved { ref_seq: Some(7), path: "exports/scene.psr".into(), records: 3 }),
        ),
        (
            "chain_state",
            Reply::ChainState(ChainState {
                ref_seq: Some(7),
                stages: vec![StageStatus {
                    name: "stats".into(),
                    entry: "stats".into(),
                    generation: 1,
                    calls: 10,
                    ..Default::default()
                }],
            }),
        ),
    ]
}

/// The typed answers and events: each writes one layout (a change is a
/// visible diff of `snapshots/replies.txt`, rewritten with
/// `UPDATE_SNAPSHOTS=1`), weighs exactly what it writes and reads back typed.
#[test]
fn typed_reply_snapshots() {
    let mut text = String::from(
        "# The wire form of each of the viewer's typed answers and events (core/protocol/tests/agreement.rs).\n\
         # A change here is a protocol change: update docs/protocol.md and the clients with it.\n\
         # Rewrite with UPDATE_SNAPSHOTS=1 cargo test -p periscope-protocol --test agreement\n",
    );
    for (name, r) in typed_examples() {
        let bytes = r.encode();
        assert_eq!(bytes, encode_value(&r.to_value()), "{name}");
        assert_eq!(r.encoded_len(), bytes.len(), "{name}");
        let back = decode_value(&bytes, Default::default()).expect("decodes");
        assert_eq!(Reply::from_value(back).as_ref(), Some(&r), "{name} reads back typed");
        text.push_str(&format!("\n{} {name}\n    {}\n", r.kind(), hex(&bytes)));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/replies.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).expect("write snapshot");
        return;
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        old == text,
        "{} differs from the typed replies' wire form; if the change is intended, rerun with UPDATE_SNAPSHOTS=1 and commit the diff",
        path.display()
    );
}
