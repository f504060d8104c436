//! Test-only plugin whose behaviour comes from its settings: `mode` is
//! "noop" (default), "error", "panic", "init_error", "init_panic" or "stop";
//! modes other than noop act only on messages of type `on_type` (default 10030).

use periscope_plugin_api::{Flow, Host, Message, Plugin, declare_plugin};

pub struct Probe {
    mode: String,
    on_type: i64,
}

impl Plugin for Probe {
    const NAME: &'static str = "probe";
    const VERSION: &'static str = "test";

    fn init(_host: &mut Host<'_>, config: &[u8]) -> Result<Self, String> {
        let config = rmpv::decode::read_value(&mut &config[..]).map_err(|e| e.to_string())?;
        let get = |k: &str| {
            config.as_map().and_then(|m| m.iter().find(|(key, _)| key.as_str() == Some(k)).map(|(_, v)| v.clone()))
        };
        let mode = get("mode").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "noop".into());
        let on_type = get("on_type").and_then(|v| v.as_i64()).unwrap_or(10_030);
        match mode.as_str() {
            "init_error" => Err("probe was told to fail in init".into()),
            "init_panic" => panic!("probe was told to panic in init"),
            _ => Ok(Self { mode, on_type }),
        }
    }

    fn process_message(&mut self, host: &mut Host<'_>, msg: &Message<'_>) -> Result<Flow, String> {
        if msg.kind != self.on_type {
            return Ok(Flow::Continue);
        }
        match self.mode.as_str() {
            "error" => Err(format!("probe refuses message type {}", msg.kind)),
            "panic" => panic!("probe was told to panic on type {}", msg.kind),
            "stop" => {
                host.info("probe stopped the chain");
                Ok(Flow::Stop)
            }
            _ => Ok(Flow::Continue),
        }
    }
}

declare_plugin!(Probe);
