//! Unit shapes drawn instanced: an icosphere of radius 1 and a tube of
//! radius 1 running z = 0..1 (side normals radial, cap normals ±z).

use bytemuck::{Pod, Zeroable};
use glam::Vec3;

/// Position and normal of a unit-shape vertex.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct UnitVertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
}

/// An indexed unit shape.
pub struct Shape {
    pub vertices: Vec<UnitVertex>,
    pub indices: Vec<u32>,
}

/// An icosphere: 20 * 4^subdivisions triangles.
pub fn icosphere(subdivisions: u32) -> Shape {
    let t = (1.0 + 5f32.sqrt()) / 2.0;
    let mut pos: Vec<Vec3> = [
        [-1., t, 0.],
        [1., t, 0.],
        [-1., -t, 0.],
        [1., -t, 0.],
        [0., -1., t],
        [0., 1., t],
        [0., -1., -t],
        [0., 1., -t],
        [t, 0., -1.],
        [t, 0., 1.],
        [-t, 0., -1.],
        [-t, 0., 1.],
    ]
    .iter()
    .map(|p| Vec3::from(*p).normalize())
    .collect();
    let mut tris: Vec<[u32; 3]> = vec![
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ];
    for _ in 0..subdivisions {
        let mut mid = std::collections::HashMap::new();
        let mut midpoint = |a: u32, b: u32, pos: &mut Vec<Vec3>| {
            *mid.entry((a.min(b), a.max(b))).or_insert_with(|| {
                pos.push(((pos[a as usize] + pos[b as usize]) * 0.5).normalize());
                pos.len() as u32 - 1
            })
        };
        let mut next = Vec::with_capacity(tris.len() * 4);
        for [a, b, c] in tris {
            let ab = midpoint(a, b, &mut pos);
            let bc = midpoint(b, c, &mut pos);
            let ca = midpoint(c, a, &mut pos);
            next.extend([[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]);
        }
        tris = next;
    }
    Shape {
        vertices: pos.iter().map(|p| UnitVertex { position: (*p).into(), normal: (*p).into() }).collect(),
        indices: tris.into_iter().flatten().collect(),
    }
}

/// A closed tube with `segments` sides.
pub fn tube(segments: u32) -> Shape {
    let mut vertices = Vec::new();
    let mut indices = Vec::new();
    let ring = |z: f32, normal_z: Option<f32>| -> Vec<UnitVertex> {
        (0..segments)
            .map(|i| {
                let a = i as f32 / segments as f32 * std::f32::consts::TAU;
                let (s, c) = a.sin_cos();
                let normal = normal_z.map_or([c, s, 0.0], |nz| [0.0, 0.0, nz]);
                UnitVertex { position: [c, s, z], normal }
            })
            .collect()
    };
    // Side: two rings with radial normals.
    vertices.extend(ring(0.0, None));
    vertices.extend(ring(1.0, None));
    for i in 0..segments {
        let j = (i + 1) % segments;
        let (a, b, c, d) = (i, j, segments + i, segments + j);
        indices.extend([a, b, d, a, d, c]);
    }
    // Caps: a centre and a ring each, normals along the axis.
    for (z, nz) in [(0.0, -1.0), (1.0, 1.0)] {
        let centre = vertices.len() as u32;
        vertices.push(UnitVertex { position: [0.0, 0.0, z], normal: [0.0, 0.0, nz] });
        vertices.extend(ring(z, Some(nz)));
        for i in 0..segments {
            let (a, b) = (centre + 1 + i, centre + 1 + (i + 1) % segments);
            if nz > 0.0 {
                indices.extend([centre, a, b]);
            } else {
                indices.extend([centre, b, a]);
            }
        }
    }
    Shape { vertices, indices }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icosphere_is_a_closed_unit_sphere() {
        let s = icosphere(2);
        assert_eq!(s.indices.len(), 320 * 3);
        assert_eq!(s.vertices.len(), 162);
        assert!(s.vertices.iter().all(|v| (Vec3::from(v.position).length() - 1.0).abs() < 1e-5));
    }

    #[test]
    fn tube_spans_unit_length() {
        let t = tube(12);
        assert_eq!(t.indices.len(), 12 * 6 + 2 * 12 * 3);
        let zs: Vec<f32> = t.vertices.iter().map(|v| v.position[2]).collect();
        assert!(zs.iter().all(|&z| z == 0.0 || z == 1.0));
    }
}
