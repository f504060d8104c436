//! What the render tests share: opening a renderer (skipped, or failed when
//! `PERISCOPE_REQUIRE_RENDER` is set), saving an image to look at, and
//! building a scene through `Scene::apply`.
#![allow(dead_code)] // each test file uses its own part

use periscope_protocol::{Envelope, NdArray, Value};
use periscope_render::{Image, RenderError};
use periscope_scene::{NodeId, Scene, SceneConfig};

/// The renderer, or `None` (test skipped) when no adapter exists and
/// `PERISCOPE_REQUIRE_RENDER` is unset. CI sets it, so CI never skips.
pub fn skip_or_fail<R>(opened: Result<R, RenderError>) -> Option<R> {
    match opened {
        Ok(o) => Some(o),
        Err(e) if std::env::var_os("PERISCOPE_REQUIRE_RENDER").is_none() => {
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("PERISCOPE_REQUIRE_RENDER is set but rendering is unavailable: {e}"),
    }
}

/// Writes `img` to target/screenshots/`name`.png.
pub fn save(img: &Image, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    img.save_png(&dir.join(format!("{name}.png"))).expect("png written");
}

pub fn arr(shape: &[usize], data: Vec<f32>) -> Value {
    Value::NdArray(NdArray::from_f32(shape.to_vec(), data))
}

pub fn ints(shape: &[usize], data: Vec<i64>) -> Value {
    Value::NdArray(NdArray::from_i64(shape.to_vec(), data))
}

/// An empty scene with client 1 connected.
pub fn scene() -> Scene {
    let mut s = Scene::new(SceneConfig::default());
    s.client_connected(1, "test", "127.0.0.1:1");
    s
}

/// Applies `env` as client 1 and returns the node it created.
pub fn add(s: &mut Scene, env: Envelope) -> NodeId {
    let a = s.apply(1, &env).expect("message applies");
    let uid = a.created.expect("creates a node");
    s.node_by_remote(1, uid as i64).expect("node exists").id
}
