//! Cost of the dispatch chain per message.
//!
//! `cargo bench -p periscope-dispatch --bench chain [-- --json]`
//!
//! Runs the real chain (real rhai) in process against a real scene, for a
//! small message, a user message carrying a 10 MB float32 array, and a 10 MB
//! frame of points replacing a node's frame (the builtin stage checks every
//! number), with: no stages (the baseline), `builtin` only, one no-op native
//! plugin, one no-op script, and both. Prints messages per second,
//! microseconds per message, and the overhead of each configuration over the
//! empty chain measured in the same run; and, as a reference from the same
//! run, writing 10 MB into freshly allocated memory.

use std::time::{Duration, Instant};

use periscope_dispatch::{Chain, ClientCtx, DispatchConfig, Incoming, Outbox, PluginsConfig, ScriptsConfig};
use periscope_protocol::{Envelope, NdArray, Reply, Value, encode_value};
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
    let plugins = if entries.contains(&"probe") {
        PluginsConfig { paths: vec![probe_lib().display().to_string()], ..PluginsConfig::default() }
    } else {
        PluginsConfig::default()
    };
    Chain::from_config(&dispatch, &scripts, &plugins, dir, scene).expect("chain")
}

/// The test plugin (mode "noop"), built in release like this benchmark.
fn probe_lib() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ok = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "-q", "--release", "-p", "periscope-test-probe"])
        .status()
        .expect("cargo build")
        .success();
    assert!(ok, "building the probe plugin failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), std::path::PathBuf::from);
    target.join("release").join(format!(
        "{}periscope_test_probe{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
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

    // Decoded from wire frames, as the server does, so the frame is kept for plugins.
    let from_wire =
        |e: Envelope| Envelope::decode_frame(encode_value(&e.to_value()).into(), Default::default()).unwrap();
    let small = from_wire(Envelope::new(200).with_arg(Value::Int(0)));
    let big = from_wire(
        Envelope::new(10_000).with_kwarg("data", NdArray::from_f32(vec![2_621_440], vec![0.5f32; 2_621_440])),
    );
    // A frame of 873,813 points (10 MB of float32) replacing frame 0 of a
    // spheres node: the builtin stage checks every number (finite) before
    // keeping the array (by `Arc`, not copied).
    let n = 873_813;
    let points = NdArray::from_f32(vec![n, 3], vec![0.5f32; n * 3]);
    let create = from_wire(Envelope::new(3).with_uid(1).with_arg(points.clone()));
    let update = from_wire(Envelope::new(102).with_uid(1).with_kwarg("frames", 0i64).with_arg(points));
    let workloads = [
        ("small (set_frame)", &small, None),
        ("10 MB array (user message)", &big, None),
        ("10 MB frame (update_frames)", &update, Some(&create)),
    ];
    let configs: [(&str, &[&str]); 5] = [
        ("empty chain (baseline)", &[]),
        ("builtin", &["builtin"]),
        ("one no-op plugin", &["probe"]),
        ("one no-op script", &["scripts/noop.rhai"]),
        ("builtin + no-op script", &["builtin", "scripts/noop.rhai"]),
    ];
    let budget = Duration::from_millis(700);
    let mut rows = Vec::new();
    for (wname, env, setup) in workloads {
        let mut baseline = 0.0;
        for (cname, entries) in configs {
            let mut scene = Scene::default();
            let mut c = chain(entries, &dir, &mut scene);
            if let Some(setup) = setup {
                let client = ClientCtx { id: 1, name: "bench", addr: "127.0.0.1:1" };
                c.run(&Incoming { envelope: setup, client }, &mut scene, &NullOut);
            }
            let t = measure(&mut c, &mut scene, env, budget);
            if entries.is_empty() {
                baseline = t;
            }
            rows.push((wname, cname, t, t - baseline));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Reference, same run: writing the same 10 MB into freshly allocated memory.
    let src = vec![0.5f32; n * 3];
    let start = Instant::now();
    let mut copies = 0u32;
    while start.elapsed() < budget {
        let mut fresh = Vec::<f32>::with_capacity(src.len());
        fresh.extend_from_slice(&src);
        std::hint::black_box(&fresh);
        copies += 1;
    }
    let copy = start.elapsed().as_secs_f64() / f64::from(copies);
    rows.push(("10 MB into fresh memory", "(reference, no chain)", copy, copy));

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
