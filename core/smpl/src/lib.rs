//! SMPL, SMPL-H and SMPL-X body models: loading the smplx-style `.npz` files
//! and linear blend skinning in Rust, parallel over frames (rayon).
//!
//! [`ModelStore`] implements the scene's [`periscope_scene::BodyModels`]: it
//! loads `models_dir/<type>/<TYPE>_<GENDER>.npz` on first use and keeps it.

mod lbs;
mod model;
pub mod npz;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use lbs::{FramePose, Shaped, rodrigues};
pub use model::{BodyModel, EXPECTED_LAYOUT, Gender, ModelError, ModelType};
use periscope_scene::{BodyModels, BodyPose, Skinned};

/// Loaded models by (type, gender); a failed load is kept too, so a missing
/// file is reported once per message without touching the disk again.
pub struct ModelStore {
    dir: PathBuf,
    models: Mutex<HashMap<(ModelType, Gender), LoadResult>>,
}

type LoadResult = Result<Arc<Loaded>, String>;

/// A model and what the scene needs from it besides skinning.
pub struct Loaded {
    pub model: BodyModel,
    faces: Arc<Vec<u32>>,
    bones: Arc<Vec<[i32; 2]>>,
}

impl ModelStore {
    /// Models are looked up under `dir` (the `[smpl] models_dir` setting).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir, models: Mutex::new(HashMap::new()) }
    }

    /// The model for `model_type` and `gender`, loaded on first use.
    pub fn get(&self, model_type: ModelType, gender: Gender) -> Result<Arc<Loaded>, String> {
        let mut models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        models
            .entry((model_type, gender))
            .or_insert_with(|| {
                let path = model_type.path(&self.dir, gender);
                let t0 = std::time::Instant::now();
                let r = BodyModel::load(&path, model_type).map(|model| {
                    tracing::info!(path = %path.display(), vertices = model.n_vertices, joints = model.n_joints,
                        ms = t0.elapsed().as_millis() as u64, "body model loaded");
                    let faces = Arc::new(model.faces.clone());
                    let bones = Arc::new(model.bones());
                    Arc::new(Loaded { model, faces, bones })
                });
                r.map_err(|e| {
                    tracing::error!("{e}");
                    e.to_string()
                })
            })
            .clone()
    }
}

impl BodyModels for ModelStore {
    fn skin(&self, model_type: &str, gender: &str, frames: &[BodyPose<'_>]) -> Result<Skinned, String> {
        let (t, g) = (ModelType::parse(model_type)?, Gender::parse(gender)?);
        let loaded = self.get(t, g)?;
        let m = &loaded.model;
        let max_body = t.body_joints() * 3;
        let mut notes = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if f.body.len() > max_body || f.body.len() % 3 != 0 {
                return Err(format!(
                    "frame {i}: poses_body has {} numbers but a {} model poses {} body joints ({max_body} numbers)",
                    f.body.len(),
                    t.name(),
                    t.body_joints()
                ));
            }
            for (name, v, n) in [("poses_root", f.root, 3), ("trans", f.trans, 3)] {
                if v.is_some_and(|v| v.len() != n) {
                    return Err(format!("frame {i}: {name} must have {n} numbers"));
                }
            }
        }
        if let Some(f) = frames.first() {
            if f.body.len() < max_body {
                notes.push(format!(
                    "poses_body has {} of {} numbers; the remaining joints stay at rest",
                    f.body.len(),
                    max_body
                ));
            }
            if t.hand_joints().is_some() && (f.left_hand.is_none() || f.right_hand.is_none()) {
                notes.push("no poses_left_hand/poses_right_hand given: the hands stay at the flat rest pose".into());
            }
            if f.betas.is_some_and(|b| b.len() > m.n_betas) {
                notes.push(format!("the model has {} shape components; extra betas are ignored", m.n_betas));
            }
        }
        let (vertices, joints) = m.skin(frames);
        Ok(Skinned {
            vertices,
            joints,
            n_vertices: m.n_vertices,
            n_joints: m.n_joints,
            faces: Arc::clone(&loaded.faces),
            bones: Arc::clone(&loaded.bones),
            notes,
        })
    }
}
