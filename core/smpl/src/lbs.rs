//! Linear blend skinning: shape blend shapes, joint regression, pose blend
//! shapes, forward kinematics over the kinematic tree, skinning. The same
//! math as the smplx package's `lbs`, in f32, parallel over frames.

// Small fixed-size matrix math reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use crate::model::BodyModel;
/// One frame's parameters (the scene's type).
pub type FramePose<'a> = periscope_scene::BodyPose<'a>;

/// The mean-shape-dependent part: shaped template and rest joints.
pub struct Shaped {
    v_shaped: Vec<f32>,
    joints: Vec<[f32; 3]>,
}

/// 3x4 rigid transform, row-major rotation + translation.
#[derive(Clone, Copy, Debug)]
struct Affine {
    r: [[f32; 3]; 3],
    t: [f32; 3],
}

impl Affine {
    fn mul(&self, o: &Affine) -> Affine {
        let mut r = [[0.0; 3]; 3];
        let mut t = self.t;
        for i in 0..3 {
            for j in 0..3 {
                r[i][j] = (0..3).map(|k| self.r[i][k] * o.r[k][j]).sum();
                t[i] += self.r[i][j] * o.t[j];
            }
        }
        Affine { r, t }
    }

    fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        std::array::from_fn(|i| self.r[i][0] * p[0] + self.r[i][1] * p[1] + self.r[i][2] * p[2] + self.t[i])
    }
}

/// Axis-angle to rotation matrix (Rodrigues).
pub fn rodrigues(v: &[f32]) -> [[f32; 3]; 3] {
    let (x, y, z) = (v[0], v[1], v[2]);
    let theta = (x * x + y * y + z * z).sqrt();
    if theta < 1e-12 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let (kx, ky, kz) = (x / theta, y / theta, z / theta);
    let (s, c) = theta.sin_cos();
    let t = 1.0 - c;
    [
        [c + kx * kx * t, kx * ky * t - kz * s, kx * kz * t + ky * s],
        [ky * kx * t + kz * s, c + ky * ky * t, ky * kz * t - kx * s],
        [kz * kx * t - ky * s, kz * ky * t + kx * s, c + kz * kz * t],
    ]
}

/// A dot product the compiler vectorises (eight independent accumulators).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl BodyModel {
    /// The full pose (J*3 axis-angle) a frame describes.
    pub fn full_pose(&self, p: &FramePose) -> Vec<f32> {
        let mut pose = vec![0.0f32; self.n_joints * 3];
        if let Some(r) = p.root {
            pose[..3].copy_from_slice(&r[..3]);
        }
        let n_body = p.body.len().min(self.model_type.body_joints() * 3);
        pose[3..3 + n_body].copy_from_slice(&p.body[..n_body]);
        if let Some((left, right)) = self.model_type.hand_joints() {
            for (hand, first) in [(p.left_hand, left), (p.right_hand, right)] {
                if let Some(h) = hand {
                    let n = h.len().min(45);
                    pose[first * 3..first * 3 + n].copy_from_slice(&h[..n]);
                }
            }
        }
        pose
    }

    /// Applies the shape blend shapes and regresses the rest joints.
    pub fn shape(&self, betas: Option<&[f32]>) -> Shaped {
        let mut v_shaped = self.v_template.clone();
        if let Some(b) = betas {
            let nb = b.len().min(self.n_betas);
            if nb > 0 {
                for (k, v) in v_shaped.iter_mut().enumerate() {
                    *v += dot(&self.shapedirs[k * self.n_betas..k * self.n_betas + nb], &b[..nb]);
                }
            }
        }
        let joints = self
            .j_regressor
            .iter()
            .map(|row| {
                let mut j = [0.0f32; 3];
                for &(v, w) in row {
                    for c in 0..3 {
                        j[c] += w * v_shaped[v as usize * 3 + c];
                    }
                }
                j
            })
            .collect();
        Shaped { v_shaped, joints }
    }

    /// Skins one frame into `verts` (V*3) and `joints` (J*3).
    pub fn skin_frame(&self, shaped: &Shaped, pose: &[f32], trans: [f32; 3], verts: &mut [f32], joints: &mut [f32]) {
        let rots: Vec<[[f32; 3]; 3]> = pose.chunks_exact(3).map(rodrigues).collect();
        // Pose blend shapes: (R_j - I), j >= 1, flattened row-major.
        let mut feat = Vec::with_capacity(9 * (self.n_joints - 1));
        for r in &rots[1..] {
            for (i, row) in r.iter().enumerate() {
                for (j, &x) in row.iter().enumerate() {
                    feat.push(x - if i == j { 1.0 } else { 0.0 });
                }
            }
        }
        let p = feat.len();
        // Forward kinematics: world transform of each joint.
        let mut world: Vec<Affine> = Vec::with_capacity(self.n_joints);
        for j in 0..self.n_joints {
            let local_t = match self.parents[j] {
                -1 => shaped.joints[j],
                parent => std::array::from_fn(|c| shaped.joints[j][c] - shaped.joints[parent as usize][c]),
            };
            let local = Affine { r: rots[j], t: local_t };
            let g = match self.parents[j] {
                -1 => local,
                parent => world[parent as usize].mul(&local),
            };
            world.push(g);
        }
        for (j, g) in world.iter().enumerate() {
            joints[j * 3..j * 3 + 3].copy_from_slice(&std::array::from_fn::<f32, 3, _>(|c| g.t[c] + trans[c]));
        }
        // Relative transforms: move rest-pose joints to their posed place.
        let rel: Vec<Affine> = world
            .iter()
            .zip(&shaped.joints)
            .map(|(g, j)| {
                let moved = g.apply(*j);
                let rj: [f32; 3] = std::array::from_fn(|c| moved[c] - g.t[c]);
                Affine { r: g.r, t: std::array::from_fn(|c| g.t[c] - rj[c]) }
            })
            .collect();
        for v in 0..self.n_vertices {
            let mut posed = [0.0f32; 3];
            for c in 0..3 {
                let k = v * 3 + c;
                posed[c] = shaped.v_shaped[k] + dot(&self.posedirs[k * p..(k + 1) * p], &feat);
            }
            let mut blended = Affine { r: [[0.0; 3]; 3], t: [0.0; 3] };
            for &(j, w) in &self.weights[v] {
                let a = &rel[j as usize];
                for i in 0..3 {
                    for k in 0..3 {
                        blended.r[i][k] += w * a.r[i][k];
                    }
                    blended.t[i] += w * a.t[i];
                }
            }
            let out = blended.apply(posed);
            for c in 0..3 {
                verts[v * 3 + c] = out[c] + trans[c];
            }
        }
    }

    /// Skins every frame, in parallel. Returns vertices (F*V*3) and joints (F*J*3).
    pub fn skin(&self, frames: &[FramePose]) -> (Vec<f32>, Vec<f32>) {
        let (nv, nj) = (self.n_vertices * 3, self.n_joints * 3);
        let mut verts = vec![0.0f32; frames.len() * nv];
        let mut joints = vec![0.0f32; frames.len() * nj];
        // Most sequences keep one shape: compute it once when every frame shares it.
        let first = frames.first().and_then(|f| f.betas);
        let shared = frames.iter().all(|f| f.betas == first).then(|| self.shape(first));
        verts.par_chunks_mut(nv).zip(joints.par_chunks_mut(nj)).zip(frames.par_iter()).for_each(|((v, j), f)| {
            let own;
            let shaped = match &shared {
                Some(s) => s,
                None => {
                    own = self.shape(f.betas);
                    &own
                }
            };
            let trans = f.trans.map_or([0.0; 3], |t| [t[0], t[1], t[2]]);
            self.skin_frame(shaped, &self.full_pose(f), trans, v, j);
        });
        (verts, joints)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::ModelType;
    use crate::npz::Array;

    fn arr(shape: &[usize], data: Vec<f64>) -> Array {
        Array { shape: shape.to_vec(), data }
    }

    /// A two-bone "SMPL" with 24 joints where only joints 0 and 1 matter:
    /// joint 0 at the origin, joint 1 at (0, 1, 0). Vertex 0 (at (0, 2, 0)) is
    /// bound to joint 1, vertex 1 (at (1, 0, 0)) to the root.
    fn toy() -> BodyModel {
        let (v, j) = (2usize, 24usize);
        let mut m = BTreeMap::new();
        m.insert("v_template".into(), arr(&[v, 3], vec![0., 2., 0., 1., 0., 0.]));
        // One shape component: beta 0 moves every vertex up by 1.
        m.insert("shapedirs".into(), arr(&[v, 3, 1], vec![0., 1., 0., 0., 1., 0.]));
        m.insert("posedirs".into(), arr(&[v, 3, 9 * (j - 1)], vec![0.0; v * 3 * 9 * (j - 1)]));
        // Joint 0 at vertex 1 * 0 (origin), joint 1 at half of vertex 0 = (0, 1, 0); others at the origin.
        let mut jr = vec![0.0; j * v];
        jr[v] = 0.5;
        m.insert("J_regressor".into(), arr(&[j, v], jr));
        let mut w = vec![0.0; v * j];
        w[1] = 1.0; // vertex 0 -> joint 1
        w[j] = 1.0; // vertex 1 -> joint 0
        m.insert("weights".into(), arr(&[v, j], w));
        let mut kt = vec![-1.0];
        kt.extend((1..j).map(|_| 0.0)); // every other joint hangs off the root
        kt.extend((0..j).map(|i| i as f64));
        m.insert("kintree_table".into(), arr(&[2, j], kt));
        m.insert("f".into(), arr(&[1, 3], vec![0., 1., 1.]));
        BodyModel::from_arrays(&m, ModelType::Smpl).unwrap()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn rest_pose_is_the_template_and_betas_shift_it() {
        let m = toy();
        let (v, j) = m.skin(&[FramePose { body: &[], ..Default::default() }]);
        assert!(close(&v, &[0., 2., 0., 1., 0., 0.]), "{v:?}");
        assert!(close(&j[3..6], &[0., 1., 0.]));
        let betas = [1.0f32];
        let (v, j) = m.skin(&[FramePose { body: &[], betas: Some(&betas), ..Default::default() }]);
        assert!(close(&v, &[0., 3., 0., 1., 1., 0.]), "{v:?}");
        // The joint follows the shaped vertex (half of vertex 0's y).
        assert!(close(&j[3..6], &[0., 1.5, 0.]));
    }

    #[test]
    fn ninety_degrees_at_joint_one_swings_its_vertex_only() {
        let m = toy();
        // Joint 1 rotates +90 degrees about z: (0, 1) above it goes to (-1, 0) relative.
        let mut body = vec![0.0f32; 69];
        body[2] = std::f32::consts::FRAC_PI_2;
        let trans = [10.0f32, 0.0, 0.0];
        let (v, _) = m.skin(&[FramePose { body: &body, trans: Some(&trans), ..Default::default() }]);
        assert!(close(&v[..3], &[9., 1., 0.]), "vertex 0 swung to the left of joint 1: {v:?}");
        assert!(close(&v[3..], &[11., 0., 0.]), "vertex 1 on the root stays: {v:?}");
        // A root rotation turns everything about the origin.
        let root = [0.0f32, 0.0, std::f32::consts::PI];
        let (v, _) = m.skin(&[FramePose { body: &[], root: Some(&root), ..Default::default() }]);
        assert!(close(&v, &[0., -2., 0., -1., 0., 0.]), "{v:?}");
    }

    #[test]
    fn rodrigues_matches_known_rotations() {
        let r = rodrigues(&[0.0, 0.0, std::f32::consts::FRAC_PI_2]);
        let expected = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        for i in 0..3 {
            assert!(close(&r[i], &expected[i]), "{r:?}");
        }
        assert_eq!(rodrigues(&[0.0; 3]), [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    }

    #[test]
    fn bad_models_are_refused_with_the_problem() {
        let mut m: BTreeMap<String, Array> = BTreeMap::new();
        assert!(BodyModel::from_arrays(&m, ModelType::Smpl).unwrap_err().contains("missing v_template"));
        m.insert("v_template".into(), arr(&[2, 2], vec![0.0; 4]));
        assert!(BodyModel::from_arrays(&m, ModelType::Smpl).unwrap_err().contains("expected (V, 3)"));
    }
}
