//! Test-only plugin whose behaviour comes from its settings: `mode` is
//! "noop" (default), "error", "panic", "init_error", "init_panic", "stop" or
//! "info" (replies with the host's node_info for the message's uid) or
//! "apply" (applies a message of type `apply_type`, the message's kwarg, and
//! replies `{type: 10031, ok, error}`);
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
            "info" => {
                // Replies with what the host reports about the client's node `uid` (kwarg-free).
                let info = msg.uid.and_then(|uid| host.find_node(msg.client.id, uid)).and_then(|id| host.node_info(id));
                let Some(n) = info else { return Err("no such node".into()) };
                host.set_name(n.id, &format!("{} (seen)", n.name));
                let reply = rmpv::Value::Map(vec![
                    ("type".into(), 10_031.into()),
                    ("name".into(), n.name.as_str().into()),
                    ("n_frames".into(), n.n_frames.into()),
                    ("current_frame".into(), n.current_frame.into()),
                    ("enabled".into(), n.enabled.into()),
                ]);
                let mut out = Vec::new();
                rmpv::encode::write_value(&mut out, &reply).map_err(|e| e.to_string())?;
                host.send(msg.client.id, &out);
                Ok(Flow::Stop)
            }
            "apply" => {
                let kwargs = rmpv::decode::read_value(&mut &msg.kwargs[..]).map_err(|e| e.to_string())?;
                let kind = kwargs.as_map().and_then(|m| {
                    m.iter().find(|(key, _)| key.as_str() == Some("apply_type")).and_then(|(_, v)| v.as_i64())
                });
                let Some(kind) = kind else { return Err("apply needs kwarg apply_type".into()) };
                let applied = host.apply(&periscope_plugin_api::MessageWriter::new(kind).finish());
                let reply = rmpv::Value::Map(vec![
                    ("type".into(), 10_031.into()),
                    ("ok".into(), applied.is_ok().into()),
                    ("error".into(), applied.err().unwrap_or_default().into()),
                ]);
                let mut out = Vec::new();
                rmpv::encode::write_value(&mut out, &reply).map_err(|e| e.to_string())?;
                host.send(msg.client.id, &out);
                Ok(Flow::Stop)
            }
            "stop" => {
                host.info("probe stopped the chain");
                Ok(Flow::Stop)
            }
            _ => Ok(Flow::Continue),
        }
    }
}

declare_plugin!(Probe);
