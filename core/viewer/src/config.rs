//! `config.toml`: every section and key, with defaults. Unknown keys are an
//! error that names the key.

use std::path::{Path, PathBuf};

use periscope_dispatch::{DispatchConfig, PluginsConfig, ScriptsConfig};
use periscope_scene::SceneConfig;
use periscope_server::ServerConfig;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub viewer: ViewerSection,
    pub scene: SceneConfig,
    pub dispatch: DispatchConfig,
    pub scripts: ScriptsConfig,
    pub plugins: PluginsConfig,
    pub smpl: SmplSection,
    pub recording: RecordingSection,
    pub images: ImagesSection,
}

/// `[images]`: remote-rendered images.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesSection {
    /// While the person moves the camera, renderers are asked for smaller
    /// images (camera `width`/`height`, `moving: true`) so that they keep about
    /// this many frames per second; one full-size camera follows when it stops.
    pub target_fps: f32,
    /// The smallest fraction of the full size asked for while moving.
    pub min_scale: f32,
    /// Most mebibytes all clients' decoded images may hold (each window's
    /// newest image, RGBA8, plus a main-view image's depth); checked before
    /// decoding, from the array's shape or the JPEG/PNG header.
    pub max_decoded_mb: usize,
    /// Most mebibytes one client's decoded images may hold.
    pub max_decoded_mb_per_client: usize,
}

impl Default for ImagesSection {
    fn default() -> Self {
        Self { target_fps: 30.0, min_scale: 0.25, max_decoded_mb: 1024, max_decoded_mb_per_client: 256 }
    }
}

/// `[recording]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingSection {
    /// Record every accepted message to this file from the start (like `--record`);
    /// empty: off. Relative to the config file.
    pub path: PathBuf,
}

/// `[smpl]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmplSection {
    /// Body model files, laid out as the smplx package expects
    /// (`smpl/SMPL_NEUTRAL.npz`, `smplh/SMPLH_MALE.npz`, `smplx/SMPLX_FEMALE.npz`, ...);
    /// relative paths are relative to the config file.
    pub models_dir: PathBuf,
}

impl Default for SmplSection {
    fn default() -> Self {
        Self { models_dir: PathBuf::from("models") }
    }
}

/// `[viewer]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerSection {
    pub title: String,
    pub width: f32,
    pub height: f32,
    /// Playback speed in frames per second at start, in [0.001, 240]: the scene's
    /// default (`Scene::with_fps`); PLAYBACK messages change it.
    pub playback_fps: f32,
    /// Milliseconds per UI frame spent applying queued messages.
    pub drain_budget_ms: u64,
    /// Run without a window even when a display exists.
    pub headless: bool,
    /// Background color, sRGB in [0, 1].
    pub background: [f32; 3],
    /// The data's up axis is +z (else +y).
    pub z_up: bool,
    /// Draw the ground grid.
    pub grid: bool,
    /// The key light casts soft shadows (nodes on each other and on the ground).
    pub shadows: bool,
    /// A ground plane under the scene that receives shadows.
    pub ground: bool,
    /// Outline the selected node.
    pub outline: bool,
    /// Screen-space ambient occlusion (creases and contact areas darken).
    pub ssao: bool,
    /// Where screenshots go (relative paths are relative to the config file).
    pub export_dir: PathBuf,
    /// Size of headless screenshots (`--screenshot`, screenshot requests without a size).
    pub screenshot_width: u32,
    pub screenshot_height: u32,
    /// Size and frame rate of exported videos when not given (`export_video`,
    /// `--video`, the Export dialog). MP4 sides are rounded down to even.
    pub video_width: u32,
    pub video_height: u32,
    pub video_fps: f64,
}

impl ViewerSection {
    /// The renderer options this section describes.
    pub fn render_options(&self) -> periscope_render::RenderOptions {
        periscope_render::RenderOptions {
            background: self.background,
            z_up: self.z_up,
            grid: self.grid,
            shadows: self.shadows,
            ground: self.ground,
            outline: self.outline,
            ssao: self.ssao,
            ..Default::default()
        }
    }
}

impl Default for ViewerSection {
    fn default() -> Self {
        Self {
            title: "Periscope".into(),
            width: 1280.0,
            height: 800.0,
            playback_fps: 30.0,
            drain_budget_ms: 8,
            headless: false,
            background: periscope_render::RenderOptions::default().background,
            z_up: false,
            grid: true,
            shadows: true,
            ground: true,
            outline: true,
            ssao: false,
            export_dir: PathBuf::from("exports"),
            screenshot_width: 1280,
            screenshot_height: 800,
            video_width: 1280,
            video_height: 720,
            video_fps: 30.0,
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// Parses a configuration file's text.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.server.port, 8417);
        assert!(c.server.host.is_loopback());
        let d = Config::default();
        assert_eq!(c.server.max_message_bytes, d.server.max_message_bytes);
        assert_eq!(c.server.max_reply_bytes, d.server.max_reply_bytes);
        assert_eq!(c.server.outbox_bytes, d.server.outbox_bytes);
        assert_eq!(c.server.parts_bytes, d.server.parts_bytes);
        assert_eq!(c.server.outbox_messages, d.server.outbox_messages);
        assert_eq!(c.viewer.playback_fps, d.viewer.playback_fps);
        assert_eq!(c.viewer.background, d.viewer.background);
        assert_eq!(c.viewer.export_dir, d.viewer.export_dir);
        assert_eq!(c.dispatch.chain, d.dispatch.chain);
        assert_eq!(c.scripts.max_operations, d.scripts.max_operations);
        assert_eq!(c.images.max_decoded_mb, d.images.max_decoded_mb);
        assert_eq!(c.images.max_decoded_mb_per_client, d.images.max_decoded_mb_per_client);
        assert_eq!(c.scene.max_controls, d.scene.max_controls);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_toml("[server]\nprot = 1\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("unknown field `prot`"), "{e}");
        let e = Config::from_toml("[sever]\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("unknown field `sever`"), "{e}");
    }

    #[test]
    fn max_message_default_fits_a_million_vertex_hundred_frame_mesh() {
        let need = 1_000_000 * 100 * 3 * 4;
        assert!(Config::default().server.max_message_bytes > need + 1024);
    }

    #[test]
    fn max_reply_default_fits_the_largest_screenshot() {
        let need = 8192 * 8192 * 4;
        assert!(Config::default().server.max_reply_bytes > need + 4096);
    }
}
