//! Rows 10-13: the view stream (docs/benchmarks.md, "Views"). Views connect
//! with `role = "view"` and each reads on its own thread, decoding every
//! VIEW_SNAPSHOT / VIEW_CHANGES message it receives into typed changes
//! (`periscope_scene::changes::list_from_wire`), as `periscope --connect` does.
//!
//! 10. ingest with 0, 1 and 4 views attached and with 1 view that never reads
//!     (ratio to 0 views in the same run), a ~100 MB mesh sequence frame by
//!     frame and in one message; the hub's resident memory after each;
//! 11. the snapshot of a ~1 GB scene: time from a view's connect to its last
//!     snapshot part, and the bytes it received;
//! 12. the hub's resident memory per view (0 vs 4 views caught up);
//! 13. change-to-view latency (playhead and a small appended frame), one
//!     clock: producer and views are threads of this process.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use periscope_client::{ConnectOptions, Viewer, kw};
use periscope_protocol::{DecodeLimits, MessageType, NdArray, Value, decode_value};
use periscope_scene::Change;
use periscope_scene::changes::list_from_wire;
use tungstenite::Message;

use super::{REPEATS, VERTICES, ViewerProc, mesh_frames};

/// The hubs' config.toml: `PERISCOPE_BENCH_VIEW_CONFIG`, else the defaults
/// (e.g. `[server]\noutbox_bytes = 268435456` to see what a bigger outbox changes).
fn hub_config() -> String {
    std::env::var("PERISCOPE_BENCH_VIEW_CONFIG").unwrap_or_default()
}

/// What a view thread has received so far.
#[derive(Default)]
struct Seen {
    /// Message bytes received.
    bytes: AtomicU64,
    /// Frames of meshes the view has: node changes and `vertices` splices
    /// since the last snapshot began, which restarts the count.
    frames: AtomicU64,
    /// Snapshots received to their last part.
    snapshots: AtomicU64,
    /// When the last snapshot was complete, and the bytes received by then.
    snapshot_done: Mutex<Option<(Instant, u64)>>,
    /// Playhead changes: (frame, arrival).
    playheads: Mutex<Vec<(usize, Instant)>>,
    /// Frames appended to a mesh: (frame index, arrival).
    appended: Mutex<Vec<(usize, Instant)>>,
}

/// A view reading and decoding everything on its own thread.
struct ViewReader {
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

fn connect_view(addr: SocketAddr, name: &str) -> anyhow::Result<Viewer> {
    let opts = ConnectOptions { client_name: name.into(), view: true, ..Default::default() };
    Ok(Viewer::connect_with(addr, opts)?)
}

impl ViewReader {
    fn start(addr: SocketAddr, name: &str) -> anyhow::Result<Self> {
        Self::start_with(addr, name, false)
    }

    /// `subscribe`: the view first sends a `subscribe` message, which makes
    /// the hub's connection thread poll its outbox every few milliseconds
    /// instead of waiting up to 50 ms on a quiet socket (row 13, diagnostic).
    fn start_with(addr: SocketAddr, name: &str, subscribe: bool) -> anyhow::Result<Self> {
        let mut v = connect_view(addr, name)?;
        if subscribe {
            v.subscribe(false, false)?;
        }
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new().name(format!("bench-{name}")).spawn({
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            move || read_view(v, &seen, &stop)
        })?;
        Ok(Self { seen, stop, thread: Some(thread) })
    }

    /// Stops the thread (closing its connection) and returns its error, if any.
    fn finish(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => bail!("a view thread panicked"),
            None => Ok(()),
        }
    }

    fn frames(&self) -> u64 {
        self.seen.frames.load(Ordering::SeqCst)
    }

    fn snapshot_done(&self) -> Option<(Instant, u64)> {
        *self.seen.snapshot_done.lock().expect("lock")
    }

    fn dead(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for ViewReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_view(mut v: Viewer, seen: &Seen, stop: &AtomicBool) -> anyhow::Result<()> {
    let ws = v.raw_socket();
    ws.get_ref().tcp().set_read_timeout(Some(Duration::from_millis(20)))?;
    let snapshot = MessageType::ViewSnapshot.as_i64();
    let changes = MessageType::ViewChanges.as_i64();
    while !stop.load(Ordering::SeqCst) {
        let bytes = match ws.read() {
            Ok(Message::Binary(b)) => b,
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                bail!("the hub closed the view's connection")
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let total = seen.bytes.fetch_add(bytes.len() as u64, Ordering::SeqCst) + bytes.len() as u64;
        let value = decode_value(&bytes, DecodeLimits::default())?;
        let kind = value.get("type").and_then(Value::as_i64);
        if kind != Some(snapshot) && kind != Some(changes) {
            continue;
        }
        let list = list_from_wire(value.get("changes").context("a view message without changes")?)?;
        if kind == Some(snapshot) && value.get("part").and_then(Value::as_i64) == Some(0) {
            // A (fresh) snapshot carries the whole scene again: count its frames from zero.
            seen.frames.store(0, Ordering::SeqCst);
        }
        let now = Instant::now();
        for change in &list {
            match change {
                Change::Node(n) => {
                    seen.frames.fetch_add(n.n_frames() as u64, Ordering::SeqCst);
                }
                Change::Frames { attr: "vertices", at, insert, .. } => {
                    seen.frames.fetch_add(insert.len() as u64, Ordering::SeqCst);
                    let mut appended = seen.appended.lock().expect("lock");
                    appended.extend((0..insert.len()).map(|k| (at + k, now)));
                }
                Change::Playhead { frame, .. } => seen.playheads.lock().expect("lock").push((*frame, now)),
                _ => {}
            }
        }
        if kind == Some(snapshot) && value.get("last").and_then(Value::as_bool) == Some(true) {
            seen.snapshots.fetch_add(1, Ordering::SeqCst);
            *seen.snapshot_done.lock().expect("lock") = Some((now, total));
        }
    }
    Ok(())
}

/// Waits until `done` holds, checking every 2 ms, failing after `limit`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done()? {
        if Instant::now() > deadline {
            bail!("{what}: not done after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Starts `n` views and waits for their (first) snapshot.
fn start_views(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<ViewReader>> {
    start_views_with(addr, n, false)
}

fn start_views_with(addr: SocketAddr, n: usize, subscribe: bool) -> anyhow::Result<Vec<ViewReader>> {
    let views = (0..n)
        .map(|i| ViewReader::start_with(addr, &format!("view-{i}"), subscribe))
        .collect::<anyhow::Result<Vec<_>>>()?;
    wait_until("the views' first snapshot", Duration::from_secs(30), || {
        if views.iter().any(ViewReader::dead) {
            bail!("a view thread ended");
        }
        Ok(views.iter().all(|v| v.snapshot_done().is_some()))
    })?;
    Ok(views)
}

/// Who is attached while a producer ingests.
#[derive(Clone, Copy, PartialEq)]
enum Attached {
    Views(usize),
    /// One view that connects and never reads.
    Stalled,
}

impl Attached {
    fn label(self) -> String {
        match self {
            Attached::Views(1) => "1 view".into(),
            Attached::Views(n) => format!("{n} views"),
            Attached::Stalled => "1 view not reading".into(),
        }
    }
}

struct IngestFigures {
    /// The producer's rate (sent and applied by the hub), MB/s, median.
    producer: f64,
    /// Until every reading view had every frame, MB/s, median.
    views: Option<f64>,
    /// The hub's resident memory after the runs, and the payload it keeps.
    rss: u64,
    payload: u64,
    /// Snapshots the reading views received after their first (resyncs).
    resyncs: u64,
}

/// Row 10: [`REPEATS`] runs of a `frames`-frame mesh sequence sent `chunk`
/// frames per message into a fresh hub with `attached`; the meshes stay.
fn ingest_with_views(frames: usize, chunk: usize, attached: Attached) -> anyhow::Result<IngestFigures> {
    let p = ViewerProc::start(&hub_config(), &[])?;
    let views = match attached {
        Attached::Views(n) => start_views(p.addr, n)?,
        Attached::Stalled => Vec::new(),
    };
    let _stalled = if attached == Attached::Stalled { Some(connect_view(p.addr, "stalled")?) } else { None };
    let per = VERTICES * 3;
    let bytes = (frames * per * 4) as f64;
    let mut producer = Vec::new();
    let mut caught_up = Vec::new();
    let mut expected = 0u64;
    for _ in 0..REPEATS {
        let data = mesh_frames(frames);
        let parts: Vec<NdArray> =
            data.chunks(chunk * per).map(|c| NdArray::from_f32(vec![c.len() / per, VERTICES, 3], c.to_vec())).collect();
        drop(data);
        let mut v = Viewer::connect(p.addr, "bench-producer")?;
        let faces = NdArray::from_i64(vec![1, 3], vec![0, 1, 2]);
        let t0 = Instant::now();
        let mut parts = parts.into_iter();
        let uid = v.meshes(parts.next().context("no frames")?, faces, vec![])?;
        for part in parts {
            v.add_frames(uid, vec![part.into()], vec![])?;
        }
        let state = v.query()?;
        producer.push(bytes / t0.elapsed().as_secs_f64() / 1e6);
        let n = state.nodes.iter().find(|n| n.uid == Some(uid)).map_or(0, |n| n.n_frames);
        if n != frames {
            bail!("the hub has {n} frames, expected {frames}");
        }
        expected += frames as u64;
        if !views.is_empty() {
            wait_until("the views catching up", Duration::from_secs(300), || {
                if views.iter().any(ViewReader::dead) {
                    bail!("a view thread ended");
                }
                Ok(views.iter().all(|v| v.frames() >= expected))
            })?;
            caught_up.push(bytes / t0.elapsed().as_secs_f64() / 1e6);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss = p.rss().context("no /proc")?;
    let resyncs = views.iter().map(|v| v.seen.snapshots.load(Ordering::SeqCst).saturating_sub(1)).sum();
    for v in views {
        v.finish()?;
    }
    Ok(IngestFigures {
        producer: median(&mut producer),
        views: (!caught_up.is_empty()).then(|| median(&mut caught_up)),
        rss,
        payload: (REPEATS as f64 * bytes) as u64,
        resyncs,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: usize) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * p / 100).min(v.len() - 1)]
}

type RowFn<'a> = dyn FnMut(&str, f64, &'static str, Option<f64>) + 'a;

/// Rows 10-13.
pub fn view_rows(row: &mut RowFn, quick: bool) -> anyhow::Result<()> {
    // 10. A ~100 MB sequence of the 6,890-vertex mesh (1,200 frames, 99 MB).
    let frames = if quick { 120 } else { 1200 };
    let mb = (frames * VERTICES * 3 * 4) as f64 / 1e6;
    for (chunk, how) in [(1, "frame by frame"), (frames, "in one message")] {
        let mut base = None;
        for attached in [Attached::Views(0), Attached::Views(1), Attached::Views(4), Attached::Stalled] {
            let f = ingest_with_views(frames, chunk, attached)?;
            let (b, base_rss) = *base.get_or_insert((f.producer, f.rss));
            let label = attached.label();
            let name = format!("10. ingest {mb:.0} MB {how}, {label}");
            row(&name, f.producer, "MB/s", Some(f.producer / b));
            if let Some(views) = f.views {
                row(
                    &format!("10.   every view has every frame ({} resyncs)", f.resyncs),
                    views,
                    "MB/s",
                    Some(views / b),
                );
            }
            let name = format!("10.   hub resident memory ({:.0} MB kept)", f.payload as f64 / 1e6);
            row(&name, f.rss as f64 / 1e6, "MB", Some(f.rss as f64 / base_rss as f64));
        }
    }
    scene_rows(row, quick)?;
    latency_rows(row, quick)
}

/// Rows 11 and 12: a ~1 GB scene (five 2,000-frame sequences of the
/// 6,890-vertex mesh and a 10M-point cloud with colors: 987 MB).
fn scene_rows(row: &mut RowFn, quick: bool) -> anyhow::Result<()> {
    let (sequences, frames, mut points) = if quick { (5, 200, 1_000_000) } else { (5, 2000, 10_000_000) };
    // Another cloud size (0: none), to tell what the cloud's one big frame costs per view.
    if let Some(n) = std::env::var("PERISCOPE_BENCH_VIEW_POINTS").ok().and_then(|n| n.parse().ok()) {
        points = n;
    }
    let p = ViewerProc::start(&hub_config(), &[])?;
    let mut v = Viewer::connect(p.addr, "bench-scene")?;
    let faces = NdArray::from_i64(vec![1, 3], vec![0, 1, 2]);
    let per = VERTICES * 3;
    for s in 0..sequences {
        let data = mesh_frames(frames);
        let mut chunks =
            data.chunks(100 * per).map(|c| NdArray::from_f32(vec![c.len() / per, VERTICES, 3], c.to_vec()));
        let uid = v.meshes(chunks.next().context("no frames")?, faces.clone(), vec![kw("name", format!("seq{s}"))])?;
        for c in chunks {
            v.add_frames(uid, vec![c.into()], vec![])?;
        }
        v.query()?;
    }
    if points > 0 {
        let xyz: Vec<f32> = (0..points * 3).map(|i| (i % 1000) as f32 * 1e-3).collect();
        let rgba: Vec<u8> = (0..points * 4).map(|i| (i % 251) as u8).collect();
        let colors = kw("colors", NdArray::from_u8(vec![points, 4], rgba));
        v.point_clouds(NdArray::from_f32(vec![points, 3], xyz), vec![colors])?;
        v.query()?;
    }
    let scene = (sequences * frames * per * 4 + points * 16) as f64;
    let gb = scene / 1e9;
    std::thread::sleep(Duration::from_millis(500));
    let rss0 = p.rss().context("no /proc")?;
    row(
        &format!("11. hub resident memory, {gb:.2} GB scene, no view"),
        rss0 as f64 / 1e6,
        "MB",
        Some(rss0 as f64 / scene),
    );

    // 12. Four views at once, reading and decoding; the hub's memory while
    // they take the snapshot (sampled) and once they are caught up.
    let t0 = Instant::now();
    let views = (0..4).map(|i| ViewReader::start(p.addr, &format!("view-{i}"))).collect::<anyhow::Result<Vec<_>>>()?;
    let mut peak = rss0;
    wait_until("four views' snapshots", Duration::from_secs(600), || {
        peak = peak.max(p.rss().unwrap_or(0));
        if views.iter().any(ViewReader::dead) {
            bail!("a view thread ended");
        }
        Ok(views.iter().all(|v| v.snapshot_done().is_some()))
    })?;
    let all4 = views.iter().filter_map(ViewReader::snapshot_done).map(|(t, _)| t - t0).max().unwrap_or_default();
    std::thread::sleep(Duration::from_millis(500));
    let rss4 = p.rss().context("no /proc")?;
    let per_view = |rss: u64| rss.saturating_sub(rss0) as f64 / 4.0;
    row("11. snapshot to 4 views at once, until the last has it", all4.as_secs_f64(), "s", None);
    row("12. hub memory per view, 4 views caught up", per_view(rss4) / 1e6, "MB", Some(per_view(rss4) / scene));
    row("12. hub memory per view, peak while they took it", per_view(peak) / 1e6, "MB", Some(per_view(peak) / scene));
    for v in views {
        v.finish()?;
    }
    std::thread::sleep(Duration::from_millis(500));

    // 11. One view: connect to last snapshot part.
    let t0 = Instant::now();
    let view = ViewReader::start(p.addr, "view-one")?;
    wait_until("one view's snapshot", Duration::from_secs(600), || {
        if view.dead() {
            bail!("the view thread ended");
        }
        Ok(view.snapshot_done().is_some())
    })?;
    let (done, bytes) = view.snapshot_done().context("no snapshot")?;
    let secs = (done - t0).as_secs_f64();
    view.finish()?;
    row(&format!("11. snapshot of {gb:.2} GB to 1 view: connect to last part"), secs, "s", None);
    row("11.   bytes received / scene payload", bytes as f64 / 1e6, "MB", Some(bytes as f64 / scene));
    row("11.   rate", bytes as f64 / secs / 1e6, "MB/s", None);
    Ok(())
}

/// Row 13: change-to-view latency, median and p99, against the median query
/// round trip on the same hub (producer -> hub -> producer).
fn latency_rows(row: &mut RowFn, quick: bool) -> anyhow::Result<()> {
    let samples = if quick { 100 } else { 1000 };
    let p = ViewerProc::start(&hub_config(), &[])?;
    let mut producer = Viewer::connect(p.addr, "bench-latency")?;
    // A tiny mesh with a frame for every sample (set_frame is clamped to the frames).
    let tiny = NdArray::from_f32(vec![samples + 1, 3, 3], vec![0.5f32; (samples + 1) * 9]);
    producer.meshes(tiny, NdArray::from_i64(vec![1, 3], vec![0, 1, 2]), vec![])?;
    producer.query()?;
    let mut rtt: Vec<f64> = (0..51)
        .map(|_| {
            let t = Instant::now();
            producer.query().map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    let rtt = median(&mut rtt);
    row("13. query round trip (producer -> hub -> producer), median", rtt, "ms", Some(1.0));
    // The last case: one view that sent `subscribe` (diagnostic: its
    // connection thread polls the outbox instead of a quiet socket).
    for (n, subscribe) in [(1usize, false), (4, false), (1, true)] {
        let views = start_views_with(p.addr, n, subscribe)?;
        // Playhead: set_frame(1..=samples) at 200 per second.
        let mut sent = Vec::with_capacity(samples);
        let start = Instant::now();
        for k in 1..=samples {
            let due = start + Duration::from_micros(5000 * k as u64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            sent.push(Instant::now());
            producer.set_frame(k as i64)?;
        }
        let got = |v: &ViewReader| v.seen.playheads.lock().expect("lock").iter().any(|&(f, _)| f == samples);
        wait_until("the last playhead", Duration::from_secs(10), || Ok(views.iter().all(&got)))?;
        let (mut lat, missed) = match_latencies(&views, &sent, false);
        let label = match (n, subscribe) {
            (_, true) => "1 view after subscribe".to_owned(),
            (1, _) => "1 view".to_owned(),
            _ => format!("{n} views"),
        };
        let m = median(&mut lat);
        let p99 = percentile(&mut lat, 99);
        row(&format!("13. set_frame -> view has the playhead, {label}, median"), m, "ms", Some(m / rtt));
        row(
            &format!("13.   p99 ({missed} of {} coalesced into a later batch)", samples * n),
            p99,
            "ms",
            Some(p99 / rtt),
        );
        for v in views {
            v.finish()?;
        }
    }
    // A frame of the 6,890-vertex mesh appended at 100 per second.
    let views = start_views(p.addr, 1)?;
    let frame = NdArray::from_f32(vec![1, VERTICES, 3], mesh_frames(1));
    let uid = producer.meshes(frame.clone(), NdArray::from_i64(vec![1, 3], vec![0, 1, 2]), vec![])?;
    producer.query()?;
    let n = samples / 2;
    // sent[k] is when frame k (k >= 1) was sent; frame 0 came with the node.
    let mut sent = vec![Instant::now()];
    let start = Instant::now();
    for k in 1..=n {
        let due = start + Duration::from_micros(10_000 * k as u64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        sent.push(Instant::now());
        producer.add_frames(uid, vec![frame.clone().into()], vec![])?;
    }
    let got = |v: &ViewReader| v.seen.appended.lock().expect("lock").iter().any(|&(f, _)| f == n);
    wait_until("the last appended frame", Duration::from_secs(10), || Ok(views.iter().all(&got)))?;
    let (mut lat, _) = match_latencies(&views, &sent[1..], true);
    let m = median(&mut lat);
    let p99 = percentile(&mut lat, 99);
    row("13. add_frames (83 KB frame) -> view has it, median", m, "ms", Some(m / rtt));
    row("13.   p99", p99, "ms", Some(p99 / rtt));
    for v in views {
        v.finish()?;
    }
    Ok(())
}

/// Latencies (ms) of values `1..=sent.len()` (sent at `sent[k - 1]`) as each
/// view recorded them (its playheads, or its `appended` frames), and how many
/// values no view entry names (several changes of one step arrive as one:
/// only the last playhead is seen).
fn match_latencies(views: &[ViewReader], sent: &[Instant], appended: bool) -> (Vec<f64>, usize) {
    let mut lat = Vec::new();
    let mut missed = 0;
    for v in views {
        let list = if appended { &v.seen.appended } else { &v.seen.playheads };
        let seen = list.lock().expect("lock");
        let mut at: Vec<Option<Instant>> = vec![None; sent.len() + 1];
        for &(value, t) in seen.iter() {
            if let Some(slot) = at.get_mut(value) {
                slot.get_or_insert(t);
            }
        }
        for (k, s) in sent.iter().enumerate() {
            match at[k + 1] {
                Some(t) => lat.push(t.saturating_duration_since(*s).as_secs_f64() * 1e3),
                None => missed += 1,
            }
        }
    }
    (lat, missed)
}
