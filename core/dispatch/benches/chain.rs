//! Cost of the dispatch chain per message.
//!
//! `cargo bench -p periscope-dispatch --bench chain [-- --json]`
//!
//! Runs the real chain (real rhai) in process against a real scene, for a
//! small message and for a message carrying a 10 MB float32 array, with: no
//! stages (the baseline), `builtin` only, one no-op script, and both. Prints
//! messages per second, microseconds per message, and the overhead of each
//! configuration over the empty chain measured in the same run.

use std::time::{Duration, Instant};

use periscope_dispatch::{Chain, ClientCtx, DispatchConfig, Incoming, Outbox, ScriptsConfig};
use periscope_protocol::{Envelope, NdArray, Reply, Value};
use periscope_scene::Scene;

struct NullOut;
impl Outbox for NullOut {
    fn send(&self, _: u64, _: Reply) -> bool {
        true
    }
    fn broadcast(&self, _: &Reply) -> usize {
        0
    }
}

fn chain(entries: &[&str], dir: &std::path::Path, scene: &mut Scene) -> Chain {
    let dispatch = DispatchConfig { chain: entries.iter().map(|s| s.to_string()).collect() };
    let scripts = ScriptsConfig { watch: false, ..ScriptsConfig::default() };
    Chain::from_config(&dispatch, &scripts, dir, scene).expect("chain")
}

/// Runs `env` through the chain for about `budget`; returns seconds per message.
fn measure(chain: &mut Chain, scene: &mut Scene, env: &Envelope, budget: Duration) -> f64 {
    let client = ClientCtx { id: 1, name: "bench", addr: "127.0.0.1:1" };
    let msg = Incoming { envelope: env, client };
    // Warm up, then time batches until the budget is spent.
    for _ in 0..200 {
        chain.run(&msg, scene, &NullOut);
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            chain.run(&msg, scene, &NullOut);
        }
        n += 100;
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let dir = std::env::temp_dir().join(format!("periscope-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/noop.rhai"), "fn process_message(type, uid, args, kwargs, client) { }\n").unwrap();

    let small = Envelope::new(200).with_arg(Value::Int(0));
    let big = Envelope::new(10_000).with_kwarg("data", NdArray::from_f32(vec![2_621_440], vec![0.5f32; 2_621_440]));
    let workloads = [("small (set_frame)", &small), ("10 MB array (user message)", &big)];
    let configs: [(&str, &[&str]); 4] = [
        ("empty chain (baseline)", &[]),
        ("builtin", &["builtin"]),
        ("one no-op script", &["scripts/noop.rhai"]),
        ("builtin + no-op script", &["builtin", "scripts/noop.rhai"]),
    ];
    let budget = Duration::from_millis(700);
    let mut rows = Vec::new();
    for (wname, env) in workloads {
        let mut baseline = 0.0;
        for (cname, entries) in configs {
            let mut scene = Scene::default();
            let mut c = chain(entries, &dir, &mut scene);
            let t = measure(&mut c, &mut scene, env, budget);
            if entries.is_empty() {
                baseline = t;
            }
            rows.push((wname, cname, t, t - baseline));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(w, c, t, o)| {
                format!(
                    "{{\"workload\":\"{w}\",\"chain\":\"{c}\",\"msgs_per_s\":{:.0},\"us_per_msg\":{:.3},\"overhead_us\":{:.3}}}",
                    1.0 / t,
                    t * 1e6,
                    o * 1e6
                )
            })
            .collect();
        println!("[{}]", items.join(","));
        return;
    }
    println!("{:<28} {:<26} {:>14} {:>12} {:>22}", "workload", "chain", "msgs/s", "us/msg", "overhead vs empty (us)");
    for (w, c, t, o) in rows {
        println!("{w:<28} {c:<26} {:>14.0} {:>12.3} {:>22.3}", 1.0 / t, t * 1e6, o * 1e6);
    }
}
