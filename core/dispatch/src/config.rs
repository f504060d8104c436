//! `[dispatch]` and `[scripts]` settings.

use serde::Deserialize;

/// `[dispatch]`: the ordered chain of stages.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// Stages in order: `"builtin"` (the scene's own handler) and rhai script
    /// files or globs (`"scripts/*.rhai"`), relative to the config file.
    pub chain: Vec<String>,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        // Filters and rewrites go in scripts/before/ and see a message before
        // the scene does; ordinary scripts run after builtin so the node a
        // message created or changed already exists when they react to it.
        Self { chain: vec!["scripts/before/*.rhai".into(), "builtin".into(), "scripts/*.rhai".into()] }
    }
}

/// `[plugins]`: native plugin libraries and their settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Plugin library files, or directories of them, relative to the config
    /// file. Each is loaded at start-up and reloaded when the file changes.
    pub paths: Vec<String>,
    /// Each plugin's own settings, by plugin name, passed to its `init` as a
    /// MessagePack map (`[plugins.settings.stats]`).
    pub settings: std::collections::BTreeMap<String, toml::Table>,
}

/// A TOML table as a MessagePack map (for a plugin's `init`).
pub fn toml_to_msgpack(table: &toml::Table) -> Vec<u8> {
    fn conv(v: &toml::Value) -> periscope_protocol::Value {
        use periscope_protocol::Value as V;
        match v {
            toml::Value::String(s) => V::Str(s.clone()),
            toml::Value::Integer(i) => V::Int(*i),
            toml::Value::Float(f) => V::Float(*f),
            toml::Value::Boolean(b) => V::Bool(*b),
            toml::Value::Datetime(d) => V::Str(d.to_string()),
            toml::Value::Array(a) => V::Array(a.iter().map(conv).collect()),
            toml::Value::Table(t) => V::map(t.iter().map(|(k, v)| (k.clone(), conv(v)))),
        }
    }
    periscope_protocol::encode_value(&conv(&toml::Value::Table(table.clone())))
}

/// `[scripts]`: limits for untrusted scripts and hot reload.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptsConfig {
    /// Reload scripts when their files change.
    pub watch: bool,
    /// Quiet time after a file event before reloading, in milliseconds.
    pub debounce_ms: u64,
    /// Operations one call may run before it is stopped (infinite loops).
    pub max_operations: u64,
    /// Maximum function call nesting.
    pub max_call_levels: usize,
    /// Maximum expression nesting.
    pub max_expr_depth: usize,
    /// Maximum string length in bytes.
    pub max_string_size: usize,
    /// Maximum array length.
    pub max_array_size: usize,
    /// Maximum object map size.
    pub max_map_size: usize,
    /// Consecutive failures after which a script is disabled until it is reloaded.
    pub max_failures: u32,
}

impl Default for ScriptsConfig {
    fn default() -> Self {
        Self {
            watch: true,
            debounce_ms: 200,
            max_operations: 1_000_000,
            max_call_levels: 64,
            max_expr_depth: 64,
            max_string_size: 1 << 20,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
            max_failures: 10,
        }
    }
}
