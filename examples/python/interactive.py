"""Controls and events: a parametric surface recomputed in numpy when the
sliders in the viewer's Controls panel move.

    .venv/bin/python examples/python/interactive.py          # runs until Ctrl-C
    .venv/bin/python examples/python/interactive.py --check  # drives its own controls once and exits

In the window: drag the sliders (the surface follows while you drag), pick a
color map, press Reset, and click the surface: the vertex nearest to the click
is marked and named in the panel.
"""

import argparse
import threading
import time

import numpy as np

from periscope import RemoteMeshes, RemoteSpheres, RemoteViewer

N = 64  # grid points per side


def grid_faces(n):
    """Two triangles per grid cell."""
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a = (i * n + j).ravel()
    b, c, d = a + 1, a + n, a + n + 1
    return np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)]).astype(np.int32)


def surface(freq, amplitude, twist):
    """A rippled, twisted sheet over [-1, 1]^2 (y up)."""
    u, w = np.meshgrid(np.linspace(-1, 1, N), np.linspace(-1, 1, N), indexing="ij")
    r = np.hypot(u, w)
    height = amplitude * np.cos(freq * np.pi * r) * np.exp(-1.5 * r)
    angle = twist * r
    x, z = u * np.cos(angle) - w * np.sin(angle), u * np.sin(angle) + w * np.cos(angle)
    return np.stack([x, height, z], -1).reshape(-1, 3).astype(np.float32)


COLORMAPS = {
    # Three stops each, interpolated linearly over normalized height.
    "viridis": np.array([[0.27, 0.00, 0.33], [0.13, 0.57, 0.55], [0.99, 0.91, 0.14]]),
    "magma": np.array([[0.00, 0.00, 0.02], [0.72, 0.21, 0.47], [0.99, 0.99, 0.75]]),
    "gray": np.array([[0.15, 0.15, 0.15], [0.55, 0.55, 0.55], [0.95, 0.95, 0.95]]),
}


def colors(vertices, name):
    h = vertices[:, 1]
    t = (h - h.min()) / max(float(np.ptp(h)), 1e-6) * 2.0
    stops = COLORMAPS[name]
    k = np.minimum(t.astype(int), 1)
    f = (t - k)[:, None]
    rgb = stops[k] * (1 - f) + stops[k + 1] * f
    return np.concatenate([rgb, np.ones((len(rgb), 1))], 1).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change each control once from code, print, exit")
    args = parser.parse_args()

    v = RemoteViewer("127.0.0.1", client_name="interactive", required=True)
    gui = v.gui
    freq = gui.add_slider("Frequency", min=0.5, max=6.0, step=0.1, value=2.0)
    amplitude = gui.add_slider("Amplitude", min=0.0, max=1.0, value=0.35)
    cmap = gui.add_dropdown("Color map", options=list(COLORMAPS), value="viridis")
    with gui.add_folder("Advanced"):
        twist = gui.add_slider("Twist", min=0.0, max=3.0, value=0.0)
        wire = gui.add_checkbox("Flat shading", value=False)
    reset = gui.add_button("Reset")
    picked = gui.add_text("Selected vertex", value="click the surface", disabled=True)

    faces = grid_faces(N)
    verts = surface(freq.value, amplitude.value, twist.value)
    mesh = RemoteMeshes(v, verts, faces, vertex_colors=colors(verts, cmap.value), name="surface")
    marker = RemoteSpheres(v, np.zeros((1, 3), np.float32), radius=0.06, color=(1.0, 0.1, 0.1, 1.0),
                           name="picked vertex", enabled=False)
    lock = threading.Lock()
    updates = []

    def redraw(_event=None):
        with lock:
            nonlocal verts
            verts = surface(freq.value, amplitude.value, twist.value)
            mesh.update_frames(verts, vertex_colors=colors(verts, cmap.value), frames=0)
            updates.append(time.monotonic())

    for control in (freq, amplitude, twist, cmap):
        control.on_update(redraw)

    @wire.on_update
    def _(event):
        mesh.set_properties(flat_shading=bool(event.value))

    @reset.on_click
    def _(event):
        freq.value, amplitude.value, twist.value, cmap.value = 2.0, 0.35, 0.0, "viridis"
        redraw()

    @v.on_select
    def _(event):
        if event.node != mesh.uid or event.point is None:
            return
        with lock:
            i = int(np.argmin(np.linalg.norm(verts - np.asarray(event.point), axis=1)))
            marker.update_frames(verts[i:i + 1], frames=0)
        marker.set_properties(enabled=True)
        picked.value = f"#{i} at ({verts[i, 0]:.2f}, {verts[i, 1]:.2f}, {verts[i, 2]:.2f})"

    v.set_camera(position=(0.0, 1.6, 2.6), target=(0.0, 0.0, 0.0), fov_y=45)
    if args.check:
        # Change the controls as a person would (their callbacks run), then read back.
        gui.set(freq.id, 4.0)
        gui.set(cmap.id, "magma")
        gui.set(reset.id)
        deadline = time.monotonic() + 10
        while len(updates) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        v.sync()
        print(f"{len(gui.list())} controls; surface recomputed {len(updates)} times; frequency {freq.value}")
        v.close()
        return
    print("move the sliders in the viewer's Controls panel; Ctrl-C to stop")
    try:
        while v.connected:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    v.close()


if __name__ == "__main__":
    main()
