//! `periscope-bench`: measures, in one run on loopback, against the real
//! release viewer (docs/benchmarks.md):
//!
//! 1. raw TCP loopback throughput (the baseline),
//! 2. mesh ingest from the Rust client (6,890 vertices x 2,000 frames, chunked and frame by frame),
//! 3. the same from the Python client (a subprocess, if `.venv` exists);
//!    2b/3b: a 1,000-frame sequence sent 1, 10, 100 and 1,000 frames per message
//!    (ratio to row 1b, writing the payload into fresh memory),
//! 4. small messages per second from 1 and 16 clients, with the chain as `builtin`
//!    only, plus a no-op script, plus a no-op plugin (per-stage overhead),
//! 5. images per second (512x512, 1920x1080; raw and JPEG) and the camera round trip,
//! 6. the viewer's peak resident memory over the ingested payload,
//! 7. 10,000 idle TCP connections (never a byte sent): the viewer's threads and
//!    resident memory during and after, and how long a real client then takes
//!    to be welcomed.
//! 8. point clouds (`--points-only`), 9. queries with thousands of nodes (`--nodes-only`),
//! 10. the view stream, rows 10-13 (`--views`, module `views`): ingest with 0,
//!     1 and 4 views and with a view that does not read, a ~1 GB scene's
//!     snapshot, the hub's memory per view, and change-to-view latency.
//!
//!     cargo build --release --workspace && cargo run --release -p periscope-bench -- [--json] [--quick] [--ingest-only] [--idle-only] [--points-only] [--nodes-only] [--views]
//!
//! `PERISCOPE_BENCH_VIEWER=/path/to/periscope` measures another viewer build
//! (e.g. the previous commit's) with this program.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use periscope_client::{Viewer, kw};
use periscope_protocol::{MessageType, NdArray, Reply, Value};

mod views;

const VERTICES: usize = 6890;

struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    /// Ratio to the baseline, where one applies.
    ratio: Option<f64>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn release_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| repo().join("target/release"))
}

/// A release viewer in its own directory.
struct ViewerProc {
    child: Child,
    addr: SocketAddr,
    _dir: PathBuf,
}

impl ViewerProc {
    fn start(config: &str, scripts: &[(&str, &str)]) -> anyhow::Result<Self> {
        let exe =
            std::env::var_os("PERISCOPE_BENCH_VIEWER").map_or_else(|| release_dir().join("periscope"), PathBuf::from);
        if !exe.exists() {
            bail!("{} not found: run `cargo build --release --workspace` first", exe.display());
        }
        let dir = std::env::temp_dir().join(format!("periscope-bench-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(dir.join("scripts"))?;
        std::fs::write(dir.join("config.toml"), config)?;
        for (name, text) in scripts {
            std::fs::write(dir.join("scripts").join(name), text)?;
        }
        let mut child = Command::new(exe)
            .args(["--headless", "--port", "0", "--log-level", "error", "--config"])
            .arg(dir.join("config.toml"))
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("periscope listening on ws://").context("viewer did not start")?.parse()?;
        Ok(Self { child, addr, _dir: dir })
    }

    /// Peak resident memory (VmHWM) in bytes.
    fn peak_rss(&self) -> Option<u64> {
        self.status("VmHWM:").map(|kb| kb * 1024)
    }

    /// Resident memory now (VmRSS) in bytes.
    fn rss(&self) -> Option<u64> {
        self.status("VmRSS:").map(|kb| kb * 1024)
    }

    /// The viewer's thread count now.
    fn threads(&self) -> Option<u64> {
        self.status("Threads:")
    }

    /// A numeric field of `/proc/PID/status`.
    fn status(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for ViewerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64)
}

/// 1. Raw TCP loopback: one writer, one reader, 4 MiB writes.
fn loopback_mb_s(seconds: f64) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 4 << 20];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let mut w = TcpStream::connect(addr)?;
    let chunk = vec![0u8; 4 << 20];
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < seconds {
        w.write_all(&chunk)?;
    }
    drop(w);
    let total = reader.join().map_err(|_| anyhow::anyhow!("reader panicked"))??;
    Ok(total as f64 / t0.elapsed().as_secs_f64() / 1e6)
}

/// 1b. What storing the payload costs at the least: writing that many bytes
/// into newly allocated memory (each page is faulted in on first touch), the
/// median of three. Any viewer that keeps the data pays this once.
fn fresh_memory_mb_s(floats: usize) -> f64 {
    let mut rates: Vec<f64> = (0..3)
        .map(|i| {
            let t0 = Instant::now();
            let mut v: Vec<f32> = Vec::with_capacity(floats);
            v.extend((0..floats).map(|k| (k + i) as f32));
            let rate = (floats * 4) as f64 / t0.elapsed().as_secs_f64() / 1e6;
            std::hint::black_box(&v);
            rate
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

fn mesh_frames(frames: usize) -> Vec<f32> {
    (0..frames * VERTICES * 3).map(|i| (i % 1000) as f32 * 1e-3).collect()
}

/// Item 2, mesh ingest from Rust; returns MB/s. The data is already cut into
/// one array per message before the clock starts, as a model hands out a
/// buffer per step (and as the Python benchmark sends views of one array).
fn ingest(addr: SocketAddr, frames: usize, chunk: usize) -> anyhow::Result<f64> {
    ingest_with(addr, frames, chunk, true, false)
}

/// Rows 2b/3b are the median of this many runs (this machine's throughput
/// varies by tens of percent from run to run).
const REPEATS: usize = 3;

/// [`ingest`], sending arrays in parts (`in_parts`) or whole: the median of
/// [`REPEATS`] runs. `keep`: the meshes stay (every run stores into memory
/// the viewer never had, as a long-running viewer receiving new data does);
/// else each is deleted after its run and the next one reuses that memory.
fn ingest_with(addr: SocketAddr, frames: usize, chunk: usize, in_parts: bool, keep: bool) -> anyhow::Result<f64> {
    let mut rates =
        (0..REPEATS).map(|_| ingest_once(addr, frames, chunk, in_parts, keep)).collect::<anyhow::Result<Vec<f64>>>()?;
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

fn ingest_once(addr: SocketAddr, frames: usize, chunk: usize, in_parts: bool, keep: bool) -> anyhow::Result<f64> {
    let data = mesh_frames(frames);
    let per = VERTICES * 3;
    let parts: Vec<NdArray> =
        data.chunks(chunk * per).map(|c| NdArray::from_f32(vec![c.len() / per, VERTICES, 3], c.to_vec())).collect();
    drop(data);
    let mut v = Viewer::connect(addr, "bench-ingest")?;
    v.set_array_parts(in_parts);
    let faces = NdArray::from_i64(vec![1, 3], vec![0, 1, 2]);
    let t0 = Instant::now();
    let mut parts = parts.into_iter();
    let uid = v.meshes(parts.next().context("no frames")?, faces, vec![])?;
    for part in parts {
        v.add_frames(uid, vec![part.into()], vec![])?;
    }
    let state = v.query()?;
    let elapsed = t0.elapsed().as_secs_f64();
    let node = state.nodes.iter().find(|n| n.uid == Some(uid)).context("node")?;
    if node.n_frames != frames {
        bail!("the viewer has {} frames, expected {frames}", node.n_frames);
    }
    if !keep {
        v.delete(uid)?;
        v.query()?;
    }
    Ok((frames * per * 4) as f64 / elapsed / 1e6)
}

/// Row 9: median query round trip (ms) with `n` one-sphere nodes, and with one
/// node holding the same `n` spheres, on a fresh viewer each.
fn query_with_many_nodes(n: usize) -> anyhow::Result<(f64, f64)> {
    let median = |v: &mut Viewer| -> anyhow::Result<f64> {
        let mut t: Vec<f64> = (0..21)
            .map(|_| {
                let t0 = Instant::now();
                v.query().map(|_| t0.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_, _>>()?;
        t.sort_by(f64::total_cmp);
        Ok(t[t.len() / 2])
    };
    let p = ViewerProc::start("", &[])?;
    let mut v = Viewer::connect(p.addr, "bench-nodes")?;
    for i in 0..n {
        v.spheres(NdArray::from_f32(vec![1, 3], vec![i as f32, 0.0, 0.0]), vec![])?;
    }
    let many = median(&mut v)?;
    drop((v, p));
    let p = ViewerProc::start("", &[])?;
    let mut v = Viewer::connect(p.addr, "bench-nodes")?;
    v.spheres(NdArray::from_f32(vec![n, 3], (0..n * 3).map(|i| i as f32).collect::<Vec<_>>()), vec![])?;
    let one = median(&mut v)?;
    Ok((many, one))
}

/// Rows 8: point clouds (issue 16): the viewer's memory per point once the
/// cloud is stored (scene: positions and colors), the time to send and store
/// it, and the first render (upload and draw). After that render the process
/// also holds the GPU buffers (16 bytes per point, see the render bench) and,
/// on lavapipe, the software rasterizer's working memory: reported too.
fn point_cloud_rows(row: &mut impl FnMut(&str, f64, &'static str, Option<f64>)) -> anyhow::Result<()> {
    for n in [1_000_000, 10_000_000] {
        let c = point_cloud_memory(n)?;
        let m = n / 1_000_000;
        row(&format!("8. point cloud {m}M points + colors: stored, resident / pt"), c.stored, "bytes", None);
        row(&format!("8. point cloud {m}M points: send and store"), c.load_s, "s", None);
        row(&format!("8. point cloud {m}M points: first render (upload + draw)"), c.render_s, "s", None);
        row(&format!("8. point cloud {m}M points: resident / pt after render"), c.rendered, "bytes", None);
    }
    Ok(())
}

struct CloudFigures {
    stored: f64,
    rendered: f64,
    load_s: f64,
    render_s: f64,
}

/// A fresh headless viewer renders an empty scene (the renderer's own memory
/// is then in the baseline), gets `n` points with RGBA8 colors, then renders.
fn point_cloud_memory(n: usize) -> anyhow::Result<CloudFigures> {
    let p = ViewerProc::start("", &[])?;
    let mut v = Viewer::connect(p.addr, "bench-points")?;
    v.screenshot(640, 480)?;
    let before = p.rss().context("no /proc")?;
    // A Fibonacci sphere (points spread evenly over it), colored by position.
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    let points: Vec<f32> = (0..n)
        .flat_map(|i| {
            let y = 1.0 - 2.0 * (i as f32 + 0.5) / n as f32;
            let r = (1.0 - y * y).sqrt();
            let a = golden * i as f32;
            [r * a.cos(), y, r * a.sin()]
        })
        .collect();
    let colors: Vec<u8> =
        points.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 1.0].map(|c| ((c + 1.0) * 127.5) as u8)).collect();
    let t0 = Instant::now();
    let uid = v.point_clouds(
        NdArray::from_f32(vec![n, 3], points),
        vec![kw("colors", NdArray::from_u8(vec![n, 4], colors)), kw("point_size", 2.0f64)],
    )?;
    v.query()?;
    let load_s = t0.elapsed().as_secs_f64();
    let stored = p.rss().context("no /proc")?;
    let t1 = Instant::now();
    v.screenshot(640, 480)?;
    let render_s = t1.elapsed().as_secs_f64();
    let rendered = p.rss().context("no /proc")?;
    v.delete(uid)?;
    let per = |rss: u64| rss.saturating_sub(before) as f64 / n as f64;
    Ok(CloudFigures { stored: per(stored), rendered: per(rendered), load_s, render_s })
}

/// Rows 3 and 3b: the same from the Python client, `per` frames per message:
/// the first message creates the mesh with `per` frames (`per == frames`: the
/// whole sequence in one `RemoteMeshes(v, all_frames, faces)`, the most common
/// call), the rest go with `add_frames`.
fn python_ingest(addr: SocketAddr, frames: usize, per: usize) -> anyhow::Result<Option<f64>> {
    python_ingest_with(addr, frames, per, true, false)
}

/// [`python_ingest`], sending big arrays in parts (`parts`) or whole (as fragments).
fn python_ingest_with(
    addr: SocketAddr,
    frames: usize,
    per: usize,
    parts: bool,
    keep: bool,
) -> anyhow::Result<Option<f64>> {
    let py = repo().join(".venv/bin/python");
    if !py.exists() {
        return Ok(None);
    }
    let script = format!(
        "import time, statistics, numpy as np\nfrom periscope import RemoteViewer, RemoteMeshes, codec\n\
         codec.PART_BYTES = {part_bytes}\n\
         v = np.random.default_rng(0).random(({frames}, {VERTICES}, 3), dtype=np.float32)\n\
         rates = []\n\
         with RemoteViewer('127.0.0.1', {port}, client_name='bench-python') as r:\n\
         \x20   for _ in range({REPEATS}):\n\
         \x20       t0 = time.perf_counter(); m = RemoteMeshes(r, v[:{per}], np.array([[0, 1, 2]]))\n\
         \x20       for i in range({per}, {frames}, {per}):\n\x20           m.add_frames(v[i:i + {per}] if {per} > 1 else v[i])\n\
         \x20       r.sync(); rates.append(v.nbytes / (time.perf_counter() - t0) / 1e6)\n\
         \x20       if not {keep}: m.delete(); r.sync()\n\
         print(statistics.median(rates))\n",
        port = addr.port(),
        part_bytes = if parts { "128 << 10" } else { "1 << 62" },
        keep = if keep { "True" } else { "False" },
    );
    let out = Command::new(py).args(["-c", &script]).output()?;
    if !out.status.success() {
        bail!("python ingest failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().ok())
}

/// 4. Small messages per second from `clients` clients, `n` each (small add_frames).
fn small_messages(addr: SocketAddr, clients: usize, n: usize) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut v = Viewer::connect(addr, &format!("small{i}"))?;
                let uid = v.spheres(NdArray::from_f32(vec![1, 3], vec![0.0; 3]), vec![])?;
                for f in 0..n {
                    v.add_frames(uid, vec![NdArray::from_f32(vec![1, 3], vec![f as f32; 3]).into()], vec![])?;
                }
                v.query()?;
                v.delete(uid)?;
                v.query()?;
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
    }
    Ok((clients * n) as f64 / t0.elapsed().as_secs_f64())
}

fn images_message(image: Value) -> Vec<(String, Value)> {
    vec![("images".into(), Value::Array(vec![image]))]
}

fn image_window(v: &mut Viewer) -> anyhow::Result<(u64, u64)> {
    let seq = v.send_message(MessageType::QueryImages.as_i64(), None, vec![], vec![])?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(Reply::ImagesState(state)) = v.recv(Duration::from_secs(1))?
            && state.ref_seq == Some(seq)
        {
            return Ok(state.windows.first().map_or((0, 0), |w| (w.decoded, w.received)));
        }
    }
    bail!("no images state")
}

/// 5. Images per second shown, sending as fast as possible for `seconds`.
fn images_fps(addr: SocketAddr, w: usize, h: usize, jpeg: bool, seconds: f64) -> anyhow::Result<(f64, f64)> {
    let mut v = Viewer::connect(addr, "bench-images")?;
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i / 3 % w) * 255 / w) as u8).collect();
    let payload = if jpeg {
        let mut out = Vec::new();
        image::RgbImage::from_raw(w as u32, h as u32, rgb.clone())
            .context("image")?
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg)?;
        Value::Bin(out)
    } else {
        Value::NdArray(NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![h, w, 3], &rgb)?)
    };
    let bytes = match &payload {
        Value::Bin(b) => b.len(),
        _ => rgb.len(),
    };
    let t0 = Instant::now();
    let mut sent = 0u64;
    while t0.elapsed().as_secs_f64() < seconds {
        v.send_message(MessageType::Images.as_i64(), None, vec![], images_message(payload.clone()))?;
        sent += 1;
    }
    v.query()?;
    std::thread::sleep(Duration::from_millis(200));
    let (decoded, _) = image_window(&mut v)?;
    let elapsed = t0.elapsed().as_secs_f64();
    let _ = sent;
    Ok((decoded as f64 / elapsed, bytes as f64 * sent as f64 / elapsed / 1e6))
}

/// 5b. Camera requested -> received -> image citing it sent -> decoded (ms): median, p99.
fn camera_round_trip(addr: SocketAddr, n: usize) -> anyhow::Result<(f64, f64)> {
    let mut v = Viewer::connect(addr, "bench-rtt")?;
    let img =
        Value::NdArray(NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![64, 64, 3], &[0u8; 64 * 64 * 3])?);
    let mut times = Vec::with_capacity(n);
    let mut decoded_before = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        v.send_message(MessageType::RequireCamera.as_i64(), None, vec![], vec![("enabled".into(), Value::Bool(true))])?;
        let cam_seq = loop {
            match v.recv(Duration::from_secs(5))? {
                Some(Reply::Camera(camera)) => break camera.seq as i64,
                Some(_) => {}
                None => bail!("no camera"),
            }
        };
        let mut msg = images_message(img.clone());
        msg.push(("camera_seq".into(), Value::Int(cam_seq)));
        v.send_message(MessageType::Images.as_i64(), None, vec![], msg)?;
        loop {
            let (decoded, _) = image_window(&mut v)?;
            if decoded > decoded_before {
                decoded_before = decoded;
                break;
            }
        }
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[(times.len() * 99 / 100).min(times.len() - 1)]))
}

/// A chain to measure: label, config.toml text, scripts to put in `scripts/`.
type ChainSetup<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

fn main() -> anyhow::Result<()> {
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    // Baseline, ingest and memory only (1-3, 6): for comparing a change quickly.
    let ingest_only = std::env::args().any(|a| a == "--ingest-only");
    // Only the idle-connections rows (7): for comparing server builds.
    let idle_only = std::env::args().any(|a| a == "--idle-only");
    // Only the point-cloud rows (8), or only the many-nodes rows (9).
    let points_only = std::env::args().any(|a| a == "--points-only");
    let nodes_only = std::env::args().any(|a| a == "--nodes-only");
    // Only the view-stream rows (10-13).
    let views_only = std::env::args().any(|a| a == "--views");
    let (frames, small_n, seconds) = if quick { (200, 2000, 1.0) } else { (2000, 20000, 2.0) };
    let mut rows: Vec<Row> = Vec::new();
    let mut row = |name: &str, value: f64, unit: &'static str, ratio: Option<f64>| {
        if !json {
            let r = ratio.map_or(String::new(), |r| format!("{r:>8.3}"));
            println!("{name:<52} {value:>12.2} {unit:<8} {r}");
        }
        rows.push(Row { name: name.into(), value, unit, ratio });
    };
    if !json {
        println!("{:<52} {:>12} {:<8} {:>8}", "measurement", "value", "unit", "x base");
    }

    if views_only {
        views::view_rows(&mut row, quick)?;
        return finish(json, &rows);
    }
    if points_only {
        point_cloud_rows(&mut row)?;
        return finish(json, &rows);
    }
    if nodes_only {
        let (many, one) = query_with_many_nodes(5_000)?;
        row("9. query round trip, one node of 5,000 spheres, median", one, "ms", None);
        row("9. query round trip, 5,000 one-sphere nodes, median", many, "ms", Some(many / one));
        return finish(json, &rows);
    }
    if idle_only {
        for (name, value, unit) in idle_connections(if quick { 2_000 } else { 10_000 })? {
            row(&name, value, unit, None);
        }
        return finish(json, &rows);
    }
    let base = loopback_mb_s(seconds)?;
    row("1. raw TCP loopback (baseline)", base, "MB/s", Some(1.0));
    let fresh = fresh_memory_mb_s(frames * VERTICES * 3);
    row("1b. writing the payload into fresh memory", fresh, "MB/s", Some(fresh / base));

    let payload = (frames * VERTICES * 3 * 4) as f64;
    let p = ViewerProc::start("", &[])?;
    let chunked = ingest(p.addr, frames, 100)?;
    row(&format!("2. mesh ingest, Rust, {frames} frames in chunks of 100"), chunked, "MB/s", Some(chunked / base));
    let single = ingest(p.addr, frames, 1)?;
    row(&format!("2. mesh ingest, Rust, {frames} frames one by one"), single, "MB/s", Some(single / base));
    match python_ingest(p.addr, frames, 1)? {
        Some(py) => row("3. mesh ingest, Python, frame by frame", py, "MB/s", Some(py / base)),
        None => row("3. mesh ingest, Python (no .venv: skipped)", 0.0, "MB/s", None),
    }
    // 2b/3b. Message size: a sequence of `seq` frames sent 1, 10, 100 or all
    // frames per message (issue 16: bigger messages must not be slower).
    let seq = frames / 2;
    let sizes: Vec<usize> = [1, 10, 100, seq].into_iter().filter(|&n| n <= seq).collect();
    // Arrays over 128 KiB go in parts (ARRAY_PART); "whole" sends them inside
    // their message, for the same-run comparison. Each row on a viewer of its
    // own whose meshes stay: every run stores into fresh memory, as a
    // long-running viewer receiving new data does (deleting between runs
    // would let the allocator hand the next run memory already faulted in,
    // which flatters every size but the one message over 32 MiB).
    let cases: Vec<(usize, bool)> =
        sizes.iter().map(|&n| (n, true)).chain(sizes.iter().filter(|&&n| n >= 100).map(|&n| (n, false))).collect();
    for &(per, parts) in &cases {
        let q = ViewerProc::start("", &[])?;
        let r = ingest_with(q.addr, seq, per, parts, true)?;
        let how = if parts { "" } else { ", whole" };
        row(&format!("2b. mesh ingest, Rust, {seq} frames, {per} per message{how}"), r, "MB/s", Some(r / fresh));
    }
    for &(per, parts) in &cases {
        let q = ViewerProc::start("", &[])?;
        if let Some(py) = python_ingest_with(q.addr, seq, per, parts, true)? {
            let how = if parts { "" } else { ", whole" };
            let name = format!("3b. mesh ingest, Python, {seq} frames, {per} per message{how}");
            row(&name, py, "MB/s", Some(py / fresh));
        }
    }
    if let Some(rss) = p.peak_rss() {
        // The viewer held each ingested sequence (then deleted it); peak over one sequence's payload.
        row("6. viewer peak resident memory / payload", rss as f64 / payload, "x", None);
    }
    drop(p);
    point_cloud_rows(&mut row)?;
    // 9. Thousands of nodes (issue 16): a query's round trip with 5,000 nodes
    // against one node holding the same spheres.
    let (many, one) = query_with_many_nodes(5_000)?;
    row("9. query round trip, one node of 5,000 spheres, median", one, "ms", None);
    row("9. query round trip, 5,000 one-sphere nodes, median", many, "ms", Some(many / one));
    if ingest_only {
        return finish(json, &rows);
    }

    let probe = release_dir().join(format!(
        "{}periscope_test_probe{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let noop_script = "fn process_message(type, uid, args, kwargs, client) { }";
    let configs: Vec<ChainSetup> = vec![
        ("builtin only", "[dispatch]\nchain = [\"builtin\"]\n".into(), vec![]),
        (
            "+ no-op script",
            "[dispatch]\nchain = [\"builtin\", \"scripts/*.rhai\"]\n".into(),
            vec![("noop.rhai", noop_script)],
        ),
        (
            "+ no-op plugin",
            format!(
                "[dispatch]\nchain = [\"builtin\", \"probe\"]\n[plugins]\npaths = [{:?}]\n",
                probe.display().to_string()
            ),
            vec![],
        ),
    ];
    let mut base_rate = [0.0f64; 2];
    for (label, config, scripts) in &configs {
        if label.contains("plugin") && !probe.exists() {
            row(&format!("4. {label} (build the workspace in release: skipped)"), 0.0, "msg/s", None);
            continue;
        }
        let p = ViewerProc::start(config, scripts)?;
        for (k, clients) in [1usize, 16].into_iter().enumerate() {
            let rate = small_messages(p.addr, clients, small_n / clients.max(1) * if clients > 1 { 4 } else { 1 })?;
            row(&format!("4. small messages, {clients} client(s), {label}"), rate, "msg/s", None);
            if base_rate[k] == 0.0 {
                base_rate[k] = rate;
            } else {
                let overhead = (1.0 / rate - 1.0 / base_rate[k]) * 1e6;
                row(&format!("4.   per-message cost of the stage, {clients} client(s)"), overhead, "us", None);
            }
        }
    }

    let p = ViewerProc::start("", &[])?;
    for (w, h) in [(512usize, 512usize), (1920, 1080)] {
        for jpeg in [false, true] {
            let (fps, mbs) = images_fps(p.addr, w, h, jpeg, seconds)?;
            let fmt = if jpeg { "JPEG" } else { "raw" };
            row(&format!("5. images {w}x{h} {fmt}: shown per second"), fps, "fps", None);
            row(&format!("5. images {w}x{h} {fmt}: accepted"), mbs, "MB/s", Some(mbs / base));
        }
    }
    let (median, p99) = camera_round_trip(p.addr, if quick { 20 } else { 100 })?;
    row("5. camera -> image round trip, median", median, "ms", None);
    row("5. camera -> image round trip, p99", p99, "ms", None);
    drop(p);

    for (name, value, unit) in idle_connections(if quick { 2_000 } else { 10_000 })? {
        row(&name, value, unit, None);
    }
    views::view_rows(&mut row, quick)?;
    finish(json, &rows)
}

/// Row 7: `n` TCP connections that never send a byte (as a hostile peer
/// would open them), against a viewer with the default config: its threads
/// and resident memory while they are open and after they close, and the time
/// a real client then needs to be welcomed.
fn idle_connections(n: usize) -> anyhow::Result<Vec<(String, f64, &'static str)>> {
    let p = ViewerProc::start("", &[])?;
    std::thread::sleep(Duration::from_millis(300));
    let (threads_before, rss_before) = (p.threads().unwrap_or(0), p.rss().unwrap_or(0));
    let mut idle = Vec::with_capacity(n);
    let mut peak_threads = threads_before;
    for i in 0..n {
        match TcpStream::connect_timeout(&p.addr, Duration::from_secs(2)) {
            Ok(s) => idle.push(s),
            Err(_) => break, // the backlog is full: what got in is what is measured
        }
        if i % 250 == 0 {
            peak_threads = peak_threads.max(p.threads().unwrap_or(0));
        }
    }
    let opened = idle.len();
    std::thread::sleep(Duration::from_millis(1000));
    peak_threads = peak_threads.max(p.threads().unwrap_or(0));
    let rss_during = p.rss().unwrap_or(0);
    let t = Instant::now();
    let welcomed = Viewer::connect(p.addr, "bench-real").is_ok();
    let welcome_ms = t.elapsed().as_secs_f64() * 1e3;
    drop(idle);
    std::thread::sleep(Duration::from_millis(1500));
    let (threads_after, rss_after) = (p.threads().unwrap_or(0), p.rss().unwrap_or(0));
    let mb = |b: u64| b as f64 / 1e6;
    Ok(vec![
        (format!("7. idle connections opened (of {n})"), opened as f64, "conn"),
        ("7.   viewer threads before".into(), threads_before as f64, "threads"),
        ("7.   viewer threads, peak while idle sockets are open".into(), peak_threads as f64, "threads"),
        ("7.   viewer threads after they close".into(), threads_after as f64, "threads"),
        ("7.   viewer resident memory before".into(), mb(rss_before), "MB"),
        ("7.   viewer resident memory while open".into(), mb(rss_during), "MB"),
        ("7.   viewer resident memory after they close".into(), mb(rss_after), "MB"),
        (
            format!("7.   a real client welcomed during the flood ({})", if welcomed { "yes" } else { "NO" }),
            welcome_ms,
            "ms",
        ),
    ])
}

/// Prints the JSON document (the table was printed row by row).
fn finish(json: bool, rows: &[Row]) -> anyhow::Result<()> {
    if json {
        let base = rows.first().map_or(0.0, |r| r.value);
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"name\": {:?}, \"value\": {}, \"unit\": {:?}, \"ratio\": {}}}",
                    r.name,
                    r.value,
                    r.unit,
                    r.ratio.map_or("null".into(), |x| x.to_string())
                )
            })
            .collect();
        println!("{{\"baseline_mb_s\": {base}, \"results\": [{}]}}", items.join(", "));
    }
    Ok(())
}
