"""Screenshots rendered by the real headless viewer (offscreen, lavapipe in CI)."""

import os
import struct
import subprocess
import zlib

import numpy as np
import pytest

from conftest import BIN
from periscope import RemoteMeshes, RemoteSpheres, RemoteViewer, ViewerError, save_png


def render_available(v):
    """True when the viewer can render; CI requires it (PERISCOPE_REQUIRE_RENDER)."""
    try:
        v.screenshot(width=8, height=8)
        return True
    except ViewerError as e:
        if os.environ.get("PERISCOPE_REQUIRE_RENDER"):
            raise
        pytest.skip(f"no renderer: {e}")


def read_png(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (any row filter) to an (H, W, C) array."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0
    c = 4 if color == 6 else 3
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    out = np.zeros((h, w * c), np.int32)
    prev = np.zeros(w * c, np.int32)
    for y in range(h):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + prev) & 255
        else:  # Sub, Average and Paeth depend on the pixel to the left: go pixel by pixel.
            row = np.zeros(w * c, np.int32)
            for i in range(w * c):
                a = row[i - c] if i >= c else 0
                b = prev[i]
                d = prev[i - c] if i >= c else 0
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - d
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - d)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else d)
                row[i] = (line[i] + pred) & 255
        out[y] = row
        prev = row
    return out.astype(np.uint8).reshape(h, w, c)


def test_screenshot_shows_a_red_sphere_and_respects_frames(viewer_process, tmp_path):
    with RemoteViewer(viewer_process.host, viewer_process.port, client_name="shots") as v:
        render_available(v)
        # Frame 0: sphere at the centre; frame 1: moved right. A fixed camera sees both.
        pos = np.array([[[0, 0, 0]], [[1.5, 0, 0]]], np.float32)
        RemoteSpheres(v, pos, radius=0.5, color=(1, 0, 0, 1))
        cam = {"target": [0.5, 0, 0], "yaw": 0, "pitch": 0, "distance": 6}
        img0 = v.screenshot(width=160, height=120, frame=0, camera=cam, path=tmp_path / "f0.png")
        img1 = v.screenshot(width=160, height=120, frame=1)
        assert img0.shape == (120, 160, 4) and img0.dtype == np.uint8
        red = lambda img: (img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)
        cols0, cols1 = np.nonzero(red(img0))[1], np.nonzero(red(img1))[1]
        assert len(cols0) > 50 and len(cols1) > 50
        assert cols1.mean() > cols0.mean() + 20, "frame 1 shows the sphere further right"
        # The playhead is restored after rendering another frame.
        assert v.query()["current_frame"] == 0
        assert (read_png(tmp_path / "f0.png") == img0).all()


def test_bad_screenshot_requests_get_clear_errors(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        with pytest.raises(ViewerError, match="width"):
            v.screenshot(width=0)
        with pytest.raises(ViewerError, match="height"):
            v.screenshot(height=100000)
        with pytest.raises(ViewerError, match="distance"):
            v.screenshot(camera={"distance": -1})
        v.sync()  # the connection is fine, and errors that were raised are not reported twice


def test_save_png_round_trips(tmp_path):
    img = (np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3))
    save_png(tmp_path / "x.png", img)
    assert (read_png(tmp_path / "x.png") == img).all()
    with pytest.raises(ValueError):
        save_png(tmp_path / "y.png", np.zeros((4, 4), np.uint8))


def test_cli_screenshot_after_clients_leave(tmp_path):
    out = tmp_path / "shot.png"
    # A plugin that makes nodes of its own (its client stays) must not keep the viewer waiting.
    bbox = BIN.parent / "libperiscope_bbox.so"
    (tmp_path / "config.toml").write_text(f'[dispatch]\nchain = ["builtin", "bbox"]\n[plugins]\npaths = ["{bbox}"]\n')
    proc = subprocess.Popen(
        [str(BIN), "--port", "0", "--log-level", "warn", "--config", str(tmp_path / "config.toml"),
         "--screenshot", str(out), "--screenshot-size", "200x100"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        host, port = line.rsplit("ws://", 1)[1].rsplit(":", 1)
        with RemoteViewer(host, int(port)) as v:
            verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
            RemoteMeshes(v, verts, np.array([[0, 1, 2]]), color=(0.2, 0.8, 0.2, 1))
            v.sync()
        rc = proc.wait(timeout=60)
        rest = proc.stdout.read()
        if rc != 0 and not os.environ.get("PERISCOPE_REQUIRE_RENDER"):
            pytest.skip("no renderer on this machine")
        assert rc == 0
        assert f"periscope wrote {out}" in rest
        pixels = read_png(out).astype(np.int32)
        assert pixels.shape == (100, 200, 4)
        green = (pixels[..., 1] > 100) & (pixels[..., 0] < pixels[..., 1] * 0.6)
        assert green.sum() > 200, "the triangle is in the picture"
    finally:
        proc.kill()


def test_set_camera_points_the_headless_view_and_camera_reports_it(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port, client_name="camera") as v:
        render_available(v)
        # A red sphere at x = -2 and a green one at x = +2.
        RemoteSpheres(v, np.array([[-2, 0, 0]], np.float32), radius=0.6, color=(1, 0, 0, 1))
        RemoteSpheres(v, np.array([[2, 0, 0]], np.float32), radius=0.6, color=(0, 1, 0, 1))
        red = lambda img: int(((img[..., 0] > 150) & (img[..., 1] < 80)).sum())
        green = lambda img: int(((img[..., 1] > 150) & (img[..., 0] < 80)).sum())
        # Close to the red sphere, looking at it: only red in the picture.
        v.set_camera(position=(-2, 0, 2.5), target=(-2, 0, 0), fov_y=40)
        img = v.screenshot(width=120, height=90)
        assert red(img) > 500 and green(img) == 0, (red(img), green(img))
        cam = v.camera
        assert cam["position"] == pytest.approx([-2, 0, 2.5], abs=1e-4)
        assert cam["target"] == pytest.approx([-2, 0, 0], abs=1e-4)
        assert cam["fov_y"] == pytest.approx(40, abs=1e-3)
        # Headless: the view is the configured screenshot size (1280x800 by default), square pixels.
        assert (cam["width"], cam["height"]) == (1280, 800) and cam["fx"] == pytest.approx(cam["fy"])
        # Only the target changes: the camera turns to the green sphere from where it is.
        v.set_camera(target=(2, 0, 0))
        img = v.screenshot(width=120, height=90)
        assert green(img) > 20 and v.camera["position"] == pytest.approx([-2, 0, 2.5], abs=1e-4)
        # Bad input names the field; the camera stays.
        with pytest.raises(ViewerError, match='set_camera: field "fov_y" must be degrees in \\[1, 170\\], found 0.0'):
            v.set_camera(fov_y=0)
            v.sync()
        # The accepted range is what the camera applies (179.9999 was clamped to 170 without a word).
        with pytest.raises(ViewerError, match='set_camera: field "fov_y" must be degrees in \\[1, 170\\], found 179.9999'):
            v.set_camera(fov_y=179.9999)
            v.sync()
        with pytest.raises(ViewerError, match='field "position" must be a point other than target'):
            v.set_camera(position=(1, 1, 1), target=(1, 1, 1))
            v.sync()
        # Only the position, on the current target: an error, not silence.
        v.set_camera(position=(2, 0, 0))
        with pytest.raises(ViewerError, match='set_camera: field "position" must be a point other than the view.s target'):
            v.sync()
        assert v.camera["target"] == pytest.approx([2, 0, 0], abs=1e-4)
