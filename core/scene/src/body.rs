//! Body-model sequences (SMPL and family): the scene keeps the pose
//! parameters a client sent and derived `vertices`/`joints` per frame,
//! computed by a [`BodyModels`] provider the viewer installs.

use std::sync::Arc;

/// The per-frame attributes a body node holds besides its parameters: the
/// mesh and joints skinning derived from them.
pub(crate) const DERIVED_ATTRS: &[&str] = &["vertices", "joints"];

/// One frame's body parameters, borrowed from the node's attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BodyPose<'a> {
    /// Axis-angle of the joints after the root (69 numbers for SMPL, 63 for SMPL-H/X).
    pub body: &'a [f32],
    pub root: Option<&'a [f32]>,
    pub trans: Option<&'a [f32]>,
    pub betas: Option<&'a [f32]>,
    pub left_hand: Option<&'a [f32]>,
    pub right_hand: Option<&'a [f32]>,
}

/// Skinned frames.
#[derive(Clone, Debug)]
pub struct Skinned {
    /// Frames * vertices * 3.
    pub vertices: Vec<f32>,
    /// Frames * joints * 3.
    pub joints: Vec<f32>,
    pub n_vertices: usize,
    pub n_joints: usize,
    pub faces: Arc<Vec<u32>>,
    /// (parent, child) per joint, -1 for the root's parent.
    pub bones: Arc<Vec<[i32; 2]>>,
    /// Remarks for the sender (e.g. hands left at rest).
    pub notes: Vec<String>,
}

/// Computes body meshes from pose parameters (implemented by `periscope-smpl`).
pub trait BodyModels: Send + Sync {
    /// Skins `frames` with the model `model_type` (`smpl`, `smplh`, `smplx`) of
    /// `gender`. An error names the model file and what is wrong with it.
    fn skin(&self, model_type: &str, gender: &str, frames: &[BodyPose<'_>]) -> Result<Skinned, String>;
}

use crate::error::{SceneError, err};
use crate::frames::FrameSeq;
use crate::node::Node;
use crate::scene::Scene;
use crate::spec::SMPL_ATTRS;

/// Which frames of a body node to (re)compute.
pub(crate) enum Reskin {
    All,
    /// Frames from this index on (after add_frames).
    From(usize),
    /// These frames (after update_frames).
    Frames(Vec<usize>),
}

/// Frames of pose parameters the node has (the longest parameter).
fn input_frames(node: &Node) -> usize {
    SMPL_ATTRS.iter().filter_map(|a| node.attr(a.name)).map(FrameSeq::len).max().unwrap_or(0)
}

/// One frame's body parameters, owned (a deferred job outlives the message).
#[derive(Clone, Debug, Default)]
struct OwnedPose {
    body: Vec<f32>,
    root: Option<Vec<f32>>,
    trans: Option<Vec<f32>>,
    betas: Option<Vec<f32>>,
    left_hand: Option<Vec<f32>>,
    right_hand: Option<Vec<f32>>,
}

/// Skinning to do off the scene's thread ([`Scene::defer_skinning`]): the
/// parameters of the frames to compute, copied out of the node.
pub struct SkinJob {
    /// The body node, and its owner (whose later messages wait for it).
    pub node: crate::node::NodeId,
    pub client: crate::node::ClientId,
    which: Reskin,
    frames: Vec<usize>,
    poses: Vec<OwnedPose>,
    model_type: String,
    gender: String,
    models: Arc<dyn BodyModels>,
    /// The node as it was before the message, restored if skinning fails
    /// (`None`: the message created it, so it is removed).
    before: Option<Box<Node>>,
}

impl std::fmt::Debug for SkinJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SkinJob(node {}, {} frames)", self.node, self.frames.len())
    }
}

/// A finished [`SkinJob`].
pub struct SkinDone {
    pub node: crate::node::NodeId,
    pub client: crate::node::ClientId,
    which: Reskin,
    frames: usize,
    result: Result<Skinned, String>,
    before: Option<Box<Node>>,
}

impl SkinJob {
    /// Skins the frames (the expensive part; runs on a worker thread).
    pub fn run(self) -> SkinDone {
        let poses: Vec<BodyPose<'_>> = self
            .poses
            .iter()
            .map(|p| BodyPose {
                body: &p.body,
                root: p.root.as_deref(),
                trans: p.trans.as_deref(),
                betas: p.betas.as_deref(),
                left_hand: p.left_hand.as_deref(),
                right_hand: p.right_hand.as_deref(),
            })
            .collect();
        let result = self.models.skin(&self.model_type, &self.gender, &poses);
        SkinDone {
            node: self.node,
            client: self.client,
            which: self.which,
            frames: self.frames.len(),
            result,
            before: self.before,
        }
    }
}

impl Scene {
    /// Skinning jobs made since the last call (only with [`Scene::defer_skinning`]).
    pub fn take_skin_jobs(&mut self) -> Vec<SkinJob> {
        std::mem::take(&mut self.skin_jobs)
    }

    /// Applies a finished job: the node gets its vertices and joints (remarks
    /// for its owner are returned), or, when skinning failed, goes back to what
    /// it was before the message (a node the message created is removed) and
    /// the error is returned for the sender.
    pub fn finish_skin(&mut self, done: SkinDone) -> Result<Vec<String>, SceneError> {
        let Some(mut node) = self.nodes.remove(&done.node) else { return Ok(Vec::new()) };
        self.mark(done.node);
        let applied = done
            .result
            .map_err(|e| err("body_model", e))
            .and_then(|skinned| apply_skinned(&mut node, done.which, done.frames, skinned));
        match applied {
            Ok(notes) => {
                self.nodes.insert(done.node, node);
                self.touch();
                Ok(notes)
            }
            Err(e) => {
                match done.before {
                    Some(before) => {
                        self.nodes.insert(done.node, *before);
                        self.clamp_frame();
                        self.touch();
                    }
                    None => {
                        // The message made the node: it goes (with its uid mapping).
                        self.nodes.insert(done.node, node);
                        self.remove_node(done.node);
                    }
                }
                Err(e)
            }
        }
    }

    /// Computes `vertices` and `joints` of a body node for `which` frames.
    /// Returns remarks for the sender. The node is unchanged on error. With
    /// [`Scene::defer_skinning`] the work is queued as a [`SkinJob`] instead
    /// (`before`: the node as it was before the message) and the node keeps
    /// its old vertices until [`Scene::finish_skin`].
    pub(crate) fn reskin(
        &mut self,
        node: &mut Node,
        which: Reskin,
        before: Option<&Node>,
    ) -> Result<Vec<String>, SceneError> {
        let models = self.body_models.0.clone().ok_or_else(|| {
            err("unsupported", "this viewer has no body models: set [smpl] models_dir in config.toml")
        })?;
        let n = input_frames(node);
        let have = node.attr("vertices").map_or(0, FrameSeq::len);
        let which = match which {
            Reskin::From(k) if k != have || k > n => Reskin::All,
            w => w,
        };
        let frames: Vec<usize> = match &which {
            Reskin::All => (0..n).collect(),
            Reskin::From(k) => (*k..n).collect(),
            Reskin::Frames(f) => f.clone(),
        };
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let limit = node.style.num_betas;
        if self.defer_skinning {
            let owned = |name: &str, i: usize| node.frame_data(name, i).map(<[f32]>::to_vec);
            let poses = frames
                .iter()
                .map(|&i| OwnedPose {
                    body: owned("poses_body", i).unwrap_or_default(),
                    root: owned("poses_root", i),
                    trans: owned("trans", i),
                    betas: node.frame_data("betas", i).map(|b| b[..limit.map_or(b.len(), |l| l.min(b.len()))].to_vec()),
                    left_hand: owned("poses_left_hand", i),
                    right_hand: owned("poses_right_hand", i),
                })
                .collect();
            self.skin_jobs.push(SkinJob {
                node: node.id,
                client: node.client,
                which,
                frames,
                poses,
                model_type: node.style.model_type.clone(),
                gender: node.style.gender.clone(),
                models: Arc::clone(&models),
                before: before.map(|b| Box::new(b.clone())),
            });
            return Ok(Vec::new());
        }
        let skinned = {
            let poses: Vec<BodyPose<'_>> = frames
                .iter()
                .map(|&i| BodyPose {
                    body: node.frame_data("poses_body", i).unwrap_or(&[]),
                    root: node.frame_data("poses_root", i),
                    trans: node.frame_data("trans", i),
                    betas: node.frame_data("betas", i).map(|b| &b[..limit.map_or(b.len(), |l| l.min(b.len()))]),
                    left_hand: node.frame_data("poses_left_hand", i),
                    right_hand: node.frame_data("poses_right_hand", i),
                })
                .collect();
            models.skin(&node.style.model_type, &node.style.gender, &poses).map_err(|e| err("body_model", e))?
        };
        apply_skinned(node, which, frames.len(), skinned)
    }
}

/// Puts skinned frames into a body node (appended, replaced or all new).
fn apply_skinned(node: &mut Node, which: Reskin, count: usize, skinned: Skinned) -> Result<Vec<String>, SceneError> {
    {
        let verts = FrameSeq::from_chunk(vec![skinned.n_vertices, 3], count, Arc::new(skinned.vertices));
        let joints = FrameSeq::from_chunk(vec![skinned.n_joints, 3], count, Arc::new(skinned.joints));
        let same_model = node.attr("vertices").is_some_and(|v| v.inner_shape() == verts.inner_shape());
        match which {
            Reskin::From(_) if same_model => {
                node.attrs.get_mut("vertices").expect("present").append(verts);
                node.attrs.get_mut("joints").expect("present").append(joints);
            }
            Reskin::Frames(f) if same_model => {
                node.attrs.get_mut("vertices").expect("present").replace(&f, &verts);
                node.attrs.get_mut("joints").expect("present").replace(&f, &joints);
            }
            Reskin::All => {
                node.attrs.insert("vertices", verts);
                node.attrs.insert("joints", joints);
            }
            _ => return Err(err("body_model", "the body model changed size between frames")),
        }
        node.dims.insert('V', skinned.n_vertices);
        node.faces = Some(skinned.faces);
        node.joint_connections = Some(skinned.bones);
        node.version += 1;
        Ok(skinned.notes)
    }
}

/// The provider slot of a scene (a wrapper so `Scene` stays `Debug`).
#[derive(Clone, Default)]
pub(crate) struct ModelSlot(pub(crate) Option<Arc<dyn BodyModels>>);

impl std::fmt::Debug for ModelSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "BodyModels(set)" } else { "BodyModels(none)" })
    }
}

/// Every per-frame body parameter has one frame (static) or as many as `poses_body`.
pub(crate) fn check_aligned(node: &Node) -> Result<(), SceneError> {
    let n = node.attr("poses_body").map_or(0, FrameSeq::len);
    for spec in &SMPL_ATTRS[1..] {
        if let Some(a) = node.attr(spec.name).filter(|a| a.len() != 1 && a.len() != n) {
            return Err(err(
                "bad_shape",
                format!("{} has {} frames but poses_body has {n}; give one frame or {n}", spec.name, a.len()),
            ));
        }
    }
    Ok(())
}

impl Scene {
    /// add_frames of a body node. Parameters stay aligned frame by frame with
    /// `poses_body`: one the node lacks starts at zero for the earlier frames,
    /// one the message leaves out holds its last value. The new frames are
    /// skinned; on failure nothing changes.
    pub(crate) fn add_body_frames(
        &mut self,
        id: crate::node::NodeId,
        env: &periscope_protocol::Envelope,
        applied: &mut crate::handler::Applied,
    ) -> Result<(), SceneError> {
        let (new, dims) = self.frame_attrs(&self.nodes[&id], env, applied, &[])?;
        let k = new
            .iter()
            .find(|(name, _)| *name == "poses_body")
            .map(|(_, s)| s.len())
            .ok_or_else(|| err("missing_arg", "add_frames of a body sequence needs poses_body"))?;
        let mut node = self.nodes[&id].clone();
        let n0 = node.attr("poses_body").map_or(0, FrameSeq::len);
        if n0 + k > periscope_protocol::limits::MAX_FRAMES {
            return Err(err(
                "limit",
                format!(
                    "add_frames: the body would have {} frames, more than a node may have ({})",
                    n0 + k,
                    periscope_protocol::limits::MAX_FRAMES
                ),
            ));
        }
        let mut given: std::collections::BTreeMap<&'static str, FrameSeq> = new.into_iter().collect();
        for spec in SMPL_ATTRS {
            let name = spec.name;
            match (node.attrs.get_mut(name), given.remove(name)) {
                (None, Some(seq)) => {
                    let mut s = FrameSeq::zeros(seq.inner_shape().to_vec(), n0);
                    s.append(seq);
                    node.attrs.insert(name, s);
                }
                (Some(existing), Some(seq)) => {
                    existing.pad_to(n0);
                    existing.append(seq);
                }
                (Some(existing), None) if existing.len() > 1 => existing.pad_to(n0 + k),
                _ => {}
            }
        }
        // Transform attributes (position, rotation) are not body parameters: append as given.
        for (name, seq) in given {
            match node.attrs.get_mut(name) {
                Some(existing) => existing.append(seq),
                None => {
                    node.attrs.insert(name, seq);
                }
            }
        }
        node.dims = dims;
        let before = self.nodes[&id].clone();
        for note in self.reskin(&mut node, Reskin::From(n0), Some(&before))? {
            tracing::debug!(id, "{note}");
        }
        self.mark(id);
        self.nodes.insert(id, node);
        self.touch();
        Ok(())
    }
}
