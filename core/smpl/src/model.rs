//! A body model (SMPL, SMPL-H, SMPL-X) loaded from the smplx-style `.npz`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::npz::{Array, read_npz};

/// The layout every model file must have, quoted in errors.
pub const EXPECTED_LAYOUT: &str = "an .npz with v_template (V, 3), shapedirs (V, 3, B), posedirs (V, 3, 9*(J-1)), \
     J_regressor (J, V), weights (V, J), kintree_table (2, J) and f (T, 3), as the smplx package uses; \
     convert official .pkl files with `python -m periscope.smpl_convert`";

/// Which family a model belongs to: decides how `poses_body` and the hands map to joints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelType {
    Smpl,
    SmplH,
    SmplX,
}

impl ModelType {
    /// Accepts `smpl`, `smplh`/`smpl-h`/`smpl+h`, `smplx`/`smpl-x` (any case).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '+', '_'], "").as_str() {
            "smpl" => Ok(ModelType::Smpl),
            "smplh" => Ok(ModelType::SmplH),
            "smplx" => Ok(ModelType::SmplX),
            _ => Err(format!("model_type must be \"smpl\", \"smplh\" or \"smplx\", got {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelType::Smpl => "smpl",
            ModelType::SmplH => "smplh",
            ModelType::SmplX => "smplx",
        }
    }

    /// Joints after the root that `poses_body` poses (23 for SMPL, 21 for SMPL-H and SMPL-X).
    pub fn body_joints(self) -> usize {
        match self {
            ModelType::Smpl => 23,
            ModelType::SmplH | ModelType::SmplX => 21,
        }
    }

    /// First joint of the left and of the right hand (15 joints each), if the model has hands.
    pub fn hand_joints(self) -> Option<(usize, usize)> {
        match self {
            ModelType::Smpl => None,
            ModelType::SmplH => Some((22, 37)),
            ModelType::SmplX => Some((25, 40)),
        }
    }

    /// The file for `gender` under `models_dir`, laid out as smplx does:
    /// `smpl/SMPL_NEUTRAL.npz`, `smplh/SMPLH_MALE.npz`, `smplx/SMPLX_FEMALE.npz`.
    pub fn path(self, models_dir: &Path, gender: Gender) -> PathBuf {
        let prefix = self.name().to_ascii_uppercase();
        models_dir.join(self.name()).join(format!("{prefix}_{}.npz", gender.name().to_ascii_uppercase()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gender {
    Neutral,
    Male,
    Female,
}

impl Gender {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "neutral" => Ok(Gender::Neutral),
            "male" => Ok(Gender::Male),
            "female" => Ok(Gender::Female),
            _ => Err(format!("gender must be \"neutral\", \"male\" or \"female\", got {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Gender::Neutral => "neutral",
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }
}

/// Why a model could not be used. The message names the file and what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("body model {path}: {message}")]
pub struct ModelError {
    pub path: PathBuf,
    pub message: String,
}

/// A loaded body model, ready for skinning. Vertex-major f32 arrays.
#[derive(Debug)]
pub struct BodyModel {
    pub model_type: ModelType,
    pub n_vertices: usize,
    pub n_joints: usize,
    /// Shape components available (`B`).
    pub n_betas: usize,
    pub(crate) v_template: Vec<f32>,
    /// (V*3, B)
    pub(crate) shapedirs: Vec<f32>,
    /// (V*3, 9*(J-1))
    pub(crate) posedirs: Vec<f32>,
    /// Per joint: (vertex, weight) of the regressor's non-zero entries.
    pub(crate) j_regressor: Vec<Vec<(u32, f32)>>,
    /// Per vertex: (joint, weight) of the non-zero skinning weights.
    pub(crate) weights: Vec<Vec<(u32, f32)>>,
    /// Parent of each joint (-1 for the root); parents come before children.
    pub parents: Vec<i32>,
    /// Triangles (T*3).
    pub faces: Vec<u32>,
}

fn take<'a>(arrays: &'a BTreeMap<String, Array>, key: &str, rank: usize) -> Result<&'a Array, String> {
    let a = arrays.get(key).ok_or_else(|| format!("missing {key}"))?;
    if a.shape.len() != rank {
        return Err(format!("{key} has shape {:?}, expected {rank} dimensions", a.shape));
    }
    if a.data.iter().any(|v| !v.is_finite()) {
        return Err(format!("{key} holds NaN or infinite values"));
    }
    Ok(a)
}

fn f32s(a: &Array) -> Vec<f32> {
    a.data.iter().map(|&v| v as f32).collect()
}

impl BodyModel {
    /// Loads and checks the model at `path`.
    pub fn load(path: &Path, model_type: ModelType) -> Result<Self, ModelError> {
        let fail = |message: String| ModelError { path: path.to_owned(), message };
        if !path.is_file() {
            return Err(fail(format!(
                "not found; expected {EXPECTED_LAYOUT} (models are licensed and not shipped: download them from the SMPL websites and set [smpl] models_dir)"
            )));
        }
        let arrays = read_npz(path).map_err(|e| fail(format!("{e}; expected {EXPECTED_LAYOUT}")))?;
        Self::from_arrays(&arrays, model_type).map_err(|m| fail(format!("{m}; expected {EXPECTED_LAYOUT}")))
    }

    /// Builds a model from arrays (as read from an `.npz`), checking every shape.
    pub fn from_arrays(arrays: &BTreeMap<String, Array>, model_type: ModelType) -> Result<Self, String> {
        let vt = take(arrays, "v_template", 2)?;
        let n_vertices = vt.shape[0];
        if vt.shape[1] != 3 || n_vertices == 0 {
            return Err(format!("v_template has shape {:?}, expected (V, 3)", vt.shape));
        }
        let kt = take(arrays, "kintree_table", 2)?;
        if kt.shape[0] != 2 || kt.shape[1] == 0 {
            return Err(format!("kintree_table has shape {:?}, expected (2, J)", kt.shape));
        }
        let n_joints = kt.shape[1];
        let mut parents = Vec::with_capacity(n_joints);
        for j in 0..n_joints {
            let p = kt.data[j];
            // The root's parent is -1, or 2^32-1 when stored unsigned.
            let parent = if p < 0.0 || p >= f64::from(u32::MAX) { -1 } else { p as i32 };
            if j == 0 && parent != -1 {
                return Err("kintree_table: joint 0 must be the root (parent -1)".into());
            }
            if j > 0 && !(0..j as i32).contains(&parent) {
                return Err(format!("kintree_table: joint {j} has parent {p}; parents must come before children"));
            }
            // The second row numbers the joints; it must be 0..J in order.
            if kt.data[n_joints + j] as usize != j {
                return Err("kintree_table: the second row must list joints 0..J in order".into());
            }
            parents.push(parent);
        }
        let sd = take(arrays, "shapedirs", 3)?;
        if sd.shape[0] != n_vertices || sd.shape[1] != 3 {
            return Err(format!("shapedirs has shape {:?}, expected ({n_vertices}, 3, B)", sd.shape));
        }
        let pd = take(arrays, "posedirs", 3)?;
        let p = 9 * (n_joints - 1);
        if pd.shape != [n_vertices, 3, p] {
            return Err(format!("posedirs has shape {:?}, expected ({n_vertices}, 3, {p})", pd.shape));
        }
        let jr = take(arrays, "J_regressor", 2)?;
        if jr.shape != [n_joints, n_vertices] {
            return Err(format!("J_regressor has shape {:?}, expected ({n_joints}, {n_vertices})", jr.shape));
        }
        let w = take(arrays, "weights", 2)?;
        if w.shape != [n_vertices, n_joints] {
            return Err(format!("weights has shape {:?}, expected ({n_vertices}, {n_joints})", w.shape));
        }
        let f = take(arrays, "f", 2)?;
        if f.shape.len() != 2 || f.shape[1] != 3 {
            return Err(format!("f has shape {:?}, expected (T, 3)", f.shape));
        }
        if let Some(bad) = f.data.iter().find(|&&i| i < 0.0 || i as usize >= n_vertices) {
            return Err(format!("f refers to vertex {bad} but there are {n_vertices}"));
        }
        let min_joints = 1 + model_type.body_joints() + model_type.hand_joints().map_or(0, |_| 30);
        if n_joints < min_joints {
            return Err(format!(
                "a {} model needs at least {min_joints} joints, this one has {n_joints}",
                model_type.name()
            ));
        }
        let sparse_rows = |a: &Array, rows: usize, cols: usize| -> Vec<Vec<(u32, f32)>> {
            (0..rows)
                .map(|r| {
                    a.data[r * cols..(r + 1) * cols]
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| v.abs() > 1e-12)
                        .map(|(c, &v)| (c as u32, v as f32))
                        .collect()
                })
                .collect()
        };
        Ok(Self {
            model_type,
            n_vertices,
            n_joints,
            n_betas: sd.shape[2],
            v_template: f32s(vt),
            shapedirs: f32s(sd),
            posedirs: f32s(pd),
            j_regressor: sparse_rows(jr, n_joints, n_vertices),
            weights: sparse_rows(w, n_vertices, n_joints),
            parents,
            faces: f.data.iter().map(|&i| i as u32).collect(),
        })
    }

    /// Bones as (parent, child) pairs, the root with parent -1.
    pub fn bones(&self) -> Vec<[i32; 2]> {
        self.parents.iter().enumerate().map(|(j, &p)| [p, j as i32]).collect()
    }
}
