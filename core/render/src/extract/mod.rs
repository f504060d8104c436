//! CPU side: turns one frame of a scene node into what the GPU draws —
//! mesh vertices with normals, and sphere/tube instances for every other kind.
//! No wgpu here, so it is unit-tested directly.

use bytemuck::{Pod, Zeroable};
use glam::{Mat3, Mat4, Quat, Vec3};
use periscope_scene::{LineMode, Node, NodeKind};

/// Instance color meaning "use the node's color" (so a color edit needs no rebuild).
pub const NODE_COLOR: [f32; 4] = [-1.0, -1.0, -1.0, -1.0];

/// One mesh vertex as the GPU reads it (28 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct MeshVertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
    pub color: [u8; 4],
}

/// A sphere instance, in node-local coordinates.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct SphereInstance {
    pub center: [f32; 3],
    pub radius: f32,
    pub color: [f32; 4],
}

/// A (possibly tapered) cylinder from `start` to `end`; `r1` ~0 makes a cone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct TubeInstance {
    pub start: [f32; 3],
    pub r0: f32,
    pub end: [f32; 3],
    pub r1: f32,
    pub color: [f32; 4],
}

/// Triangle mesh data for one frame.
#[derive(Clone, Debug, Default)]
pub struct MeshGeometry {
    pub vertices: Vec<MeshVertex>,
    pub indices: Vec<u32>,
    /// Pairs of vertex indices for the wireframe overlay (empty unless `draw_edges`).
    pub edges: Vec<u32>,
    /// Whether vertex colors (from `vertex_colors` or `face_colors`) replace the node color.
    pub vertex_colors: bool,
}

/// A frame of shared float data: the chunk it arrived in and its range (no copy).
pub type SharedSlice = (std::sync::Arc<Vec<f32>>, std::ops::Range<usize>);

/// One frame of a point cloud: the scene's own arrays, shared, not copied.
#[derive(Clone, Debug)]
pub struct PointGeometry {
    /// xyz per point (float32).
    pub positions: SharedSlice,
    /// RGBA8 per point, four bytes to a float slot; `None`: the node's color.
    pub colors: Option<SharedSlice>,
    /// Sprite diameter: pixels, or world units when `world`.
    pub size: f32,
    pub world: bool,
}

impl PointGeometry {
    pub fn len(&self) -> usize {
        self.positions.1.len() / 3
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn positions(&self) -> &[f32] {
        &self.positions.0[self.positions.1.clone()]
    }

    /// The RGBA8 colors as packed slots, one per point.
    pub fn colors(&self) -> Option<&[f32]> {
        self.colors.as_ref().map(|(c, r)| &c[r.clone()])
    }
}

/// Everything one node draws at one frame, in node-local coordinates.
#[derive(Clone, Debug, Default)]
pub struct NodeGeometry {
    pub mesh: Option<MeshGeometry>,
    pub spheres: Vec<SphereInstance>,
    pub tubes: Vec<TubeInstance>,
    pub points: Option<PointGeometry>,
    /// Local bounding box, `None` when the node draws nothing.
    pub bounds: Option<(Vec3, Vec3)>,
}

/// The node's local-to-world transform at node frame `frame`: translate * rotate * scale.
pub fn node_transform(node: &Node, frame: usize) -> Mat4 {
    let p = Vec3::from(node.position(frame));
    // Row-major on the wire; glam is column-major.
    let r = Mat3::from_cols_array(&node.rotation(frame)).transpose();
    let q = Quat::from_mat3(&orthonormalize(r));
    Mat4::from_scale_rotation_translation(Vec3::splat(node.scale), q, p)
}

/// Gram-Schmidt, so slightly non-orthogonal rotations from float math do not skew.
fn orthonormalize(m: Mat3) -> Mat3 {
    let x = m.x_axis.try_normalize().unwrap_or(Vec3::X);
    let y = (m.y_axis - x * x.dot(m.y_axis)).try_normalize().unwrap_or_else(|| x.any_orthonormal_vector());
    Mat3::from_cols(x, y, x.cross(y))
}

fn vec3s(data: &[f32]) -> impl Iterator<Item = Vec3> + '_ {
    data.chunks_exact(3).map(Vec3::from_slice)
}

fn rgba(data: &[f32], i: usize) -> Option<[f32; 4]> {
    data.get(i * 4..i * 4 + 4).map(|c| [c[0], c[1], c[2], c[3]])
}

fn to_u8(c: [f32; 4]) -> [u8; 4] {
    c.map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8)
}

fn bounds_of(points: impl Iterator<Item = Vec3>, pad: f32) -> Option<(Vec3, Vec3)> {
    let mut b: Option<(Vec3, Vec3)> = None;
    for p in points.filter(|p| p.is_finite()) {
        b = Some(match b {
            None => (p, p),
            Some((lo, hi)) => (lo.min(p), hi.max(p)),
        });
    }
    b.map(|(lo, hi)| (lo - Vec3::splat(pad), hi + Vec3::splat(pad)))
}

/// Builds what `node` draws at node frame `frame`.
pub fn extract(node: &Node, frame: usize) -> NodeGeometry {
    let s = &node.style;
    match node.kind {
        NodeKind::Node => NodeGeometry::default(),
        NodeKind::Meshes => mesh(node, frame),
        NodeKind::Smpl => {
            let mut g = mesh(node, frame);
            if s.show_skeleton {
                let sk = skeleton(node, "joints", frame);
                g.spheres = sk.spheres;
                g.tubes = sk.tubes;
            }
            g
        }
        NodeKind::Spheres => {
            let Some(pos) = node.frame_data("positions", frame) else { return NodeGeometry::default() };
            let colors = node.frame_data("colors", frame);
            let spheres: Vec<_> = vec3s(pos)
                .enumerate()
                .map(|(i, c)| SphereInstance {
                    center: c.into(),
                    radius: s.radius,
                    color: colors.and_then(|cs| rgba(cs, i)).unwrap_or(NODE_COLOR),
                })
                .collect();
            NodeGeometry { bounds: bounds_of(vec3s(pos), s.radius), spheres, ..Default::default() }
        }
        NodeKind::Lines => {
            let Some(pts) = node.frame_data("lines", frame) else { return NodeGeometry::default() };
            let pts: Vec<Vec3> = vec3s(pts).collect();
            let colors = node.frame_data("colors", frame);
            let segments: Vec<(Vec3, Vec3)> = match s.mode {
                LineMode::LineStrip => pts.windows(2).map(|w| (w[0], w[1])).collect(),
                LineMode::Lines => pts.chunks_exact(2).map(|w| (w[0], w[1])).collect(),
            };
            let n_colors = colors.map_or(0, |c| c.len() / 4);
            let r1 = s.r_tip.unwrap_or(s.r_base);
            let tubes = segments
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| {
                    // One color per segment, or per point (the segment takes its start's).
                    let ci = match s.mode {
                        _ if n_colors == segments.len() => Some(i),
                        LineMode::LineStrip if n_colors == pts.len() => Some(i),
                        LineMode::Lines if n_colors == pts.len() => Some(2 * i),
                        _ => None,
                    };
                    TubeInstance {
                        start: a.into(),
                        r0: s.r_base,
                        end: b.into(),
                        r1,
                        color: ci.and_then(|ci| rgba(colors?, ci)).unwrap_or(NODE_COLOR),
                    }
                })
                .collect();
            NodeGeometry { bounds: bounds_of(pts.into_iter(), s.r_base.max(r1)), tubes, ..Default::default() }
        }
        NodeKind::Arrows => {
            let (Some(o), Some(t)) = (node.frame_data("origins", frame), node.frame_data("tips", frame)) else {
                return NodeGeometry::default();
            };
            let colors = node.frame_data("colors", frame);
            let mut tubes = Vec::new();
            for (i, (a, b)) in vec3s(o).zip(vec3s(t)).enumerate() {
                let color = colors.and_then(|c| rgba(c, i)).unwrap_or(NODE_COLOR);
                let neck = a + (b - a) * (1.0 - s.p.clamp(0.0, 1.0));
                tubes.push(TubeInstance { start: a.into(), r0: s.r_base, end: neck.into(), r1: s.r_base, color });
                tubes.push(TubeInstance { start: neck.into(), r0: s.r_head, end: b.into(), r1: 0.0, color });
            }
            NodeGeometry { bounds: bounds_of(vec3s(o).chain(vec3s(t)), s.r_head), tubes, ..Default::default() }
        }
        NodeKind::RigidBodies => {
            let (Some(pos), Some(ori)) = (node.frame_data("rb_pos", frame), node.frame_data("rb_ori", frame)) else {
                return NodeGeometry::default();
            };
            let colors = node.frame_data("colors", frame);
            let axis_colors = [[0.9, 0.15, 0.15, 1.0], [0.15, 0.8, 0.2, 1.0], [0.2, 0.35, 0.95, 1.0]];
            let axis_r = s.radius * 0.3;
            let mut spheres = Vec::new();
            let mut tubes = Vec::new();
            for (i, (p, r)) in vec3s(pos).zip(ori.chunks_exact(9)).enumerate() {
                spheres.push(SphereInstance {
                    center: p.into(),
                    radius: s.radius,
                    color: colors.and_then(|c| rgba(c, i)).unwrap_or(NODE_COLOR),
                });
                for (k, color) in axis_colors.iter().enumerate() {
                    // Column k of the row-major rotation is the body's k-th axis.
                    let axis = Vec3::new(r[k], r[3 + k], r[6 + k]);
                    let end = p + axis * s.length;
                    tubes.push(TubeInstance {
                        start: p.into(),
                        r0: axis_r,
                        end: end.into(),
                        r1: axis_r,
                        color: *color,
                    });
                }
            }
            let bounds = bounds_of(vec3s(pos), s.radius.max(s.length));
            NodeGeometry { bounds, spheres, tubes, ..Default::default() }
        }
        NodeKind::Skeletons => skeleton(node, "joint_positions", frame),
        NodeKind::PointClouds => points(node, frame),
    }
}

fn points(node: &Node, frame: usize) -> NodeGeometry {
    let Some(seq) = node.attr("points") else { return NodeGeometry::default() };
    let Some(positions) = seq.frame_shared(frame) else { return NodeGeometry::default() };
    let n = positions.1.len() / 3;
    // Colors where there are as many as points (a shorter color sequence holds
    // its last frame, which may be of another size): else the node's color.
    let colors = node.attr("colors").and_then(|c| c.frame_shared(frame)).filter(|(_, r)| r.len() == n);
    let s = &node.style;
    let (size, world) = match s.point_size_world {
        Some(w) => (w, true),
        None => (s.point_size, false),
    };
    let pad = if world { size * 0.5 } else { 0.0 };
    let bounds = bounds_of(vec3s(&positions.0[positions.1.clone()]), pad);
    NodeGeometry { points: Some(PointGeometry { positions, colors, size, world }), bounds, ..Default::default() }
}

/// Spheres at the joints in attribute `attr` and bones between connected joints.
fn skeleton(node: &Node, attr: &str, frame: usize) -> NodeGeometry {
    let s = &node.style;
    let Some(joints) = node.frame_data(attr, frame) else { return NodeGeometry::default() };
    let colors = node.frame_data("colors", frame);
    let j: Vec<Vec3> = vec3s(joints).collect();
    let color_of = |i: usize| colors.and_then(|c| rgba(c, i)).unwrap_or(NODE_COLOR);
    let spheres = j
        .iter()
        .enumerate()
        .map(|(i, p)| SphereInstance { center: (*p).into(), radius: s.radius, color: color_of(i) })
        .collect();
    let bone_r = s.radius * 0.5;
    let tubes = node
        .joint_connections()
        .unwrap_or(&[])
        .iter()
        .filter_map(|&[a, b]| {
            let (a, b) = (usize::try_from(a).ok()?, usize::try_from(b).ok()?);
            Some(TubeInstance {
                start: j.get(a)?.to_array(),
                r0: bone_r,
                end: j.get(b)?.to_array(),
                r1: bone_r,
                color: color_of(b),
            })
        })
        .collect();
    NodeGeometry { bounds: bounds_of(j.into_iter(), s.radius), spheres, tubes, ..Default::default() }
}

fn mesh(node: &Node, frame: usize) -> NodeGeometry {
    let (Some(verts), Some(faces)) = (node.frame_data("vertices", frame), node.faces()) else {
        return NodeGeometry::default();
    };
    let n_verts = verts.len() / 3;
    let pos: Vec<Vec3> = vec3s(verts).collect();
    // Faces were validated against the vertex count on arrival; skip any stray one anyway.
    let tris: Vec<[u32; 3]> = faces
        .chunks_exact(3)
        .map(|f| [f[0], f[1], f[2]])
        .filter(|f| f.iter().all(|&i| (i as usize) < n_verts))
        .collect();
    let vertex_colors = node.frame_data("vertex_colors", frame);
    let face_colors = node.frame_data("face_colors", frame);
    let face_normal = |t: &[u32; 3]| {
        let [a, b, c] = t.map(|i| pos[i as usize]);
        (b - a).cross(c - a) // area-weighted
    };
    let mut geom =
        MeshGeometry { vertex_colors: vertex_colors.is_some() || face_colors.is_some(), ..Default::default() };
    if let Some(fc) = face_colors {
        // Face colors need their own vertices per face: expand (flat by nature).
        geom.vertices.reserve(tris.len() * 3);
        for (ti, t) in tris.iter().enumerate() {
            let n = face_normal(t).normalize_or_zero();
            let color = to_u8(rgba(fc, ti).unwrap_or([1.0; 4]));
            for &i in t {
                geom.vertices.push(MeshVertex { position: pos[i as usize].into(), normal: n.into(), color });
            }
        }
        geom.indices = (0..geom.vertices.len() as u32).collect();
    } else {
        let mut normals = vec![Vec3::ZERO; n_verts];
        for t in &tris {
            let n = face_normal(t);
            for &i in t {
                normals[i as usize] += n;
            }
        }
        geom.vertices = pos
            .iter()
            .zip(&normals)
            .enumerate()
            .map(|(i, (p, n))| MeshVertex {
                position: (*p).into(),
                normal: n.normalize_or_zero().into(),
                color: vertex_colors.and_then(|c| rgba(c, i)).map_or([255; 4], to_u8),
            })
            .collect();
        geom.indices = tris.iter().flatten().copied().collect();
    }
    if node.style.draw_edges {
        geom.edges = edges(&geom.indices);
    }
    let bounds = bounds_of(pos.into_iter(), 0.0);
    NodeGeometry { mesh: Some(geom), bounds, ..Default::default() }
}

/// Unique undirected edges of a triangle list, as index pairs.
fn edges(indices: &[u32]) -> Vec<u32> {
    let mut e: Vec<(u32, u32)> = indices
        .chunks_exact(3)
        .flat_map(|t| [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])])
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    e.sort_unstable();
    e.dedup();
    e.into_iter().flat_map(|(a, b)| [a, b]).collect()
}

#[cfg(test)]
mod tests;
