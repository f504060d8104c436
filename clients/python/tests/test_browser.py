"""The browser view (docs/web.md), in Debian's real chromium, headless,
driven by chromedriver (WebDriver over HTTP: no Python package needed):
the hub serves the page from its own port, the page connects as a view and
draws the hub's scene on WebGPU (SwiftShader, `--enable-unsafe-webgpu`) and
on WebGL2 (`?renderer=webgl2`); a click on a button control fires the
Python owner's callback, a click on a node fires `on_select`, a remote
renderer's composited image shows, and a wrong token shows the refusal.

Screenshots are kept in target/screenshots/web-*.png."""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
import pytest

from conftest import BIN, REPO, Viewer, wait_for
from periscope import RemoteMeshes, RemotePointClouds, RemoteSpheres, RemoteViewer

REQUIRED = os.environ.get("PERISCOPE_REQUIRE_BROWSER") == "1"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER), ("convert", shutil.which("convert")))
           if p is None]
if not (REPO / "core" / "web" / "dist" / "index.html").exists():
    MISSING.append("the web bundle (make web)")
if MISSING:
    if REQUIRED:
        raise RuntimeError(f"the browser tests need {', '.join(MISSING)} (apt: chromium chromium-driver imagemagick)")
    pytest.skip(f"browser tests skipped: {', '.join(MISSING)} missing", allow_module_level=True)

SHOTS = BIN.parent.parent / "screenshots"
WIDTH, HEIGHT = 1280, 800


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One headless chromium session through chromedriver."""

    def __init__(self, webgpu):
        self.dir = tempfile.mkdtemp(prefix="periscope-chromium-")
        port = free_port()
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        wait_for("chromedriver", self._ready, timeout=20)
        args = ["--headless=new", "--no-sandbox", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader", f"--window-size={WIDTH},{HEIGHT}",
                f"--user-data-dir={self.dir}"]
        if webgpu:
            args.append("--enable-unsafe-webgpu")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _ready(self):
        try:
            return self._call("GET", "/status").get("ready")
        except OSError:
            return False

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["value"]

    def _s(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url):
        self._s("POST", "/url", {"url": url})

    def js(self, script):
        return self._s("POST", "/execute/sync", {"script": script, "args": []})

    def status(self):
        return self.js("return [document.body.dataset.status || '', document.body.dataset.backend || '', "
                       "Number(document.body.dataset.frames || 0)]")

    def console(self):
        try:
            return self._s("POST", "/se/log", {"type": "browser"})
        except Exception:  # noqa: BLE001 - only for failure messages
            return []

    def screenshot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / name
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        raw = subprocess.run(["convert", str(path), "-depth", "8", "rgb:-"], check=True, capture_output=True).stdout
        w, h = subprocess.run(["identify", "-format", "%w %h", str(path)], check=True, capture_output=True,
                              text=True).stdout.split()
        return path, np.frombuffer(raw, np.uint8).reshape(int(h), int(w), 3).astype(int)

    def click(self, x, y):
        self._s("POST", "/actions", {"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "duration": 0, "x": int(x), "y": int(y)},
                        {"type": "pointerDown", "button": 0}, {"type": "pause", "duration": 60},
                        {"type": "pointerUp", "button": 0}],
        }]})

    def close(self):
        try:
            self._s("DELETE", "")
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass
        self.driver.terminate()
        self.driver.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def masks(img):
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return {
        "red": (r > 150) & (g < 70) & (b < 70),
        "blue": (b > 150) & (r < 70) & (g < 70),
        "green": (g > 150) & (r < 90) & (b < 90),
        "yellow": (r > 180) & (g > 180) & (b < 80),
    }


def mean_x(m):
    xs = np.nonzero(m)[1]
    return float(xs.mean()) if len(xs) else -1.0


def centroid(m):
    ys, xs = np.nonzero(m)
    return float(xs.mean()), float(ys.mean())


def scene(v):
    RemoteSpheres(v, np.array([[-1.0, 0.0, 0.0]]), radius=0.5, color=(1, 0, 0, 1), name="red sphere")
    quad = np.array([[0.5, -0.5, 0], [1.5, -0.5, 0], [1.5, 0.5, 0], [0.5, 0.5, 0]], float)
    RemoteMeshes(v, quad, np.array([[0, 1, 2], [0, 2, 3]]), color=(0, 0, 1, 1), name="blue mesh")
    # A green point cloud above the two, its points colored one by one.
    g = np.linspace(-0.6, 0.6, 40)
    pts = np.array([[x, 0.9 + y * 0.15, 0.0] for x in g for y in g[:8]], np.float32)
    colors = np.tile(np.array([[0.1, 0.9, 0.2, 1.0]], np.float32), (len(pts), 1))
    RemotePointClouds(v, pts, colors=colors, point_size=6.0, name="green points")


@pytest.fixture(params=["webgpu", "webgl2"])
def page(request):
    hub = Viewer()
    browser = Browser(webgpu=request.param == "webgpu")
    try:
        yield hub, browser, request.param
    finally:
        browser.close()
        hub.stop()


def wait_viewing(browser, want_backend, name):
    def ready():
        status, backend, frames = browser.status()
        if status.startswith("failed"):
            raise AssertionError(f"the page failed: {status}; console: {browser.console()}")
        return (backend, frames) if status == "viewing" and frames > 2 else None

    backend, _ = wait_for(f"the page ({name}) to connect and draw", ready, timeout=120)
    assert backend == want_backend, f"drawn with {backend}, not {want_backend}"


def test_the_page_shows_the_hubs_scene_and_clicks_reach_the_owner(page):
    hub, browser, which = page
    with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
        scene(v)
        clicks, selected = [], []
        button = v.gui.add_button("Ping")
        button.on_click(clicks.append)
        v.on_select(selected.append)
        v.sync()
        query = "?renderer=webgl2" if which == "webgl2" else ""
        browser.open(f"http://127.0.0.1:{hub.port}/{query}")
        wait_viewing(browser, "WebGPU" if which == "webgpu" else "WebGL2", which)

        def shows_scene():
            path, img = browser.screenshot(f"web-{which}.png")
            m = masks(img)
            ok = m["red"].sum() > 1500 and m["blue"].sum() > 1500 and m["green"].sum() > 300
            return (path, img, m) if ok else None

        path, img, m = wait_for(f"the scene in the page ({which})", shows_scene, timeout=60)
        assert mean_x(m["red"]) < mean_x(m["blue"]), f"red sphere left of the blue mesh: see {path}"
        gx, gy = centroid(m["green"])
        rx, ry = centroid(m["red"])
        assert gy < ry, f"the point cloud's colors are above the sphere, where its points are: see {path}"

        # A click on the red sphere selects it: the owner's on_select fires.
        browser.click(rx, ry)
        wait_for("on_select from the page's click", lambda: selected, timeout=30)
        assert selected[-1].node is not None, selected[-1]

        # A click on the button control in the page's Controls panel fires the owner's callback.
        bx, by = find_button(browser, which)
        browser.click(bx, by)
        wait_for("the button's callback from the page", lambda: clicks, timeout=30)
        assert clicks[0].control is button


def find_button(browser, which):
    """The Controls panel's first button: the light widget at the top of the right-hand panel."""
    path, img = browser.screenshot(f"web-{which}-controls.png")
    panel = img[40:200, WIDTH - 290:WIDTH - 10]
    # egui's buttons are a lighter grey than the panel around them.
    light = (panel.sum(axis=2) > 3 * 70) & (np.ptp(panel, axis=2) < 12)
    ys, xs = np.nonzero(light)
    assert len(xs) > 50, f"no button in the Controls panel: see {path}"
    return WIDTH - 290 + float(np.median(xs)), 40 + float(np.median(ys))
