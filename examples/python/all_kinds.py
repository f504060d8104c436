"""One node of every built-in kind, animated over 120 frames.

    .venv/bin/python examples/python/all_kinds.py
"""

import numpy as np

from periscope import (
    RemoteArrows,
    RemoteLines,
    RemoteRigidBodies,
    RemoteSkeletons,
    RemoteSpheres,
    RemoteViewer,
)

F = 120


def rotation_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float32)


def main():
    t = np.linspace(0, 2 * np.pi, F, dtype=np.float32)
    with RemoteViewer("127.0.0.1", client_name="all_kinds") as v:
        # A ring of 16 spheres, breathing; one color per sphere.
        a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], axis=-1)
        spheres = ring[None] * (1 + 0.2 * np.sin(t))[:, None, None]
        colors = np.stack([a / (2 * np.pi), 0.5 + 0 * a, 1 - a / (2 * np.pi)], axis=-1)
        RemoteSpheres(v, spheres, radius=0.05, color=colors, name="Ring")

        # A helix as a line strip, and the same points as separate segments.
        u = np.linspace(0, 6 * np.pi, 200)
        helix = np.stack([0.3 * np.cos(u), 0.3 * np.sin(u), u / (6 * np.pi)], axis=-1)
        RemoteLines(v, helix, mode="line_strip", r_base=0.005, color=(0.9, 0.6, 0.1, 1), name="Helix")
        RemoteLines(v, helix[:40] + [1.5, 0, 0], mode="lines", r_base=0.01, r_tip=0.0, name="Cones")

        # Arrows spinning around the origin.
        tips = np.stack([np.stack([np.cos(t + k), np.sin(t + k), np.full_like(t, 0.5)], -1) for k in range(4)], 1)
        RemoteArrows(v, np.zeros_like(tips), tips, r_base=0.01, r_head=0.03, p=0.15, name="Arrows")

        # Three rigid bodies rotating about z.
        rb_pos = np.tile(np.array([[-1, -1, 0], [0, -1, 0], [1, -1, 0]], np.float32), (F, 1, 1))
        rb_ori = np.stack([np.stack([rotation_z(x * (k + 1)) for k in range(3)]) for x in t])
        RemoteRigidBodies(v, rb_pos, rb_ori, radius=0.03, length=0.25, name="Bodies")

        # A waving four-joint arm.
        joints = np.zeros((F, 4, 3), np.float32)
        for j in range(1, 4):
            angle = 0.5 * np.sin(t + j)
            joints[:, j] = joints[:, j - 1] + np.stack([np.cos(angle), np.zeros_like(angle), np.sin(angle)], -1) * 0.4
        RemoteSkeletons(v, joints + [0, 1, 0], np.array([[-1, 0], [0, 1], [1, 2], [2, 3]]), radius=0.03, name="Arm")

        state = v.sync()
        print(f"{len(state['nodes'])} nodes, {state['n_frames']} frames")


if __name__ == "__main__":
    main()
