"""Point clouds: a scan that grows frame by frame (a different number of
points in every frame), colored by height, beside a dense static cloud.

    .venv/bin/python examples/python/point_cloud.py [--points 1000000]
"""

import argparse

import numpy as np

from periscope import RemotePointClouds, RemoteViewer

FRAMES = 30


def torus(n, rng):
    """`n` points on a torus, with a little noise, as a scanner would see it."""
    u, v = rng.random(n) * 2 * np.pi, rng.random(n) * 2 * np.pi
    r = 0.25 + 0.01 * rng.normal(size=n)
    return np.stack([(1 + r * np.cos(v)) * np.cos(u), r * np.sin(v) + 0.5, (1 + r * np.cos(v)) * np.sin(u)], -1)


def height_colors(p):
    """Blue (low) to orange (high), uint8 RGB."""
    h = (p[:, 1] - p[:, 1].min()) / max(np.ptp(p[:, 1]), 1e-9)
    rgb = np.stack([0.2 + 0.8 * h, 0.3 + 0.3 * h, 1.0 - 0.8 * h], -1)
    return (rgb * 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200_000, help="points in the static cloud")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with RemoteViewer("127.0.0.1", client_name="point_cloud") as v:
        # The scan: frame i holds (i + 1) * 2,000 points, sent as a list of frames.
        frames = [torus((i + 1) * 2_000, rng) for i in range(FRAMES)]
        scan = RemotePointClouds(v, frames, colors=[height_colors(f) for f in frames], point_size=3.0,
                                 name="Growing scan")
        # A dense cloud in a ball, sized in world units, in the node color.
        ball = rng.normal(size=(args.points, 3)).astype(np.float32)
        ball /= np.linalg.norm(ball, axis=1, keepdims=True) / np.cbrt(rng.random((args.points, 1)))
        RemotePointClouds(v, ball * 0.4 + [2.5, 0.5, 0], point_size_world=0.01, color=(0.3, 0.9, 0.5),
                          name="Dense cloud")
        v.set_frame(FRAMES - 1)
        v.sync()
        last = v.query_data(scan, "points", frame=FRAMES - 1)
        print(f"scan has {v.sync()['n_frames']} frames; last frame {len(last)} points")


if __name__ == "__main__":
    main()
