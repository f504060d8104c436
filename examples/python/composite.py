"""A remote render and the local scene in one picture: the numpy ray tracer of
image_renderer.py renders spheres on a checkerboard, with depth, into the
viewer's main 3D view from the view's own camera, while the same program
streams a mesh (a ring flying between the spheres) into that scene. Moving
the camera shows occlusion both ways: the ring passes behind and in front of
the ray-traced spheres.

    .venv/bin/python examples/python/composite.py           # runs until Ctrl-C
    .venv/bin/python examples/python/composite.py --check   # a few images, then exits

Drag in the 3D view: the viewer reprojects the last image at once and asks
for smaller images while you drag (adaptive resolution), then a sharp one.
"""

import argparse
import time

import numpy as np
from image_renderer import render, scaled

from periscope import RemoteMeshes, RemoteViewer


def ring(n=48, m=12, major=0.55, minor=0.09):
    """A torus in the xz plane: vertices (n*m, 3) and faces."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, n, endpoint=False), np.linspace(0, 2 * np.pi, m, endpoint=False),
                       indexing="ij")
    r = major + minor * np.cos(v)
    verts = np.stack([r * np.cos(u), minor * np.sin(v), r * np.sin(u)], -1).reshape(-1, 3).astype(np.float32)
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    a = i * m + j
    b, c = ((i + 1) % n) * m + j, i * m + (j + 1) % m
    d = ((i + 1) % n) * m + (j + 1) % m
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    return verts, faces.astype(np.int32)


def flight(verts, frames=120):
    """The ring flying a figure eight through the spheres, tilting as it goes."""
    out = []
    for k in range(frames):
        s = 2 * np.pi * k / frames
        centre = np.array([1.3 * np.sin(s), 0.45 + 0.15 * np.sin(2 * s), 0.9 * np.sin(2 * s) * 0.5], np.float32)
        tilt = 0.6 * np.sin(s)
        rot = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]], np.float32)
        out.append(verts @ rot.T + centre)
    return np.stack(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--scale", type=float, default=0.5, help="ray trace at this fraction of the view's size")
    ap.add_argument("--check", action="store_true", help="send a few images, print a summary and exit")
    args = ap.parse_args()

    v = RemoteViewer(args.host, args.port, client_name="composite", required=True)
    verts, faces = ring()
    frames = flight(verts)
    mesh = RemoteMeshes(v, frames[:1], faces, name="ring", color=(0.2, 0.8, 0.4, 1.0))
    v.set_camera(position=(0.3, 1.4, 3.6), target=(0.0, 0.4, 0.0), fov_y=45)
    streamed, sent, start = 1, 0, time.monotonic()
    try:
        while True:
            # The mesh streams in a few frames at a time, as a simulation would produce them.
            if streamed < len(frames):
                mesh.add_frames(frames[streamed:streamed + 8])
                streamed = min(streamed + 8, len(frames))
            else:
                v.next_frame()
            v.require_camera_from_remote(True, target="viewport")
            info = v.read(timeout=0.5)
            if info["status"] != 1:
                continue
            cam = scaled(info["camera"], args.scale)
            rgb, depth = render(cam, metric=True)
            if v.send_viewport(rgb, depth=depth, camera=cam):
                sent += 1
            if args.check and sent >= 3 and streamed == len(frames):
                break
    except KeyboardInterrupt:
        pass
    state = v.sync(raise_errors=False)
    node = next(n for n in state["nodes"] if n["name"] == "ring")
    if args.check:
        print(f"sent {sent} images with depth; ring has {node['n_frames']} frames")
    else:
        print(f"sent {sent} images in {time.monotonic() - start:.1f} s")
    v.close()


if __name__ == "__main__":
    main()
