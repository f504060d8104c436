use periscope_protocol::{Envelope, MessageType as T, NdArray, Value, decode_value, encode_value};

use super::{Change, list_from_wire, list_to_wire, split_changes};
use crate::{Scene, SceneConfig};

const C: u64 = 1;

fn arr(shape: &[usize], f: impl Fn(usize) -> f32) -> Value {
    let n: usize = shape.iter().product();
    Value::NdArray(NdArray::from_f32(shape.to_vec(), (0..n).map(f).collect::<Vec<_>>()))
}

fn mesh(uid: i64, frames: usize, base: f32) -> Envelope {
    let faces = NdArray::from_i64(vec![2, 3], vec![0, 1, 2, 0, 2, 3]);
    Envelope::new(T::Meshes.as_i64())
        .with_uid(uid)
        .with_arg(arr(&[frames, 4, 3], move |i| base + i as f32))
        .with_arg(Value::NdArray(faces))
}

fn cloud(uid: i64, points: usize) -> Envelope {
    let colors = NdArray::from_u8(vec![points, 4], (0..points * 4).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>());
    Envelope::new(T::PointClouds.as_i64())
        .with_uid(uid)
        .with_arg(arr(&[points, 3], |i| i as f32 * 0.5))
        .with_kwarg("colors", Value::NdArray(colors))
}

fn frames(kind: T, uid: i64) -> Envelope {
    Envelope::new(kind.as_i64()).with_uid(uid)
}

/// Every change through its wire form, split into small parts, into `mirror`.
fn ship(changes: Vec<Change>, mirror: &mut Scene, max_bytes: usize) {
    for group in split_changes(changes, max_bytes) {
        let bytes = encode_value(&list_to_wire(&group));
        let back = decode_value(&bytes, Default::default()).unwrap();
        mirror.apply_changes(list_from_wire(&back).unwrap()).unwrap();
    }
}

fn hub() -> (Scene, Scene) {
    let mut hub = Scene::new(SceneConfig::default());
    hub.client_connected(C, "producer", "127.0.0.1:9");
    hub.track_changes();
    let mut mirror = Scene::new(SceneConfig::default());
    ship(hub.snapshot_changes(), &mut mirror, 1 << 20);
    (hub, mirror)
}

#[test]
fn a_mirror_fed_changes_equals_the_hub_after_every_step() {
    let (mut hub, mut mirror) = hub();
    let mut steps: Vec<Envelope> = vec![
        mesh(1, 3, 0.0).with_kwarg("name", "body"),
        frames(T::AddFrames, 1).with_arg(arr(&[2, 4, 3], |i| 100.0 + i as f32)),
        frames(T::UpdateFrames, 1).with_arg(arr(&[4, 3], |_| 7.0)).with_kwarg("frames", Value::from(vec![1i64, 3])),
        frames(T::RemoveFrames, 1).with_kwarg("frames", Value::from(vec![0i64, 2])),
        cloud(2, 5),
        frames(T::AddFrames, 2).with_arg(arr(&[9, 3], |i| -(i as f32))),
        Envelope::new(T::SetProperties.as_i64()).with_uid(1).with_kwarg("color", Value::from(vec![1.0f64, 0.0, 0.0])),
        Envelope::new(T::SetProperties.as_i64()).with_uid(2).with_kwarg("point_size", 5.0f64),
        Envelope::new(T::SetFrame.as_i64()).with_arg(Value::from(2i64)),
        mesh(3, 1, 50.0),
        Envelope::new(T::Delete.as_i64()).with_uid(3),
        Envelope::new(T::AddControl.as_i64())
            .with_uid(9)
            .with_kwarg("kind", "slider")
            .with_kwarg("label", "speed")
            .with_kwarg("min", 0.0f64)
            .with_kwarg("max", 2.0f64)
            .with_kwarg("value", 1.0f64),
        Envelope::new(T::SetControl.as_i64()).with_uid(9).with_kwarg("value", 1.5f64),
        Envelope::new(T::Select.as_i64()).with_uid(2),
    ];
    // A long sequence streamed frame by frame (the common case).
    steps.push(mesh(4, 1, 0.0));
    for i in 0..200 {
        steps.push(frames(T::AddFrames, 4).with_arg(arr(&[4, 3], move |_| i as f32)));
    }
    for (k, env) in steps.iter().enumerate() {
        hub.apply(C, env).unwrap_or_else(|e| panic!("step {k}: {e}"));
        ship(hub.take_changes(), &mut mirror, 64);
        assert_eq!(mirror.digest(), hub.digest(), "after step {k} ({})", env.kind);
    }
    assert_eq!(mirror.node_by_remote(C, 4).unwrap().n_frames(), 201);
    assert_eq!(mirror.selected(), hub.selected());
    assert_eq!(mirror.controls().len(), 1);
    assert!(hub.take_changes().is_empty(), "nothing changed since");

    // A late view: a snapshot in small parts gives the same scene.
    let mut late = Scene::new(SceneConfig::default());
    ship(hub.snapshot_changes(), &mut late, 100);
    assert_eq!(late.digest(), hub.digest());
}

#[test]
fn frame_changes_are_splices_that_share_the_hubs_arrays() {
    let (mut hub, _) = hub();
    hub.apply(C, &mesh(1, 5000, 0.0)).unwrap();
    hub.take_changes();
    hub.apply(
        C,
        &frames(T::UpdateFrames, 1).with_arg(arr(&[4, 3], |_| 1.0)).with_kwarg("frames", Value::from(vec![3i64, 4000])),
    )
    .unwrap();
    let changes = hub.take_changes();
    let spliced: Vec<(usize, usize, usize)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Frames { at, remove, insert, .. } => Some((*at, *remove, insert.len())),
            _ => None,
        })
        .collect();
    assert_eq!(spliced, vec![(3, 1, 1), (4000, 1, 1)], "two frames updated: two one-frame splices, not 4000");
    hub.apply(C, &frames(T::AddFrames, 1).with_arg(arr(&[4, 3], |_| 2.0))).unwrap();
    let changes = hub.take_changes();
    assert!(matches!(changes.as_slice(), [Change::Frames { at: 5000, remove: 0, .. }]), "{changes:?}");
}

#[test]
fn a_big_node_is_split_into_parts_and_arrives_whole() {
    let (mut hub, mut mirror) = hub();
    hub.apply(C, &mesh(1, 1000, 0.0)).unwrap(); // 48 kB of vertices
    let groups = split_changes(hub.take_changes(), 4096);
    assert!(groups.len() > 10, "{} parts", groups.len());
    for g in groups {
        let bytes: usize = g.iter().map(Change::data_bytes).sum();
        assert!(bytes <= 4096, "a part holds {bytes} bytes");
        mirror.apply_changes(list_from_wire(&list_to_wire(&g)).unwrap()).unwrap();
    }
    assert_eq!(mirror.digest(), hub.digest());
}

#[test]
fn a_mirror_refuses_changes_that_do_not_fit_it() {
    let (mut hub, _) = hub();
    hub.apply(C, &mesh(1, 2, 0.0)).unwrap();
    let changes = hub.take_changes();
    let mut empty = Scene::new(SceneConfig::default());
    hub.apply(C, &frames(T::AddFrames, 1).with_arg(arr(&[4, 3], |_| 2.0))).unwrap();
    let e = empty.apply_changes(hub.take_changes()).unwrap_err();
    assert_eq!(e.code, "view_gap", "{e}");
    drop(changes);
    let bad = Value::map([("op", Value::from("frames")), ("id", Value::from(1u64))]);
    let e = list_from_wire(&Value::Array(vec![bad])).unwrap_err();
    assert!(e.message.contains("field \"attr\""), "{e}");
}

#[test]
fn text_counts_when_changes_are_split_so_fat_controls_do_not_make_one_huge_part() {
    let (mut hub, mut mirror) = hub();
    let options: Vec<Value> = (0..1000).map(|i| Value::from(format!("option {i} {}", "x".repeat(50)))).collect();
    for uid in 0..40 {
        let add = Envelope::new(T::AddControl.as_i64())
            .with_uid(uid)
            .with_kwarg("kind", "dropdown")
            .with_kwarg("label", "pick")
            .with_kwarg("options", Value::Array(options.clone()));
        hub.apply(C, &add).unwrap();
    }
    let groups = split_changes(hub.take_changes(), 1 << 20);
    assert!(groups.len() >= 2, "2.4 MB of options in parts of 1 MiB: {} part(s)", groups.len());
    for g in groups {
        let bytes = encode_value(&list_to_wire(&g)).len();
        assert!(bytes < (1 << 20) + (128 << 10), "a part of {bytes} bytes");
        mirror
            .apply_changes(
                list_from_wire(&decode_value(&encode_value(&list_to_wire(&g)), Default::default()).unwrap()).unwrap(),
            )
            .unwrap();
    }
    assert_eq!(mirror.digest(), hub.digest());
}
