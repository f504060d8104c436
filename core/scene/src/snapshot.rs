//! The scene as messages: replaying them into an empty viewer recreates every
//! node with all its frames (used to save scenes in the recording format).

use periscope_protocol::{Envelope, MessageType, NdArray, Value};

use crate::frames::FrameSeq;
use crate::node::{ClientId, LineMode, Node};
use crate::scene::Scene;
use crate::spec::{NodeKind, Setting, TRANSFORM_ATTRS};

/// uids given to nodes that have none (made by scripts): far from client uids.
const SYNTHETIC_UID: i64 = 1 << 40;

fn all_frames(node: &Node, name: &str) -> Option<Value> {
    let seq = node.attr(name)?;
    if seq.is_ragged() {
        return None; // sent frame by frame (`cloud_frames`)
    }
    let mut data = Vec::with_capacity(seq.len() * seq.inner_shape().iter().product::<usize>());
    for i in 0..seq.len() {
        data.extend_from_slice(seq.frame(i)?);
    }
    let mut shape = vec![seq.len()];
    shape.extend_from_slice(seq.inner_shape());
    Some(Value::NdArray(NdArray::from_f32(shape, data)))
}

pub(crate) fn setting(node: &Node, s: Setting) -> Value {
    let st = &node.style;
    match s {
        Setting::FlatShading => Value::Bool(st.flat_shading),
        Setting::DrawEdges => Value::Bool(st.draw_edges),
        Setting::Radius => Value::from(st.radius),
        Setting::RBase => Value::from(st.r_base),
        Setting::RTip => st.r_tip.map_or(Value::Nil, Value::from),
        Setting::RHead => Value::from(st.r_head),
        Setting::P => Value::from(st.p),
        Setting::Length => Value::from(st.length),
        Setting::Mode => Value::from(match st.mode {
            LineMode::LineStrip => "line_strip",
            LineMode::Lines => "lines",
        }),
        Setting::ModelType => Value::from(st.model_type.as_str()),
        Setting::Gender => Value::from(st.gender.as_str()),
        Setting::NumBetas => st.num_betas.map_or(Value::Nil, Value::from),
        Setting::ShowSkeleton => Value::Bool(st.show_skeleton),
        Setting::PointSize => Value::from(st.point_size),
        Setting::PointSizeWorld => st.point_size_world.map_or(Value::Nil, Value::from),
    }
}

/// Frame `i` of a ragged attribute as the array a client would send.
fn ragged_frame(node: &Node, name: &str, i: usize) -> Option<Value> {
    let seq = node.attr(name)?;
    let data = seq.frame(i)?;
    Some(Value::NdArray(if node.kind.attr(name).is_some_and(|s| s.packed) {
        crate::points::unpack(data)
    } else {
        NdArray::from_f32(seq.frame_shape(i), data.to_vec())
    }))
}

/// The messages that make `node` again, with every frame: the creation
/// message, then, for point clouds (whose frames may differ in size), one
/// `add_frames` per further frame.
pub fn node_messages(node: &Node) -> Vec<Envelope> {
    let mut create = node_message(node);
    let ragged: Vec<&'static str> =
        node.kind.attrs().iter().map(|a| a.name).filter(|n| node.attr(n).is_some_and(|s| s.is_ragged())).collect();
    if ragged.is_empty() {
        return vec![create];
    }
    for name in &ragged {
        if let Some(v) = ragged_frame(node, name, 0) {
            create = create.with_kwarg(name, v);
        }
    }
    let uid = create.uid;
    let mut out = vec![create];
    let frames = ragged.iter().filter_map(|n| node.attr(n)).map(FrameSeq::len).max().unwrap_or(0);
    for i in 1..frames {
        let mut add = Envelope::new(MessageType::AddFrames.as_i64());
        add.uid = uid;
        for name in &ragged {
            if node.attr(name).is_some_and(|s| i < s.len()) {
                add = add.with_kwarg(name, ragged_frame(node, name, i).expect("in range"));
            }
        }
        out.push(add);
    }
    out
}

/// The creation message that makes `node` again, with every frame (for point
/// clouds without their ragged attributes: see [`node_messages`]).
pub fn node_message(node: &Node) -> Envelope {
    let mut env = Envelope::new(node.kind.message_type().as_i64())
        .with_uid(node.uid.unwrap_or(SYNTHETIC_UID + node.id as i64))
        .with_kwarg("name", node.name.as_str())
        .with_kwarg("enabled", node.enabled)
        .with_kwarg("color", Value::NdArray(NdArray::from_f32(vec![4], node.color.to_vec())))
        .with_kwarg("scale", node.scale);
    for spec in node.kind.attrs().iter().chain(TRANSFORM_ATTRS) {
        if let Some(v) = all_frames(node, spec.name) {
            env = env.with_kwarg(spec.name, v);
        }
    }
    if let Some(f) = node.faces().filter(|_| node.kind == NodeKind::Meshes) {
        let faces: Vec<i64> = f.iter().map(|&i| i64::from(i)).collect();
        env = env.with_kwarg("faces", Value::NdArray(NdArray::from_i64(vec![faces.len() / 3, 3], faces)));
    }
    if let Some(c) = node.joint_connections().filter(|_| node.kind == NodeKind::Skeletons) {
        let pairs: Vec<i64> = c.iter().flat_map(|p| [i64::from(p[0]), i64::from(p[1])]).collect();
        env = env.with_kwarg("joint_connections", Value::NdArray(NdArray::from_i64(vec![c.len(), 2], pairs)));
    }
    for &s in node.kind.settings() {
        let v = setting(node, s);
        if !v.is_nil() {
            env = env.with_kwarg(s.name(), v);
        }
    }
    env
}

impl Scene {
    /// Per client (id, name), the messages that recreate its nodes; the last
    /// entry's messages end with the playhead (`set_frame`).
    pub fn snapshot(&self) -> Vec<(ClientId, String, Vec<Envelope>)> {
        let mut out: Vec<(ClientId, String, Vec<Envelope>)> = Vec::new();
        for node in self.nodes() {
            let envs = node_messages(node);
            match out.iter_mut().find(|(c, _, _)| *c == node.client) {
                Some((_, _, msgs)) => msgs.extend(envs),
                None => {
                    let name = self.client(node.client).map_or_else(|| "viewer".to_owned(), |c| c.name.clone());
                    out.push((node.client, name, envs));
                }
            }
        }
        let set_frame = Envelope::new(MessageType::SetFrame.as_i64()).with_arg(Value::from(self.current_frame()));
        match out.last_mut() {
            Some((_, _, msgs)) => msgs.push(set_frame),
            None => out.push((0, "viewer".into(), vec![set_frame])),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use periscope_protocol::{Envelope, MessageType as T, NdArray, Value};

    use crate::{Scene, SceneConfig};

    #[test]
    fn snapshot_recreates_every_node_and_frame() {
        let mut s = Scene::new(SceneConfig::default());
        s.client_connected(1, "a", "x");
        let verts = NdArray::from_f32(vec![3, 3, 3], (0..27).map(|i| i as f32).collect::<Vec<_>>());
        let faces = NdArray::from_i64(vec![1, 3], vec![0, 1, 2]);
        s.apply(
            1,
            &Envelope::new(T::Meshes.as_i64())
                .with_uid(5)
                .with_arg(Value::NdArray(verts))
                .with_arg(Value::NdArray(faces))
                .with_kwarg("flat_shading", true)
                .with_kwarg("name", "m"),
        )
        .unwrap();
        let bones = NdArray::from_i64(vec![2, 2], vec![-1, 0, 0, 1]);
        s.apply(
            1,
            &Envelope::new(T::Skeletons.as_i64())
                .with_uid(6)
                .with_arg(Value::NdArray(NdArray::from_f32(vec![2, 3], vec![0.0; 6])))
                .with_arg(Value::NdArray(bones))
                .with_kwarg("position", Value::from(vec![1.0f64, 2.0, 3.0])),
        )
        .unwrap();
        s.set_frame(2);

        let mut copy = Scene::new(SceneConfig::default());
        for (client, name, msgs) in s.snapshot() {
            copy.client_connected(client, &name, "replay");
            for m in msgs {
                copy.apply(client, &m).unwrap();
            }
        }
        let (a, b) = (s.state(), copy.state());
        assert_eq!(a.nodes.len(), b.nodes.len());
        for (x, y) in a.nodes.iter().zip(&b.nodes) {
            assert_eq!(
                (&x.name, &x.kind, x.n_frames, x.uid, &x.color),
                (&y.name, &y.kind, y.n_frames, y.uid, &y.color)
            );
        }
        assert_eq!(copy.current_frame(), 2);
        let m = copy.node_by_remote(1, 5).unwrap();
        assert!(m.style.flat_shading);
        assert_eq!(m.frame_data("vertices", 2).unwrap()[0], 18.0);
        assert_eq!(copy.node_by_remote(1, 6).unwrap().position(0), [1.0, 2.0, 3.0]);
    }
}
