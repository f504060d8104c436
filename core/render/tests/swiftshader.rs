//! The renderer on SwiftShader, the software Vulkan that Chromium ships and
//! draws WebGPU and WebGL2 with on machines without a GPU: rasterisers differ,
//! and what lavapipe draws, SwiftShader may not. Run here natively through
//! Chromium's own copy of the driver (its own test binary: the driver is
//! chosen by environment variables read when the instance is made). Skipped
//! without chromium, unless PERISCOPE_REQUIRE_BROWSER is set (CI).

mod common;

use common::{add, arr, save, scene};
use periscope_protocol::{Envelope, MessageType as T, Value};
use periscope_render::{Camera, Image, Offscreen, RenderOptions};

const ICD: &str = "/usr/lib/chromium/vk_swiftshader_icd.json";

/// Runs the ignored test `name` of this binary again in a child process with
/// SwiftShader chosen (the driver is read from the environment when the
/// instance is made); false (skipped) without chromium's copy of it.
fn on_swiftshader(name: &str) -> bool {
    if !std::path::Path::new(ICD).exists() {
        let required = std::env::var("PERISCOPE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(!required, "{ICD} is missing (apt: chromium)");
        eprintln!("skipping: {ICD} is missing");
        return false;
    }
    let mut child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"])
        .env("VK_ICD_FILENAMES", ICD)
        .env("WGPU_BACKEND", "vulkan")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test binary runs");
    // A liveness bound (it takes about a second), so that a driver that hangs
    // fails this test instead of holding the whole run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().expect("the child's status").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("the child's output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "{name} on SwiftShader:\n{text}");
    true
}

/// The renderer in the child process: SwiftShader, or a failure saying why not.
fn swiftshader(options: RenderOptions) -> Offscreen {
    assert_eq!(std::env::var("VK_ICD_FILENAMES").as_deref(), Ok(ICD), "run through on_swiftshader");
    let off = Offscreen::new(options).expect("SwiftShader opens");
    assert!(off.gpu.adapter.contains("SwiftShader"), "not SwiftShader: {}", off.gpu.adapter);
    off
}

fn changed(a: &Image, b: &Image, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..a.width).map(move |x| (x, y)))
        .filter(|&(x, y)| (0..3).any(|c| a.pixel(x, y)[c].abs_diff(b.pixel(x, y)[c]) > 12))
        .count()
}

#[test]
fn grid_lines_that_pass_behind_the_camera_are_drawn_on_swiftshader() {
    on_swiftshader("grid_lines_that_pass_behind_the_camera_are_drawn");
}

#[test]
#[ignore = "run on SwiftShader by grid_lines_that_pass_behind_the_camera_are_drawn_on_swiftshader"]
fn grid_lines_that_pass_behind_the_camera_are_drawn() {
    let mut off = swiftshader(RenderOptions { ground: false, shadows: false, ..Default::default() });
    let mut s = scene();
    add(
        &mut s,
        Envelope::new(T::Spheres.as_i64())
            .with_uid(1)
            .with_arg(arr(&[1, 3], vec![-1.0, 0.0, 0.0]))
            .with_kwarg("radius", 0.5)
            .with_kwarg("color", Value::from(vec![1.0f64, 0.0, 0.0, 1.0])),
    );
    // Low over the grid, as a page opens: most lines run from far ahead to
    // behind the camera and are clipped at the near plane.
    let cam = Camera { target: [0.0; 3], yaw: 0.3, pitch: 0.4, distance: 4.0, ..Camera::default() };
    let (w, h) = (320, 240);
    let with = off.render(&s, &cam, w, h).unwrap();
    save(&with, "swiftshader-grid");
    off.renderer.set_options(RenderOptions { grid: false, ..off.renderer.options().clone() });
    let without = off.render(&s, &cam, w, h).unwrap();
    // The lower half is the grid nearest the camera: lines cross it both ways.
    let near = changed(&with, &without, h / 2..h);
    assert!(near > 800, "only {near} grid pixels in the lower half: see target/screenshots/swiftshader-grid.png");
}
