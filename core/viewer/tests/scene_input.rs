//! Bad values for the scene over real loopback sockets against the real
//! binary: each is refused with an error naming the field, nothing is stored,
//! and the viewer (and every other client) goes on.

mod common;

use std::time::{Duration, Instant};

use common::Periscope;
use periscope_client::{ClientError, Viewer, kw};
use periscope_protocol::{MessageType, NdArray, Reply, Value};

fn verts(v: usize) -> NdArray {
    NdArray::from_f32(vec![v, 3], (0..v * 3).map(|i| i as f32 * 0.1).collect::<Vec<_>>())
}

fn tri_faces(v: usize) -> NdArray {
    let t = v - 2;
    NdArray::from_i64(vec![t, 3], (0..t).flat_map(|i| [0, i as i64 + 1, i as i64 + 2]).collect::<Vec<_>>())
}

/// The error citing `seq`, skipping anything else.
#[track_caller]
fn error_for(v: &mut Viewer, seq: u64) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match v.recv(Duration::from_secs(1)) {
            Ok(Some(Reply::Problem { warning: false, ref_seq: Some(r), code, message, .. })) if r == seq => {
                return (code, message);
            }
            Ok(_) => {}
            Err(e) => panic!("waiting for the error citing seq {seq}: {e}"),
        }
    }
    panic!("no error citing seq {seq} within 30 s");
}

fn alive(p: &mut Periscope) -> bool {
    p.child.try_wait().unwrap().is_none()
}

#[test]
fn a_query_with_an_empty_frame_list_on_another_clients_node_is_an_error_and_the_viewer_lives() {
    let mut p = Periscope::start("");
    let mut owner = p.client("owner");
    let mesh = owner.meshes(verts(4), tri_faces(4), vec![]).unwrap();
    owner.query().unwrap();
    // A client that owns nothing names the owner's node.
    let mut other = p.client("other");
    let empties = [Value::Array(vec![]), Value::NdArray(NdArray::from_i64(vec![0], Vec::<i64>::new()))];
    for empty in empties {
        let kwargs = vec![kw("client_id", owner.client_id()), kw("attribute", "vertices"), kw("frame", empty)];
        let seq = other.send_message(MessageType::Query.as_i64(), Some(mesh), vec![], kwargs).unwrap();
        let (code, message) = error_for(&mut other, seq);
        assert_eq!(code, "bad_frames");
        assert_eq!(message, "query: field \"frame\" must name at least one frame, found none");
    }
    // The viewer is alive and answers both clients.
    assert!(alive(&mut p), "the viewer exited");
    assert_eq!(other.query().unwrap().nodes.len(), 1);
    assert_eq!(owner.query_data(mesh, "vertices", 0).unwrap().shape(), &[4, 3]);
    assert!(alive(&mut p));
}

#[test]
fn non_finite_and_out_of_range_values_are_refused_naming_the_field_and_nothing_is_stored() {
    let p = Periscope::start("");
    let mut v = p.client("values");
    let nan3 = || Value::from(vec![f64::NAN, 0.0, 0.0]);
    // At creation: each refused, no node made.
    let creations: Vec<(MessageType, Vec<Value>, &str, Value, &str)> = vec![
        (
            MessageType::Node,
            vec![],
            "position",
            nan3(),
            "node: field \"position\" must hold finite numbers, found NaN at [0]",
        ),
        (
            MessageType::Meshes,
            vec![verts(4).into(), tri_faces(4).into()],
            "scale",
            Value::from(f64::INFINITY),
            "meshes: field \"scale\" must be a finite number > 0, found inf",
        ),
        (
            MessageType::Meshes,
            vec![verts(4).into(), tri_faces(4).into()],
            "color",
            Value::from(vec![f64::NAN, 2.0, -1.0, 1.0]),
            "meshes: field \"color\" must be 3 or 4 numbers in [0, 1], found [NaN, 2.0, -1.0, 1.0]",
        ),
        (
            MessageType::Meshes,
            vec![verts(4).into(), tri_faces(4).into()],
            "rotation",
            Value::NdArray(NdArray::from_f32(vec![3, 3], vec![1., 0., 0., 0., 1., 0., 0., 0., f32::NAN])),
            "meshes: field \"rotation\" must hold finite numbers, found NaN at [2, 2]",
        ),
        (
            MessageType::Spheres,
            vec![verts(2).into()],
            "radius",
            Value::from(-1.0),
            "spheres: field \"radius\" must be a finite number >= 0, found -1.0",
        ),
        (
            MessageType::Spheres,
            vec![NdArray::from_f32(vec![2, 3], vec![0.0, 0.0, 0.0, 0.0, f32::INFINITY, 0.0]).into()],
            "radius",
            Value::from(0.1),
            "spheres: field \"positions\" must hold finite numbers, found inf at [1, 1]",
        ),
    ];
    for (kind, args, key, value, want) in creations {
        let seq = v.send_message(kind.as_i64(), Some(100), args, vec![kw(key, value)]).unwrap();
        let (code, message) = error_for(&mut v, seq);
        assert_eq!((code.as_str(), message.as_str()), ("bad_value", want));
    }
    assert_eq!(v.query().unwrap().nodes.len(), 0, "nothing was stored");

    // set_properties: each refused, the node unchanged.
    let mesh = v.meshes(verts(4), tri_faces(4), vec![kw("name", "m")]).unwrap();
    let dots = v.spheres(verts(2), vec![]).unwrap();
    let before = v.query().unwrap().nodes;
    let edits: Vec<(i64, &str, Value, &str)> = vec![
        (
            mesh,
            "position",
            nan3(),
            "set_properties: field \"position\" must be 3 finite numbers, found [NaN, 0.0, 0.0]",
        ),
        (mesh, "scale", Value::from(0.0), "set_properties: field \"scale\" must be a finite number > 0, found 0.0"),
        (
            mesh,
            "scale",
            Value::from(f64::NAN),
            "set_properties: field \"scale\" must be a finite number > 0, found NaN",
        ),
        (
            mesh,
            "color",
            Value::from(vec![f64::NAN, 2.0, -1.0, 1.0]),
            "set_properties: field \"color\" must be 3 or 4 numbers in [0, 1], found [NaN, 2.0, -1.0, 1.0]",
        ),
        (
            mesh,
            "rotation",
            Value::from(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, f64::INFINITY]),
            "set_properties: field \"rotation\" must be a 3x3 matrix (9 finite numbers), found [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, inf]",
        ),
        (
            dots,
            "radius",
            Value::from(f64::NAN),
            "set_properties: field \"radius\" must be a finite number >= 0, found NaN",
        ),
    ];
    for (uid, key, value, want) in edits {
        let seq = v.send_message(MessageType::SetProperties.as_i64(), Some(uid), vec![], vec![kw(key, value)]).unwrap();
        let (code, message) = error_for(&mut v, seq);
        assert_eq!((code.as_str(), message.as_str()), ("bad_value", want));
    }
    assert_eq!(v.query().unwrap().nodes, before, "no property changed");
    assert_eq!(v.query_data(mesh, "vertices", 0).unwrap().to_f32()[..3], [0.0, 0.1, 0.2]);
}

#[test]
fn long_names_and_empty_frame_lists_are_refused() {
    let p = Periscope::start("");
    let mut v = p.client("names");
    let long = "n".repeat(100_000);
    let seq = v
        .send_message(
            MessageType::Meshes.as_i64(),
            Some(1),
            vec![verts(4).into(), tri_faces(4).into()],
            vec![kw("name", long.as_str())],
        )
        .unwrap();
    let (code, message) = error_for(&mut v, seq);
    assert_eq!(code, "bad_value");
    assert!(
        message.starts_with("meshes: field \"name\" must be a str of at most 1024 bytes, found 100000 bytes"),
        "{message}"
    );
    assert!(message.len() < 250, "quotes an excerpt only ({} bytes)", message.len());
    let mesh = v.meshes(verts(4), tri_faces(4), vec![kw("name", "short")]).unwrap();
    let seq = v
        .send_message(MessageType::SetProperties.as_i64(), Some(mesh), vec![], vec![kw("name", long.as_str())])
        .unwrap();
    let (_, message) = error_for(&mut v, seq);
    assert!(message.starts_with("set_properties: field \"name\" must be a str of at most 1024 bytes"), "{message}");
    let names: Vec<String> = v.query().unwrap().nodes.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["short"]);

    // frames=[]: an error naming `frames`, not a silent no-op.
    v.add_frames(mesh, vec![verts(4).into()], vec![]).unwrap();
    match v.update_frames(mesh, vec![verts(4).into()], &[], vec![]) {
        Ok(seq) => {
            let (code, message) = error_for(&mut v, seq);
            assert_eq!(code, "bad_frames");
            assert_eq!(message, "update_frames: field \"frames\" must name at least one frame, found none");
        }
        Err(e) => panic!("sending failed: {e}"),
    }
    let seq = v.remove_frames(mesh, &[]).unwrap();
    assert_eq!(
        error_for(&mut v, seq),
        ("bad_frames".into(), "remove_frames: field \"frames\" must name at least one frame, found none".into())
    );
    assert_eq!(v.query().unwrap().nodes[0].n_frames, 2);
}

/// The main view's camera position (world), from QUERY_CAMERA.
fn camera_position(v: &mut Viewer) -> [f32; 3] {
    let seq = v.send_message(MessageType::QueryCamera.as_i64(), None, vec![], vec![]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(Reply::ViewCamera(state)) = v.recv(Duration::from_secs(1)).unwrap()
            && state.ref_seq == Some(seq)
        {
            return state.camera.params.position;
        }
    }
    panic!("no VIEW_CAMERA within 30 s");
}

#[test]
fn set_camera_onto_the_other_point_or_outside_the_fov_range_is_an_error_not_silence() {
    let p = Periscope::start("");
    let mut v = p.client("camera");
    v.set_camera(Some([0.0, 2.0, 6.0]), Some([0.0, 0.0, 0.0]), Some(50.0)).unwrap();
    let at = camera_position(&mut v);
    assert!((at[1] - 2.0).abs() < 1e-3 && (at[2] - 6.0).abs() < 1e-3, "{at:?}");
    // Only the position, equal to the current target.
    let seq = v.set_camera(Some([0.0, 0.0, 0.0]), None, None).unwrap();
    let (code, message) = error_for(&mut v, seq);
    assert_eq!(code, "bad_value");
    assert_eq!(
        message,
        "set_camera: field \"position\" must be a point other than the view's target, found [0.0, 0.0, 0.0]"
    );
    // Only the target, equal to the current position.
    let seq = v.set_camera(None, Some([0.0, 2.0, 6.0]), None).unwrap();
    let (_, message) = error_for(&mut v, seq);
    assert_eq!(
        message,
        "set_camera: field \"target\" must be a point other than the camera's position, found [0.0, 2.0, 6.0]"
    );
    // fov_y: what is accepted is what is applied.
    let seq = v.set_camera(None, None, Some(179.9999)).unwrap();
    let (_, message) = error_for(&mut v, seq);
    assert_eq!(message, "set_camera: field \"fov_y\" must be degrees in [1, 170], found 179.99989318847656");
    let at = camera_position(&mut v);
    assert!((at[1] - 2.0).abs() < 1e-3 && (at[2] - 6.0).abs() < 1e-3, "nothing moved: {at:?}");
    match v.query() {
        Ok(_) => {}
        Err(ClientError::Rejected { message, .. }) => panic!("{message}"),
        Err(e) => panic!("{e}"),
    }
}
