//! Offscreen pixel tests on whatever adapter wgpu finds (lavapipe in CI).
//! Colors are compared with tolerances, never byte for byte.

mod common;

use common::{add, arr, ints, save, scene, skip_or_fail};
use periscope_protocol::{Envelope, MessageType as T, NdArray, Value};
use periscope_render::{Camera, Image, Offscreen, RenderOptions, SceneView};

const W: u32 = 160;
const H: u32 = 120;
const BG: [f32; 3] = [0.0, 0.0, 0.0];

/// The offscreen renderer, or `None` (test skipped) when no adapter exists and
/// `PERISCOPE_REQUIRE_RENDER` is unset. CI sets it, so CI never skips.
fn offscreen() -> Option<Offscreen> {
    // No ground plane: these tests count the pixels nodes cover on a black background.
    skip_or_fail(Offscreen::new(RenderOptions { background: BG, grid: false, ground: false, ..Default::default() }))
}

/// One sphere node (uid 1) at `c` with `radius` and RGBA `color`.
fn sphere(c: [f32; 3], radius: f64, color: [f64; 4]) -> Envelope {
    Envelope::new(T::Spheres.as_i64())
        .with_uid(1)
        .with_arg(arr(&[1, 3], c.to_vec()))
        .with_kwarg("radius", radius)
        .with_kwarg("color", Value::from(color.to_vec()))
}

/// Looking down -z at the origin from distance 3.
fn front_camera() -> Camera {
    Camera { target: [0.0; 3], yaw: 0.0, pitch: 0.0, distance: 3.0, ..Camera::default() }
}

fn is_bg(p: [u8; 4]) -> bool {
    p[0] < 8 && p[1] < 8 && p[2] < 8
}

fn coverage(img: &Image) -> usize {
    img.rgba.chunks_exact(4).filter(|p| !is_bg([p[0], p[1], p[2], p[3]])).count()
}

fn cube() -> Envelope {
    let v: Vec<f32> =
        (0..8).flat_map(|i| [(i & 1) as f32 - 0.5, ((i >> 1) & 1) as f32 - 0.5, ((i >> 2) & 1) as f32 - 0.5]).collect();
    let f = vec![
        0, 2, 1, 1, 2, 3, // -z
        4, 5, 6, 5, 7, 6, // +z
        0, 1, 4, 1, 5, 4, // -y
        2, 6, 3, 3, 6, 7, // +y
        0, 4, 2, 2, 4, 6, // -x
        1, 3, 5, 3, 7, 5, // +x
    ];
    Envelope::new(T::Meshes.as_i64()).with_uid(1).with_arg(arr(&[8, 3], v)).with_arg(ints(&[12, 3], f))
}

#[test]
fn red_sphere_is_red_in_the_centre_and_can_be_picked() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    let id = add(&mut s, sphere([0.0, 0.0, 0.0], 0.5, [1.0, 0.0, 0.0, 1.0]));
    let img = off.render(&s, &front_camera(), W, H).unwrap();
    save(&img, "render-red-sphere");
    let c = img.pixel(W / 2, H / 2);
    assert!(c[0] > 150 && c[1] < 60 && c[2] < 60, "centre is {c:?}");
    assert!(is_bg(img.pixel(2, 2)), "corner is {:?}", img.pixel(2, 2));
    assert_eq!(off.pick(&front_camera(), W / 2, H / 2).unwrap(), Some(id));
    assert_eq!(off.pick(&front_camera(), 2, 2).unwrap(), None);
}

#[test]
fn flat_cube_faces_have_distinct_shades() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    add(&mut s, cube().with_kwarg("flat_shading", true).with_kwarg("color", Value::from(vec![0.8f64, 0.8, 0.8])));
    // From above, front and right: three faces in view.
    let cam = Camera { target: [0.0; 3], yaw: 0.7, pitch: 0.5, distance: 3.5, ..Camera::default() };
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-flat-cube");
    // A flat face is one gray level (edges are antialiased in between): find the
    // levels that many pixels share, then count those well apart.
    let mut hist = [0usize; 256];
    for p in img.rgba.chunks_exact(4).filter(|p| !is_bg([p[0], p[1], p[2], p[3]])) {
        hist[p[0] as usize] += 1;
    }
    let mut faces: Vec<usize> = Vec::new();
    for level in (0..256).filter(|&l| hist[l] > 150) {
        if faces.last().is_none_or(|&f| level > f + 12) {
            faces.push(level);
        }
    }
    assert!(faces.len() >= 3, "expected three face shades, got levels {faces:?}");
}

#[test]
fn disabled_node_disappears_and_deleted_node_is_freed() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    let id = add(&mut s, cube());
    let cam = front_camera();
    let shown = off.render(&s, &cam, W, H).unwrap();
    assert!(coverage(&shown) > 1000, "cube covers {} px", coverage(&shown));
    s.node_mut(id).unwrap().enabled = false;
    let hidden = off.render(&s, &cam, W, H).unwrap();
    assert_eq!(coverage(&hidden), 0);
    s.node_mut(id).unwrap().enabled = true;
    assert!(coverage(&off.render(&s, &cam, W, H).unwrap()) > 1000);
    assert_eq!(off.renderer.gpu_nodes(), 1);
    s.apply(1, &Envelope::new(T::Delete.as_i64()).with_uid(1)).unwrap();
    assert_eq!(coverage(&off.render(&s, &cam, W, H).unwrap()), 0);
    assert_eq!(off.renderer.gpu_nodes(), 0, "GPU data freed with the node");
}

#[test]
fn mesh_frames_differ_where_vertices_differ() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    // A quad facing the camera; frame 1 moves it to the right.
    let quad = |dx: f32| vec![-0.5 + dx, -0.5, 0.0, 0.5 + dx, -0.5, 0.0, 0.5 + dx, 0.5, 0.0, -0.5 + dx, 0.5, 0.0];
    let mut v = quad(-0.6);
    v.extend(quad(0.6));
    add(
        &mut s,
        Envelope::new(T::Meshes.as_i64())
            .with_uid(1)
            .with_arg(arr(&[2, 4, 3], v))
            .with_arg(ints(&[2, 3], vec![0, 1, 2, 0, 2, 3])),
    );
    let cam = front_camera();
    let f0 = off.render(&s, &cam, W, H).unwrap();
    // Another frame is shown without moving the playhead (screenshots, videos).
    let f1 = off.render(SceneView::at(&s, Some(1)), &cam, W, H).unwrap();
    assert_eq!(s.current_frame(), 0);
    save(&f0, "render-frame0");
    save(&f1, "render-frame1");
    let (left, right) = (W / 4, 3 * W / 4);
    assert!(!is_bg(f0.pixel(left, H / 2)) && is_bg(f0.pixel(right, H / 2)));
    assert!(is_bg(f1.pixel(left, H / 2)) && !is_bg(f1.pixel(right, H / 2)));
}

#[test]
fn vertex_colors_and_face_colors_show() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    let quad = vec![-1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 1.0, 1.0, 0.0, -1.0, 1.0, 0.0];
    // Two triangles split along the diagonal: bottom-right green, top-left blue.
    add(
        &mut s,
        Envelope::new(T::Meshes.as_i64())
            .with_uid(1)
            .with_arg(arr(&[4, 3], quad))
            .with_arg(ints(&[2, 3], vec![0, 1, 2, 0, 2, 3]))
            .with_kwarg("face_colors", arr(&[2, 3], vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0])),
    );
    let img = off.render(&s, &front_camera(), W, H).unwrap();
    save(&img, "render-face-colors");
    let br = img.pixel(W / 2 + 20, H / 2 + 15);
    let tl = img.pixel(W / 2 - 20, H / 2 - 15);
    // Dominant channel, with room for the specular highlight.
    assert!(br[1] > 100 && br[1] > 2 * br[0].max(br[2]), "bottom right {br:?}");
    assert!(tl[2] > 100 && tl[2] > 2 * tl[0].max(tl[1]), "top left {tl:?}");
}

#[test]
fn every_kind_draws_something() {
    let Some(mut off) = offscreen() else { return };
    let kinds = [
        (
            "lines",
            Envelope::new(T::Lines.as_i64())
                .with_arg(arr(&[3, 3], vec![-1., -0.5, 0., 0., 0.5, 0., 1., -0.5, 0.]))
                .with_kwarg("r_base", 0.05f64),
        ),
        (
            "arrows",
            Envelope::new(T::Arrows.as_i64())
                .with_arg(arr(&[1, 3], vec![-1., 0., 0.]))
                .with_arg(arr(&[1, 3], vec![1., 0., 0.]))
                .with_kwarg("r_base", 0.05f64)
                .with_kwarg("r_head", 0.15f64)
                .with_kwarg("p", 0.3f64),
        ),
        (
            "rigid-bodies",
            Envelope::new(T::RigidBodies.as_i64())
                .with_arg(arr(&[1, 3], vec![0., 0., 0.]))
                .with_arg(arr(&[1, 3, 3], vec![1., 0., 0., 0., 1., 0., 0., 0., 1.]))
                .with_kwarg("radius", 0.15f64)
                .with_kwarg("length", 0.8f64),
        ),
        (
            "skeleton",
            Envelope::new(T::Skeletons.as_i64())
                .with_arg(arr(&[3, 3], vec![0., -0.8, 0., 0., 0., 0., 0.5, 0.6, 0.]))
                .with_arg(ints(&[3, 2], vec![-1, 0, 0, 1, 1, 2]))
                .with_kwarg("radius", 0.1f64),
        ),
    ];
    for (name, env) in kinds {
        let mut s = scene();
        add(&mut s, env.with_uid(1));
        let cam = Camera { target: [0.0; 3], yaw: 0.3, pitch: 0.3, distance: 3.0, ..Camera::default() };
        let img = off.render(&s, &cam, W, H).unwrap();
        save(&img, &format!("render-{name}"));
        assert!(coverage(&img) > 300, "{name} covers only {} px", coverage(&img));
    }
}

#[test]
fn rigid_body_axes_are_red_green_blue() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    add(
        &mut s,
        Envelope::new(T::RigidBodies.as_i64())
            .with_uid(1)
            .with_arg(arr(&[1, 3], vec![0., 0., 0.]))
            .with_arg(arr(&[1, 3, 3], vec![1., 0., 0., 0., 1., 0., 0., 0., 1.]))
            .with_kwarg("radius", 0.1f64)
            .with_kwarg("length", 1.0f64),
    );
    let img = off.render(&s, &front_camera(), W, H).unwrap();
    save(&img, "render-rb-axes");
    // +x axis to the right of the centre, +y above it.
    let x = img.pixel(W / 2 + 30, H / 2);
    let y = img.pixel(W / 2, H / 2 - 30);
    assert!(x[0] > 80 && x[0] > x[1] && x[0] > x[2], "x axis {x:?}");
    assert!(y[1] > y[0] && y[1] > y[2] && y[1] > 80, "y axis {y:?}");
}

#[test]
fn z_up_stands_data_upright() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    // A thin line along +z.
    add(
        &mut s,
        Envelope::new(T::Lines.as_i64())
            .with_uid(1)
            .with_arg(arr(&[2, 3], vec![0., 0., -1., 0., 0., 1.]))
            .with_kwarg("r_base", 0.05f64),
    );
    let cam = front_camera();
    let y_up = off.render(&s, &cam, W, H).unwrap();
    // y up: the line points at the camera, so it covers little; z up: it stands vertical.
    let mut opts = off.renderer.options().clone();
    opts.z_up = true;
    off.renderer.set_options(opts);
    let z_up = off.render(&s, &cam, W, H).unwrap();
    save(&z_up, "render-z-up");
    assert!(!is_bg(z_up.pixel(W / 2, 15)) && !is_bg(z_up.pixel(W / 2, H - 15)), "vertical line expected");
    assert!(is_bg(y_up.pixel(W / 2, 15)));
}

#[test]
fn translucent_nodes_blend_over_what_is_behind_them() {
    let Some(mut off) = offscreen() else { return };
    let sphere = |uid: i64, z: f32, color: [f64; 4]| {
        Envelope::new(T::Spheres.as_i64())
            .with_uid(uid)
            .with_arg(arr(&[1, 3], vec![0.0, 0.0, z]))
            .with_kwarg("radius", 0.5f64)
            .with_kwarg("color", Value::from(color.to_vec()))
    };
    let green = [0.0, 1.0, 0.0, 1.0];
    let red_half = [1.0, 0.0, 0.0, 0.5];
    // Whatever order they arrive in: the translucent one is drawn after the opaque one.
    for (name, first, second) in
        [("translucent-first", (red_half, 0.6), (green, -0.6)), ("opaque-first", (green, -0.6), (red_half, 0.6))]
    {
        let mut s = scene();
        add(&mut s, sphere(1, first.1, first.0));
        add(&mut s, sphere(2, second.1, second.0));
        let img = off.render(&s, &front_camera(), W, H).unwrap();
        save(&img, &format!("render-translucent-{name}"));
        let c = img.pixel(W / 2, H / 2);
        assert!(c[0] > 80 && c[1] > 80 && c[2] < 60, "{name}: centre {c:?} should mix red over green");
    }
    // Alone over the black background: a dimmer red, not full red.
    let mut s = scene();
    add(&mut s, sphere(1, 0.0, red_half));
    let c = off.render(&s, &front_camera(), W, H).unwrap().pixel(W / 2, H / 2);
    assert!(c[0] > 60 && c[0] < 230 && c[1] < 40, "half-transparent red over black: {c:?}");
    // Opaque colors stay opaque: the green sphere hides the red one behind it.
    let mut s = scene();
    add(&mut s, sphere(1, -0.6, [1.0, 0.0, 0.0, 1.0]));
    add(&mut s, sphere(2, 0.6, green));
    let c = off.render(&s, &front_camera(), W, H).unwrap().pixel(W / 2, H / 2);
    assert!(c[0] < 40 && c[1] > 150, "opaque green in front: {c:?}");
}

/// A green sphere at distance `d` from the front camera (on its axis).
fn green_sphere_at(d: f32) -> Envelope {
    // front_camera looks down -z from (0, 0, 3).
    sphere([0.0, 0.0, 3.0 - d], 0.4, [0.0, 1.0, 0.0, 1.0])
}

#[test]
fn a_remote_image_with_depth_is_composited_with_local_nodes() {
    use std::sync::Arc;
    let Some(mut off) = offscreen() else { return };
    let cam = front_camera();
    // A red remote image with depth 5 everywhere, rendered from the same camera.
    let red = |depth: Option<f32>| {
        let rgba = [220u8, 30, 30, 255].repeat((W * H) as usize);
        Arc::new(periscope_render::Background::from_camera(&cam, W, H, rgba, depth.map(|d| vec![d; (W * H) as usize])))
    };
    let is_red = |p: [u8; 4]| p[0] > 150 && p[1] < 80 && p[2] < 80;
    let is_green = |p: [u8; 4]| p[1] > 120 && p[0] < 80;
    let centre = |img: &Image| img.pixel(W / 2, H / 2);

    off.renderer.set_backgrounds(&[red(Some(5.0))]);
    let mut s = scene();
    add(&mut s, green_sphere_at(3.0));
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-composite-in-front");
    assert!(is_green(centre(&img)), "a sphere at depth 3 is in front of the image at 5: {:?}", centre(&img));
    assert!(is_red(img.pixel(4, 4)), "the image fills the rest: {:?}", img.pixel(4, 4));

    let mut s = scene();
    add(&mut s, green_sphere_at(8.0));
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-composite-behind");
    assert!(is_red(centre(&img)), "a sphere at depth 8 is hidden by the image at 5: {:?}", centre(&img));

    // Without depth the image is a background: the sphere is always in front.
    off.renderer.set_backgrounds(&[red(None)]);
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-composite-no-depth");
    assert!(is_green(centre(&img)), "without depth the sphere is in front: {:?}", centre(&img));
    assert!(is_red(img.pixel(4, 4)));

    // Empty depth (inf, 0) is background too; a moved view still shows the image.
    off.renderer.set_backgrounds(&[red(Some(f32::INFINITY))]);
    let img = off.render(&s, &cam, W, H).unwrap();
    assert!(is_green(centre(&img)), "inf depth is empty: {:?}", centre(&img));
    off.renderer.set_backgrounds(&[red(Some(5.0))]);
    let moved = Camera { yaw: 0.15, ..cam };
    let img = off.render(&scene(), &moved, W, H).unwrap();
    save(&img, "render-composite-moved");
    let red_pixels = img.rgba.chunks_exact(4).filter(|p| is_red([p[0], p[1], p[2], p[3]])).count();
    assert!(red_pixels > (W * H) as usize * 3 / 4, "the image is reprojected, not lost: {red_pixels}");
    off.renderer.set_backgrounds(&[]);
    assert_eq!(coverage(&off.render(&scene(), &cam, W, H).unwrap()), 0, "cleared");
}

/// Where world point `p` lands in a `W` x `H` image seen by `cam` (y down).
fn project(cam: &Camera, p: [f32; 3]) -> (u32, u32) {
    let clip = cam.projection(W as f32 / H as f32) * cam.view() * glam::Vec4::new(p[0], p[1], p[2], 1.0);
    let ndc = clip / clip.w;
    (((ndc.x + 1.0) * 0.5 * W as f32) as u32, ((1.0 - ndc.y) * 0.5 * H as f32) as u32)
}

fn cloud_rgb(size_kwarg: &str, size: f64) -> Envelope {
    let colors = Value::NdArray(NdArray::from_u8(vec![3, 3], vec![255, 0, 0, 0, 255, 0, 0, 0, 255]));
    Envelope::new(T::PointClouds.as_i64())
        .with_uid(1)
        .with_arg(arr(&[3, 3], vec![-0.8, 0., 0., 0., 0., 0., 0.8, 0., 0.]))
        .with_kwarg("colors", colors)
        .with_kwarg(size_kwarg, size)
}

/// Pixels within `r` of (x, y) that are not background.
fn lit_around(img: &Image, (x, y): (u32, u32), r: i64) -> usize {
    let mut n = 0;
    for dy in -r..=r {
        for dx in -r..=r {
            let (px, py) = (x as i64 + dx, y as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < W && (py as u32) < H && !is_bg(img.pixel(px as u32, py as u32)) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn point_clouds_draw_round_sprites_in_their_colors_and_sizes() {
    let Some(mut off) = offscreen() else { return };
    let cam = front_camera();
    let mut s = scene();
    let id = add(&mut s, cloud_rgb("point_size", 20.0));
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-point-cloud");
    let red = img.pixel(project(&cam, [-0.8, 0., 0.]).0, project(&cam, [-0.8, 0., 0.]).1);
    let green = img.pixel(project(&cam, [0., 0., 0.]).0, project(&cam, [0., 0., 0.]).1);
    let blue = img.pixel(project(&cam, [0.8, 0., 0.]).0, project(&cam, [0.8, 0., 0.]).1);
    assert!(red[0] > 200 && red[1] < 40 && red[2] < 40, "left point is {red:?}");
    assert!(green[1] > 200 && green[0] < 40 && green[2] < 40, "middle point is {green:?}");
    assert!(blue[2] > 200 && blue[0] < 40 && blue[1] < 40, "right point is {blue:?}");
    // A 20 px disc: about pi * 10^2 = 314 pixels, round (not a 400-pixel square).
    let disc = lit_around(&img, project(&cam, [0., 0., 0.]), 14);
    assert!((250..=360).contains(&disc), "20 px sprite covers {disc} px");
    assert!(is_bg(img.pixel(W / 2 + 9, H / 2 + 9)), "the sprite's corner is empty: round, not square");
    assert_eq!(off.pick(&cam, W / 2, H / 2).unwrap(), Some(id));
    assert_eq!(off.stats().draw_calls, 1, "one draw call for the cloud");

    // Twice the size in pixels covers about four times the area.
    let mut s = scene();
    add(&mut s, cloud_rgb("point_size", 40.0));
    let big = lit_around(&off.render(&s, &cam, W, H).unwrap(), project(&cam, [0., 0., 0.]), 24);
    assert!(big > 3 * disc, "40 px covers {big} px vs {disc}");

    // World units: a 0.5-wide point at distance 3 is as wide as 0.5 units of the scene there.
    let mut s = scene();
    add(&mut s, cloud_rgb("point_size_world", 0.5));
    let img = off.render(&s, &cam, W, H).unwrap();
    let (cx, cy) = project(&cam, [0., 0., 0.]);
    let edge = project(&cam, [0.25, 0., 0.]).0 - cx;
    assert!(!is_bg(img.pixel(cx + edge - 2, cy)) && is_bg(img.pixel(cx + edge + 2, cy)), "radius {edge} px");

    // No colors: the node's color; depth-tested against a sphere in front of it.
    let mut s = scene();
    add(
        &mut s,
        Envelope::new(T::PointClouds.as_i64())
            .with_uid(1)
            .with_arg(arr(&[2, 3], vec![0., 0., 0., 0.8, 0., 0.]))
            .with_kwarg("color", Value::from(vec![1.0f64, 1.0, 0.0]))
            .with_kwarg("point_size", 20.0f64),
    );
    add(
        &mut s,
        Envelope::new(T::Spheres.as_i64())
            .with_uid(2)
            .with_arg(arr(&[1, 3], vec![0., 0., 1.]))
            .with_kwarg("radius", 0.2f64)
            .with_kwarg("color", Value::from(vec![0.0f64, 0.0, 1.0])),
    );
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-point-cloud-occluded");
    let (rx, ry) = project(&cam, [0.8, 0., 0.]);
    let yellow = img.pixel(rx, ry);
    assert!(yellow[0] > 200 && yellow[1] > 200 && yellow[2] < 40, "node color is {yellow:?}");
    let front = img.pixel(W / 2, H / 2);
    assert!(front[2] > 100 && front[0] < 60, "the sphere in front hides the point: {front:?}");
}

fn luminance(p: [u8; 4]) -> f32 {
    0.2126 * f32::from(p[0]) + 0.7152 * f32::from(p[1]) + 0.0722 * f32::from(p[2])
}

/// Mean luminance of the 5x5 pixels around `(x, y)`.
fn mean_luminance(img: &Image, (x, y): (u32, u32)) -> f32 {
    let mut sum = 0.0;
    for dy in 0..5 {
        for dx in 0..5 {
            sum += luminance(img.pixel((x + dx).saturating_sub(2).min(W - 1), (y + dy).saturating_sub(2).min(H - 1)));
        }
    }
    sum / 25.0
}

fn floating_sphere() -> Envelope {
    sphere([0.0, 0.8, 0.0], 0.5, [0.9, 0.9, 0.9, 1.0])
}

#[test]
fn a_sphere_casts_a_shadow_on_the_ground_that_goes_when_shadows_are_off() {
    let Some(mut off) = offscreen() else { return };
    let options = RenderOptions { background: [0.3, 0.3, 0.35], grid: false, ..Default::default() };
    off.renderer.set_options(options.clone());
    let mut s = scene();
    add(&mut s, floating_sphere());
    // From the side the key light's shadow falls towards (-z), above the ground.
    let cam =
        Camera { target: [0.0, 0.3, 0.0], yaw: std::f32::consts::PI, pitch: 0.5, distance: 4.0, ..Camera::default() };
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-shadow-on");
    // The key light comes from (-0.45, 1, 0.55): the sphere's centre casts onto
    // the ground at centre - dir * (0.8 / dir.y).
    let under = project(&cam, [0.45 * 0.8, 0.0, -0.55 * 0.8]);
    let far = project(&cam, [-1.4, 0.0, -0.3]);
    let (dark, light) = (mean_luminance(&img, under), mean_luminance(&img, far));
    assert!(dark < light * 0.85, "ground in the shadow {dark} vs away from it {light} ({under:?}, {far:?})");
    off.renderer.set_options(RenderOptions { shadows: false, ..options.clone() });
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-shadow-off");
    let (dark, light) = (mean_luminance(&img, under), mean_luminance(&img, far));
    assert!((dark - light).abs() < light * 0.1, "no shadow: {dark} vs {light}");
    // No ground: the background shows there.
    off.renderer.set_options(RenderOptions { ground: false, ..options });
    let img = off.render(&s, &cam, W, H).unwrap();
    let bg = img.pixel(under.0, under.1);
    assert!((i32::from(bg[0]) - 76).abs() <= 3, "background where the ground was: {bg:?}");
}

#[test]
fn nodes_shadow_each_other() {
    let Some(mut off) = offscreen() else { return };
    off.renderer.set_options(RenderOptions { background: BG, grid: false, ground: false, ..Default::default() });
    let mut s = scene();
    add(&mut s, floating_sphere());
    // A wide flat box under the sphere (y = 0), no ground plane.
    let mut slab = cube();
    let v: Vec<f32> = (0..8)
        .flat_map(|i| {
            [((i & 1) as f32 - 0.5) * 4.0, ((i >> 1) & 1) as f32 * 0.1 - 0.1, ((i >> 2) & 1) as f32 * 4.0 - 2.0]
        })
        .collect();
    slab.args[0] = arr(&[8, 3], v);
    slab.uid = Some(2);
    add(&mut s, slab);
    let cam =
        Camera { target: [0.0, 0.3, 0.0], yaw: std::f32::consts::PI, pitch: 0.5, distance: 4.0, ..Camera::default() };
    let img = off.render(&s, &cam, W, H).unwrap();
    save(&img, "render-shadow-on-node");
    let under = project(&cam, [0.45 * 0.8, 0.0, -0.55 * 0.8]);
    let far = project(&cam, [-1.4, 0.0, -0.3]);
    let (dark, light) = (mean_luminance(&img, under), mean_luminance(&img, far));
    assert!(dark < light * 0.85, "slab in the shadow {dark} vs away from it {light}");
}

#[test]
fn the_selected_node_is_outlined() {
    let Some(mut off) = offscreen() else { return };
    let mut s = scene();
    let id = add(&mut s, sphere([0.0, 0.0, 0.0], 0.5, [0.2, 0.4, 1.0, 1.0]));
    let orange = |p: [u8; 4]| p[0] > 180 && p[1] > 60 && p[1] < 170 && p[2] < 80;
    let count = |img: &Image| img.rgba.chunks_exact(4).filter(|p| orange([p[0], p[1], p[2], p[3]])).count();
    let plain = off.render(&s, &front_camera(), W, H).unwrap();
    assert_eq!(count(&plain), 0);
    s.apply(1, &periscope_scene::select_message(s.node(id), None)).unwrap();
    let img = off.render(&s, &front_camera(), W, H).unwrap();
    save(&img, "render-outline");
    // A ring around the sphere (radius ~ 0.5 / tan(22.5 deg) / 3 of the half height).
    let ring = count(&img);
    assert!(ring > 100, "outline pixels: {ring}");
    let c = img.pixel(W / 2, H / 2);
    assert!(c[2] > 150 && c[0] < 120, "the node itself keeps its color: {c:?}");
    // Off in the options: no outline.
    off.renderer.set_options(RenderOptions { outline: false, ..off.renderer.options().clone() });
    assert_eq!(count(&off.render(&s, &front_camera(), W, H).unwrap()), 0);
}

#[test]
fn ambient_occlusion_darkens_the_crease_where_a_box_stands_on_the_ground() {
    let Some(mut off) = offscreen() else { return };
    let look = RenderOptions { background: [0.3, 0.3, 0.35], grid: false, shadows: false, ..Default::default() };
    let mut s = scene();
    // A unit box standing on the ground (y 0..1).
    let mut boxed = cube();
    if let Value::NdArray(a) = &boxed.args[0] {
        let v: Vec<f32> = a.to_f32().chunks(3).flat_map(|p| [p[0], p[1] + 0.5, p[2]]).collect();
        boxed.args[0] = arr(&[8, 3], v);
    }
    add(&mut s, boxed);
    let cam = Camera { target: [0.0, 0.4, 0.0], yaw: 0.0, pitch: 0.5, distance: 3.5, ..Camera::default() };
    let shots: Vec<Image> = [false, true]
        .into_iter()
        .map(|ssao| {
            off.renderer.set_options(RenderOptions { ssao, ..look.clone() });
            off.render(&s, &cam, W, H).unwrap()
        })
        .collect();
    save(&shots[1], "render-ssao-on");
    save(&shots[0], "render-ssao-off");
    // The ground just in front of the box's base (a concave corner), and open ground.
    let crease = project(&cam, [0.0, 0.0, 0.56]);
    let open = project(&cam, [1.6, 0.0, 0.8]);
    let (crease_off, crease_on) = (mean_luminance(&shots[0], crease), mean_luminance(&shots[1], crease));
    let (open_off, open_on) = (mean_luminance(&shots[0], open), mean_luminance(&shots[1], open));
    assert!(crease_on < crease_off * 0.95, "crease {crease_on} vs without AO {crease_off} at {crease:?}");
    assert!((open_on - open_off).abs() < open_off * 0.03, "open ground unchanged: {open_on} vs {open_off}");
    // The background is never darkened.
    assert_eq!(shots[1].pixel(2, 2), shots[0].pixel(2, 2));
}

/// Found by a hostile-client run: after one 8192² screenshot the headless
/// viewer kept its ~3 GB target for the rest of the run. A target over
/// `RenderTarget::MAX_KEPT_PIXELS` is freed after its render; smaller ones stay
/// for the next render.
#[test]
fn huge_targets_are_freed_after_their_render() {
    let Some(mut off) = offscreen() else { return };
    let s = scene();
    off.render(&s, &front_camera(), 64, 48).unwrap();
    assert_eq!(off.kept_target(), Some((64, 48)));
    let img = off.render(&s, &front_camera(), 4097, 2048).unwrap();
    assert_eq!((img.width, img.height), (4097, 2048));
    assert_eq!(off.kept_target(), None, "a target over 4096x2048 pixels is not kept");
}

#[test]
fn the_grid_lies_under_what_stands_below_zero_and_never_crosses_it() {
    let Some(mut off) = offscreen() else { return };
    let y_up = grid_under_a_sphere(&mut off, false);
    // A sphere at the origin looks the same either way up, and so must the
    // grid under it: in display space, whatever `z_up` (a renderer opened
    // with z_up once drew it vertical; hence a renderer of its own).
    let Some(mut off) = offscreen() else { return };
    let z_up = grid_under_a_sphere(&mut off, true);
    let differ = (0..W * H)
        .filter(|i| (0..3).any(|c| y_up.pixel(i % W, i / W)[c].abs_diff(z_up.pixel(i % W, i / W)[c]) > 24))
        .count();
    // (The sphere's facets turn with the world: a few edge pixels differ; a
    // vertical grid changed 7,824.)
    assert!(differ < 300, "{differ} pixels differ with z_up: see render-grid-under-sphere-z-up.png");
}

/// Renders the grid under a sphere around the origin, checks that it does
/// not cross the sphere, and returns the image.
fn grid_under_a_sphere(off: &mut Offscreen, z_up: bool) -> Image {
    let mut s = scene();
    // A sphere around the origin: its lower half is below y = 0, so the grid
    // (and ground) go down to its bottom. A grid left at 0 would cut through
    // it, its lines drawn over the sphere's lower front.
    add(&mut s, sphere([0.0, 0.0, 0.0], 0.5, [1.0, 0.0, 0.0, 1.0]));
    let cam = Camera { target: [0.0; 3], yaw: 0.3, pitch: 0.5, distance: 2.5, ..Camera::default() };
    let plain =
        RenderOptions { background: BG, grid: false, ground: false, shadows: false, z_up, ..Default::default() };
    off.renderer.set_options(plain.clone());
    let without = off.render(&s, &cam, W, H).unwrap();
    off.renderer.set_options(RenderOptions { grid: true, ..plain });
    let with = off.render(&s, &cam, W, H).unwrap();
    save(&with, &format!("render-grid-under-sphere{}", if z_up { "-z-up" } else { "" }));
    // The grid is there around the sphere...
    let grid_pixels = (0..W * H).filter(|i| is_bg(without.pixel(i % W, i / W)) && !is_bg(with.pixel(i % W, i / W)));
    assert!(grid_pixels.count() > 200, "the grid is drawn (z_up {z_up})");
    // ...and not over it: every pixel well inside the sphere (its 8 neighbours
    // are sphere too) is the same with and without the grid.
    let inside = |x: u32, y: u32| {
        (x.saturating_sub(1)..=(x + 1).min(W - 1))
            .all(|x| (y.saturating_sub(1)..=(y + 1).min(H - 1)).all(|y| !is_bg(without.pixel(x, y))))
    };
    let mut crossed = Vec::new();
    for y in 0..H {
        for x in 0..W {
            let (a, b) = (without.pixel(x, y), with.pixel(x, y));
            if inside(x, y) && (0..3).any(|c| a[c].abs_diff(b[c]) > 24) {
                crossed.push((x, y, a, b));
            }
        }
    }
    assert!(
        crossed.is_empty(),
        "z_up {z_up}: {} sphere pixels changed by the grid, e.g. {:?}",
        crossed.len(),
        &crossed[..crossed.len().min(4)]
    );
    with
}
