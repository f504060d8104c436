"""`periscope --connect` under a virtual X display (Xvfb, software Vulkan):
the window is a view of a headless hub. It shows the hub's scene, a click on
a control in it fires the Python owner's callback, and when the hub goes away
it says so, keeps the last scene and picks the next hub up by itself."""

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np
import pytest

from conftest import BIN, Viewer, wait_for
from periscope import RemoteMeshes, RemoteSpheres, RemoteViewer

REQUIRED = os.environ.get("PERISCOPE_REQUIRE_WINDOW_TEST") == "1"
MISSING = [t for t in ("Xvfb", "import", "convert", "identify", "xdotool") if shutil.which(t) is None]
if MISSING:
    if REQUIRED:
        raise RuntimeError(f"the view window test needs {', '.join(MISSING)} (apt: xvfb imagemagick xdotool)")
    pytest.skip(f"view window test skipped: {', '.join(MISSING)} not installed", allow_module_level=True)

SHOTS = BIN.parent.parent / "screenshots"
# Where the window puts the first control of the first client (a 1280x800
# window: the Controls section tops the right-hand panel). Checked below by
# its effect: the owner's callback must fire.
BUTTON = (1021, 83)


def rgb(path):
    w, h = subprocess.run(["identify", "-format", "%w %h", str(path)], check=True, capture_output=True,
                          text=True).stdout.split()
    raw = subprocess.run(["convert", str(path), "rgb:-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(int(h), int(w), 3).astype(int)


def shot(display, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    subprocess.run(["import", "-display", display, "-window", "root", str(path)], check=True)
    return path, rgb(path)


def red_and_blue(img):
    """Columns (mean x) of the red and of the blue pixels, and their counts."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    red = (r > 150) & (g < 70) & (b < 70)
    blue = (b > 150) & (r < 70) & (g < 70)
    xs = np.arange(img.shape[1])[None, :]
    mean = lambda m: float((xs * m).sum() / max(m.sum(), 1))  # noqa: E731
    return mean(red), int(red.sum()), mean(blue), int(blue.sum())


def scene(v, offset=0.0):
    RemoteSpheres(v, np.array([[-1.0 + offset, 0.0, 0.0]]), radius=0.5, color=(1, 0, 0, 1), name="red sphere")
    quad = np.array([[0.5, -0.5, 0], [1.5, -0.5, 0], [1.5, 0.5, 0], [0.5, 0.5, 0]], float)
    RemoteMeshes(v, quad, np.array([[0, 1, 2], [0, 2, 3]]), color=(0, 0, 1, 1), name="blue mesh")


def test_connect_shows_the_hubs_scene_and_a_click_reaches_the_owner():
    hub = Viewer()
    n = random.randint(1400, 2400)
    display = f":{n}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stderr=subprocess.DEVNULL)
    view = None
    hub2 = None
    try:
        v = RemoteViewer("127.0.0.1", hub.port, client_name="producer")
        scene(v)
        clicks = []
        button = v.gui.add_button("Ping")
        button.on_click(clicks.append)
        cameras = []
        v.on_camera(cameras.append)
        wait_for("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"))
        env = dict(os.environ, DISPLAY=display, XDG_RUNTIME_DIR=tempfile.mkdtemp())
        env.pop("WAYLAND_DISPLAY", None)
        view = subprocess.Popen([str(BIN), "--connect", f"ws://127.0.0.1:{hub.port}", "--log-level", "warn"],
                                env=env)

        def shows_scene():
            if view.poll() is not None:
                raise AssertionError(f"the view exited with {view.returncode}")
            path, img = shot(display, "view.png")
            rx, rn, bx, bn = red_and_blue(img)
            return (path, rx, bx) if rn > 2000 and bn > 2000 else None

        path, rx, bx = wait_for("the view to show the hub's scene", shows_scene, timeout=90)
        assert rx < bx, f"the red sphere is left of the blue mesh, as sent: see {path}"

        # A click on the control in the view's window runs the owner's callback here.
        subprocess.run(["xdotool", "mousemove", str(BUTTON[0]), str(BUTTON[1]), "click", "1"], env=env, check=True)
        wait_for("the button's callback", lambda: clicks, timeout=30)
        assert clicks[0].control is button

        # Dragging in the view's 3D view turns its camera: the hub reports that
        # view's camera to camera subscribers (and its remote renderers follow it).
        subprocess.run(["xdotool", "mousemove", "600", "420", "mousedown", "1", "mousemove", "640", "430",
                        "mousemove", "700", "440", "mouseup", "1"], env=env, check=True)
        moved = wait_for("a camera event from the view",
                         lambda: [e for e in cameras if e.view not in (None, 0)], timeout=30)
        assert moved[-1].camera["width"] > 100, moved[-1].camera

        # The hub goes away: the view keeps its last scene and reconnects to the next one.
        port = hub.port
        v.close()
        hub.proc.send_signal(signal.SIGINT)
        hub.proc.wait(timeout=10)
        time.sleep(1.5)
        path, img = shot(display, "view-disconnected.png")
        _, rn, _, bn = red_and_blue(img)
        assert rn > 2000 and bn > 2000, f"the last scene stays on screen: see {path}"
        top = img[:28]
        light_red = (top[..., 0] > 230) & (top[..., 1] > 100) & (top[..., 1] < 190) & (top[..., 2] < 190)
        assert light_red.sum() > 30, f"the top bar says disconnected: see {path}"
        assert view.poll() is None, "the view keeps running without its hub"

        hub2 = Viewer(port=port)
        with RemoteViewer("127.0.0.1", hub2.port, client_name="second") as v2:
            # Only a red sphere, moved right of where the mesh was.
            RemoteSpheres(v2, np.array([[2.0, 0.0, 0.0]]), radius=0.5, color=(1, 0, 0, 1), name="moved")

            def new_scene():
                _, img2 = shot(display, "view-reconnected.png")
                _, rn2, _, bn2 = red_and_blue(img2)
                return rn2 > 500 and bn2 < 50
            wait_for("the view to show the new hub's scene", new_scene, timeout=60)
    finally:
        if view is not None and view.poll() is None:
            view.send_signal(signal.SIGINT)
            try:
                view.wait(timeout=10)
            except subprocess.TimeoutExpired:
                view.kill()
        for h in (hub, hub2):
            if h is not None:
                h.stop()
        xvfb.terminate()
        xvfb.wait()
