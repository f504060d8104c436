//! What the renderer draws: a scene at one frame.

use periscope_scene::Scene;

/// A scene shown at scene frame `frame` (each node at `Node::frame_for(frame)`).
/// A `&Scene` converts to the scene at its playhead; screenshots and video
/// frames render another frame with [`SceneView::at`] and leave the playhead alone.
#[derive(Clone, Copy, Debug)]
pub struct SceneView<'a> {
    pub scene: &'a Scene,
    pub frame: usize,
}

impl<'a> SceneView<'a> {
    /// `scene` at `frame` (clamped to its frames, like `set_frame`), or at its playhead for `None`.
    pub fn at(scene: &'a Scene, frame: Option<i64>) -> Self {
        let frame = frame.map_or_else(|| scene.current_frame(), |f| scene.clamped_frame(f));
        Self { scene, frame }
    }
}

impl<'a> From<&'a Scene> for SceneView<'a> {
    fn from(scene: &'a Scene) -> Self {
        Self { scene, frame: scene.current_frame() }
    }
}

impl<'a> From<&'a mut Scene> for SceneView<'a> {
    fn from(scene: &'a mut Scene) -> Self {
        SceneView::from(&*scene)
    }
}
