use periscope_protocol::{Envelope, MessageType as T, NdArray, Value};
use periscope_scene::{Scene, SceneConfig};

use super::*;

fn arr(shape: &[usize], data: Vec<f32>) -> Value {
    Value::NdArray(NdArray::from_f32(shape.to_vec(), data))
}

fn ints(shape: &[usize], data: Vec<i64>) -> Value {
    Value::NdArray(NdArray::from_i64(shape.to_vec(), data))
}

fn make(env: Envelope) -> (Scene, u64) {
    let mut s = Scene::new(SceneConfig::default());
    s.client_connected(1, "t", "127.0.0.1:1");
    s.apply(1, &env).expect("applies");
    let id = s.nodes().next().expect("created").id;
    (s, id)
}

#[test]
fn smooth_mesh_normals_point_out_of_a_quad() {
    let quad = vec![0., 0., 0., 1., 0., 0., 1., 1., 0., 0., 1., 0.];
    let (s, id) = make(
        Envelope::new(T::Meshes.as_i64())
            .with_arg(arr(&[4, 3], quad))
            .with_arg(ints(&[2, 3], vec![0, 1, 2, 0, 2, 3]))
            .with_kwarg("draw_edges", true),
    );
    let g = extract(s.node(id).unwrap(), 0);
    let m = g.mesh.unwrap();
    assert_eq!((m.vertices.len(), m.indices.len()), (4, 6));
    for v in &m.vertices {
        assert!((Vec3::from(v.normal) - Vec3::Z).length() < 1e-6, "{v:?}");
        assert_eq!(v.color, [255; 4]);
    }
    assert!(!m.vertex_colors);
    // 5 unique edges: 4 sides and the diagonal.
    assert_eq!(m.edges.len(), 10);
    assert_eq!(g.bounds, Some((Vec3::ZERO, Vec3::new(1.0, 1.0, 0.0))));
}

#[test]
fn face_colors_expand_vertices_per_face() {
    let tri2 = vec![0., 0., 0., 1., 0., 0., 1., 1., 0., 0., 1., 0.];
    let (s, id) = make(
        Envelope::new(T::Meshes.as_i64())
            .with_arg(arr(&[4, 3], tri2))
            .with_arg(ints(&[2, 3], vec![0, 1, 2, 0, 2, 3]))
            .with_kwarg("face_colors", arr(&[2, 3], vec![1., 0., 0., 0., 0., 1.])),
    );
    let m = extract(s.node(id).unwrap(), 0).mesh.unwrap();
    assert_eq!(m.vertices.len(), 6);
    assert!(m.vertex_colors);
    assert_eq!(m.vertices[0].color, [255, 0, 0, 255]);
    assert_eq!(m.vertices[5].color, [0, 0, 255, 255]);
}

#[test]
fn line_strip_and_lines_modes() {
    let pts = vec![0., 0., 0., 1., 0., 0., 1., 1., 0., 0., 1., 0.];
    let strip = Envelope::new(T::Lines.as_i64()).with_arg(arr(&[4, 3], pts.clone())).with_kwarg("r_tip", 0.0f64);
    let (s, id) = make(strip);
    let g = extract(s.node(id).unwrap(), 0);
    assert_eq!(g.tubes.len(), 3);
    assert_eq!(g.tubes[1].start, [1., 0., 0.]);
    assert_eq!(g.tubes[1].r1, 0.0, "r_tip 0 draws cones");
    assert_eq!(g.tubes[0].color, NODE_COLOR);

    let lines = Envelope::new(T::Lines.as_i64())
        .with_arg(arr(&[4, 3], pts))
        .with_kwarg("mode", "lines")
        .with_kwarg("colors", arr(&[2, 4], vec![1., 0., 0., 1., 0., 1., 0., 1.]));
    let (s, id) = make(lines);
    let g = extract(s.node(id).unwrap(), 0);
    assert_eq!(g.tubes.len(), 2);
    assert_eq!((g.tubes[1].start, g.tubes[1].end), ([1., 1., 0.], [0., 1., 0.]));
    assert_eq!(g.tubes[1].color, [0., 1., 0., 1.]);
}

#[test]
fn arrows_have_a_shaft_and_a_head() {
    let (s, id) = make(
        Envelope::new(T::Arrows.as_i64())
            .with_arg(arr(&[1, 3], vec![0., 0., 0.]))
            .with_arg(arr(&[1, 3], vec![0., 0., 10.]))
            .with_kwarg("p", 0.2f64)
            .with_kwarg("r_head", 0.5f64),
    );
    let g = extract(s.node(id).unwrap(), 0);
    assert_eq!(g.tubes.len(), 2);
    assert_eq!(g.tubes[0].end, [0., 0., 8.]);
    assert_eq!(
        (g.tubes[1].start, g.tubes[1].end, g.tubes[1].r0, g.tubes[1].r1),
        ([0., 0., 8.], [0., 0., 10.], 0.5, 0.0)
    );
}

#[test]
fn rigid_body_axes_are_rotation_columns() {
    // 90 degrees about z (row-major): x -> y, y -> -x.
    let rot = vec![0., -1., 0., 1., 0., 0., 0., 0., 1.];
    let (s, id) = make(
        Envelope::new(T::RigidBodies.as_i64())
            .with_arg(arr(&[1, 3], vec![1., 2., 3.]))
            .with_arg(arr(&[1, 3, 3], rot))
            .with_kwarg("length", 1.0f64),
    );
    let g = extract(s.node(id).unwrap(), 0);
    assert_eq!(g.spheres.len(), 1);
    assert_eq!(g.tubes.len(), 3);
    assert_eq!(g.tubes[0].end, [1., 3., 3.], "x axis turned to +y");
    assert_eq!(g.tubes[1].end, [0., 2., 3.], "y axis turned to -x");
    assert_eq!(g.tubes[0].color[0], 0.9, "x axis is red");
}

#[test]
fn skeleton_bones_skip_roots() {
    let (s, id) = make(
        Envelope::new(T::Skeletons.as_i64())
            .with_arg(arr(&[3, 3], vec![0., 0., 0., 0., 1., 0., 0., 2., 0.]))
            .with_arg(ints(&[3, 2], vec![-1, 0, 0, 1, 1, 2])),
    );
    let g = extract(s.node(id).unwrap(), 0);
    assert_eq!(g.spheres.len(), 3);
    assert_eq!(g.tubes.len(), 2);
    assert_eq!((g.tubes[1].start, g.tubes[1].end), ([0., 1., 0.], [0., 2., 0.]));
}

#[test]
fn node_transform_composes_scale_rotation_translation() {
    let (s, id) = make(
        Envelope::new(T::Spheres.as_i64())
            .with_arg(arr(&[1, 3], vec![0., 0., 0.]))
            .with_kwarg("position", Value::from(vec![1.0f64, 0.0, 0.0]))
            .with_kwarg("rotation", arr(&[3, 3], vec![0., -1., 0., 1., 0., 0., 0., 0., 1.]))
            .with_kwarg("scale", 2.0f64),
    );
    let m = node_transform(s.node(id).unwrap(), 0);
    let p = m.transform_point3(Vec3::X);
    assert!((p - Vec3::new(1.0, 2.0, 0.0)).length() < 1e-5, "{p}");
}
