"""Remote-rendered images and camera feedback against the real headless viewer."""

import io
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from conftest import wait_for
from periscope import Message, RemoteViewer, ViewerError, camera, encode_image


def windows(rv):
    return {w["index"]: w for w in rv.images_state()["windows"] if w["client_id"] == rv.client_id}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_camera_on_request_has_every_field_and_consistent_matrices(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port, client_name="renderer") as rv:
        assert rv.read(timeout=0) == {"status": 0}
        rv.require_camera_from_remote(True)
        info = rv.read(timeout=5)
        assert info["status"] == 1 and info["new"]
        cam = info["camera"]
        for field in ("width", "height", "fx", "fy", "cx", "cy", "fov_x", "fov_y", "znear", "zfar",
                      "world_to_camera", "camera_to_world", "view", "projection", "position", "seq"):
            assert field in cam, field
        assert (cam["width"], cam["height"]) == (640, 480), "default size before any window exists"
        for m in ("world_to_camera", "camera_to_world", "view", "projection"):
            assert cam[m].shape == (4, 4) and cam[m].dtype == np.float32
        np.testing.assert_allclose(cam["world_to_camera"] @ cam["camera_to_world"], np.eye(4), atol=1e-5)
        np.testing.assert_allclose(cam["camera_to_world"][:3, 3], cam["position"], atol=1e-5)
        # OpenCV intrinsics and the OpenGL matrices agree on where a point lands.
        pts = np.array([[0.3, 0.7, -0.2], [0.0, 0.5, 0.0]])
        uv, depth = camera.project(cam, pts)
        assert (depth > 0).all()
        clip = np.c_[pts, np.ones(2)] @ (cam["projection"] @ cam["view"]).T
        ndc = clip[:, :2] / clip[:, 3:]
        np.testing.assert_allclose(uv[:, 0], (ndc[:, 0] + 1) * cam["width"] / 2, atol=1e-2)
        np.testing.assert_allclose(uv[:, 1], (1 - ndc[:, 1]) * cam["height"] / 2, atol=1e-2)
        # 3D Gaussian Splatting's layout (row vectors): the same pixel again.
        gs = camera.gaussian_splatting(cam)
        h = np.c_[pts, np.ones(2)] @ gs["full_proj_transform"]
        ndc_gs = h[:, :2] / h[:, 3:]
        np.testing.assert_allclose((ndc_gs[:, 0] + 1) * cam["width"] / 2, uv[:, 0], atol=1e-2)
        np.testing.assert_allclose((ndc_gs[:, 1] + 1) * cam["height"] / 2, uv[:, 1], atol=1e-2)
        # Rays through the principal point hit the orbit target region in front.
        o, d = camera.rays(cam)
        assert o.shape == (480, 640, 3) and np.allclose(np.linalg.norm(d, axis=-1), 1, atol=1e-5)
        # Read again: the same camera, no longer new.
        again = rv.read(timeout=0)
        assert again["status"] == 1 and not again["new"] and again["camera"]["seq"] == cam["seq"]


def test_every_accepted_image_kind_arrives_with_its_size(viewer_process):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    jpeg_bytes = buf.getvalue()
    images = [
        rgb,                                                    # 0 raw uint8 RGB
        rng.integers(0, 255, (31, 41, 4), dtype=np.uint8),      # 1 raw RGBA
        rng.integers(0, 255, (32, 42), dtype=np.uint8),         # 2 grayscale
        rng.random((33, 43, 3), dtype=np.float32),              # 3 float in [0, 1]
        jpeg_bytes,                                             # 4 already-encoded JPEG
        encode_image(rgb[:20, :25], "png"),                     # 5 already-encoded PNG
    ]
    sizes = [(40, 30), (41, 31), (42, 32), (43, 33), (40, 30), (25, 20)]
    formats = ["raw", "raw", "raw", "raw", "jpeg", "png"]
    with RemoteViewer(viewer_process.host, viewer_process.port) as rv:
        assert rv.send_images(images)
        got = wait_for("6 decoded windows", lambda: (w := windows(rv)) and len(w) == 6
                       and all(x["decoded"] == 1 for x in w.values()) and w)
        for i, (size, fmt) in enumerate(zip(sizes, formats)):
            assert (got[i]["width"], got[i]["height"]) == size, i
            assert got[i]["format"] == fmt, i
        # Client-side encoding.
        assert rv.send_images([rgb, rgb], format="jpeg", quality=80)
        assert rv.send_images([rgb, rgb[:10]], format="png")
        w = wait_for("png", lambda: (w := windows(rv)) and w[1]["format"] == "png" and w[1]["height"] == 10 and w)
        assert w[0]["format"] == "png"
        rv.sync()


def test_bad_images_are_refused_clearly_and_nothing_else_breaks(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port, verbose=False) as rv:
        with pytest.raises(ValueError, match="got shape"):
            rv.send_images(np.zeros((4, 4, 2)))
        with pytest.raises(ValueError, match="JPEG or PNG"):
            rv.send_images(b"GIF89a...")
        # Past the client's checks, straight to the viewer:
        rv.send_message(Message.IMAGES, None, images=[np.zeros((2, 2, 2), np.uint8)])
        rv.query()  # images are newest-wins: let the first be handled before the next replaces it
        rv.send_message(Message.IMAGES, None, images=[b"\xff\xd8\xff\xe0garbage"])
        wait_for("two errors", lambda: len(rv._errors) >= 2)
        errors = rv.errors()
        assert errors[0]["code"] == "bad_value" and "images[0]" in errors[0]["message"]
        assert errors[1]["code"] == "bad_image" and "cannot decode the jpeg" in errors[1]["message"]
        assert rv.send_images(np.zeros((5, 6, 3), np.uint8))
        wait_for("a good image after bad ones", lambda: windows(rv).get(0, {}).get("width") == 6)


def test_single_mode_stops_reading_until_read_remote(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as rv:
        rv.send_images(np.full((8, 8, 3), 10, np.uint8), single=True)
        wait_for("the single image", lambda: windows(rv).get(0, {}).get("decoded") == 1)
        for _ in range(3):
            rv.send_images(np.full((9, 9, 3), 20, np.uint8))
        state = wait_for("3 dropped", lambda: (w := windows(rv)[0]) and w["dropped"] >= 3 and w)
        assert state["decoded"] == 1 and state["width"] == 8, "nothing new is shown"
        client = [c for c in rv.images_state()["clients"] if c["client_id"] == rv.client_id][0]
        assert client["reading"] is False
        rv.read_remote()
        rv.send_images(np.full((10, 12, 3), 30, np.uint8))
        wait_for("reading again", lambda: windows(rv)[0]["width"] == 12)


def test_round_trip_latency_is_measured_from_the_cited_camera(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as rv:
        rv.require_camera_from_remote(True)
        cam = rv.read(timeout=5)["camera"]
        rv.send_images(np.zeros((cam["height"] // 8, cam["width"] // 8, 3), np.uint8))
        w = wait_for("latency", lambda: (w := windows(rv).get(0)) and w["camera_rtt_ms"] is not None and w)
        assert 0 <= w["camera_rtt_ms"] < 5000 and 0 <= w["latency_ms"] < 5000


def test_renderer_started_before_the_viewer_connects_when_it_appears(start_viewer):
    port = free_port()
    rv = RemoteViewer("127.0.0.1", port, verbose=False)
    try:
        assert not rv.connected
        assert rv.read(timeout=0.05) == {"status": 0}
        assert rv.send_images(np.zeros((4, 4, 3), np.uint8)) is False, "dropped, not queued"
        rv.require_camera_from_remote(True)
        start_viewer(port=port)
        assert rv.wait_connected(timeout=15)
        # The camera request is (re)sent on connecting.
        assert rv.read(timeout=5)["status"] == 1
        assert rv.send_images(np.zeros((4, 5, 3), np.uint8))
        wait_for("the image", lambda: windows(rv).get(0, {}).get("width") == 5)
    finally:
        rv.close()


def test_viewer_restart_mid_stream_never_raises_in_the_renderer(start_viewer):
    port = free_port()
    first = start_viewer(port=port)
    rv = RemoteViewer("127.0.0.1", port, verbose=False)
    stop = threading.Event()
    failures, sent = [], [0, 0]

    def render_loop():
        try:
            while not stop.is_set():
                rv.require_camera_from_remote(True)
                info = rv.read(timeout=0.01)
                h = 24 if info["status"] == 0 else 16
                ok = rv.send_images([np.zeros((h, 32, 3), np.uint8), np.ones((h, 32), np.float32)])
                sent[0 if ok else 1] += 1
                time.sleep(0.005)
        except Exception as e:  # the test fails on any exception in the renderer
            failures.append(e)

    t = threading.Thread(target=render_loop, daemon=True)
    t.start()
    try:
        wait_for("images on the first viewer", lambda: rv.connected and len(windows(rv)) == 2)
        first.stop()
        wait_for("the renderer to notice", lambda: not rv.connected)
        dropped_while_down = sent[1]
        time.sleep(0.3)
        assert sent[1] > dropped_while_down, "images are dropped while no viewer is up"
        start_viewer(port=port)
        assert rv.wait_connected(timeout=15)
        wait_for("images on the restarted viewer", lambda: len(windows(rv)) == 2)
    finally:
        stop.set()
        t.join(timeout=10)
        rv.close()
    assert not failures, failures
    assert sent[0] > 0


@pytest.mark.parametrize("flags, n_windows", [([], 1), (["--two"], 2), (["--single"], 1)])
def test_image_renderer_example(viewer_process, flags, n_windows):
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = dict(os.environ, PERISCOPE_PORT=str(viewer_process.port))
    out = subprocess.run([sys.executable, str(REPO / "examples/python/image_renderer.py"), "--frames", "3", *flags],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    expected = 1 if "--single" in flags else 3
    assert out.stdout.startswith(f"sent {expected} image set(s)")
    with RemoteViewer(viewer_process.host, viewer_process.port) as rv:
        state = rv.images_state()
        # The example's client is gone, and its windows with it.
        assert state["windows"] == [] and state["clients"] == []
