//! Skinning benchmark: a 1,000-frame sequence on an SMPL-sized synthetic model
//! (6,890 vertices, 24 joints, 10 betas, 4 weights per vertex).
//!
//!     cargo bench -p periscope-smpl --bench lbs [-- --frames 1000]
//!
//! The baseline is the same work on one thread, measured in the same run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use periscope_smpl::npz::Array;
use periscope_smpl::{BodyModel, FramePose, ModelType};

const PARENTS: [i64; 24] = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21];

/// A small deterministic generator (no dependency for random numbers).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn model() -> BodyModel {
    let (v, j, b) = (6890usize, 24usize, 10usize);
    let mut r = Lcg(7);
    let mut m = BTreeMap::new();
    let mut arr = |name: &str, shape: Vec<usize>, data: Vec<f64>| {
        m.insert(name.to_owned(), Array { shape, data });
    };
    arr("v_template", vec![v, 3], (0..v * 3).map(|_| r.next() - 0.5).collect());
    arr("shapedirs", vec![v, 3, b], (0..v * 3 * b).map(|_| (r.next() - 0.5) * 0.02).collect());
    arr("posedirs", vec![v, 3, 9 * (j - 1)], (0..v * 3 * 9 * (j - 1)).map(|_| (r.next() - 0.5) * 0.01).collect());
    let mut jr = vec![0.0; j * v];
    for k in 0..j {
        for _ in 0..20 {
            jr[k * v + (r.next() * v as f64) as usize] += 0.05;
        }
    }
    arr("J_regressor", vec![j, v], jr);
    let mut w = vec![0.0; v * j];
    for x in 0..v {
        for _ in 0..4 {
            w[x * j + (r.next() * j as f64) as usize] += 0.25;
        }
    }
    arr("weights", vec![v, j], w);
    let mut kt: Vec<f64> = PARENTS.iter().map(|&p| p as f64).collect();
    kt.extend((0..j).map(|i| i as f64));
    arr("kintree_table", vec![2, j], kt);
    arr("f", vec![1, 3], vec![0.0, 1.0, 2.0]);
    BodyModel::from_arrays(&m, ModelType::Smpl).expect("valid synthetic model")
}

fn time(f: impl Fn()) -> Duration {
    f(); // warm up
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t0 = Instant::now();
        f();
        best = best.min(t0.elapsed());
    }
    best
}

fn main() {
    let mut frames = 1000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--frames" {
            frames = args.next().and_then(|v| v.parse().ok()).expect("--frames N");
        }
    }
    let m = model();
    let mut r = Lcg(11);
    let poses: Vec<Vec<f32>> = (0..frames).map(|_| (0..69).map(|_| (r.next() as f32 - 0.5) * 0.6).collect()).collect();
    let trans: Vec<[f32; 3]> = (0..frames).map(|i| [i as f32 * 0.01, 0.0, 0.0]).collect();
    let betas = [0.5f32; 10];
    let input: Vec<FramePose> = poses
        .iter()
        .zip(&trans)
        .map(|(p, t)| FramePose { body: p, trans: Some(t), betas: Some(&betas), ..Default::default() })
        .collect();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let single = time(|| {
        one.install(|| std::hint::black_box(m.skin(&input)));
    });
    let all = time(|| {
        std::hint::black_box(m.skin(&input));
    });
    let threads = rayon::current_num_threads();
    println!("SMPL skinning, {frames} frames x 6890 vertices (24 joints, 10 betas), best of 3");
    println!("{:<28} {:>10} {:>12} {:>8}", "", "total ms", "ms/frame", "x base");
    for (name, t) in [("1 thread (baseline)", single), (&*format!("{threads} threads"), all)] {
        let ms = t.as_secs_f64() * 1e3;
        println!("{name:<28} {ms:>10.1} {:>12.3} {:>8.2}", ms / frames as f64, t.as_secs_f64() / single.as_secs_f64());
    }
}
