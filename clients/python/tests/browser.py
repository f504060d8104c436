"""A real chromium driven by chromedriver (WebDriver over HTTP: no Python
package needed), headed in a window on its own virtual X display, and a real
Firefox ESR on its own display without a driver. Used by test_browser.py and
clients/python/bench/bench_web.py."""

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from conftest import BIN, wait_for
from periscope import RemoteMeshes, RemotePointClouds, RemoteSpheres

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER), ("convert", shutil.which("convert")),
                          ("Xvfb", shutil.which("Xvfb"))) if p is None]
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
FIREFOX_MISSING = [n for n, p in (("firefox-esr", FIREFOX), ("xdotool", shutil.which("xdotool")),
                                  ("import", shutil.which("import")), ("Xvfb", shutil.which("Xvfb"))) if p is None]
SHOTS = BIN.parent.parent / "screenshots"
WIDTH, HEIGHT = 1280, 800


def xvfb():
    """A virtual X display of WIDTH x HEIGHT: (process, number)."""
    n = random.randint(2500, 3500)
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"],
                            stderr=subprocess.DEVNULL)
    wait_for("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"))
    return proc, n


def read_png(path):
    """An RGB image file as an (h, w, 3) int array."""
    raw = subprocess.run(["convert", str(path), "-depth", "8", "rgb:-"], check=True, capture_output=True).stdout
    w, h = subprocess.run(["identify", "-format", "%w %h", str(path)], check=True, capture_output=True,
                          text=True).stdout.split()
    return np.frombuffer(raw, np.uint8).reshape(int(h), int(w), 3).astype(int)


# A fresh Firefox profile's preferences: no first-run, update or telemetry
# pages (the machine may be offline), and WebGPU on where the release has it.
FIREFOX_PREFS = """
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.sessionstore.resume_from_crash", false);
user_pref("dom.webgpu.enabled", true);
user_pref("gfx.webgpu.ignore-blocklist", true);
"""


class Firefox:
    """Debian's Firefox ESR showing `url` in kiosk mode (the page fills the
    display from its top-left corner, no toolbar) on its own virtual X
    display, with a fresh profile. Debian packages no geckodriver, so there is
    no WebDriver: the test reads the screen (ImageMagick's `import`) and
    clicks with `xdotool`, and learns the page's state from the hub. WebGPU
    runs on Mesa's lavapipe, WebGL2 on llvmpipe; no GPU is used."""

    def __init__(self, url):
        self.dir = tempfile.mkdtemp(prefix="periscope-firefox-")
        (Path(self.dir) / "user.js").write_text(FIREFOX_PREFS)
        self.xvfb, n = xvfb()
        self.env = dict(os.environ, DISPLAY=f":{n}")
        for var in ("WAYLAND_DISPLAY", "MOZ_HEADLESS"):
            self.env.pop(var, None)
        self.log = open(Path(self.dir) / "firefox.log", "wb")
        try:
            # Its own process group: `firefox` may be a wrapper script, and
            # Firefox starts helper processes; close() ends them all.
            self.proc = subprocess.Popen([FIREFOX, "--no-remote", "--profile", self.dir, "--kiosk", "--width",
                                          str(WIDTH), "--height", str(HEIGHT), url], stdout=self.log,
                                         stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        except BaseException:
            self.proc = None
            self.close()
            raise

    def screenshot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / name
        subprocess.run(["import", "-window", "root", str(path)], check=True, env=self.env, timeout=60)
        return path, read_png(path)

    def click(self, x, y):
        subprocess.run(["xdotool", "mousemove", "--sync", str(int(x)), str(int(y)), "click", "1"], check=True,
                       env=self.env, timeout=30)

    def output(self):
        """The end of Firefox's own output, for failure messages."""
        self.log.flush()
        return (Path(self.dir) / "firefox.log").read_text(errors="replace")[-3000:]

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.log.close()
        self.xvfb.terminate()
        self.xvfb.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# The Controls panel's first button in a 1280-wide page (checked by its effect:
# the owner's callback must fire).
BUTTON = (1211, 83)


def scene(v):
    """The red sphere, the blue mesh and the green points; returns them."""
    sphere = RemoteSpheres(v, np.array([[-1.0, 0.0, 0.0]]), radius=0.5, color=(1, 0, 0, 1), name="red sphere")
    quad = np.array([[0.5, -0.5, 0], [1.5, -0.5, 0], [1.5, 0.5, 0], [0.5, 0.5, 0]], float)
    mesh = RemoteMeshes(v, quad, np.array([[0, 1, 2], [0, 2, 3]]), color=(0, 0, 1, 1), name="blue mesh")
    # A green point cloud above the two, its points colored one by one.
    g = np.linspace(-0.6, 0.6, 40)
    pts = np.array([[x, 0.9 + y * 0.15, 0.0] for x in g for y in g[:8]], np.float32)
    colors = np.tile(np.array([[0.1, 0.9, 0.2, 1.0]], np.float32), (len(pts), 1))
    points = RemotePointClouds(v, pts, colors=colors, point_size=6.0, name="green points")
    return [sphere, mesh, points]


def scene_with_listeners(v):
    """scene(v), a "Ping" button and an on_select listener, synced: returns
    (button, clicks, selections), the lists filled by the callbacks."""
    scene(v)
    clicks, selected = [], []
    button = v.gui.add_button("Ping")
    button.on_click(clicks.append)
    v.on_select(selected.append)
    v.sync()
    return button, clicks, selected


def shows_scene(m):
    """Whether the color masks `m` hold scene(v)'s sphere, mesh and points."""
    return m["red"].sum() > 1500 and m["blue"].sum() > 1500 and m["green"].sum() > 300


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromium session through chromedriver, in a window on its own
    virtual X display: chromium's headless mode draws WebGPU canvases but
    screenshots them blank (its Vulkan swapchain never reaches the
    compositor), so the page runs headed under Xvfb, still without a GPU."""

    def __init__(self, webgpu, extra_args=(), downloads=None):
        self.dir = tempfile.mkdtemp(prefix="periscope-chromium-")
        self.xvfb, n = xvfb()
        env = dict(os.environ, DISPLAY=f":{n}")
        env.pop("WAYLAND_DISPLAY", None)
        port = free_port()
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=env)
        self.base = f"http://127.0.0.1:{port}"
        wait_for("chromedriver", self._ready, timeout=20)
        args = ["--no-sandbox", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader", f"--window-size={WIDTH},{HEIGHT}",
                f"--user-data-dir={self.dir}"]
        if webgpu:
            # WebGPU through Dawn on SwiftShader's Vulkan; without the Vulkan
            # compositing flags its canvas renders but screenshots blank.
            args += ["--enable-unsafe-webgpu", "--ignore-gpu-blocklist", "--enable-gpu", "--enable-features=Vulkan",
                     "--use-vulkan=swiftshader", "--use-webgpu-adapter=swiftshader", "--disable-vulkan-surface"]
        args += list(extra_args)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args, "prefs": {
                "download.default_directory": str(downloads or self.dir), "download.prompt_for_download": False}},
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
        return path, read_png(path)

    def click(self, x, y):
        self._s("POST", "/actions", {"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "duration": 0, "x": int(x), "y": int(y)},
                        {"type": "pointerDown", "button": 0}, {"type": "pause", "duration": 60},
                        {"type": "pointerUp", "button": 0}],
        }]})

    def key(self, key):
        """Presses and releases `key` (one character) in the page."""
        self._s("POST", "/actions", {"actions": [{
            "type": "key", "id": "keyboard",
            "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}],
        }]})

    def close(self):
        try:
            self._s("DELETE", "")
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass
        self.driver.terminate()
        self.driver.wait(timeout=10)
        self.xvfb.terminate()
        self.xvfb.wait(timeout=10)
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


def wait_viewing(browser, want_backend, name):
    def ready():
        status, backend, frames = browser.status()
        if status.startswith("failed"):
            raise AssertionError(f"the page failed: {status}; console: {browser.console()}")
        return (backend, frames) if status == "viewing" and frames > 2 else None

    backend, _ = wait_for(f"the page ({name}) to connect and draw", ready, timeout=120)
    assert backend == want_backend, f"drawn with {backend}, not {want_backend}"
