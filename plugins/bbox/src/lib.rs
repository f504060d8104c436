//! `bbox`: draws each mesh's bounding box as a lines node (12 edges per
//! frame), kept in step with the mesh as frames arrive. See README.md.

use std::collections::HashMap;

use periscope_plugin_api::{Flow, Host, Message, MessageWriter, Plugin, declare_plugin, types};

/// The 12 edges of a box, as pairs of corner indices (corner bit 0: x max, bit 1: y max, bit 2: z max).
const EDGES: [(usize, usize); 12] =
    [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)];
/// Points per frame: two per edge (`mode = "lines"`).
const POINTS: usize = EDGES.len() * 2;

pub struct BBox {
    color: [f32; 3],
    /// The "Show boxes" checkbox in the Controls panel, and its value.
    toggle: Option<u64>,
    show: bool,
    /// Meshes with a box: (client, uid) -> (mesh node id, frames boxed so far).
    boxes: HashMap<(u64, i64), (u64, u64)>,
}

/// The box edges of one frame of vertices `(V, 3)`, appended to `out`.
fn push_box(vertices: &[f32], out: &mut Vec<f32>) {
    let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
    for v in vertices.chunks_exact(3) {
        for k in 0..3 {
            lo[k] = lo[k].min(v[k]);
            hi[k] = hi[k].max(v[k]);
        }
    }
    if vertices.is_empty() {
        (lo, hi) = ([0.0; 3], [0.0; 3]);
    }
    let corner = |c: usize| [0, 1, 2].map(|k| if c >> k & 1 == 1 { hi[k] } else { lo[k] });
    for (a, b) in EDGES {
        out.extend_from_slice(&corner(a));
        out.extend_from_slice(&corner(b));
    }
}

impl BBox {
    /// Boxes of frames `from..to` of `mesh`, as a `(F, 24, 3)` array.
    fn boxes(host: &Host<'_>, mesh: u64, from: u64, to: u64) -> Result<Vec<f32>, String> {
        let mut data = Vec::with_capacity((to - from) as usize * POINTS * 3);
        for f in from..to {
            let v = host.frame_data(mesh, "vertices", Some(f)).ok_or("the mesh has no vertices")?;
            push_box(v.as_f32().ok_or("vertices are not float32")?, &mut data);
        }
        Ok(data)
    }

    /// Creates (or replaces) the box node of `mesh` with every frame.
    fn rebuild(&self, host: &mut Host<'_>, mesh: u64, name: &str, frames: u64) -> Result<(), String> {
        let data = Self::boxes(host, mesh, 0, frames)?;
        let msg = MessageWriter::new(types::LINES)
            .uid(mesh as i64)
            .arg_f32(&[frames as usize, POINTS, 3], &data)
            .kwarg_str("mode", "lines")
            .kwarg_str("name", &format!("{name} bbox"))
            .kwarg_floats("color", &self.color)
            .kwarg_bool("enabled", self.show)
            .finish();
        host.apply(&msg).map(drop)
    }

    /// Appends the boxes of frames `from..to`.
    fn extend(&self, host: &mut Host<'_>, mesh: u64, from: u64, to: u64) -> Result<(), String> {
        let data = Self::boxes(host, mesh, from, to)?;
        let msg = MessageWriter::new(types::ADD_FRAMES)
            .uid(mesh as i64)
            .arg_f32(&[(to - from) as usize, POINTS, 3], &data)
            .finish();
        host.apply(&msg).map(drop)
    }
}

impl Plugin for BBox {
    const NAME: &'static str = "bbox";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(host: &mut Host<'_>, config: &[u8]) -> Result<Self, String> {
        let config = rmpv::decode::read_value(&mut &config[..]).map_err(|e| format!("bad settings: {e}"))?;
        let color = match config.as_map().and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("color"))) {
            None => [1.0, 0.8, 0.1],
            Some((_, v)) => {
                let c: Vec<f32> = v
                    .as_array()
                    .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
                    .ok_or("bbox: color must be [r, g, b]")?;
                c.try_into().map_err(|_| "bbox: color must be [r, g, b]")?
            }
        };
        // A checkbox in the viewer's Controls panel shows or hides every box.
        let checkbox = MessageWriter::new(types::ADD_CONTROL)
            .uid(TOGGLE_UID)
            .kwarg_str("kind", "checkbox")
            .kwarg_str("label", "Show boxes")
            .kwarg_bool("value", true)
            .finish();
        let toggle = host.apply(&checkbox)?;
        Ok(Self { color, toggle, show: true, boxes: HashMap::new() })
    }

    fn process_message(&mut self, host: &mut Host<'_>, msg: &Message<'_>) -> Result<Flow, String> {
        if msg.kind == types::SET_CONTROL {
            if let Some(show) = self.toggled(host, msg) {
                self.show = show;
                let mine = host.client_id();
                for &(mesh, _) in self.boxes.values() {
                    if let Some(b) = host.find_node(mine, mesh as i64) {
                        host.set_enabled(b, show);
                    }
                }
            }
            return Ok(Flow::Continue);
        }
        let Some(uid) = msg.uid else { return Ok(Flow::Continue) };
        let key = (msg.client.id, uid);
        match msg.kind {
            types::DELETE => {
                if let Some((mesh, _)) = self.boxes.remove(&key) {
                    host.apply(&MessageWriter::new(types::DELETE).uid(mesh as i64).finish())?;
                }
            }
            types::MESHES | types::ADD_FRAMES | types::UPDATE_FRAMES | types::REMOVE_FRAMES => {
                let Some(mesh) = host.find_node(msg.client.id, uid) else { return Ok(Flow::Continue) };
                let Some(info) = host.node_info(mesh).filter(|n| n.kind == types::MESHES) else {
                    return Ok(Flow::Continue);
                };
                match self.boxes.get(&key) {
                    // Same mesh, more frames: box only the new ones.
                    Some(&(m, boxed)) if m == mesh && msg.kind == types::ADD_FRAMES && boxed < info.n_frames => {
                        self.extend(host, mesh, boxed, info.n_frames)?;
                    }
                    _ => self.rebuild(host, mesh, &info.name, info.n_frames)?,
                }
                self.boxes.insert(key, (mesh, info.n_frames));
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}

impl BBox {
    /// The new value when `msg` (a `set_control`) changed the "Show boxes"
    /// checkbox: addressed by `control_id`, or by our uid and client id (as
    /// the viewer's panel sends it).
    fn toggled(&self, host: &Host<'_>, msg: &Message<'_>) -> Option<bool> {
        let kwargs = rmpv::decode::read_value(&mut &msg.kwargs[..]).ok()?;
        let get = |key: &str| kwargs.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v.clone());
        let by_id = get("control_id").and_then(|v| v.as_u64()).is_some_and(|id| Some(id) == self.toggle);
        let by_uid = msg.uid == Some(TOGGLE_UID) && get("client_id").and_then(|v| v.as_u64()) == Some(host.client_id());
        if by_id || by_uid { get("value")?.as_bool() } else { None }
    }
}

/// Our uid for the "Show boxes" control.
const TOGGLE_UID: i64 = 1;

declare_plugin!(BBox);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_has_twelve_edges_on_the_extremes() {
        let mut out = Vec::new();
        push_box(&[0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 0.5, -1.0, 0.5], &mut out);
        assert_eq!(out.len(), POINTS * 3);
        let xs: Vec<f32> = out.chunks(3).map(|p| p[0]).collect();
        let ys: Vec<f32> = out.chunks(3).map(|p| p[1]).collect();
        assert!(xs.iter().all(|&x| x == 0.0 || x == 1.0));
        assert!(ys.iter().all(|&y| y == -1.0 || y == 2.0));
        // Every edge changes exactly one coordinate.
        for e in out.chunks(6) {
            let changed = (0..3).filter(|&k| e[k] != e[k + 3]).count();
            assert_eq!(changed, 1, "{e:?}");
        }
    }
}
