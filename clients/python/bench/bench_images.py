"""Remote-rendered image benchmark: end-to-end frames per second and the
camera-to-image round trip, against a release viewer on loopback.

    cargo build --release && .venv/bin/python clients/python/bench/bench_images.py [--seconds 3]

Prints a table; MB/s figures are also given as a fraction of raw TCP loopback
throughput measured in the same run (the physical limit for a local client).
"""

import argparse
import os
import pathlib
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import numpy as np

from periscope import RemoteViewer, encode_image

REPO = pathlib.Path(__file__).resolve().parents[3]


def loopback_mb_s(seconds=1.5, chunk=4 << 20):
    """Raw TCP throughput on loopback: one sender thread, one receiver."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    total = [0]

    def sink():
        conn, _ = srv.accept()
        buf = bytearray(chunk)
        view = memoryview(buf)
        while True:
            n = conn.recv_into(view)
            if n == 0:
                break
            total[0] += n
        conn.close()

    t = threading.Thread(target=sink)
    t.start()
    c = socket.create_connection(srv.getsockname())
    data = b"\0" * chunk
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        c.sendall(data)
    c.close()
    t.join()
    elapsed = time.perf_counter() - start
    srv.close()
    return total[0] / elapsed / 1e6


def start_viewer():
    # PERISCOPE_BENCH_VIEWER: another build to compare (e.g. the previous commit's).
    exe = pathlib.Path(os.environ.get("PERISCOPE_BENCH_VIEWER", REPO / "target" / "release" / "periscope"))
    if not exe.exists():
        raise SystemExit(f"{exe} not found: run cargo build --release first")
    d = pathlib.Path(tempfile.mkdtemp(prefix="periscope-bench-"))
    (d / "config.toml").write_text("")
    proc = subprocess.Popen([str(exe), "--headless", "--port", "0", "--log-level", "error",
                             "--config", str(d / "config.toml")], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
    return proc, port


def window(rv):
    ws = [w for w in rv.images_state()["windows"] if w["client_id"] == rv.client_id]
    return ws[0] if ws else None


def throughput(rv, image, fmt, seconds):
    """Images per second sent and decoded (newest wins: the viewer drops what it cannot keep up with)."""
    payload = image if fmt == "raw" else encode_image(image, fmt, quality=90)
    size = image.nbytes if fmt == "raw" else len(payload)
    before = window(rv)
    decoded0 = before["decoded"] if before else 0
    sent = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rv.send_images(payload)
        sent += 1
    rv.sync()
    # Let the decoder finish what it holds.
    time.sleep(0.2)
    elapsed = time.perf_counter() - start
    decoded = window(rv)["decoded"] - decoded0
    return sent / elapsed, decoded / elapsed, size


def round_trip(rv, image, n=60):
    """Camera requested -> camera received -> image sent citing it -> viewer decoded it (ms)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        rv.require_camera_from_remote(False)
        rv.require_camera_from_remote(True)  # each request is answered with a camera
        info = rv.read(timeout=5, new=True)
        assert info["status"] == 1 and info["new"], "no camera from the viewer"
        seq = info["camera"]["seq"]
        rv.send_images(image, camera=info["camera"])
        while True:
            w = window(rv)
            if w and w["decoded"] and w.get("last_seq") is not None and w["camera_rtt_ms"] is not None \
                    and w["last_seq"] >= 0 and _decoded_camera(rv) >= seq:
                break
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def round_trip_viewport(rv, image, depth, n=60):
    """The same for the main view: camera of the view -> image with depth drawn into it (ms)."""
    times = []
    for _ in range(n):
        before = sum(v["decoded"] for v in rv.images_state()["viewport"])
        t0 = time.perf_counter()
        rv.require_camera_from_remote(False, target="viewport")
        rv.require_camera_from_remote(True, target="viewport")
        info = rv.read(timeout=5, new=True)
        assert info["status"] == 1 and info["new"], "no camera from the viewer"
        rv.send_viewport(image, depth=depth, camera=info["camera"])
        while sum(v["decoded"] for v in rv.images_state()["viewport"]) <= before:
            assert time.perf_counter() - t0 < 5, "the image never reached the main view"
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def _decoded_camera(rv):
    c = [c for c in rv.images_state()["clients"] if c["client_id"] == rv.client_id]
    w = window(rv)
    # The viewer's round trip is measured when an image citing the newest camera is decoded.
    return c[0]["camera_seq"] if (c and w and w["camera_rtt_ms"] is not None and w["decoded"]) else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    base = loopback_mb_s()
    proc, port = start_viewer()
    rows = []
    try:
        with RemoteViewer("127.0.0.1", port, client_name="bench", verbose=False) as rv:
            rng = np.random.default_rng(0)
            for (w, h) in ((512, 512), (1920, 1080)):
                # A smooth image (JPEG-friendly, like a render) with some noise.
                y, x = np.mgrid[0:h, 0:w]
                img = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 127 // (w + h))], -1).astype(np.uint8)
                img = np.clip(img + rng.integers(0, 8, img.shape), 0, 255).astype(np.uint8)
                for fmt in ("raw", "jpeg"):
                    sent, decoded, size = throughput(rv, img, fmt, args.seconds)
                    rows.append((f"{w}x{h} {fmt}", sent, decoded, size * sent / 1e6))
            small = np.zeros((64, 64, 3), np.uint8)
            med, p99 = round_trip(rv, small)
            big = np.zeros((512, 512, 3), np.uint8)
            med512, p99_512 = round_trip(rv, big)
            try:
                view = round_trip_viewport(rv, big, np.full((512, 512), 5.0, np.float32))
            except (AssertionError, KeyError):  # a viewer without main-view images
                view = None
    finally:
        proc.terminate()
        proc.wait()
    print(f"raw TCP loopback baseline: {base:,.0f} MB/s")
    print(f"{'images':<16} {'sent/s':>8} {'shown/s':>8} {'MB/s':>8} {'x loopback':>10}")
    for name, sent, decoded, mbs in rows:
        print(f"{name:<16} {sent:>8.0f} {decoded:>8.0f} {mbs:>8.0f} {mbs / base:>10.3f}")
    print(f"camera -> image round trip (64x64 raw): median {med:.2f} ms, p99 {p99:.2f} ms")
    print(f"camera -> image round trip (512x512 raw): median {med512:.2f} ms, p99 {p99_512:.2f} ms")
    if view is not None:
        print(f"main view camera -> 512x512 image + depth drawn in: median {view[0]:.2f} ms, p99 {view[1]:.2f} ms")


if __name__ == "__main__":
    main()
