"""A CPU renderer in numpy that renders from the viewer's camera: the remote
renderer workflow (Gaussian splatting, NeRF, nvdiffrast) without a GPU.

    .venv/bin/python examples/python/image_renderer.py            # one window, runs until Ctrl-C
    .venv/bin/python examples/python/image_renderer.py --two      # color and depth: two windows
    .venv/bin/python examples/python/image_renderer.py --single   # one image, then wait for "Read remote"

Drag in the image window to orbit (right-drag pans, wheel zooms): the viewer
sends its camera, this program ray-traces three spheres on a checkerboard from
it and sends the image back. Start it before or after the viewer, close and
restart the viewer: it keeps going and reconnects.
"""

import argparse
import time

import numpy as np

from periscope import RemoteViewer, camera

SPHERES = np.array([[0.0, 0.5, 0.0, 0.5], [1.1, 0.35, 0.3, 0.35], [-0.9, 0.3, -0.4, 0.3]], np.float32)
COLORS = np.array([[0.9, 0.25, 0.2], [0.2, 0.6, 0.95], [0.95, 0.8, 0.2]], np.float32)
LIGHT = np.array([-0.4, 0.8, 0.45], np.float32) / np.linalg.norm([-0.4, 0.8, 0.45])


def default_camera(width=480, height=360):
    """Looks at the scene from the front, in the viewer's camera format."""
    eye, target = np.array([0.0, 1.5, 4.0]), np.array([0.0, 0.4, 0.0])
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c2w = np.eye(4, dtype=np.float32)
    c2w[:3, :3] = np.stack([x, y, z], axis=1)
    c2w[:3, 3] = eye
    f = 0.5 * height / np.tan(np.radians(45) / 2)
    return {"width": width, "height": height, "fx": f, "fy": f, "cx": width / 2, "cy": height / 2,
            "camera_to_world": c2w, "world_to_camera": np.linalg.inv(c2w), "zfar": 100.0}


def scaled(cam, scale):
    """The same camera at `scale` times the resolution (a faster preview)."""
    if scale == 1.0:
        return cam
    out = dict(cam)
    out["width"], out["height"] = max(1, int(cam["width"] * scale)), max(1, int(cam["height"] * scale))
    for k in ("fx", "fy", "cx", "cy"):
        out[k] = cam[k] * scale
    return out


def render(cam, metric=False):
    """Color (H, W, 3) float in [0, 1] and depth (H, W) normalised to [0, 1]
    for showing; with ``metric=True`` the depth is z along the camera's viewing
    axis in world units (inf where only sky is seen), for compositing."""
    o, d = camera.rays(cam)
    h, w = d.shape[:2]
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    t_best = np.full(len(d), np.inf, np.float32)
    normal = np.zeros_like(d)
    color = np.zeros_like(d)
    for (cx, cy, cz, r), c in zip(SPHERES, COLORS):
        oc = o - np.array([cx, cy, cz], np.float32)
        b = np.einsum("ij,ij->i", oc, d)
        disc = b * b - (np.einsum("ij,ij->i", oc, oc) - r * r)
        t = -b - np.sqrt(np.maximum(disc, 0))
        hit = (disc > 0) & (t > 1e-3) & (t < t_best)
        t_best[hit] = t[hit]
        normal[hit] = (oc[hit] + t[hit, None] * d[hit]) / r
        color[hit] = c
    # The floor y = 0, a checkerboard.
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -o[:, 1] / d[:, 1]
    hit = (t > 1e-3) & (t < t_best)
    p = o[hit] + t[hit, None] * d[hit]
    check = (np.floor(p[:, 0] * 2) + np.floor(p[:, 2] * 2)) % 2
    t_best[hit] = t[hit]
    normal[hit] = [0, 1, 0]
    color[hit] = np.where(check[:, None] > 0, 0.8, 0.35) * np.exp(-0.08 * np.linalg.norm(p, axis=1))[:, None]
    lit = color * (0.25 + 0.75 * np.clip(normal @ LIGHT, 0, 1))[:, None]
    sky = np.array([0.55, 0.7, 0.9], np.float32) * (0.6 + 0.4 * d[:, 1:2].clip(0, 1))
    rgb = np.where(np.isfinite(t_best)[:, None], lit, sky)
    if metric:
        forward = np.asarray(cam["camera_to_world"], np.float32)[:3, 2]
        depth = t_best * (d @ forward)
    else:
        depth = np.where(np.isfinite(t_best), 1.0 - np.clip(t_best / 12.0, 0, 1), 0.0)
    return rgb.reshape(h, w, 3), depth.reshape(h, w).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--two", action="store_true", help="send color and depth: two windows")
    ap.add_argument("--single", action="store_true", help="send one image and exit (the viewer waits for Read remote)")
    ap.add_argument("--format", choices=["raw", "jpeg", "png"], default="raw")
    ap.add_argument("--scale", type=float, default=0.5, help="render at this fraction of the window's size")
    ap.add_argument("--frames", type=int, default=0, help="stop after this many images (0: run until Ctrl-C)")
    args = ap.parse_args()

    rv = RemoteViewer(args.host, args.port, client_name="image_renderer")
    sent, start = 0, time.monotonic()
    try:
        while True:
            rv.require_camera_from_remote(True)
            info = rv.read(timeout=0.5)
            cam = info["camera"] if info["status"] == 1 else default_camera()
            rgb, depth = render(scaled(cam, args.scale))
            images = [rgb, depth] if args.two else rgb
            if rv.send_images(images, single=args.single, format=args.format, camera=info.get("camera")):
                sent += 1
            else:
                time.sleep(0.2)  # no viewer yet: do not spin
            if args.single or (args.frames and sent >= args.frames):
                break
    except KeyboardInterrupt:
        pass
    finally:
        if rv.connected:
            rv.sync(raise_errors=False)
        rv.close()
    elapsed = time.monotonic() - start
    print(f"sent {sent} image set(s) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
