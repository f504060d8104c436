//! Streams a deforming grid mesh to a running viewer, one frame per message,
//! then reads the scene back.
//!
//! ```sh
//! cargo run --release -p periscope-examples --bin stream_mesh -- [HOST:PORT] [FRAMES]
//! ```

use std::time::Instant;

use anyhow::Context as _;
use periscope_client::{Viewer, kw};
use periscope_protocol::NdArray;

const N: usize = 64; // grid of N x N vertices

fn grid_frame(t: f32) -> Vec<f32> {
    let mut v = Vec::with_capacity(N * N * 3);
    for i in 0..N {
        for j in 0..N {
            let (x, y) = (i as f32 / (N - 1) as f32 - 0.5, j as f32 / (N - 1) as f32 - 0.5);
            let z = 0.1 * ((x * 12.0 + t).sin() + (y * 9.0 - t).cos());
            v.extend_from_slice(&[x, y, z]);
        }
    }
    v
}

fn grid_faces() -> Vec<i64> {
    let mut f = Vec::with_capacity((N - 1) * (N - 1) * 6);
    for i in 0..N - 1 {
        for j in 0..N - 1 {
            let a = (i * N + j) as i64;
            let (b, c, d) = (a + 1, a + N as i64, a + N as i64 + 1);
            f.extend_from_slice(&[a, c, b, b, c, d]);
        }
    }
    f
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8417".into());
    let frames: usize = args.next().map(|s| s.parse()).transpose().context("FRAMES must be a number")?.unwrap_or(200);

    let mut v =
        Viewer::connect(addr.as_str(), "stream_mesh").with_context(|| format!("is a viewer running at {addr}?"))?;
    let faces = grid_faces();
    let n_faces = faces.len() / 3;
    let uid = v.meshes(
        NdArray::from_f32(vec![N * N, 3], grid_frame(0.0)),
        NdArray::from_i64(vec![n_faces, 3], faces),
        vec![kw("name", "Wave"), kw("color", vec![0.3f64, 0.6, 0.9, 1.0])],
    )?;
    let start = Instant::now();
    for f in 1..frames {
        let data = NdArray::from_f32(vec![N * N, 3], grid_frame(f as f32 * 0.1));
        v.add_frames(uid, vec![data.into()], vec![])?;
    }
    let state = v.query()?;
    let secs = start.elapsed().as_secs_f64();
    let mb = (frames - 1) as f64 * (N * N * 3 * 4) as f64 / 1e6;
    println!(
        "sent {} frames of {} vertices ({mb:.1} MB) in {secs:.3} s; the viewer has {} node(s), {} frames",
        frames,
        N * N,
        state.nodes.len(),
        state.n_frames
    );
    v.close()?;
    Ok(())
}
