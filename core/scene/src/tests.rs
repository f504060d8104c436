use periscope_protocol::{Envelope, MessageType as T, NdArray, Value};

use crate::{LineMode, NodeKind, Scene, SceneConfig};

const C: u64 = 1;

fn arr(shape: &[usize], f: impl Fn(usize) -> f32) -> Value {
    let n: usize = shape.iter().product();
    Value::NdArray(NdArray::from_f32(shape.to_vec(), (0..n).map(f).collect::<Vec<_>>()))
}

fn faces(rows: &[[i64; 3]]) -> Value {
    Value::NdArray(NdArray::from_i64(vec![rows.len(), 3], rows.iter().flatten().copied().collect::<Vec<_>>()))
}

fn mesh(uid: i64, frames: usize) -> Envelope {
    Envelope::new(T::Meshes.as_i64())
        .with_uid(uid)
        .with_arg(arr(&[frames, 4, 3], |i| i as f32))
        .with_arg(faces(&[[0, 1, 2], [0, 2, 3]]))
}

fn scene() -> Scene {
    let mut s = Scene::new(SceneConfig::default());
    s.client_connected(C, "test", "127.0.0.1:1");
    s
}

fn first_x(s: &Scene, uid: i64, frame: usize) -> f32 {
    s.node_by_remote(C, uid).unwrap().frame_data("vertices", frame).unwrap()[0]
}

#[test]
fn mesh_lifecycle() {
    let mut s = scene();
    let env = mesh(1, 1)
        .with_kwarg("name", "Mesh 0")
        .with_kwarg("flat_shading", true)
        .with_kwarg("position", Value::from(vec![-1.0f64, 0.0, 0.0]))
        .with_kwarg("scale", 0.12f64);
    let a = s.apply(C, &env).unwrap();
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    let n = s.node_by_remote(C, 1).unwrap();
    assert_eq!((n.name.as_str(), n.kind, n.n_frames()), ("Mesh 0", NodeKind::Meshes, 1));
    assert!(n.style.flat_shading);
    assert_eq!(n.position(0), [-1.0, 0.0, 0.0]);
    assert!((n.scale - 0.12).abs() < 1e-6);

    // (V,3) and (F,V,3) both append.
    s.apply(C, &Envelope::new(T::AddFrames.as_i64()).with_uid(1).with_arg(arr(&[4, 3], |_| 100.0))).unwrap();
    s.apply(
        C,
        &Envelope::new(T::AddFrames.as_i64()).with_uid(1).with_arg(arr(&[3, 4, 3], |i| 200.0 + (i / 12) as f32)),
    )
    .unwrap();
    assert_eq!(s.node_by_remote(C, 1).unwrap().n_frames(), 5);
    assert_eq!(first_x(&s, 1, 1), 100.0);
    assert_eq!(first_x(&s, 1, 4), 202.0);

    // update one frame (int), several (list), broadcasting one frame of data.
    let upd = |frames: Value, data: Value| {
        Envelope::new(T::UpdateFrames.as_i64()).with_uid(1).with_arg(data).with_kwarg("frames", frames)
    };
    s.apply(C, &upd(Value::Int(2), arr(&[4, 3], |_| 7.0))).unwrap();
    assert_eq!(first_x(&s, 1, 2), 7.0);
    s.apply(C, &upd(Value::from(vec![0i64, 4]), arr(&[2, 4, 3], |i| if i < 12 { 8.0 } else { 9.0 }))).unwrap();
    assert_eq!((first_x(&s, 1, 0), first_x(&s, 1, 4)), (8.0, 9.0));
    s.apply(C, &upd(Value::from(vec![-1i64]), arr(&[4, 3], |_| 5.0))).unwrap();
    assert_eq!(first_x(&s, 1, 4), 5.0, "negative frame indices count from the end");

    // remove frames 1 and 2: [8, 100, 7, 201, 5] -> [8, 201, 5]
    s.apply(C, &Envelope::new(T::RemoveFrames.as_i64()).with_uid(1).with_kwarg("frames", Value::from(vec![1i64, 2])))
        .unwrap();
    let xs: Vec<f32> = (0..3).map(|f| first_x(&s, 1, f)).collect();
    assert_eq!(xs, vec![8.0, 201.0, 5.0]);

    s.apply(C, &Envelope::new(T::Delete.as_i64()).with_uid(1)).unwrap();
    assert!(s.node_by_remote(C, 1).is_none());
    assert_eq!(s.nodes().count(), 0);
    let e = s.apply(C, &Envelope::new(T::Delete.as_i64()).with_uid(1)).unwrap_err();
    assert_eq!(e.code, "unknown_uid");
}

#[test]
fn frames_wrap_and_shorter_nodes_hold_their_last_frame() {
    let mut s = scene();
    s.apply(C, &mesh(1, 200)).unwrap();
    s.apply(C, &mesh(2, 100)).unwrap();
    assert_eq!(s.n_frames(), 200);
    s.set_frame(150);
    let st = s.state();
    assert_eq!(st.nodes[1].current_frame, 99);
    s.apply(C, &Envelope::new(T::SetFrame.as_i64()).with_arg(Value::Int(199))).unwrap();
    s.apply(C, &Envelope::new(T::NextFrame.as_i64())).unwrap();
    assert_eq!(s.current_frame(), 0, "next wraps to the first frame");
    s.apply(C, &Envelope::new(T::PreviousFrame.as_i64())).unwrap();
    assert_eq!(s.current_frame(), 199, "previous wraps to the last frame");
    s.set_frame(10_000);
    assert_eq!(s.current_frame(), 199, "set_frame clamps");
    s.apply(C, &Envelope::new(T::Delete.as_i64()).with_uid(1)).unwrap();
    assert_eq!(s.current_frame(), 99, "the playhead follows a shrinking scene");
}

#[test]
fn refused_messages_change_nothing() {
    let mut s = scene();
    s.apply(C, &mesh(1, 2)).unwrap();
    let before = s.version();
    // wrong inner shape
    let e = s.apply(C, &Envelope::new(T::AddFrames.as_i64()).with_uid(1).with_arg(arr(&[5, 3], |_| 0.0))).unwrap_err();
    assert_eq!(e.code, "bad_shape");
    assert!(e.message.contains("vertices has 5 rows per frame (shape (5, 3)) but this node has V=4"), "{e}");
    // wrong rank
    let e = s.apply(C, &Envelope::new(T::AddFrames.as_i64()).with_uid(1).with_arg(arr(&[4, 2], |_| 0.0))).unwrap_err();
    assert!(e.message.contains("vertices must have shape (V,3) or (F,V,3), got (4, 2)"), "{e}");
    // out-of-range frames
    let e = s
        .apply(
            C,
            &Envelope::new(T::UpdateFrames.as_i64())
                .with_uid(1)
                .with_arg(arr(&[4, 3], |_| 0.0))
                .with_kwarg("frames", 2i64),
        )
        .unwrap_err();
    assert_eq!(e.code, "bad_frames");
    // removing everything
    let e = s
        .apply(C, &Envelope::new(T::RemoveFrames.as_i64()).with_uid(1).with_kwarg("frames", Value::from(vec![0i64, 1])))
        .unwrap_err();
    assert!(e.message.contains("delete the node instead"), "{e}");
    assert_eq!(s.version(), before);
    assert_eq!(s.node_by_remote(C, 1).unwrap().n_frames(), 2);
}

#[test]
fn creation_errors_are_specific() {
    let mut s = scene();
    let e = s.apply(C, &Envelope::new(T::Meshes.as_i64()).with_uid(1).with_arg(arr(&[4, 3], |_| 0.0))).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("missing_arg", "meshes needs faces"));
    let e = s
        .apply(
            C,
            &Envelope::new(T::Meshes.as_i64())
                .with_uid(1)
                .with_arg(arr(&[4, 3], |_| 0.0))
                .with_arg(faces(&[[0, 1, 4]])),
        )
        .unwrap_err();
    assert_eq!(e.message, "faces[0, 2] = 4 is out of range [0, 4)");
    let e = s.apply(C, &Envelope::new(T::Spheres.as_i64()).with_uid(1).with_arg(Value::from("x"))).unwrap_err();
    assert_eq!(e.message, "positions must be an array, got str");
    let e = s.apply(C, &Envelope::new(77)).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("unknown_type", "unknown message type 77"));
    assert_eq!(s.nodes().count(), 0);
}

#[test]
fn unknown_kwargs_warn_and_user_messages_pass() {
    let mut s = scene();
    let a = s.apply(C, &mesh(1, 1).with_kwarg("gui_affine", true)).unwrap();
    assert_eq!(a.warnings.len(), 1);
    assert_eq!(a.warnings[0].message, "meshes: keyword \"gui_affine\" is not known and was ignored");
    let a = s.apply(C, &Envelope::new(10_001).with_kwarg("anything", 1i64)).unwrap();
    assert!(a.warnings.is_empty() && a.state.is_none());
}

#[test]
fn every_kind_is_created() {
    let mut s = scene();
    let p = |n: usize| arr(&[n, 3], |i| i as f32 * 0.1);
    s.apply(C, &Envelope::new(T::Node.as_i64()).with_uid(1).with_kwarg("position", p(1))).unwrap();
    s.apply(
        C,
        &Envelope::new(T::Spheres.as_i64())
            .with_uid(2)
            .with_arg(p(5))
            .with_kwarg("radius", 0.05f64)
            .with_kwarg("color", arr(&[5, 3], |_| 0.5)),
    )
    .unwrap();
    s.apply(
        C,
        &Envelope::new(T::Lines.as_i64())
            .with_uid(3)
            .with_arg(p(6))
            .with_kwarg("mode", "lines")
            .with_kwarg("r_tip", 0.0f64),
    )
    .unwrap();
    s.apply(C, &Envelope::new(T::Arrows.as_i64()).with_uid(4).with_arg(p(4)).with_arg(p(4)).with_kwarg("p", 0.2f64))
        .unwrap();
    let rot = arr(&[10, 2, 3, 3], |i| if i % 4 == 0 { 1.0 } else { 0.0 });
    s.apply(C, &Envelope::new(T::RigidBodies.as_i64()).with_uid(5).with_arg(arr(&[10, 2, 3], |_| 0.0)).with_arg(rot))
        .unwrap();
    let conn = Value::NdArray(NdArray::from_i64(vec![3, 2], vec![-1, 0, 0, 1, 1, 2]));
    s.apply(C, &Envelope::new(T::Skeletons.as_i64()).with_uid(6).with_arg(arr(&[7, 3, 3], |_| 0.0)).with_arg(conn))
        .unwrap();
    let kinds: Vec<String> = s.state().nodes.iter().map(|n| n.kind.clone()).collect();
    assert_eq!(kinds, ["node", "spheres", "lines", "arrows", "rigid_bodies", "skeletons"]);
    let sph = s.node_by_remote(C, 2).unwrap();
    assert_eq!(sph.frame_data("colors", 0).unwrap()[..4], [0.5, 0.5, 0.5, 1.0], "RGB gets alpha 1");
    assert_eq!(s.node_by_remote(C, 3).unwrap().style.mode, LineMode::Lines);
    assert_eq!(s.node_by_remote(C, 5).unwrap().n_frames(), 10);
    assert_eq!(s.node_by_remote(C, 6).unwrap().joint_connections().unwrap(), &[[-1, 0], [0, 1], [1, 2]]);
    // arrows need origins and tips with matching counts
    let e = s
        .apply(C, &Envelope::new(T::AddFrames.as_i64()).with_uid(4).with_arg(arr(&[2, 4, 3], |_| 0.)).with_arg(p(4)))
        .unwrap_err();
    assert_eq!(e.message, "origins has 2 frames but tips has 1; send the same number");
}

#[test]
fn query_returns_frame_data() {
    let mut s = scene();
    s.apply(C, &mesh(1, 3)).unwrap();
    let mut q = Envelope::new(T::Query.as_i64()).with_uid(1).with_kwarg("frame", 2i64);
    q.seq = Some(42);
    let st = s.apply(C, &q).unwrap().state.unwrap();
    assert_eq!(st.ref_seq, Some(42));
    let data = st.data.unwrap();
    let a = data.as_array().unwrap();
    assert_eq!(a.shape(), &[4, 3]);
    assert_eq!(a.to_f32()[0], 24.0);
}

#[test]
fn nodes_survive_disconnect_unless_configured() {
    let mut s = scene();
    s.apply(C, &mesh(1, 1)).unwrap();
    s.client_disconnected(C);
    assert_eq!(s.nodes().count(), 1);
    let mut s = Scene::new(SceneConfig { drop_nodes_on_disconnect: true, ..Default::default() });
    s.client_connected(C, "x", "y");
    s.apply(C, &mesh(1, 1)).unwrap();
    s.client_disconnected(C);
    assert_eq!(s.nodes().count(), 0);
}

fn add_control(uid: i64, fields: &[(&str, Value)]) -> Envelope {
    let mut env = Envelope::new(T::AddControl.as_i64()).with_uid(uid);
    for (k, v) in fields {
        env = env.with_kwarg(k, v.clone());
    }
    env
}

fn slider(uid: i64) -> Envelope {
    add_control(
        uid,
        &[
            ("kind", "slider".into()),
            ("label", "Speed".into()),
            ("min", Value::from(0.0)),
            ("max", Value::from(10.0)),
            ("value", Value::from(1.0)),
        ],
    )
}

#[test]
fn controls_are_added_set_by_anyone_and_the_owner_hears_it() {
    let mut s = scene();
    s.client_connected(2, "other", "127.0.0.1:2");
    let applied = s.apply(C, &slider(1)).unwrap();
    let id = s.controls().by_remote(C, 1).unwrap().id;
    assert_eq!(applied.replies.len(), 1, "the sender gets control_state");
    assert_eq!(applied.replies[0].1.kind(), T::ControlState.as_i64());

    // Another client sets it as a person would: the owner gets the event, the sender the state.
    let set = Envelope::new(T::SetControl.as_i64()).with_kwarg("control_id", id).with_kwarg("value", 2.5);
    let applied = s.apply(2, &set).unwrap();
    let to: Vec<(u64, i64)> = applied.replies.iter().map(|(c, r)| (*c, r.kind())).collect();
    assert_eq!(to, vec![(C, T::Event.as_i64()), (2, T::ControlState.as_i64())]);
    assert_eq!(s.controls().get(id).unwrap().value.as_f64(), 2.5);

    // The owner changes it from code: no event; replacing keeps the id.
    let update = Envelope::new(T::UpdateControl.as_i64()).with_uid(1).with_kwarg("value", 4.0).with_kwarg("max", 5.0);
    assert!(s.apply(C, &update).unwrap().replies.is_empty());
    assert_eq!(s.controls().get(id).unwrap().max, Some(5.0));
    s.apply(C, &slider(1)).unwrap();
    assert_eq!(s.controls().by_remote(C, 1).unwrap().id, id);
    // Only the owner updates or removes it by uid.
    assert_eq!(s.apply(2, &update).unwrap_err().code, "unknown_control");
    s.apply(C, &Envelope::new(T::RemoveControl.as_i64()).with_uid(1)).unwrap();
    assert!(s.controls().is_empty());
}

#[test]
fn bad_controls_change_nothing_and_name_the_field() {
    let mut s = scene();
    s.apply(C, &slider(1)).unwrap();
    let id = s.controls().by_remote(C, 1).unwrap().id;
    let before = s.controls().get(id).unwrap().clone();
    let refused = |s: &mut Scene, env: Envelope| s.apply(C, &env).unwrap_err().message;
    // An update that would leave the value outside the new range is refused whole.
    let shrink = Envelope::new(T::UpdateControl.as_i64()).with_uid(1).with_kwarg("max", 0.5).with_kwarg("label", "x");
    assert_eq!(refused(&mut s, shrink), "update_control: field \"value\" must be in 0..=0.5, found 1.0");
    assert_eq!(s.controls().get(id).unwrap(), &before);
    let set = |v: Value| Envelope::new(T::SetControl.as_i64()).with_kwarg("control_id", id).with_kwarg("value", v);
    assert_eq!(refused(&mut s, set(Value::from(11.0))), "set_control: field \"value\" must be in 0..=10, found 11.0");
    assert_eq!(
        refused(&mut s, Envelope::new(T::SetControl.as_i64()).with_kwarg("control_id", 77i64)),
        "set_control: no control with control_id 77"
    );
    let knob = add_control(2, &[("kind", "knob".into()), ("label", "x".into())]);
    assert!(refused(&mut s, knob).starts_with("add_control: field \"kind\" must be one of slider, number,"));
    let long = add_control(2, &[("kind", "button".into()), ("label", "x".repeat(100_000).into())]);
    assert_eq!(
        refused(&mut s, long),
        "add_control: field \"label\" must be a str of 1..=256 bytes, found 100000 bytes"
    );
    assert_eq!(s.controls().len(), 1);
}

#[test]
fn controls_per_client_are_limited_and_linger_after_a_disconnect() {
    let mut s = Scene::new(SceneConfig { max_controls_per_client: 3, ..SceneConfig::default() });
    s.client_connected(C, "test", "x");
    for uid in 1..=3 {
        s.apply(C, &slider(uid)).unwrap();
    }
    assert_eq!(s.apply(C, &slider(4)).unwrap_err().code, "limit");
    s.apply(C, &slider(3)).unwrap(); // replacing one is not a new one
    let linger = std::time::Duration::from_secs(30);
    let now = std::time::Instant::now();
    assert_eq!(s.expire_controls(linger, now), None, "connected clients keep theirs");
    s.client_disconnected(C);
    let now = std::time::Instant::now();
    assert!(s.expire_controls(linger, now).is_some(), "kept (greyed) for a while");
    assert_eq!(s.controls().len(), 3);
    assert_eq!(s.expire_controls(linger, now + linger), None);
    assert!(s.controls().is_empty(), "gone after the linger time");
}

#[test]
fn select_messages_address_nodes_and_carry_the_hit_point() {
    let mut s = scene();
    s.apply(C, &mesh(5, 1)).unwrap();
    let id = s.node_by_remote(C, 5).unwrap().id;
    let point = Value::from(vec![0.5f64, 1.0, 0.0]);
    s.apply(0, &Envelope::new(T::Select.as_i64()).with_uid(5).with_kwarg("client_id", C).with_kwarg("point", point))
        .unwrap();
    assert_eq!((s.selected(), s.selected_point()), (Some(id), Some([0.5, 1.0, 0.0])));
    s.apply(C, &Envelope::new(T::Select.as_i64())).unwrap();
    assert_eq!((s.selected(), s.selected_point()), (None, None));
    let err = s.apply(C, &Envelope::new(T::Select.as_i64()).with_kwarg("node_id", 999i64)).unwrap_err();
    assert_eq!(err.message, "select: no node with node_id 999");
}

fn cloud(uid: i64, points: Value) -> Envelope {
    Envelope::new(T::PointClouds.as_i64()).with_uid(uid).with_arg(points)
}

fn u8s(shape: &[usize], f: impl Fn(usize) -> u8) -> Value {
    let n: usize = shape.iter().product();
    Value::NdArray(NdArray::from_u8(shape.to_vec(), (0..n).map(f).collect::<Vec<_>>()))
}

fn query(s: &mut Scene, uid: i64, attr: &str, frame: i64) -> NdArray {
    let q = Envelope::new(T::Query.as_i64()).with_uid(uid).with_kwarg("attribute", attr).with_kwarg("frame", frame);
    match s.apply(C, &q).unwrap().state.unwrap().data.unwrap() {
        Value::NdArray(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn point_clouds_vary_per_frame_and_keep_colors_as_bytes() {
    let mut s = scene();
    // Two frames of 4 points, RGB uint8 colors for one frame (they apply to all).
    let env = cloud(1, arr(&[2, 4, 3], |i| i as f32))
        .with_kwarg("colors", u8s(&[4, 3], |i| (i * 10) as u8))
        .with_kwarg("point_size", 3.0f64);
    assert!(s.apply(C, &env).unwrap().warnings.is_empty());
    // A third frame with 2 points and float RGBA colors.
    let add = Envelope::new(T::AddFrames.as_i64())
        .with_uid(1)
        .with_arg(arr(&[2, 3], |_| 9.0))
        .with_kwarg("colors", arr(&[2, 4], |i| if i % 4 == 0 { 1.0 } else { 0.0 }));
    s.apply(C, &add).unwrap();
    let n = s.node_by_remote(C, 1).unwrap().clone();
    assert_eq!((n.kind, n.n_frames(), n.style.point_size), (NodeKind::PointClouds, 3, 3.0));
    // 4 + 4 + 2 points of 12 bytes, colors 4 bytes per point (frame 0's serve frame 1).
    assert_eq!(n.data_bytes(), 10 * 12 + 10 * 4);
    let p = query(&mut s, 1, "points", 2);
    assert_eq!((p.shape(), p.to_f32()[0]), (&[2, 3][..], 9.0));
    let c = query(&mut s, 1, "colors", 0);
    assert_eq!(c.shape(), &[4, 4]);
    assert_eq!(c.le_bytes()[..8], [0, 10, 20, 255, 30, 40, 50, 255]);
    assert_eq!(query(&mut s, 1, "colors", 2).le_bytes()[..4], [255, 0, 0, 0]);

    // The saved scene recreates every frame with its own size.
    let mut copy = Scene::new(SceneConfig::default());
    for (client, name, msgs) in s.snapshot() {
        copy.client_connected(client, &name, "replay");
        for m in msgs {
            copy.apply(client, &m).unwrap();
        }
    }
    let n2 = copy.node_by_remote(C, 1).unwrap();
    assert_eq!((n2.n_frames(), n2.style.point_size), (3, 3.0));
    assert_eq!(n2.attr("points").unwrap().frame_shape(2), vec![2, 3]);
    let bytes = |n: &crate::Node| crate::packed_bytes(n.frame_data("colors", 0).unwrap());
    assert_eq!(bytes(n2), bytes(&n));
}

#[test]
fn point_clouds_skip_non_finite_points_with_their_colors() {
    let mut s = scene();
    let pts = arr(&[4, 3], |i| {
        if i == 4 {
            f32::NAN
        } else if i == 9 {
            f32::INFINITY
        } else {
            i as f32
        }
    });
    let a = s.apply(C, &cloud(1, pts).with_kwarg("colors", u8s(&[4, 4], |i| (i / 4) as u8))).unwrap();
    assert_eq!(a.warnings.len(), 1, "warned once");
    assert!(a.warnings[0].message.contains("2 of 4 points"), "{}", a.warnings[0].message);
    let p = query(&mut s, 1, "points", 0);
    assert_eq!(p.to_f32().as_slice(), &[0., 1., 2., 6., 7., 8.]);
    // The colors of points 0 and 2 stay.
    assert_eq!(query(&mut s, 1, "colors", 0).le_bytes()[..], [0, 0, 0, 0, 2, 2, 2, 2]);
}

#[test]
fn point_cloud_bad_input_names_the_field_and_changes_nothing() {
    let mut s = scene();
    s.apply(C, &cloud(1, arr(&[3, 3], |i| i as f32))).unwrap();
    let cases: Vec<(Envelope, &str)> = vec![
        (cloud(2, arr(&[3, 2], |_| 0.0)), "field \"points\" must have shape (N, 3)"),
        (cloud(2, arr(&[3, 3], |_| 0.0)).with_kwarg("colors", arr(&[2, 3], |_| 0.0)), "\"colors\" has 2 rows"),
        (cloud(2, arr(&[3, 3], |_| 0.0)).with_kwarg("colors", arr(&[3, 5], |_| 0.0)), "field \"colors\" must be"),
        (
            cloud(2, arr(&[3, 3], |_| 0.0))
                .with_kwarg("colors", Value::NdArray(NdArray::from_i64(vec![3, 3], vec![1; 9]))),
            "float in [0, 1] or uint8",
        ),
        (
            cloud(2, arr(&[3, 3], |_| 0.0)).with_kwarg("point_size", 0.0f64),
            "\"point_size\" must be a finite number > 0",
        ),
        (cloud(2, arr(&[3, 3], |_| 0.0)).with_kwarg("point_size_world", -1.0f64), "\"point_size_world\""),
        (cloud(2, arr(&[2, 3, 3], |_| 0.0)).with_kwarg("colors", arr(&[3, 3, 3], |_| 0.0)), "has 3 frames"),
        (
            Envelope::new(T::AddFrames.as_i64()).with_uid(1).with_kwarg("colors", arr(&[3, 3], |_| 0.0)),
            "add_frames needs field \"points\"",
        ),
    ];
    for (env, want) in cases {
        let e = s.apply(C, &env).unwrap_err();
        assert!(e.message.contains(want), "{want:?} not in {:?}", e.message);
    }
    // With colors, points of another size without colors: refused.
    s.apply(C, &cloud(3, arr(&[3, 3], |i| i as f32)).with_kwarg("colors", u8s(&[3, 4], |_| 7))).unwrap();
    let e = s
        .apply(
            C,
            &Envelope::new(T::UpdateFrames.as_i64())
                .with_uid(3)
                .with_kwarg("frames", 0i64)
                .with_arg(arr(&[5, 3], |_| 1.0)),
        )
        .unwrap_err();
    assert!(e.message.contains("frame 0 would have 5 points but 3 colors"), "{}", e.message);
    assert_eq!(s.nodes().count(), 2);
    assert_eq!(s.node_by_remote(C, 3).unwrap().attr("points").unwrap().frame_shape(0), vec![3, 3]);
}

// --- bad input (hardening: scene) ---

fn props(uid: i64) -> Envelope {
    Envelope::new(T::SetProperties.as_i64()).with_uid(uid)
}

fn v3(x: f64, y: f64, z: f64) -> Value {
    Value::from(vec![x, y, z])
}

#[test]
fn query_with_an_empty_frame_list_is_an_error_not_a_panic() {
    let mut s = scene();
    s.apply(C, &mesh(1, 3)).unwrap();
    let other: u64 = 2;
    s.client_connected(other, "other", "127.0.0.1:2");
    let empties = [Value::Array(vec![]), Value::NdArray(NdArray::from_i64(vec![0], Vec::<i64>::new()))];
    for empty in empties {
        // Another client names the node by its owner and uid.
        let q =
            Envelope::new(T::Query.as_i64()).with_uid(1).with_kwarg("client_id", C as i64).with_kwarg("frame", empty);
        let e = s.apply(other, &q).unwrap_err();
        assert_eq!(e.code, "bad_frames");
        assert_eq!(e.message, "query: field \"frame\" must name at least one frame, found none");
    }
    let e = s.apply(other, &Envelope::new(T::Query.as_i64()).with_uid(1).with_kwarg("client_id", -1i64)).unwrap_err();
    assert!(e.message.contains("field \"client_id\" must be a client id"), "{e}");
    let e = s.apply(C, &Envelope::new(T::Query.as_i64()).with_uid(1).with_kwarg("attribute", 3i64)).unwrap_err();
    assert!(e.message.contains("field \"attribute\" must be a str"), "{e}");
    let long = "a".repeat(100_000);
    let e =
        s.apply(C, &Envelope::new(T::Query.as_i64()).with_uid(1).with_kwarg("attribute", long.as_str())).unwrap_err();
    assert!(e.message.len() < 300, "quotes an excerpt: {}", e.message.len());
}

#[test]
fn empty_frame_lists_are_refused_for_update_and_remove() {
    let mut s = scene();
    s.apply(C, &mesh(1, 3)).unwrap();
    let before = s.version();
    let update = Envelope::new(T::UpdateFrames.as_i64())
        .with_uid(1)
        .with_arg(arr(&[4, 3], |_| 9.0))
        .with_kwarg("frames", Value::Array(vec![]));
    let e = s.apply(C, &update).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("bad_frames", "update_frames: field \"frames\" must name at least one frame, found none")
    );
    let remove = Envelope::new(T::RemoveFrames.as_i64()).with_uid(1).with_kwarg("frames", Value::Array(vec![]));
    let e = s.apply(C, &remove).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        ("bad_frames", "remove_frames: field \"frames\" must name at least one frame, found none")
    );
    assert_eq!(s.version(), before, "nothing changed");
}

#[test]
fn non_finite_and_out_of_range_properties_are_refused_naming_the_field() {
    let mut s = scene();
    s.apply(C, &mesh(1, 1)).unwrap();
    let rot_nan = Value::from(vec![1.0f64, 0.0, 0.0, 0.0, f64::NAN, 0.0, 0.0, 0.0, 1.0]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("position", v3(f64::NAN, 0.0, 0.0), "field \"position\" must be 3 finite numbers, found [NaN, 0.0, 0.0]"),
        ("position", v3(0.0, f64::INFINITY, 0.0), "field \"position\" must be 3 finite numbers, found [0.0, inf, 0.0]"),
        ("position", v3(0.0, 0.0, 1e300), "found [0.0, 0.0, inf]"),
        ("scale", Value::from(f64::INFINITY), "field \"scale\" must be a finite number > 0, found inf"),
        ("scale", Value::from(0.0), "field \"scale\" must be a finite number > 0, found 0.0"),
        ("scale", Value::from(-2.0), "found -2.0"),
        ("scale", Value::from(f64::NAN), "found NaN"),
        (
            "color",
            Value::from(vec![f64::NAN, 2.0, -1.0, 1.0]),
            "field \"color\" must be 3 or 4 numbers in [0, 1], found [NaN, 2.0, -1.0, 1.0]",
        ),
        ("color", Value::from(vec![0.5, 0.5, 1.5]), "field \"color\""),
        (
            "rotation",
            rot_nan,
            "field \"rotation\" must be a 3x3 matrix (9 finite numbers), found [1.0, 0.0, 0.0, 0.0, NaN, 0.0, 0.0, 0.0, 1.0]",
        ),
        ("flat_shading", Value::from(2.5), "flat_shading must be a bool"),
    ];
    for (key, v, want) in &cases {
        let e = s.apply(C, &props(1).with_kwarg(key, v.clone())).unwrap_err();
        assert_eq!(e.code, "bad_value");
        assert!(e.message.contains(want), "{key}: {want:?} not in {:?}", e.message);
        if *key != "flat_shading" {
            assert!(e.message.starts_with("set_properties: "), "{}", e.message);
        }
    }
    let n = s.node_by_remote(C, 1).unwrap();
    assert_eq!((n.scale, n.color, n.position(0), n.version), (1.0, crate::DEFAULT_COLOR, [0.0; 3], 0));
    // Spheres: radius >= 0, finite.
    s.apply(C, &Envelope::new(T::Spheres.as_i64()).with_uid(2).with_arg(arr(&[2, 3], |_| 0.0))).unwrap();
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        let e = s.apply(C, &props(2).with_kwarg("radius", bad)).unwrap_err();
        assert!(e.message.starts_with("set_properties: field \"radius\" must be a finite number >= 0, found"), "{e}");
    }
    s.apply(C, &props(2).with_kwarg("radius", 0.0)).unwrap();
    // Arrows: the head fraction p is in [0, 1] (what the renderer draws).
    s.apply(
        C,
        &Envelope::new(T::Arrows.as_i64()).with_uid(3).with_arg(arr(&[1, 3], |_| 0.0)).with_arg(arr(&[1, 3], |_| 1.0)),
    )
    .unwrap();
    let e = s.apply(C, &props(3).with_kwarg("p", 1.5)).unwrap_err();
    assert_eq!(e.message, "set_properties: field \"p\" must be a number in [0, 1], found 1.5");
    // Good values still go through.
    s.apply(C, &props(1).with_kwarg("scale", 2.0).with_kwarg("color", Value::from(vec![1.0, 0.0, 0.0]))).unwrap();
    assert_eq!(s.node_by_remote(C, 1).unwrap().scale, 2.0);
}

#[test]
fn non_finite_values_at_creation_are_refused_and_nothing_is_stored() {
    let mut s = scene();
    let nan_at = |k: usize| move |i: usize| if i == k { f32::NAN } else { i as f32 * 0.01 };
    let cases: Vec<(Envelope, &str)> = vec![
        (
            mesh(1, 1).with_kwarg("position", v3(0.0, f64::NAN, 0.0)),
            "meshes: field \"position\" must hold finite numbers, found NaN at [1]",
        ),
        (
            mesh(1, 1).with_kwarg("scale", f64::INFINITY),
            "meshes: field \"scale\" must be a finite number > 0, found inf",
        ),
        (mesh(1, 1).with_kwarg("scale", 0.0), "meshes: field \"scale\" must be a finite number > 0, found 0.0"),
        (
            mesh(1, 1).with_kwarg("color", Value::from(vec![f64::NAN, 2.0, -1.0, 1.0])),
            "meshes: field \"color\" must be 3 or 4 numbers in [0, 1]",
        ),
        (
            mesh(1, 1).with_kwarg("rotation", arr(&[3, 3], nan_at(8))),
            "meshes: field \"rotation\" must hold finite numbers, found NaN at [2, 2]",
        ),
        (
            Envelope::new(T::Meshes.as_i64())
                .with_uid(1)
                .with_arg(arr(&[2, 4, 3], nan_at(13)))
                .with_arg(faces(&[[0, 1, 2]])),
            "meshes: field \"vertices\" must hold finite numbers, found NaN at [1, 0, 1]",
        ),
        (
            mesh(1, 1).with_kwarg("vertex_colors", arr(&[4, 3], |i| if i == 5 { 2.0 } else { 0.5 })),
            "meshes: field \"vertex_colors\" must hold numbers in [0, 1], found 2.0 at [1, 2]",
        ),
        (
            Envelope::new(T::Spheres.as_i64()).with_uid(1).with_arg(arr(&[2, 3], |_| 0.0)).with_kwarg("radius", -1.0),
            "spheres: field \"radius\" must be a finite number >= 0, found -1.0",
        ),
        (
            Envelope::new(T::Spheres.as_i64())
                .with_uid(1)
                .with_arg(arr(&[2, 3], |_| 0.0))
                .with_kwarg("radius", f64::NAN),
            "spheres: field \"radius\" must be a finite number >= 0, found NaN",
        ),
        (
            Envelope::new(T::Spheres.as_i64()).with_uid(1).with_arg(arr(&[2, 3], nan_at(0))),
            "spheres: field \"positions\" must hold finite numbers, found NaN at [0, 0]",
        ),
        (
            Envelope::new(T::Lines.as_i64()).with_uid(1).with_arg(arr(&[2, 3], |_| 0.0)).with_kwarg("r_tip", -0.5),
            "lines: field \"r_tip\" must be a finite number >= 0",
        ),
        (
            cloud(1, arr(&[2, 3], |_| 0.0)).with_kwarg("colors", arr(&[2, 3], |i| if i == 4 { f32::NAN } else { 0.5 })),
            "point_clouds: field \"colors\" must hold numbers in [0, 1], found NaN at [1, 1]",
        ),
    ];
    for (env, want) in cases {
        let e = s.apply(C, &env).unwrap_err();
        assert_eq!(e.code, "bad_value", "{}", e.message);
        assert!(e.message.contains(want), "{want:?} not in {:?}", e.message);
    }
    assert_eq!(s.nodes().count(), 0, "nothing was stored");
    // Frames: add_frames and update_frames name the field and the first bad element.
    s.apply(C, &mesh(1, 2)).unwrap();
    let add = Envelope::new(T::AddFrames.as_i64())
        .with_uid(1)
        .with_arg(arr(&[4, 3], |i| if i == 7 { f32::INFINITY } else { 0.0 }));
    let e = s.apply(C, &add).unwrap_err();
    assert_eq!(e.message, "add_frames: field \"vertices\" must hold finite numbers, found inf at [2, 1]");
    let update = Envelope::new(T::UpdateFrames.as_i64())
        .with_uid(1)
        .with_kwarg("frames", 0i64)
        .with_kwarg("position", v3(f64::NAN, 0.0, 0.0));
    let e = s.apply(C, &update).unwrap_err();
    assert_eq!(e.message, "update_frames: field \"position\" must hold finite numbers, found NaN at [0]");
    assert_eq!(s.node_by_remote(C, 1).unwrap().n_frames(), 2);
    assert_eq!(s.node_by_remote(C, 1).unwrap().version, 0);
}

#[test]
fn names_are_bounded_and_errors_quote_only_an_excerpt() {
    let mut s = scene();
    let long = "n".repeat(periscope_protocol::limits::MAX_NAME_BYTES + 1);
    let e = s.apply(C, &mesh(1, 1).with_kwarg("name", long.as_str())).unwrap_err();
    assert_eq!(e.code, "bad_value");
    assert!(
        e.message.starts_with("meshes: field \"name\" must be a str of at most 1024 bytes, found 1025 bytes"),
        "{e}"
    );
    assert!(e.message.len() < 250, "an excerpt, not the name: {}", e.message.len());
    assert_eq!(s.nodes().count(), 0);
    let ok = "n".repeat(periscope_protocol::limits::MAX_NAME_BYTES);
    s.apply(C, &mesh(1, 1).with_kwarg("name", ok.as_str())).unwrap();
    let huge = "x".repeat(10_000_000);
    let e = s.apply(C, &props(1).with_kwarg("name", huge.as_str())).unwrap_err();
    assert!(e.message.starts_with("set_properties: field \"name\" must be a str of at most 1024 bytes"), "{e}");
    assert!(e.message.len() < 250);
    assert_eq!(s.node_by_remote(C, 1).unwrap().name, ok);
    // Unknown keywords are quoted short, all in one warning.
    let mut env = mesh(2, 1);
    for i in 0..1000 {
        env = env.with_kwarg(&format!("{}{i}", "k".repeat(5000)), 1i64);
    }
    let a = s.apply(C, &env).unwrap();
    assert_eq!(a.warnings.len(), 1);
    assert!(a.warnings[0].message.contains("and 992 more are not known and were ignored"), "{}", a.warnings[0].message);
    assert!(a.warnings[0].message.len() < 2000);
}

/// Found by a hostile-client run: updating a frame of an attribute that has
/// fewer frames than its node (static colors of a cloud whose points change)
/// said "the node has 1 frames" of a node with 5.
#[test]
fn updating_beyond_a_static_attribute_names_the_attribute_and_the_node() {
    let mut s = scene();
    s.apply(C, &cloud(1, arr(&[5, 3], |_| 0.0)).with_kwarg("colors", arr(&[5, 3], |_| 0.5))).unwrap();
    s.apply(C, &Envelope::new(T::AddFrames.as_i64()).with_uid(1).with_arg(arr(&[4, 3, 3], |_| 0.0))).unwrap();
    let update = Envelope::new(T::UpdateFrames.as_i64())
        .with_uid(1)
        .with_kwarg("frames", Value::Array(vec![Value::Int(1)]))
        .with_arg(arr(&[3, 3], |_| 1.0))
        .with_kwarg("colors", arr(&[3, 3], |_| 0.2));
    let e = s.apply(C, &update).unwrap_err();
    assert_eq!(e.code, "bad_frames");
    assert!(e.message.contains("colors has 1 frame(s) while the node has 5"), "{}", e.message);
}

#[test]
fn playback_messages_start_stop_and_set_the_speed() {
    let mut s = scene();
    let playback = |playing: Option<bool>, fps: Option<f64>| crate::playback_message(playing, fps);
    assert_eq!((s.playing(), s.fps()), (false, crate::DEFAULT_FPS));
    let v = s.version();
    s.apply(C, &playback(Some(true), Some(50.0))).unwrap();
    assert_eq!((s.playing(), s.fps()), (true, 50.0));
    assert!(s.version() > v, "a playback change is a scene change");
    s.apply(C, &playback(None, Some(12.0))).unwrap();
    assert_eq!((s.playing(), s.fps()), (true, 12.0), "a missing field keeps its value");
    s.apply(C, &playback(Some(false), None)).unwrap();
    assert_eq!((s.playing(), s.fps()), (false, 12.0));
    let st = s.state();
    assert_eq!((st.playing, st.fps), (false, 12.0), "the query answers both");

    // Bad values name the field, and nothing changes (not even the valid field).
    // 1e-300 fps: a frame interval beyond any timer (it crashed the viewer: found by the fuzzer).
    let tiny = [(1e-300, "1e-300")];
    for (fps, found) in [(0.0, "0.0"), (-1.0, "-1.0"), (240.5, "240.5"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")]
        .into_iter()
        .chain(tiny)
    {
        let e = s.apply(C, &playback(Some(true), Some(fps))).unwrap_err();
        assert_eq!(e.code, "bad_value");
        assert_eq!(
            e.message,
            format!("playback: field \"fps\" must be a finite number in [0.001, 240], found {found}")
        );
    }
    let e = s.apply(C, &Envelope::new(T::Playback.as_i64()).with_kwarg("playing", "yes")).unwrap_err();
    assert_eq!(e.message, "playback: field \"playing\" must be a bool, found str");
    let e = s.apply(C, &Envelope::new(T::Playback.as_i64()).with_kwarg("fps", "fast")).unwrap_err();
    assert!(e.message.starts_with("playback: field \"fps\" must be"), "{}", e.message);
    let e = s.apply(C, &Envelope::new(T::Playback.as_i64()).with_arg(Value::from(true))).unwrap_err();
    assert!(e.message.contains("keyword arguments (playing, fps)"), "{}", e.message);
    assert_eq!((s.playing(), s.fps()), (false, 12.0), "refused messages changed nothing");
    s.apply(C, &playback(None, Some(240.0))).unwrap();
    assert_eq!(s.fps(), 240.0, "240 fps is allowed");
    let w = s.apply(C, &Envelope::new(T::Playback.as_i64()).with_kwarg("speed", 2.0)).unwrap().warnings;
    assert_eq!(w[0].code, "unknown_kwarg");
    assert_eq!(Scene::default().with_fps(0.0).fps(), crate::DEFAULT_FPS, "a bad configured rate keeps the default");
    assert_eq!(Scene::default().with_fps(60.0).fps(), 60.0);
}

#[test]
fn delete_names_any_node_like_set_properties() {
    let mut s = scene();
    s.apply(C, &mesh(5, 1)).unwrap();
    s.apply(C, &mesh(6, 1)).unwrap();
    let other = C + 1;
    let e = s.apply(other, &Envelope::new(T::Delete.as_i64()).with_uid(5)).unwrap_err();
    assert_eq!(e.code, "unknown_uid", "a bare uid is the sender's own");
    let id6 = s.node_by_remote(C, 6).unwrap().id;
    s.apply(other, &crate::delete_message(s.node(id6).unwrap())).unwrap();
    assert!(s.node(id6).is_none(), "uid + client_id names another client's node");
    let id5 = s.node_by_remote(C, 5).unwrap().id;
    s.apply(0, &Envelope::new(T::Delete.as_i64()).with_kwarg("node_id", id5)).unwrap();
    assert!(s.node(id5).is_none(), "node_id names any node");
    let e = s.apply(0, &Envelope::new(T::Delete.as_i64()).with_kwarg("node_id", id5)).unwrap_err();
    assert_eq!(e.message, format!("delete: no node with node_id {id5}"));
}

#[test]
fn zero_size_frames_cannot_make_a_huge_frame_count() {
    // 2**40 frames of no points are a few bytes on the wire: refused before
    // anything is allocated per frame (the viewer aborted on this).
    let mut s = scene();
    let max = periscope_protocol::limits::MAX_FRAMES;
    for (kind, shape) in [(T::PointClouds, vec![1usize << 40, 0, 3]), (T::Spheres, vec![10_000_000, 0, 3])] {
        let empty = Value::NdArray(NdArray::from_f32(shape, Vec::<f32>::new()));
        let e = s.apply(C, &Envelope::new(kind.as_i64()).with_uid(7).with_arg(empty)).unwrap_err();
        assert_eq!(e.code, "limit", "{e}");
        assert!(e.message.contains(&format!("more than a node may have ({max})")), "{e}");
    }
    // Growth by add_frames is bounded the same way.
    s.apply(C, &Envelope::new(T::Spheres.as_i64()).with_uid(8).with_arg(arr(&[max, 0, 3], |_| 0.0))).unwrap();
    let more = Envelope::new(T::AddFrames.as_i64()).with_uid(8).with_arg(arr(&[1, 0, 3], |_| 0.0));
    let e = s.apply(C, &more).unwrap_err();
    assert!(e.message.contains("would have"), "{e}");
}

#[test]
fn held_bytes_count_each_chunk_whole_and_once() {
    let mut s = scene();
    // 10 frames of 4x3 floats in one chunk, faces 2x3 u32.
    s.apply(C, &mesh(1, 10)).unwrap();
    let chunk = 10 * 12 * 4;
    assert_eq!(s.held_bytes(), chunk + 6 * 4);
    // Replacing 9 of the 10 frames one by one keeps the first chunk alive
    // (frame 0 still points into it): what is held grows though the frames'
    // own bytes do not.
    let before = s.node_by_remote(C, 1).unwrap().data_bytes();
    for f in 1..10 {
        let upd = Envelope::new(T::UpdateFrames.as_i64()).with_uid(1).with_arg(arr(&[4, 3], |_| 1.0));
        s.apply(C, &upd.with_kwarg("frames", Value::Int(f))).unwrap();
    }
    assert_eq!(s.node_by_remote(C, 1).unwrap().data_bytes(), before);
    assert_eq!(s.held_bytes(), chunk + 9 * 12 * 4 + 6 * 4);
}
