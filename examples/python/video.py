"""Videos of a result: a ball bouncing through a ring of spheres, streamed as
a 60-frame sequence, then exported three ways — a turntable MP4, a GIF whose
camera follows the ball, and an MP4 along keyframes (one of them the view's
camera). Run the viewer first (`make run`), then:

    .venv/bin/python examples/python/video.py [--size 640x360]

The files land in the viewer's export folder ([viewer] export_dir).
"""

import argparse
import os

import numpy as np

from periscope import CameraPath, RemoteSpheres, RemoteViewer, video


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="640x360", help="video size WxH")
    args = ap.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    n = 60
    t = np.linspace(0, 1, n, dtype=np.float32)
    # The ball: once around the ring, bouncing three times.
    ball = np.stack([1.5 * np.cos(2 * np.pi * t), 0.3 + 1.2 * np.abs(np.sin(3 * np.pi * t)),
                     1.5 * np.sin(2 * np.pi * t)], axis=-1)[:, None, :]
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring = np.stack([2.5 * np.cos(angles), np.full(12, 0.25), 2.5 * np.sin(angles)], axis=-1).astype(np.float32)
    with RemoteViewer("127.0.0.1", client_name="video") as v:
        RemoteSpheres(v, ring, radius=0.25, color=(0.2, 0.5, 1.0, 1.0), name="ring")
        RemoteSpheres(v, ball, radius=0.3, color=(1.0, 0.35, 0.1, 1.0), name="ball")
        v.sync()
        # 1. A turntable: every frame, the camera circling everything once.
        turn = v.export_video("turntable.mp4", orbit=True, width=width, height=height, fps=30)
        # 2. A GIF following the ball, every other frame at 15 fps.
        follow = v.export_video("follow.gif", frames=range(0, n, 2), fps=15, width=width // 2, height=height // 2,
                                camera_path=video.follow("ball", offset=(0, 1.5, 3.5)))
        # 3. Keyframes: from high above to low beside the ring; the last is the view's camera.
        v.set_camera(position=(4, 1, 4), target=(0, 0.5, 0), fov_y=50)
        path = CameraPath().add(position=(0, 8, 0.1), target=(0, 0, 0), fov=60, time=0)
        path.add(position=(-5, 2, 0), target=(0, 0.5, 0), time=1.0).add_current(v, time=2.0)
        fly = v.export_video("fly.mp4", camera_path=path, width=width, height=height, fps=30)
        print(f"wrote {os.path.basename(turn)}, {os.path.basename(follow)} and {os.path.basename(fly)} "
              f"from {n} frames")


if __name__ == "__main__":
    main()
