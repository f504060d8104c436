//! The window's files in its export folder: saved views (`view.toml`: the
//! camera and the Video dialog's keyframes) and screenshots. The viewport
//! itself (`periscope_ui::viewport`) writes no files: it also runs in a browser.

use std::path::{Path, PathBuf};

use periscope_render::{Camera, Image};
use periscope_ui::viewport::Viewport;

/// `view.toml`: the camera's fields, and the camera path's keyframes under `[camera_path]`.
#[derive(serde::Serialize, serde::Deserialize)]
struct ViewFile {
    #[serde(flatten)]
    camera: Camera,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    camera_path: Option<periscope_video::CameraPath>,
}

fn view_file(export_dir: &Path) -> PathBuf {
    export_dir.join("view.toml")
}

/// Writes the camera (and the Video dialog's keyframes, if any) to `<export_dir>/view.toml`.
pub fn save_view(
    vp: &Viewport,
    export_dir: &Path,
    camera_path: Option<&periscope_video::CameraPath>,
) -> Result<PathBuf, String> {
    let path = view_file(export_dir);
    let file = ViewFile { camera: vp.camera, camera_path: camera_path.filter(|p| !p.keyframes.is_empty()).cloned() };
    let text = toml::to_string(&file).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(export_dir).map_err(|e| format!("{}: {e}", export_dir.display()))?;
    periscope_video::staged::write_file(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Reads the camera (and keyframes) saved by [`save_view`] into the viewport.
pub fn restore_view(
    vp: &mut Viewport,
    export_dir: &Path,
) -> Result<(PathBuf, Option<periscope_video::CameraPath>), String> {
    let path = view_file(export_dir);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: ViewFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(p) = &file.camera_path {
        p.validate().map_err(|e| format!("{}: {e}", path.display()))?;
    }
    vp.camera = file.camera;
    // Keep the auto-fit from overriding a restored view.
    vp.keep_camera();
    Ok((path, file.camera_path))
}

/// Writes a screenshot as `<export_dir>/periscope-<time>.png` (never through a symlink).
pub fn save_screenshot(img: &Image, export_dir: &Path) -> Result<PathBuf, String> {
    let path = unique_path(export_dir, "periscope", "png");
    let png = img.encode_png().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(export_dir).map_err(|e| format!("{}: {e}", export_dir.display()))?;
    periscope_video::staged::write_file(&path, &png).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// `dir/<stem>-<unix seconds>[-n].<ext>` that does not exist yet.
pub fn unique_path(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (0..)
        .map(|n| {
            if n == 0 { dir.join(format!("{stem}-{secs}.{ext}")) } else { dir.join(format!("{stem}-{secs}-{n}.{ext}")) }
        })
        .find(|p| !p.exists())
        .expect("some name is free")
}
