//! Encoding speed and size of the video writers, and of an installed
//! `ffmpeg` (libx264) fed the same frames through a pipe: the numbers behind
//! the choice of encoder (ARCHITECTURE.md, docs/benchmarks.md "Video export").
//!
//! `cargo bench -p periscope-video --bench encode [-- --size 1280x720 --frames 90]`

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use periscope_video::{VideoSpec, VideoWriter};

/// A frame like a scene render: a background gradient, a ground band and a
/// shaded disc that moves with `i`.
fn frame(w: u32, h: u32, i: usize) -> Vec<u8> {
    let mut px = vec![0u8; (w * h * 4) as usize];
    let (cx, cy, r) = (w as f32 * (0.3 + 0.4 * (i as f32 * 0.05).sin().abs()), h as f32 * 0.45, h as f32 * 0.2);
    for y in 0..h {
        for x in 0..w {
            let o = ((y * w + x) * 4) as usize;
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            let c = if d < r {
                let l = 0.4 + 0.6 * (1.0 - d / r);
                [(220.0 * l) as u8, (60.0 * l) as u8, (50.0 * l) as u8]
            } else if y > h * 2 / 3 {
                let g = 50 + ((x / 40 + y / 40) % 2) as u8 * 6;
                [g, g, g + 4]
            } else {
                let g = 30 + (y * 20 / h) as u8;
                [g, g + 2, g + 6]
            };
            px[o..o + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
        }
    }
    px
}

fn main() {
    let mut size = (1280u32, 720u32);
    let mut n = 90usize;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--size" => {
                let v = it.next().expect("--size WxH");
                let (w, h) = v.split_once('x').expect("WxH");
                size = (w.parse().expect("width"), h.parse().expect("height"));
            }
            "--frames" => n = it.next().and_then(|v| v.parse().ok()).expect("--frames N"),
            _ => {}
        }
    }
    let (w, h) = size;
    let frames: Vec<Vec<u8>> = (0..n).map(|i| frame(w, h, i)).collect();
    let dir = std::env::temp_dir().join(format!("periscope-encode-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    println!(
        "video encode benchmark: {w}x{h}, {n} frames, {} cores",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!("{:<34} {:>10} {:>10} {:>12}", "encoder", "frames/s", "x openh264", "MB");
    let mut rows: Vec<(String, Duration, u64)> = Vec::new();
    for name in ["openh264.mp4", "frames.png", "anim.gif"] {
        // GIF quantizes every frame (NeuQuant): a third of the frames.
        let count = if name.ends_with("gif") { n / 3 } else { n };
        let t0 = Instant::now();
        let mut writer =
            VideoWriter::create(&dir.join(name), VideoSpec { width: w, height: h, fps: 30.0 }).expect("writer");
        for f in &frames[..count] {
            writer.push(f.clone()).expect("frame");
        }
        let out = writer.finish().expect("finished");
        let t = t0.elapsed().mul_f64(n as f64 / count as f64);
        rows.push((format!("{name} (periscope-video)"), t, out.bytes));
    }
    for preset in ["veryfast", "medium"] {
        let path = dir.join(format!("x264-{preset}.mp4"));
        let t0 = Instant::now();
        let child = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", &format!("{w}x{h}"), "-r", "30"])
            .args(["-i", "-", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"])
            .arg(&path)
            .stdin(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            println!("ffmpeg not installed: libx264 rows skipped");
            break;
        };
        let mut stdin = child.stdin.take().expect("piped");
        for f in &frames {
            stdin.write_all(f).expect("ffmpeg reads frames");
        }
        drop(stdin);
        assert!(child.wait().expect("ffmpeg runs").success(), "ffmpeg failed");
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        rows.push((format!("ffmpeg libx264 -preset {preset}"), t0.elapsed(), bytes));
    }
    let base = rows[0].1.as_secs_f64();
    for (name, t, bytes) in &rows {
        let fps = n as f64 / t.as_secs_f64();
        println!("{name:<34} {fps:>10.1} {:>10.2} {:>12.2}", base / t.as_secs_f64(), *bytes as f64 / 1e6);
    }
    std::fs::remove_dir_all(&dir).ok();
}
