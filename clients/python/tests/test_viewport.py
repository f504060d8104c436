"""Remote renders in the main 3D view, composited with the local scene by
depth, and adaptive resolution, against the real headless viewer."""

import threading
import time

import numpy as np
import pytest

from conftest import wait_for
from periscope import Message, RemoteSpheres, RemoteViewer, ViewerError


def decoded(v, client_id):
    return sum(x["decoded"] for x in v.images_state()["viewport"] if x["client_id"] == client_id)


def is_red(p):
    return p[0] > 150 and p[1] < 80 and p[2] < 80


def is_green(p):
    return p[1] > 120 and p[0] < 80


@pytest.fixture
def scene(viewer_process):
    """A viewer looking at a green sphere at distance ~2.6, and a renderer following the main view."""
    with RemoteViewer("127.0.0.1", viewer_process.port, client_name="scene") as v, \
            RemoteViewer("127.0.0.1", viewer_process.port, client_name="renderer") as rv:
        RemoteSpheres(v, np.zeros((1, 3), np.float32), radius=0.4, color=(0.0, 1.0, 0.0, 1.0))
        v.set_camera(position=(0, 0, 3), target=(0, 0, 0), fov_y=45)
        v.sync()
        rv.require_camera_from_remote(True, target="viewport")
        cam = wait_for("the main view's camera",
                       lambda: (c := rv.read(timeout=1)) and c["status"] == 1
                       and np.allclose(c["camera"]["position"], (0, 0, 3), atol=1e-4) and c["camera"])
        yield v, rv, cam


def composite(v, rv, cam, depth, n_before):
    h, w = int(cam["height"]), int(cam["width"])
    red = np.zeros((h, w, 3), np.uint8)
    red[..., 0] = 220
    red[..., 1:] = 30
    rv.send_viewport(red, depth=None if depth is None else np.full((h, w), depth, np.float32), camera=cam)
    wait_for("the image in the view", lambda: decoded(v, rv.client_id) > n_before)
    return v.screenshot(width=w, height=h)


def test_send_viewport_composites_by_depth_in_a_headless_screenshot(scene):
    v, rv, cam = scene
    assert (cam["width"], cam["height"]) == (1280, 800), "headless: the configured screenshot size"
    shot = composite(v, rv, cam, 5.0, 0)
    h, w = shot.shape[:2]
    assert is_green(shot[h // 2, w // 2]), f"the sphere (depth ~2.6) is in front of depth 5: {shot[h // 2, w // 2]}"
    assert is_red(shot[5, 5]), "the remote image fills the rest"
    shot = composite(v, rv, cam, 1.0, 1)
    assert is_red(shot[h // 2, w // 2]), "depth 1 hides the sphere"
    shot = composite(v, rv, cam, None, 2)
    assert is_green(shot[h // 2, w // 2]), "without depth the image is a background"
    state = v.images_state()["viewport"]
    assert [(s["client_id"], s["width"], s["depth"]) for s in state] == [(rv.client_id, 1280, False)]
    rv.clear_viewport()
    rv.sync()
    assert v.images_state()["viewport"] == []
    shot = v.screenshot(width=w, height=h)
    assert not is_red(shot[5, 5]), "cleared"


def test_bad_viewport_images_are_refused_naming_the_field_and_the_last_good_image_stays(scene):
    v, rv, cam = scene
    h, w = int(cam["height"]), int(cam["width"])
    img = np.zeros((h, w, 3), np.uint8)
    composite(v, rv, cam, 5.0, 0)
    rv.verbose = False
    cases = [
        ({"image": img, "depth": np.ones((10, 10), np.float32)}, f"depth is (10, 10) but the image is ({h}, {w})"),
        ({"image": img, "depth": np.ones((h, w), np.int32)}, "depth must be float32"),
        ({"image": img, "camera": {"width": w, "height": h, "fy": 1.0, "cx": 1.0, "cy": 1.0,
                                    "world_to_camera": np.eye(4, dtype=np.float32)}}, 'camera: field "fx" is missing'),
        ({"image": img, "camera": {**{k: cam[k] for k in ("width", "height", "fx", "fy", "cx", "cy")},
                                    "world_to_camera": np.zeros((4, 4), np.float32)}}, "invertible"),
        ({"image": "red"}, "image: expected an array or JPEG/PNG bytes"),
    ]
    for kwargs, expected in cases:
        rv._send(Message.VIEWPORT_IMAGE, None, [], kwargs)
        with pytest.raises(ViewerError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            rv.sync()
    # A JPEG that does not decode: refused by the decoder thread, later.
    rv.send_viewport(b"\xff\xd8\xff\xe0\x00\x10JFIF junk", camera=cam)
    wait_for("the decode error", lambda: any("cannot decode the jpeg" in (e.get("message") or "") for e in rv.errors()))
    # NaN depth reads as empty (documented fallback): the sphere shows through there.
    nan = np.full((h, w), 1.0, np.float32)
    nan[h // 2 - 20:h // 2 + 20, w // 2 - 20:w // 2 + 20] = np.nan
    n = decoded(v, rv.client_id)
    rv.send_viewport(np.full((h, w, 3), (220, 30, 30), np.uint8), depth=nan, camera=cam)
    wait_for("the image", lambda: decoded(v, rv.client_id) > n)
    shot = v.screenshot(width=w, height=h)
    assert is_green(shot[h // 2, w // 2]) and is_red(shot[h // 2 - 60, w // 2])
    assert [x["errors"] for x in v.images_state()["viewport"]] == [1], "one decode error counted"


def test_a_drag_asks_a_slow_renderer_for_smaller_images_then_one_full_size(scene):
    v, rv, cam = scene
    full = (cam["width"], cam["height"])
    seen = []
    stop = threading.Event()

    def slow_renderer():  # about 8 frames per second, far below the 30 the viewer aims for
        while not stop.is_set():
            info = rv.read(timeout=0.5)
            if info["status"] != 1:
                continue
            c = info["camera"]
            seen.append((int(c["width"]), int(c["height"]), bool(c.get("moving"))))
            time.sleep(0.12)
            rv.send_viewport(np.zeros((int(c["height"]), int(c["width"]), 3), np.uint8), camera=c)

    t = threading.Thread(target=slow_renderer, daemon=True)
    t.start()
    time.sleep(0.6)  # a few still frames: the viewer measures the renderer's rate
    for i in range(60):  # a drag: the camera set every 25 ms for 1.5 s
        angle = 0.02 * i
        v.set_camera(position=(3 * np.sin(angle), 0.0, 3 * np.cos(angle)), target=(0, 0, 0))
        time.sleep(0.025)
    wait_for("the full-size camera after the drag", lambda: seen and seen[-1] == (*full, False), timeout=5)
    stop.set()
    t.join(5)
    moving = [s for s in seen if s[2]]
    assert moving, f"cameras during the drag say moving: {seen}"
    smallest = min(moving, key=lambda s: s[0])
    assert smallest[0] < full[0] * 0.8 and smallest[1] < full[1] * 0.8, f"smaller while moving: {seen}"
    assert abs(smallest[0] / smallest[1] - full[0] / full[1]) < 0.05, "the aspect ratio is kept"
    assert seen[-1] == (*full, False), f"then one full-size camera: {seen[-3:]}"
    client = next(c for c in v.images_state()["clients"] if c["client_id"] == rv.client_id)
    assert client["target"] == "viewport" and client["scale"] < 0.8
