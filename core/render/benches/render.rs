//! Render benchmark: frame times offscreen for large meshes, many spheres,
//! many nodes, point clouds and a composited remote image.
//!
//!     cargo bench -p periscope-render --bench render [-- --size 1280x720 --frames 20]
//!
//! Every figure is also given as a ratio to the empty-scene frame measured in
//! the same run, so runs on noisy or different machines compare. On lavapipe
//! (no GPU) the numbers only compare against themselves.

use std::time::{Duration, Instant};

use periscope_protocol::{Envelope, MessageType as T, NdArray, Value};
use periscope_render::{Camera, Offscreen, RenderOptions};
use periscope_scene::{Scene, SceneConfig};

struct Args {
    width: u32,
    height: u32,
    frames: usize,
    look_only: bool,
    points_only: bool,
}

fn args() -> Args {
    let mut a = Args { width: 1280, height: 720, frames: 20, look_only: false, points_only: false };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--size" => {
                let v = it.next().expect("--size WxH");
                let (w, h) = v.split_once('x').expect("--size WxH");
                (a.width, a.height) = (w.parse().expect("width"), h.parse().expect("height"));
            }
            "--frames" => a.frames = it.next().and_then(|v| v.parse().ok()).expect("--frames N"),
            // Only the rows about shadows and the ground (and their baselines).
            "--look-only" => a.look_only = true,
            // Only the point cloud rows (full and limited tier) and the baseline.
            "--points-only" => a.points_only = true,
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

/// A `n x n` vertex grid mesh (2 (n-1)^2 triangles), rippled; `frames` frames with moving ripples.
fn grid_mesh(n: usize, frames: usize) -> Envelope {
    let mut v = Vec::with_capacity(frames * n * n * 3);
    for f in 0..frames {
        for i in 0..n {
            for j in 0..n {
                let (x, z) = (i as f32 / n as f32 * 2.0 - 1.0, j as f32 / n as f32 * 2.0 - 1.0);
                v.extend([x, 0.05 * ((x * 20.0 + f as f32).sin() + (z * 17.0).cos()), z]);
            }
        }
    }
    let mut faces = Vec::with_capacity((n - 1) * (n - 1) * 6);
    for i in 0..n - 1 {
        for j in 0..n - 1 {
            let a = (i * n + j) as i64;
            let (b, c, d) = (a + 1, a + n as i64, a + n as i64 + 1);
            faces.extend([a, c, b, b, c, d]);
        }
    }
    Envelope::new(T::Meshes.as_i64())
        .with_uid(1)
        .with_arg(Value::NdArray(NdArray::from_f32(vec![frames, n * n, 3], v)))
        .with_arg(Value::NdArray(NdArray::from_i64(vec![faces.len() / 3, 3], faces)))
}

fn spheres(n: usize) -> Envelope {
    let side = (n as f32).cbrt().ceil() as usize;
    let pos: Vec<f32> = (0..n)
        .flat_map(|i| {
            let (x, y, z) = (i % side, (i / side) % side, i / (side * side));
            [x, y, z].map(|c| c as f32 / side as f32 * 2.0 - 1.0)
        })
        .collect();
    Envelope::new(T::Spheres.as_i64())
        .with_uid(2)
        .with_arg(Value::NdArray(NdArray::from_f32(vec![n, 3], pos)))
        .with_kwarg("radius", 0.004f64)
}

/// `n` points filling a ball, RGBA8 colors from their position, 2 px sprites.
fn points(n: usize) -> Envelope {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let pos: Vec<f32> = (0..n * 3).map(|_| next()).collect();
    let colors: Vec<u8> = pos
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2]].map(|c| ((c + 1.0) * 127.5) as u8).into_iter().chain([255]))
        .collect();
    Envelope::new(T::PointClouds.as_i64())
        .with_uid(4)
        .with_arg(Value::NdArray(NdArray::from_f32(vec![n, 3], pos)))
        .with_kwarg("colors", Value::NdArray(NdArray::from_u8(vec![n, 4], colors)))
        .with_kwarg("point_size", 2.0f64)
}

fn scene_with(env: Option<Envelope>) -> Scene {
    let mut s = Scene::new(SceneConfig::default());
    s.client_connected(1, "bench", "127.0.0.1:1");
    if let Some(e) = env {
        s.apply(1, &e).expect("bench data applies");
    }
    s
}

/// Median frame time of `frames` renders; `step` runs before each (e.g. to change frames).
fn measure(off: &mut Offscreen, scene: &mut Scene, a: &Args, step: impl Fn(&mut Scene, usize)) -> Duration {
    let cam = Camera { target: [0.0; 3], yaw: 0.6, pitch: 0.5, distance: 3.0, ..Camera::default() };
    // Warm up: first upload and pipeline compilation are not what we measure.
    off.draw(&*scene, &cam, a.width, a.height).expect("renders");
    off.wait().expect("gpu");
    let mut times: Vec<Duration> = (0..a.frames)
        .map(|i| {
            step(scene, i);
            let t0 = Instant::now();
            off.draw(&*scene, &cam, a.width, a.height).expect("renders");
            off.wait().expect("gpu");
            t0.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let a = args();
    let mut off = match Offscreen::new(RenderOptions::default()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("no renderer: {e}");
            std::process::exit(2);
        }
    };
    println!("render benchmark: {}x{}, median of {} frames, adapter {}", a.width, a.height, a.frames, off.gpu.adapter);
    let mut rows: Vec<(&str, Duration, u64)> = Vec::new();

    let mut empty = scene_with(None);
    rows.push(("empty scene (baseline: clear + grid)", measure(&mut off, &mut empty, &a, |_, _| {}), 0));

    if a.points_only {
        let gpu_per_point = point_rows(&mut off, &a, &mut rows);
        print_rows(&rows, gpu_per_point);
        return;
    }
    let mut mesh = scene_with(Some(grid_mesh(708, 2)));
    let t = measure(&mut off, &mut mesh, &a, |_, _| {});
    rows.push(("mesh 1.0M triangles, static", t, off.renderer.stats().triangles));
    let t = measure(&mut off, &mut mesh, &a, |s, i| {
        s.apply(1, &Envelope::new(T::SetFrame.as_i64()).with_arg(Value::Int((i % 2) as i64))).expect("set_frame");
    });
    rows.push(("mesh 1.0M triangles, new frame each render", t, off.renderer.stats().triangles));

    let mut smpl = scene_with(Some(grid_mesh(59, 100)));
    let t = measure(&mut off, &mut smpl, &a, |s, _| {
        s.apply(1, &Envelope::new(T::NextFrame.as_i64())).expect("next_frame");
    });
    rows.push(("SMPL-sized mesh (3.5k verts), playback", t, off.renderer.stats().triangles));

    // The look (issue 19): the same scenes without the shadow map and the
    // ground plane (the rows above have both, the default).
    let defaults = off.renderer.options().clone();
    off.renderer.set_options(RenderOptions { shadows: false, ground: false, ..defaults.clone() });
    let t = measure(&mut off, &mut smpl, &a, |s, _| {
        s.apply(1, &Envelope::new(T::NextFrame.as_i64())).expect("next_frame");
    });
    rows.push(("SMPL-sized mesh, playback, no shadows/ground", t, off.renderer.stats().triangles));
    let t = measure(&mut off, &mut mesh, &a, |_, _| {});
    rows.push(("mesh 1.0M triangles, static, no shadows/ground", t, off.renderer.stats().triangles));
    off.renderer.set_options(RenderOptions { shadows: false, ..defaults.clone() });
    let t = measure(&mut off, &mut smpl, &a, |s, _| {
        s.apply(1, &Envelope::new(T::NextFrame.as_i64())).expect("next_frame");
    });
    rows.push(("SMPL-sized mesh, playback, ground, no shadows", t, off.renderer.stats().triangles));
    off.renderer.set_options(RenderOptions { ssao: true, ..defaults.clone() });
    let t = measure(&mut off, &mut smpl, &a, |s, _| {
        s.apply(1, &Envelope::new(T::NextFrame.as_i64())).expect("next_frame");
    });
    rows.push(("SMPL-sized mesh, playback, + ambient occlusion", t, off.renderer.stats().triangles));
    off.renderer.set_options(defaults);

    if a.look_only {
        print_rows(&rows, 0.0);
        return;
    }
    let mut balls = scene_with(Some(spheres(100_000)));
    let t = measure(&mut off, &mut balls, &a, |_, _| {});
    rows.push(("100k instanced spheres", t, off.renderer.stats().triangles));

    // Many small nodes against one node with the same geometry (issue 16).
    let mut many = scene_with(None);
    for i in 0..5_000usize {
        let (x, z) = ((i % 71) as f32 / 35.0 - 1.0, (i / 71) as f32 / 35.0 - 1.0);
        let env = Envelope::new(T::Spheres.as_i64())
            .with_uid(10 + i as i64)
            .with_arg(Value::NdArray(NdArray::from_f32(vec![1, 3], vec![x, 0.0, z])))
            .with_kwarg("radius", 0.01f64);
        many.apply(1, &env).expect("a sphere node");
    }
    let t = measure(&mut off, &mut many, &a, |_, _| {});
    rows.push(("5,000 sphere nodes, one sphere each", t, off.renderer.stats().triangles));
    let pos: Vec<f32> =
        (0..5_000usize).flat_map(|i| [(i % 71) as f32 / 35.0 - 1.0, 0.0, (i / 71) as f32 / 35.0 - 1.0]).collect();
    let one = Envelope::new(T::Spheres.as_i64())
        .with_uid(3)
        .with_arg(Value::NdArray(NdArray::from_f32(vec![5_000, 3], pos)))
        .with_kwarg("radius", 0.01f64);
    let mut single = scene_with(Some(one));
    let t = measure(&mut off, &mut single, &a, |_, _| {});
    rows.push(("one node with the same 5,000 spheres", t, off.renderer.stats().triangles));

    let gpu_per_point = point_rows(&mut off, &a, &mut rows);

    // A remote render composited into the view: 512x512 with depth, from the
    // bench camera (the far grid and the depth grid), over the empty scene.
    let cam = Camera { target: [0.0; 3], yaw: 0.6, pitch: 0.5, distance: 3.0, ..Camera::default() };
    let rgba = [200u8, 120, 60, 255].repeat(512 * 512);
    let bg = periscope_render::Background::from_camera(&cam, 512, 512, rgba, Some(vec![2.5; 512 * 512]));
    off.renderer.set_backgrounds(&[std::sync::Arc::new(bg)]);
    let t = measure(&mut off, &mut empty, &a, |_, _| {});
    rows.push(("remote image 512x512 + depth in the view", t, off.renderer.stats().triangles));
    off.renderer.set_backgrounds(&[]);

    print_rows(&rows, gpu_per_point);
}

/// Point clouds (issue 16): one draw call of sprites, colors per point; then
/// the limited tier's instanced path (WebGL2 limits, issue 26) for 1M points
/// beside the full tier's storage path, as a ratio. Returns GPU bytes per point.
fn point_rows(off: &mut Offscreen, a: &Args, rows: &mut Vec<(&'static str, Duration, u64)>) -> f64 {
    let mut gpu_per_point = 0.0;
    let mut storage_1m = None;
    for (name, n) in
        [("1M points, 2 px, colors per point", 1_000_000), ("10M points, 2 px, colors per point", 10_000_000)]
    {
        let mut cloud = scene_with(Some(points(n)));
        let t = measure(off, &mut cloud, a, |_, _| {});
        rows.push((name, t, off.renderer.stats().triangles));
        gpu_per_point = off.renderer.gpu_bytes() as f64 / n as f64;
        storage_1m.get_or_insert(t);
    }
    let limited = periscope_render::Gpu::headless_with(periscope_render::wgpu::Limits::downlevel_webgl2_defaults())
        .map(|gpu| Offscreen::with_gpu(gpu, off.renderer.options().clone()));
    match limited {
        Ok(mut lim) if a.width <= 2048 && a.height <= 2048 => {
            let mut cloud = scene_with(Some(points(1_000_000)));
            let t = measure(&mut lim, &mut cloud, a, |_, _| {});
            rows.push(("1M points, limited tier (instanced, WebGL2)", t, lim.renderer.stats().triangles));
            if let Some(s) = storage_1m {
                println!(
                    "1M points: limited tier (instanced) / full tier (storage) = {:.2}",
                    t.as_secs_f64() / s.as_secs_f64()
                );
            }
        }
        Ok(_) => println!("limited tier row skipped: WebGL2 targets are at most 2048 on a side"),
        Err(e) => println!("limited tier row skipped: {e}"),
    }
    gpu_per_point
}

fn print_rows(rows: &[(&str, Duration, u64)], gpu_per_point: f64) {
    let base = rows[0].1.as_secs_f64();
    println!("{:<46} {:>10} {:>9} {:>12}", "case", "ms/frame", "x base", "triangles");
    for (name, t, tris) in rows {
        let ms = t.as_secs_f64() * 1e3;
        println!("{name:<46} {ms:>10.2} {:>9.1} {tris:>12}", t.as_secs_f64() / base);
    }
    if gpu_per_point > 0.0 {
        println!("point clouds: {gpu_per_point:.1} bytes of GPU buffers per point (positions + RGBA8 colors)");
    }
}
