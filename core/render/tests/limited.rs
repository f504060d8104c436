//! The renderer on a WebGL2-class device (the browser's fallback): a device
//! opened with `wgpu::Limits::downlevel_webgl2_defaults()` (no storage
//! buffers, 2048-texel textures) runs the limited tier. Every built-in kind is
//! drawn through the public API with every look option requested, inside a
//! wgpu validation error scope, and compared with the full tier's image.
//! On lavapipe in CI; colors compared with tolerances.

mod common;

use std::sync::Arc;

use common::{add, arr, ints, save, scene, skip_or_fail};
use periscope_protocol::{Envelope, MessageType as T, NdArray, Value};
use periscope_render::{Background, Camera, Gpu, Image, Offscreen, RenderOptions, Tier};
use periscope_scene::{NodeId, Scene};

const W: u32 = 320;
const H: u32 = 240;

/// Every effect requested: what the limited tier cannot draw is skipped.
fn options() -> RenderOptions {
    RenderOptions {
        background: [0.0; 3],
        grid: true,
        ground: true,
        shadows: true,
        outline: true,
        ssao: true,
        ..Default::default()
    }
}

/// The limited-tier renderer and the full-tier one (`None` under
/// `WGPU_BACKEND=gl`, which has no full tier), or `None` (test skipped) when
/// no adapter exists and `PERISCOPE_REQUIRE_RENDER` is unset (CI sets it).
fn renderers(options: RenderOptions) -> Option<(Option<Offscreen>, Offscreen)> {
    let limited = limited(options.clone())?;
    if std::env::var("WGPU_BACKEND").is_ok_and(|b| b.eq_ignore_ascii_case("gl")) {
        eprintln!("WGPU_BACKEND=gl: no full tier to compare with");
        return Some((None, limited));
    }
    Some((Some(skip_or_fail(Offscreen::new(options))?), limited))
}

/// A renderer on a device with WebGL2's limits (on any adapter, GL included:
/// `WGPU_BACKEND=gl` runs these tests on wgpu's GL backend).
fn open_limited(options: RenderOptions) -> Result<Offscreen, periscope_render::RenderError> {
    let gpu = Gpu::headless_with(periscope_render::wgpu::Limits::downlevel_webgl2_defaults())?;
    Ok(Offscreen::with_gpu(gpu, options))
}

fn limited(options: RenderOptions) -> Option<Offscreen> {
    skip_or_fail(open_limited(options))
}

/// A unit cube centred at `c` with side `side`.
fn cube(c: [f32; 3], side: f32) -> Envelope {
    let v: Vec<f32> = (0..8)
        .flat_map(|i| [(i & 1) as f32, ((i >> 1) & 1) as f32, ((i >> 2) & 1) as f32])
        .enumerate()
        .map(|(k, u)| c[k % 3] + (u - 0.5) * side)
        .collect();
    let f = vec![
        0, 2, 1, 1, 2, 3, 4, 5, 6, 5, 7, 6, 0, 1, 4, 1, 5, 4, 2, 6, 3, 3, 6, 7, 0, 4, 2, 2, 4, 6, 1, 3, 5, 3, 7, 5,
    ];
    Envelope::new(T::Meshes.as_i64()).with_arg(arr(&[8, 3], v)).with_arg(ints(&[12, 3], f))
}

/// Where each kind is in the scene (x, y; z = 0), for looking at its pixels.
const MESH: [f32; 2] = [-1.6, 1.3];
const SPHERES: [f32; 2] = [-0.55, 1.3];
const LINES: [f32; 2] = [0.55, 1.3];
const ARROWS: [f32; 2] = [1.6, 1.3];
const RIGID: [f32; 2] = [-1.6, 0.3];
const SKELETON: [f32; 2] = [-0.55, 0.3];
/// Three points, red, green and blue, from left to right.
const CLOUD: [[f32; 2]; 3] = [[0.3, 0.3], [0.9, 0.3], [1.5, 0.3]];

/// One node of every built-in kind, side by side above the ground.
fn every_kind() -> (Scene, NodeId, NodeId) {
    let mut s = scene();
    let mesh = add(
        &mut s,
        cube([MESH[0], MESH[1], 0.0], 0.6).with_uid(1).with_kwarg("color", Value::from(vec![0.9f64, 0.6, 0.2])),
    );
    add(
        &mut s,
        Envelope::new(T::Spheres.as_i64())
            .with_uid(2)
            .with_arg(arr(&[2, 3], vec![SPHERES[0] - 0.15, SPHERES[1], 0., SPHERES[0] + 0.2, SPHERES[1], 0.]))
            .with_kwarg("radius", 0.2f64)
            .with_kwarg("color", Value::from(vec![0.2f64, 0.5, 1.0])),
    );
    add(
        &mut s,
        Envelope::new(T::Lines.as_i64())
            .with_uid(3)
            .with_arg(arr(
                &[3, 3],
                vec![
                    LINES[0] - 0.35,
                    LINES[1] - 0.3,
                    0.,
                    LINES[0],
                    LINES[1] + 0.3,
                    0.,
                    LINES[0] + 0.35,
                    LINES[1] - 0.3,
                    0.,
                ],
            ))
            .with_kwarg("r_base", 0.06f64)
            .with_kwarg("color", Value::from(vec![0.9f64, 0.9, 0.9])),
    );
    add(
        &mut s,
        Envelope::new(T::Arrows.as_i64())
            .with_uid(4)
            .with_arg(arr(&[1, 3], vec![ARROWS[0] - 0.35, ARROWS[1], 0.]))
            .with_arg(arr(&[1, 3], vec![ARROWS[0] + 0.35, ARROWS[1], 0.]))
            .with_kwarg("r_base", 0.06f64)
            .with_kwarg("r_head", 0.15f64)
            .with_kwarg("p", 0.3f64),
    );
    add(
        &mut s,
        Envelope::new(T::RigidBodies.as_i64())
            .with_uid(5)
            .with_arg(arr(&[1, 3], vec![RIGID[0], RIGID[1], 0.]))
            .with_arg(arr(&[1, 3, 3], vec![1., 0., 0., 0., 1., 0., 0., 0., 1.]))
            .with_kwarg("radius", 0.1f64)
            .with_kwarg("length", 0.4f64),
    );
    add(
        &mut s,
        Envelope::new(T::Skeletons.as_i64())
            .with_uid(6)
            .with_arg(arr(
                &[3, 3],
                vec![
                    SKELETON[0],
                    SKELETON[1] - 0.35,
                    0.,
                    SKELETON[0],
                    SKELETON[1],
                    0.,
                    SKELETON[0] + 0.3,
                    SKELETON[1] + 0.3,
                    0.,
                ],
            ))
            .with_arg(ints(&[3, 2], vec![-1, 0, 0, 1, 1, 2]))
            .with_kwarg("radius", 0.09f64),
    );
    let colors = Value::NdArray(NdArray::from_u8(vec![3, 4], vec![255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]));
    let cloud = add(
        &mut s,
        Envelope::new(T::PointClouds.as_i64())
            .with_uid(7)
            .with_arg(arr(&[3, 3], CLOUD.iter().flat_map(|p| [p[0], p[1], 0.0]).collect()))
            .with_kwarg("colors", colors)
            .with_kwarg("point_size", 24.0f64),
    );
    // Selected: outlined.
    s.apply(1, &periscope_scene::select_message(s.node(mesh), None)).unwrap();
    (s, mesh, cloud)
}

fn camera() -> Camera {
    Camera { target: [0.0, 0.8, 0.0], yaw: 0.0, pitch: 0.15, distance: 5.5, ..Camera::default() }
}

fn project(cam: &Camera, p: [f32; 2]) -> (u32, u32) {
    let clip = cam.projection(W as f32 / H as f32) * cam.view() * glam::Vec4::new(p[0], p[1], 0.0, 1.0);
    let ndc = clip / clip.w;
    (((ndc.x + 1.0) * 0.5 * W as f32) as u32, ((1.0 - ndc.y) * 0.5 * H as f32) as u32)
}

/// Pixels within `r` of `at` that differ from `empty` by more than 24 in some channel.
fn changed_around(img: &Image, empty: &Image, (x, y): (u32, u32), r: u32) -> usize {
    let mut n = 0;
    for py in y.saturating_sub(r)..(y + r).min(H) {
        for px in x.saturating_sub(r)..(x + r).min(W) {
            let (a, b) = (img.pixel(px, py), empty.pixel(px, py));
            if (0..3).any(|c| a[c].abs_diff(b[c]) > 24) {
                n += 1;
            }
        }
    }
    n
}

/// Mean absolute difference per channel, and the share of pixels off by more than 16.
fn difference(a: &Image, b: &Image) -> (f64, f64) {
    let (mut sum, mut off) = (0u64, 0usize);
    for (p, q) in a.rgba.chunks_exact(4).zip(b.rgba.chunks_exact(4)) {
        let d: Vec<u8> = (0..3).map(|c| p[c].abs_diff(q[c])).collect();
        sum += d.iter().map(|&x| u64::from(x)).sum::<u64>();
        off += usize::from(d.iter().any(|&x| x > 16));
    }
    let n = (a.rgba.len() / 4) as f64;
    (sum as f64 / (3.0 * n), off as f64 / n)
}

/// Renders inside a validation error scope and fails on any error.
fn render_checked(off: &mut Offscreen, s: &Scene, cam: &Camera) -> Image {
    let scope = off.gpu.device.push_error_scope(periscope_render::wgpu::ErrorFilter::Validation);
    let img = off.render(s, cam, W, H).expect("renders");
    if let Some(e) = pollster::block_on(scope.pop()) {
        panic!("wgpu validation error: {e}");
    }
    img
}

#[test]
fn a_webgl2_class_device_draws_every_kind_like_the_full_tier() {
    let Some((full, mut limited)) = renderers(options()) else { return };
    let caps = limited.renderer.capabilities().clone();
    assert_eq!(caps.tier, Tier::Limited);
    assert_eq!(caps.max_texture, 2048);
    assert!(caps.ssao.is_err() && caps.pick_depth.is_err(), "{caps:?}");
    assert!(caps.shadows.is_ok() && caps.outline.is_ok(), "{caps:?}");

    let (s, mesh, cloud) = every_kind();
    let cam = camera();
    let empty = render_checked(&mut limited, &scene(), &cam);
    let img = render_checked(&mut limited, &s, &cam);
    save(&img, "limited-every-kind");

    // The cloud's colors where its points are.
    let [red, green, blue] = CLOUD.map(|p| img.pixel(project(&cam, p).0, project(&cam, p).1));
    assert!(red[0] > 200 && red[1] < 50 && red[2] < 50, "left point is {red:?}");
    assert!(green[1] > 200 && green[0] < 50 && green[2] < 50, "middle point is {green:?}");
    assert!(blue[2] > 200 && blue[0] < 50 && blue[1] < 50, "right point is {blue:?}");
    // Every other kind shows where it is.
    for (name, at) in [
        ("mesh", MESH),
        ("spheres", SPHERES),
        ("lines", LINES),
        ("arrows", ARROWS),
        ("rigid body", RIGID),
        ("skeleton", SKELETON),
    ] {
        let n = changed_around(&img, &empty, project(&cam, at), 12);
        assert!(n > 100, "{name} changed only {n} of 576 pixels around its place");
    }
    // The selected mesh is outlined (orange next to it).
    let orange = |p: [u8; 4]| p[0] > 180 && p[1] > 60 && p[1] < 170 && p[2] < 80;
    let (mx, my) = project(&cam, MESH);
    let ring = (my.saturating_sub(30)..my + 30)
        .flat_map(|y| (mx.saturating_sub(30)..mx + 30).map(move |x| (x, y)))
        .filter(|&(x, y)| orange(img.pixel(x, y)))
        .count();
    assert!(ring > 40, "outline pixels around the selected mesh: {ring}");

    // Picking works on the instanced points and on the mesh.
    let (gx, gy) = project(&cam, CLOUD[1]);
    assert_eq!(limited.pick(&cam, gx, gy).unwrap(), Some(cloud));
    assert_eq!(limited.pick(&cam, mx, my).unwrap(), Some(mesh));
    assert_eq!(limited.pick(&cam, 2, 2).unwrap(), None);

    // The full tier with the one effect the limited tier skips (ambient
    // occlusion) switched off draws the same image.
    let Some(mut full) = full else { return };
    assert_eq!(full.renderer.capabilities().tier, Tier::Full);
    assert!(full.renderer.capabilities().ssao.is_ok());
    full.renderer.set_options(RenderOptions { ssao: false, ..options() });
    let reference = render_checked(&mut full, &s, &cam);
    save(&reference, "limited-every-kind-full");
    let (mean, off) = difference(&img, &reference);
    eprintln!("limited vs full: mean difference {mean:.4} per channel, {:.3} % of pixels off by > 16", off * 100.0);
    assert!(
        mean < 1.0 && off < 0.005,
        "limited vs full: mean difference {mean:.3}, {:.2} % of pixels off",
        off * 100.0
    );
    // With it on, the full tier differs (darker creases): the limited tier really skipped it.
    full.renderer.set_options(options());
    let with_ao = render_checked(&mut full, &s, &cam);
    assert!(difference(&with_ao, &reference).0 > 0.05, "ambient occlusion changes the full tier's image");
}

#[test]
fn clouds_without_colors_and_translucent_clouds_use_the_instanced_path() {
    let Some(mut limited) = limited(RenderOptions { ground: false, grid: false, ..options() }) else { return };
    let mut s = scene();
    add(
        &mut s,
        Envelope::new(T::PointClouds.as_i64())
            .with_uid(1)
            .with_arg(arr(&[2, 3], vec![-0.5, 0.8, 0., 0.5, 0.8, 0.]))
            .with_kwarg("color", Value::from(vec![1.0f64, 1.0, 0.0]))
            .with_kwarg("point_size", 24.0f64),
    );
    let colors = Value::NdArray(NdArray::from_u8(vec![1, 4], vec![0, 255, 255, 128]));
    add(
        &mut s,
        Envelope::new(T::PointClouds.as_i64())
            .with_uid(2)
            .with_arg(arr(&[1, 3], vec![0., 0.8, 0.5]))
            .with_kwarg("colors", colors)
            .with_kwarg("point_size", 24.0f64),
    );
    let cam = camera();
    let img = render_checked(&mut limited, &s, &cam);
    save(&img, "limited-clouds");
    let (x, y) = project(&cam, [-0.5, 0.8]);
    let yellow = img.pixel(x, y);
    assert!(yellow[0] > 200 && yellow[1] > 200 && yellow[2] < 50, "node color is {yellow:?}");
    let c = img.pixel(W / 2, project(&cam, [0.0, 0.8]).1);
    assert!(c[1] > 60 && c[2] > 60 && c[0] < 40 && c[1] < 230, "half-transparent cyan over black is {c:?}");
}

#[test]
fn remote_images_larger_than_the_device_allows_are_scaled_down() {
    let Some(mut limited) = limited(RenderOptions { ground: false, grid: false, ..options() }) else { return };
    let cam = camera();
    // 3000 x 1500 (above WebGL2's 2048): left half magenta, right half green, with depth.
    let (w, h) = (3000u32, 1500u32);
    let rgba: Vec<u8> =
        (0..w * h).flat_map(|i| if i % w < w / 2 { [255, 0, 255, 255] } else { [0, 255, 0, 255] }).collect();
    let depth = vec![20.0f32; (w * h) as usize];
    let bg = Arc::new(Background::from_camera(&cam, w, h, rgba, Some(depth)));
    limited.renderer.set_backgrounds(&[bg]);
    let img = render_checked(&mut limited, &scene(), &cam);
    save(&img, "limited-background");
    let left = img.pixel(W / 4, H / 2);
    let right = img.pixel(3 * W / 4, H / 2);
    assert!(left[0] > 200 && left[1] < 50 && left[2] > 200, "left is {left:?}");
    assert!(right[1] > 200 && right[0] < 50 && right[2] < 50, "right is {right:?}");
}
