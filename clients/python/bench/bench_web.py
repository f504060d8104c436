"""The browser view against the native one (docs/benchmarks.md "Browser view"):
bundle size, time from opening the page to the first frame that shows a
100 MB scene, frame rate in the page vs a native `periscope --connect` window
on the same scenes (ratios page / native, same run), and the browser's memory
with a 1M-point colored cloud (against the same page with an empty scene).

Debian's chromium, headed on a virtual X display (clients/python/tests/browser.py),
WebGPU (SwiftShader through Vulkan) and WebGL2 (SwiftShader through ANGLE);
the native window draws through Mesa's lavapipe on its own virtual display.
Everything here renders on the CPU.

    make web && cargo build --release -p periscope-viewer
    .venv/bin/python clients/python/bench/bench_web.py [--mb 100] [--points 1000000] [--seconds 6] [--json]
"""

import argparse
import gzip
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[3]
EXE = pathlib.Path(os.environ.get("PERISCOPE_BIN") or
                   pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "periscope")
os.environ["PERISCOPE_BIN"] = str(EXE)  # browser.py's screenshots folder sits beside it
sys.path.insert(0, str(REPO / "clients" / "python" / "tests"))

from browser import HEIGHT, MISSING, WIDTH, Browser  # noqa: E402
from conftest import wait_for  # noqa: E402
from periscope import RemoteMeshes, RemotePointClouds, RemoteViewer  # noqa: E402

DIST = REPO / "core" / "web" / "dist"
GRID = 83  # 83 x 83 = 6,889 vertices per mesh frame

# Records every change of the page's status attributes with its time
# (performance.now(): milliseconds since the navigation started).
OBSERVE = """
if (!window.__bench) {
  window.__bench = [];
  const note = () => { const d = document.body.dataset;
    window.__bench.push([performance.now(), d.status || '', Number(d.frames || 0), Number(d.bytes || 0)]); };
  note();
  new MutationObserver(note).observe(document.body, {attributes: true});
}
return window.__bench.length;
"""
STATE = """const d = document.body.dataset;
return [d.status || '', d.backend || '', Number(d.frames || 0), Number(d.bytes || 0),
        window.periscopeFramesDrawn || 0, performance.now()];"""
MEMORY = """const m = performance.memory || {};
return [m.usedJSHeapSize || 0, m.totalJSHeapSize || 0,
        window.periscopeWasmMemory ? window.periscopeWasmMemory.buffer.byteLength : 0];"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def end(proc):
    """Terminates `proc` (killed if it does not end within 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Hub:
    """A release `periscope --headless` on an ephemeral loopback port."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="periscope-bench-web-"))
        (self.dir / "config.toml").write_text("")
        self.proc = subprocess.Popen([str(EXE), "--headless", "--port", "0", "--log-level", "error",
                                      "--config", str(self.dir / "config.toml")], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().strip().rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}/"

    def stop(self):
        end(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Native:
    """`periscope --connect` in a window on its own virtual X display, with the
    `periscope::frames` debug lines (frames drawn per second, scene bytes
    drawn) read from its log as they come."""

    def __init__(self, hub, width, height):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="periscope-bench-native-"))
        (self.dir / "config.toml").write_text(f"[viewer]\nwidth = {width}\nheight = {height}\n")
        n = random.randint(3600, 4500)
        self.xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{width + 64}x{height + 64}x24",
                                      "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
        wait_for("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"))
        (self.dir / "xdg").mkdir(mode=0o700)
        env = dict(os.environ, DISPLAY=f":{n}", XDG_RUNTIME_DIR=str(self.dir / "xdg"))
        env.pop("WAYLAND_DISPLAY", None)
        self.lines = []  # (monotonic time, kind, value...)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([str(EXE), "--connect", f"ws://127.0.0.1:{hub.port}", "--config",
                                      str(self.dir / "config.toml"), "--log-level", "warn,periscope::frames=debug"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            if m := re.search(r"frames drawn frames=(\d+) seconds=([\d.]+)", line):
                self.lines.append((now, "frames", int(m[1]), float(m[2])))
            elif m := re.search(r"drawing the scene bytes=(\d+)", line):
                self.lines.append((now, "bytes", int(m[1])))

    def first_drawn(self, total, timeout):
        """Seconds from the process start to its first frame with `total` bytes of scene."""
        def done():
            assert self.proc.poll() is None, "the native view exited"
            return next((t for t, k, *v in list(self.lines) if k == "bytes" and v[0] >= total), None)
        return wait_for("the native view to draw the whole scene", done, timeout=timeout) - self.started

    def fps(self, seconds):
        """Frames per second over the next `seconds` (whole one-second log windows)."""
        start = time.monotonic()
        time.sleep(seconds)
        windows = [(f, s) for t, k, *v in list(self.lines) if k == "frames" and t > start + 1.0
                   for f, s in [v]]
        frames, secs = sum(f for f, _ in windows), sum(s for _, s in windows)
        return frames / secs if secs else 0.0

    def stop(self):
        end(self.proc)
        self.xvfb.terminate()
        self.xvfb.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def bundle_rows():
    rows = {}
    total_raw = total_gz = 0
    for f in sorted(DIST.iterdir()):
        if f.suffix == ".gz":
            continue
        raw = f.stat().st_size
        gz_path = f.with_name(f.name + ".gz")
        gz = gz_path.stat().st_size if gz_path.exists() else len(gzip.compress(f.read_bytes(), 9))
        rows[f.name] = (raw, gz)
        total_raw, total_gz = total_raw + raw, total_gz + gz
    rows["total"] = (total_raw, total_gz)
    return rows


def mesh_sequence(frames):
    """A 83 x 83 grid (6,889 vertices, 13,448 triangles) as a travelling wave, `frames` frames."""
    g = np.linspace(-1.0, 1.0, GRID, dtype=np.float32)
    x, y = np.meshgrid(g, g)
    t = np.linspace(0, 2 * np.pi, frames, endpoint=False, dtype=np.float32)[:, None, None]
    z = 0.15 * np.sin(4 * x[None] + t) * np.cos(3 * y[None] + t)
    verts = np.stack([np.broadcast_to(x, z.shape), np.broadcast_to(y, z.shape), z], -1).reshape(frames, -1, 3)
    i = np.arange(GRID - 1)
    a = (i[:, None] * GRID + i[None, :]).reshape(-1)
    faces = np.concatenate([np.stack([a, a + 1, a + GRID], 1), np.stack([a + 1, a + GRID + 1, a + GRID], 1)])
    return np.ascontiguousarray(verts, np.float32), faces.astype(np.int32)


def point_cloud(n):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(n, 3)).astype(np.float32) * np.float32(0.5)
    colors = (np.clip(pts * 0.8 + 0.5, 0, 1) * 255).astype(np.uint8)
    return pts, np.concatenate([colors, np.full((n, 1), 255, np.uint8)], 1)


def open_page(browser, url, total, timeout):
    """Opens the page and waits for a frame drawn with `total` bytes of scene. Returns seconds
    from opening the page to: connected, the first frame with a scene, the first frame with the
    whole scene; and which clock timed each (the page's performance.now(), from the
    navigation's start, or the bench's polling, from the WebDriver call)."""
    t0 = time.monotonic()
    browser.open(url)
    browser.js(OBSERVE)
    polled = {}

    def done():
        status, _backend, frames, nbytes, _drawn, _now = browser.js(STATE)
        if status.startswith("failed"):
            raise RuntimeError(f"the page failed: {status}")
        now = time.monotonic() - t0
        if status == "viewing":
            polled.setdefault("viewing", now)
            if frames > 0:
                polled.setdefault("first", now)
                if nbytes >= total:
                    polled.setdefault("whole", now)
                    return True
        return False

    wait_for("the page to draw the whole scene", done, timeout=timeout)
    notes = browser.js("return window.__bench")

    def reached(note, key):
        _, status, frames, nbytes = note
        return status == "viewing" and {"viewing": True, "first": frames > 0, "whole": frames > 0 and nbytes >= total}[key]

    # The page's own clock where the observer (installed once the page loaded) saw the change
    # happen; the polled time where it had happened before.
    times, clock = {}, {}
    for key in ("viewing", "first", "whole"):
        seen = next((n[0] / 1e3 for n in notes if reached(n, key)), None)
        if seen is not None and not reached(notes[0], key):
            times[key], clock[key] = seen, "page"
        else:
            times[key], clock[key] = polled[key], "polled"
    return times, clock


def page_fps(browser, seconds):
    a = browser.js(STATE)
    time.sleep(seconds)
    b = browser.js(STATE)
    return (b[4] - a[4]) / ((b[5] - a[5]) / 1e3)


def chromium_rss(browser):
    """Resident MiB of this browser's largest renderer process (the page's) and of its GPU process:
    the processes under its chromedriver, by their --type."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,rss=,args="], capture_output=True, text=True).stdout
    procs = {}
    for line in out.splitlines():
        pid, ppid, rss, args = (line.split(None, 3) + [""])[:4]
        procs[int(pid)] = (int(ppid), int(rss) / 1024, args)
    mine, grew = {browser.driver.pid}, True
    while grew:
        more = {pid for pid, (ppid, _, _) in procs.items() if ppid in mine} - mine
        mine |= more
        grew = bool(more)
    renderer = [rss for pid, (_, rss, args) in procs.items() if pid in mine and "--type=renderer" in args]
    gpu = [rss for pid, (_, rss, args) in procs.items() if pid in mine and "--type=gpu-process" in args]
    return max(renderer, default=0.0), max(gpu, default=0.0)


class Orbit:
    """Moves every view's camera around the scene (the hub's set_camera) `hz` times a second."""

    def __init__(self, port, hz=120.0, radius=3.0):
        self.stop_flag = threading.Event()
        self.v = RemoteViewer("127.0.0.1", port, client_name="orbit")
        self.thread = threading.Thread(target=self._run, args=(hz, radius), daemon=True)
        self.thread.start()

    def _run(self, hz, radius):
        k = 0
        while not self.stop_flag.is_set():
            a = k * 0.02
            self.v.set_camera(position=[radius * np.cos(a), radius * np.sin(a), 1.5], target=[0, 0, 0])
            k += 1
            time.sleep(1.0 / hz)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=10)
        self.v.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=100.0, help="size of the mesh sequence scene (MB of vertices)")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each frame-rate window")
    ap.add_argument("--backends", default="webgpu,webgl2")
    ap.add_argument("--no-native", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if MISSING:
        sys.exit(f"bench_web needs {', '.join(MISSING)}")
    if not (DIST / "index.html").exists():
        sys.exit(f"no web bundle in {DIST}: run `make web`")
    if not EXE.exists():
        sys.exit(f"{EXE} not found: cargo build --release -p periscope-viewer (after make web)")
    backends = [b for b in args.backends.split(",") if b]
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
               "bundle": bundle_rows(), "rows": []}

    def row(name, value, unit="", ratio=None):
        results["rows"].append({"row": name, "value": value, "unit": unit, "ratio": ratio})
        r = "" if ratio is None else f"  x{ratio:.2f}"
        log(f"{name:70s} {value:12.3f} {unit}{r}")

    for name, (raw, gz) in results["bundle"].items():
        log(f"1. bundle {name:40s} {raw:>12,} B raw {gz:>12,} B gzipped")

    frames = max(2, round(args.mb * 1e6 / (GRID * GRID * 12)))
    verts, faces = mesh_sequence(frames)
    mesh_total = verts.nbytes + faces.size * 4
    pts, colors = point_cloud(args.points)
    cloud_total = pts.nbytes + len(pts) * 4

    # Rows 2-3a: the mesh sequence; rows 3b-4: the point cloud (a hub each).
    for scene in ("mesh", "points"):
        hub = Hub()
        producer = RemoteViewer("127.0.0.1", hub.port, client_name="bench")
        try:
            if scene == "mesh":
                RemoteMeshes(producer, verts, faces, name="wave", color=(0.3, 0.6, 0.9, 1.0))
                total, what = mesh_total, f"{frames}-frame mesh sequence, {mesh_total / 1e6:.0f} MB"
            else:
                RemotePointClouds(producer, pts, colors=colors, point_size=2.0, name="cloud")
                total, what = cloud_total, f"{args.points:,} colored points, {cloud_total / 1e6:.0f} MB"
            producer.sync()
            log(f"-- scene: {what} (the hub has it before any view opens)")
            fps = {}
            native_fps = native_ttff = None
            if not args.no_native:
                native = Native(hub, WIDTH, HEIGHT - 120)
                try:
                    native_ttff = native.first_drawn(total, timeout=300)
                    row(f"2. native --connect: process start -> whole scene drawn ({scene})", native_ttff, "s")
                    native_fps = measure_motion(producer, hub, scene, lambda: native.fps(args.seconds))
                finally:
                    native.stop()
                row(f"3. native window fps ({scene}, {'playback' if scene == 'mesh' else 'orbit'})", native_fps,
                    "fps")
            for backend in backends:
                browser = Browser(webgpu=backend == "webgpu")
                try:
                    query = "?renderer=webgl2" if backend == "webgl2" else ""
                    if scene == "points":
                        # The baseline: the same page, connected to an empty hub.
                        empty = Hub()
                        try:
                            browser.open(empty.url + query)
                            wait_for("the page on an empty hub", lambda: browser.js(STATE)[0] == "viewing",
                                     timeout=120)
                            time.sleep(3)
                            base_mem = browser.js(MEMORY) + list(chromium_rss(browser))
                        finally:
                            empty.stop()
                    src, clock = open_page(browser, hub.url + query, total, timeout=600)
                    row(f"2. page {backend}: open -> connected ({scene})", src["viewing"], "s")
                    row(f"2. page {backend}: open -> first frame with a scene ({scene})", src["first"], "s")
                    row(f"2. page {backend}: open -> whole scene drawn ({scene})", src["whole"], "s",
                        src["whole"] / native_ttff if native_ttff else None)
                    backend_name = browser.js(STATE)[1]
                    log(f"   drawn with {backend_name}; timed by {clock}")
                    fps[backend] = measure_motion(producer, hub, scene, lambda: page_fps(browser, args.seconds))
                    row(f"3. page {backend} fps ({scene}, {'playback' if scene == 'mesh' else 'orbit'})",
                        fps[backend], "fps", fps[backend] / native_fps if native_fps else None)
                    if scene == "points":
                        time.sleep(2)
                        mem = browser.js(MEMORY) + list(chromium_rss(browser))
                        labels = ["JS heap used", "JS heap total", "wasm memory", "renderer process RSS",
                                  "GPU process RSS"]
                        for label, b, m in zip(labels, base_mem, mem):
                            unit_b = b if label.endswith("RSS") else b / 2**20
                            unit_m = m if label.endswith("RSS") else m / 2**20
                            row(f"4. page {backend}: {label}, {args.points:,} points (empty page {unit_b:.0f} MiB)",
                                unit_m, "MiB", unit_m / unit_b if unit_b else None)
                        # The wasm memory is inside the renderer process: not counted twice.
                        extra = (mem[3] + mem[4] - base_mem[3] - base_mem[4]) * 2**20
                        row(f"4. page {backend}: renderer + GPU process growth per point", extra / args.points,
                            "B/point")
                finally:
                    browser.close()
        finally:
            producer.close()
            hub.stop()
    if args.json:
        print(json.dumps(results, indent=1))


def measure_motion(producer, hub, scene, measure):
    """Frame rate while the scene moves: the hub plays the mesh sequence (at 120 fps),
    or the camera orbits the point cloud (the hub's set_camera, 120 a second)."""
    if scene == "mesh":
        producer.set_playback(playing=True, fps=120.0)
        producer.sync()
        try:
            return measure()
        finally:
            producer.pause()
            producer.sync()
    orbit = Orbit(hub.port)
    try:
        return measure()
    finally:
        orbit.stop()


if __name__ == "__main__":
    main()
