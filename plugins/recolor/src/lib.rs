//! `recolor`: colors every node a client creates from a configured palette
//! (entry `client_id % len`), so several programs' data is easy to tell apart.
//! Put it after `builtin` in the chain so the node exists. Nodes created with
//! an explicit `color` keep it unless `override = true`.
//!
//! Settings (`[plugins.settings.recolor]`): `palette = [[r, g, b], ...]`
//! (RGB or RGBA in [0, 1]; required), `override = false`.

use periscope_plugin_api::{Flow, Host, Message, Plugin, declare_plugin};
use rmpv::Value;

pub struct Recolor {
    palette: Vec<[f32; 4]>,
    override_explicit: bool,
}

fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
}

fn color(v: &Value) -> Option<[f32; 4]> {
    let c: Vec<f32> = v.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect::<Option<_>>()?;
    match c.as_slice() {
        [r, g, b] => Some([*r, *g, *b, 1.0]),
        [r, g, b, a] => Some([*r, *g, *b, *a]),
        _ => None,
    }
}

impl Plugin for Recolor {
    const NAME: &'static str = "recolor";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(_host: &mut Host<'_>, config: &[u8]) -> Result<Self, String> {
        let config = rmpv::decode::read_value(&mut &config[..]).map_err(|e| format!("bad settings: {e}"))?;
        let palette = get(&config, "palette")
            .and_then(Value::as_array)
            .ok_or("recolor needs `palette = [[r, g, b], ...]` in [plugins.settings.recolor]")?
            .iter()
            .map(|c| color(c).ok_or("every palette entry must be [r, g, b] or [r, g, b, a]"))
            .collect::<Result<Vec<_>, _>>()?;
        if palette.is_empty() {
            return Err("the palette is empty".into());
        }
        let override_explicit = get(&config, "override").and_then(Value::as_bool).unwrap_or(false);
        Ok(Self { palette, override_explicit })
    }

    fn process_message(&mut self, host: &mut Host<'_>, msg: &Message<'_>) -> Result<Flow, String> {
        let creates = (1..=11).contains(&msg.kind) && msg.kind != 10;
        let Some(uid) = msg.uid.filter(|_| creates) else { return Ok(Flow::Continue) };
        if !self.override_explicit {
            let kwargs = rmpv::decode::read_value(&mut &msg.kwargs[..]).map_err(|e| e.to_string())?;
            if get(&kwargs, "color").is_some() {
                return Ok(Flow::Continue);
            }
        }
        if let Some(node) = host.find_node(msg.client.id, uid) {
            let c = self.palette[(msg.client.id as usize) % self.palette.len()];
            host.set_color(node, c);
        }
        Ok(Flow::Continue)
    }
}

declare_plugin!(Recolor);
