//! Exports and saved scenes against the real headless binary over loopback:
//! files written only in the export folder and never through a symlink,
//! folders the viewer did not write left alone, sizes the encoder cannot take
//! refused before rendering, exports that end with their client and take
//! turns between clients, and a replay never recorded over.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Periscope;
use periscope_client::{ClientError, Viewer, kw};
use periscope_protocol::{MessageType, NdArray, Reply, Value, VideoExported};

/// A few spheres over `frames` frames.
fn scene(v: &mut Viewer, frames: usize) {
    let n = frames * 2 * 3;
    let pos = NdArray::from_f32(vec![frames, 2, 3], (0..n).map(|i| (i % 7) as f32 * 0.1).collect::<Vec<_>>());
    v.spheres(pos, vec![kw("radius", 0.2)]).unwrap();
    v.query().unwrap();
}

/// Whether this machine renders (lavapipe); CI requires it.
fn renders(v: &mut Viewer) -> bool {
    match v.export_video("probe.gif", vec![kw("frames", vec![0i64]), kw("width", 8i64), kw("height", 8i64)], T) {
        Ok(_) => true,
        Err(ClientError::Rejected { message, .. })
            if message.contains("rendering unavailable") && std::env::var_os("PERISCOPE_REQUIRE_RENDER").is_none() =>
        {
            eprintln!("skipping: {message}");
            false
        }
        Err(e) => panic!("export failed: {e}"),
    }
}

const T: Duration = Duration::from_secs(60);

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Sends `export_video` without waiting for the answer; returns its seq.
fn start_export(v: &mut Viewer, name: &str, mut kwargs: Vec<periscope_client::Kwarg>) -> u64 {
    kwargs.push(kw("name", name));
    v.send_message(MessageType::ExportVideo.as_i64(), None, vec![], kwargs).unwrap()
}

/// Waits until a hidden (temporary) entry appears in `dir`: an export has started writing.
fn wait_for_temp(dir: &Path) {
    let deadline = Instant::now() + T;
    while !names(dir).iter().any(|n| n.starts_with('.')) {
        assert!(Instant::now() < deadline, "no export started writing in {}: {:?}", dir.display(), names(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `code` and message of the error answering `seq` (other replies skipped).
fn error_for(v: &mut Viewer, seq: u64) -> (String, String) {
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        if let Some(Reply::Problem { warning: false, ref_seq: Some(r), code, message, .. }) =
            v.recv(Duration::from_millis(200)).unwrap()
            && r == seq
        {
            return (code, message);
        }
    }
    panic!("no error for seq {seq}");
}

fn save_scene(v: &mut Viewer, name: &str) -> Result<String, (String, String)> {
    let seq = v.send_message(MessageType::SaveScene.as_i64(), None, vec![], vec![kw("name", name)]).unwrap();
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        match v.recv(Duration::from_millis(200)).unwrap() {
            Some(Reply::SceneSaved(saved)) if saved.ref_seq == Some(seq) => return Ok(saved.path),
            Some(Reply::Problem { warning: false, ref_seq: Some(r), code, message, .. }) if r == seq => {
                return Err((code, message));
            }
            _ => {}
        }
    }
    panic!("no answer to save_scene");
}

fn rejected(r: Result<VideoExported, ClientError>) -> (String, String) {
    match r {
        Err(ClientError::Rejected { code, message, .. }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn symlinks_planted_in_the_export_folder_are_replaced_never_written_through() {
    let p = Periscope::start("");
    let exports = p.dir().join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let outside = |n: &str| p.dir().join(format!("outside-{n}.txt"));
    let plant = |name: &str, target: &str| {
        std::fs::write(outside(target), "precious").unwrap();
        std::os::unix::fs::symlink(outside(target), exports.join(name)).unwrap();
    };
    plant("scene.psr", "scene");
    plant("clip.gif", "clip");
    // The temporary names the viewer used to write through, predictable from its pid.
    let pid = p.child.id();
    plant(&format!(".clip.gif.partial-{pid}"), "partial");
    plant(&format!(".scene.psr.partial-{pid}"), "partial-scene");
    let mut v = p.client("symlinks");
    scene(&mut v, 2);
    let saved = save_scene(&mut v, "scene.psr").expect("saved");
    assert_eq!(Path::new(&saved), exports.join("scene.psr"));
    if renders(&mut v) {
        let kwargs = vec![kw("frames", vec![0i64, 1]), kw("width", 16i64), kw("height", 16i64)];
        v.export_video("clip.gif", kwargs, T).expect("exported");
        let meta = std::fs::symlink_metadata(exports.join("clip.gif")).unwrap();
        assert!(meta.is_file() && !meta.is_symlink(), "clip.gif is a file of its own now");
        assert_eq!(&std::fs::read(exports.join("clip.gif")).unwrap()[..6], b"GIF89a");
    }
    for n in ["scene", "clip", "partial", "partial-scene"] {
        assert_eq!(std::fs::read_to_string(outside(n)).unwrap(), "precious", "{n} was written through a symlink");
    }
    let meta = std::fs::symlink_metadata(exports.join("scene.psr")).unwrap();
    assert!(meta.is_file() && !meta.is_symlink(), "scene.psr is a file of its own now");
    assert!(periscope_record::read(&exports.join("scene.psr")).is_ok());
    // No temporary file is left behind (the planted links are the user's).
    let left: Vec<String> = names(&exports).into_iter().filter(|n| n.starts_with(".periscope-tmp-")).collect();
    assert!(left.is_empty(), "{left:?}");
    // A name with a separator or a NUL stays refused, naming the field.
    for bad in ["../up.psr", "a/b.psr", "nul\0.psr"] {
        let (code, message) = save_scene(&mut v, bad).unwrap_err();
        assert_eq!(code, "bad_value", "{message}");
        assert!(message.contains("field \"name\""), "{message}");
    }
    let (code, message) = rejected(v.export_video("nul\0.gif", vec![], T));
    assert_eq!(code, "bad_value", "{message}");
    assert!(message.contains("field \"name\"") && message.contains("NUL"), "{message}");
}

#[test]
fn a_png_export_never_deletes_a_folder_it_did_not_write() {
    let p = Periscope::start("");
    let exports = p.dir().join("exports");
    std::fs::create_dir_all(exports.join("notes")).unwrap();
    std::fs::write(exports.join("notes").join("notes.txt"), "my notes").unwrap();
    let mut v = p.client("png");
    scene(&mut v, 2);
    if !renders(&mut v) {
        return;
    }
    let small = || vec![kw("frames", vec![0i64, 1]), kw("width", 16i64), kw("height", 16i64)];
    let (code, message) = rejected(v.export_video("notes.png", small(), T));
    assert_eq!(code, "bad_value", "{message}");
    assert!(message.contains(&exports.join("notes").display().to_string()), "the error names the folder: {message}");
    assert_eq!(std::fs::read_to_string(exports.join("notes").join("notes.txt")).unwrap(), "my notes");
    // An earlier sequence of the viewer's is replaced as before.
    v.export_video("seq.png", small(), T).unwrap();
    v.export_video("seq.png", vec![kw("frames", vec![0i64]), kw("width", 8i64), kw("height", 8i64)], T).unwrap();
    assert_eq!(names(&exports.join("seq")), vec!["seq_00000.png"]);
    assert!(!names(&exports).iter().any(|n| n.starts_with(".periscope-tmp-")), "{:?}", names(&exports));
}

#[test]
fn sizes_and_rates_the_encoder_cannot_take_are_refused_before_rendering() {
    let p = Periscope::start("");
    let mut v = p.client("sizes");
    scene(&mut v, 1);
    if !renders(&mut v) {
        return;
    }
    let one = || vec![kw("frames", vec![0i64])];
    let sized = |w: i64, h: i64| {
        let mut k = one();
        k.extend([kw("width", w), kw("height", h)]);
        k
    };
    for (name, kwargs, field) in [
        ("big.mp4", sized(4000, 2200), "\"width\""),
        ("tall.mp4", sized(2200, 4000), "\"width\""),
        ("tiny.mp4", sized(1, 1), "\"width\""),
        ("huge.png", sized(8192, 8192), "\"width\""),
        ("slow.gif", vec![kw("frames", vec![0i64]), kw("fps", 1e-300)], "\"fps\""),
        (
            "nan.gif",
            vec![kw("camera_path", Value::map([("orbit", Value::map([("turns", Value::Float(f64::NAN))]))]))],
            "orbit.turns",
        ),
    ] {
        let t0 = Instant::now();
        let (code, message) = rejected(v.export_video(name, kwargs, T));
        assert_eq!(code, "bad_value", "{name}: {message}");
        assert!(message.contains(field), "{name}: the error names {field}: {message}");
        // Refused up front, not after rendering 4000x2200 frames.
        assert!(t0.elapsed() < Duration::from_secs(5), "{name}: {:?}", t0.elapsed());
    }
    // The largest sizes each format documents still work.
    v.export_video("wide.mp4", sized(3840, 16), T).expect("3840x16 mp4");
    v.export_video("portrait.mp4", sized(16, 3840), T).expect("16x3840 mp4");
    assert!(!names(&p.dir().join("exports")).iter().any(|n| n.starts_with('.')));
}

#[test]
fn a_long_name_fits_with_its_temporary_name() {
    let p = Periscope::start("");
    let mut v = p.client("long");
    scene(&mut v, 1);
    let long = format!("{}.psr", "s".repeat(242));
    assert_eq!(long.len(), 246);
    let saved = save_scene(&mut v, &long).expect("a 246-byte name saves");
    assert!(saved.ends_with(&long));
    if !renders(&mut v) {
        return;
    }
    let name = format!("{}.gif", "v".repeat(242));
    let kwargs = vec![kw("frames", vec![0i64]), kw("width", 8i64), kw("height", 8i64)];
    v.export_video(&name, kwargs, T).expect("a 246-byte name exports");
    assert!(p.dir().join("exports").join(&name).is_file());
    // Past the file system's limit: refused up front, naming the field.
    let (code, message) = rejected(v.export_video(&format!("{}.gif", "v".repeat(252)), vec![], T));
    assert_eq!(code, "bad_value", "{message}");
    assert!(message.contains("field \"name\""), "{message}");
}

#[test]
fn an_export_ends_when_its_client_leaves_and_frees_its_place() {
    let p = Periscope::start("");
    let exports = p.dir().join("exports");
    let mut a = p.client("leaves");
    scene(&mut a, 1);
    if !renders(&mut a) {
        return;
    }
    std::fs::remove_file(exports.join("probe.gif")).unwrap();
    // 200,000 frames: hours at any speed.
    let frames = vec![0i64; 200_000];
    start_export(&mut a, "endless.mp4", vec![kw("frames", frames), kw("width", 64i64), kw("height", 48i64)]);
    wait_for_temp(&exports);
    a.close().unwrap();
    let mut b = p.client("next");
    scene(&mut b, 1);
    let t0 = Instant::now();
    let kwargs = vec![kw("frames", vec![0i64, 0]), kw("width", 16i64), kw("height", 16i64)];
    b.export_video("quick.gif", kwargs, Duration::from_secs(30)).expect("the next export runs");
    eprintln!("the next client's export took {:?}", t0.elapsed());
    // The partial file of the abandoned export is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while names(&exports) != ["quick.gif"] {
        assert!(Instant::now() < deadline, "left behind: {:?}", names(&exports));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn clients_exports_take_turns_and_each_client_has_a_bound() {
    let p = Periscope::start("");
    let exports = p.dir().join("exports");
    let mut a = p.client("long");
    scene(&mut a, 1);
    if !renders(&mut a) {
        return;
    }
    std::fs::remove_file(exports.join("probe.gif")).unwrap();
    let long = |n: usize| vec![kw("frames", vec![0i64; n]), kw("width", 64i64), kw("height", 48i64)];
    start_export(&mut a, "a1.mp4", long(200_000));
    wait_for_temp(&exports);
    // A client's fifth export waiting is refused, naming the limit.
    for i in 2..=4 {
        start_export(&mut a, &format!("a{i}.mp4"), long(10));
    }
    let fifth = start_export(&mut a, "a5.mp4", long(10));
    let (code, message) = error_for(&mut a, fifth);
    assert_eq!(code, "busy", "{message}");
    assert!(message.contains("(4)"), "the error names the limit: {message}");
    // Another client's export runs beside the long one and finishes first.
    let mut b = p.client("short");
    let t0 = Instant::now();
    let kwargs = vec![kw("frames", vec![0i64; 3]), kw("width", 32i64), kw("height", 32i64)];
    b.export_video("b.gif", kwargs, Duration::from_secs(30)).expect("b's export runs in turn");
    eprintln!("b's export beside a's took {:?}", t0.elapsed());
    assert!(!exports.join("a1.mp4").exists(), "a's export is still running");
    // Queries stay quick while exports run.
    let mut times: Vec<Duration> = (0..30)
        .map(|_| {
            let t = Instant::now();
            b.query().unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "query round trips during an export: median {:?}, 90th percentile {:?}, max {:?}",
        times[15], times[27], times[29]
    );
    assert!(times[15] < Duration::from_millis(80), "median query during an export: {:?}", times[15]);
}

#[test]
fn a_replay_is_never_recorded_over() {
    // A saved scene to replay.
    let original = {
        let p = Periscope::start("");
        let mut v = p.client("rec");
        scene(&mut v, 2);
        std::fs::read(save_scene(&mut v, "take.psr").unwrap()).unwrap()
    };
    assert!(!original.is_empty());
    let dir = common::test_dir();
    let take = dir.join("take.psr");
    std::fs::write(&take, &original).unwrap();
    std::fs::write(dir.join("config.toml"), "[recording]\npath = \"take.psr\"\n").unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_periscope"));
        cmd.current_dir(&dir).args(["--headless", "--port", "0", "--config", "config.toml"]).args(args);
        let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let pid = child.id();
        // A viewer that went on anyway is stopped after a while.
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(20));
            std::process::Command::new("kill").arg(pid.to_string()).status().ok();
        });
        let out = child.wait_with_output().unwrap();
        drop(killer);
        out
    };
    // The same file through [recording] path, and through --record with another spelling.
    for args in [vec!["take.psr", "--screenshot", "shot.png"], vec!["./take.psr", "--record", "take.psr"]] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: the viewer ran: {stderr}");
        assert!(stderr.contains("record to another file"), "{args:?}: {stderr}");
        assert_eq!(std::fs::read(&take).unwrap(), original, "{args:?}: the recording was overwritten");
    }
    std::fs::remove_dir_all(&dir).ok();
}
