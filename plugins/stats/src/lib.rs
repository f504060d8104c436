//! `stats`: counts messages, argument bytes and message types per client, and
//! answers a request with them.
//!
//! Request (any client): type `request_type` (default 10020).
//! Reply: type `reply_type` (default 10021) with
//! `{clients: [{id, name, messages, bytes, types: {"<type>": count}}], total}`.
//! The request itself is consumed (the chain stops there) and not counted.

use std::collections::BTreeMap;

use periscope_plugin_api::{Flow, Host, Message, Plugin, declare_plugin};
use rmpv::Value;

#[derive(Default)]
struct ClientStats {
    name: String,
    messages: u64,
    bytes: u64,
    types: BTreeMap<i64, u64>,
}

pub struct Stats {
    request_type: i64,
    reply_type: i64,
    clients: BTreeMap<u64, ClientStats>,
}

fn setting(config: &Value, key: &str) -> Option<i64> {
    config.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).and_then(|(_, v)| v.as_i64())
}

impl Plugin for Stats {
    const NAME: &'static str = "stats";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(host: &mut Host<'_>, config: &[u8]) -> Result<Self, String> {
        let config = rmpv::decode::read_value(&mut &config[..]).map_err(|e| format!("bad settings: {e}"))?;
        let s = Self {
            request_type: setting(&config, "request_type").unwrap_or(10_020),
            reply_type: setting(&config, "reply_type").unwrap_or(10_021),
            clients: BTreeMap::new(),
        };
        host.info(&format!("stats: answering type {} with type {}", s.request_type, s.reply_type));
        Ok(s)
    }

    fn process_message(&mut self, host: &mut Host<'_>, msg: &Message<'_>) -> Result<Flow, String> {
        if msg.kind == self.request_type {
            let clients = self
                .clients
                .iter()
                .map(|(id, c)| {
                    let types = c.types.iter().map(|(t, n)| (Value::from(t.to_string()), Value::from(*n))).collect();
                    Value::Map(vec![
                        ("id".into(), Value::from(*id)),
                        ("name".into(), Value::from(c.name.as_str())),
                        ("messages".into(), Value::from(c.messages)),
                        ("bytes".into(), Value::from(c.bytes)),
                        ("types".into(), Value::Map(types)),
                    ])
                })
                .collect();
            let total: u64 = self.clients.values().map(|c| c.messages).sum();
            let reply = Value::Map(vec![
                ("type".into(), Value::from(self.reply_type)),
                ("clients".into(), Value::Array(clients)),
                ("total".into(), Value::from(total)),
            ]);
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &reply).map_err(|e| e.to_string())?;
            host.send(msg.client.id, &out);
            return Ok(Flow::Stop);
        }
        let c = self.clients.entry(msg.client.id).or_default();
        c.name = msg.client.name.to_owned();
        c.messages += 1;
        c.bytes += (msg.args.len() + msg.kwargs.len()) as u64;
        *c.types.entry(msg.kind).or_default() += 1;
        Ok(Flow::Continue)
    }
}

declare_plugin!(Stats);
