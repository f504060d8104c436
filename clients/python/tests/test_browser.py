"""The browser view (docs/web.md), in Debian's real chromium (in a window on
a virtual X display, see browser.py), driven by chromedriver (WebDriver over HTTP: no Python package needed):
the hub serves the page from its own port, the page connects as a view and
draws the hub's scene on WebGPU (SwiftShader, `--enable-unsafe-webgpu`) and
on WebGL2 (`?renderer=webgl2`); a click on a button control fires the
Python owner's callback, a click on a node fires `on_select`, a remote
renderer's composited image shows, and a wrong token shows the refusal.

Screenshots are kept in target/screenshots/web-*.png."""

import base64
import os

import numpy as np
import pytest

from browser import (BUTTON, MISSING, SHOTS, Browser, centroid, masks, mean_x, read_png, scene, scene_with_listeners,
                     shows_scene, wait_viewing)
from conftest import REPO, Viewer, wait_for
from periscope import RemotePointClouds, RemoteSpheres, RemoteViewer

REQUIRED = os.environ.get("PERISCOPE_REQUIRE_BROWSER") == "1"
if not (REPO / "core" / "web" / "dist" / "index.html").exists():
    MISSING.append("the web bundle (make web)")
if MISSING:
    if REQUIRED:
        raise RuntimeError(f"the browser tests need {', '.join(MISSING)} (apt: chromium chromium-driver imagemagick)")
    pytest.skip(f"browser tests skipped: {', '.join(MISSING)} missing", allow_module_level=True)

@pytest.fixture(params=["webgpu", "webgl2"])
def page(request):
    hub = Viewer()
    browser = Browser(webgpu=request.param == "webgpu")
    try:
        yield hub, browser, request.param
    finally:
        browser.close()
        hub.stop()


def test_the_page_shows_the_hubs_scene_and_clicks_reach_the_owner(page):
    hub, browser, which = page
    with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
        button, clicks, selected = scene_with_listeners(v)
        query = "?renderer=webgl2" if which == "webgl2" else ""
        browser.open(f"http://127.0.0.1:{hub.port}/{query}")
        wait_viewing(browser, "WebGPU" if which == "webgpu" else "WebGL2", which)

        def scene_on_screen():
            path, img = browser.screenshot(f"web-{which}.png")
            m = masks(img)
            return (path, img, m) if shows_scene(m) else None

        path, img, m = wait_for(f"the scene in the page ({which})", scene_on_screen, timeout=60)
        assert mean_x(m["red"]) < mean_x(m["blue"]), f"red sphere left of the blue mesh: see {path}"
        gx, gy = centroid(m["green"])
        rx, ry = centroid(m["red"])
        assert gy < ry, f"the point cloud's colors are above the sphere, where its points are: see {path}"

        # A click on the red sphere selects it: the owner's on_select fires.
        browser.click(rx, ry)
        wait_for("on_select from the page's click", lambda: selected, timeout=30)
        assert selected[-1].node is not None, selected[-1]

        # A click on the button control in the page's Controls panel fires the owner's callback.
        browser.click(*BUTTON)
        wait_for("the button's callback from the page", lambda: clicks, timeout=30)
        assert clicks[0].control is button


@pytest.fixture
def webgpu_browser():
    browser = Browser(webgpu=True)
    yield browser
    browser.close()


def test_a_remote_renderers_composited_image_shows_in_the_page(webgpu_browser, viewer_process):
    hub, browser = viewer_process, webgpu_browser
    with RemoteViewer("127.0.0.1", hub.port, client_name="scene") as v, \
            RemoteViewer("127.0.0.1", hub.port, client_name="renderer") as rv:
        RemoteSpheres(v, np.zeros((1, 3), np.float32), radius=0.4, color=(0.0, 1.0, 0.0, 1.0))
        v.sync()
        browser.open(f"http://127.0.0.1:{hub.port}/")
        wait_viewing(browser, "WebGPU", "webgpu")
        # The page's camera reaches the renderer through the hub; the renderer
        # answers with a yellow image behind the sphere (depth 50).
        rv.require_camera_from_remote(True, target="viewport")
        cam = wait_for("the page's camera at the renderer",
                       lambda: (c := rv.read(timeout=1)) and c["status"] == 1 and c["camera"], timeout=30)
        h, w = int(cam["height"]), int(cam["width"])
        yellow = np.zeros((h, w, 3), np.uint8)
        yellow[..., :2] = 230
        yellow[..., 2] = 30
        rv.send_viewport(yellow, depth=np.full((h, w), 50.0, np.float32), camera=cam)

        def composited():
            path, img = browser.screenshot("web-composited.png")
            m = masks(img)
            return (path, m) if m["yellow"].sum() > 20000 and m["green"].sum() > 1000 else None

        path, m = wait_for("the renderer's image in the page", composited, timeout=60)
        gx, _ = centroid(m["green"])
        yx, _ = centroid(m["yellow"])
        assert abs(gx - yx) < 200, f"the sphere is drawn in front of the image around it: see {path}"


def test_a_wrong_token_shows_the_refusal_and_the_right_one_connects(webgpu_browser, start_viewer):
    hub, browser = start_viewer(config='[server]\ntoken = "s3cret"\n'), webgpu_browser
    browser.open(f"http://127.0.0.1:{hub.port}/#token=wrong")

    def refused():
        status, _, _ = browser.status()
        return status if status.startswith("refused") else None

    status = wait_for("the refusal in the page", refused, timeout=60)
    assert "token" in status, status
    path, img = browser.screenshot("web-refused.png")
    light_red = (img[..., 0] > 200) & (img[..., 1] < 150) & (img[..., 2] < 150)
    assert light_red.sum() > 50, f"the refusal is written on the page: see {path}"
    assert "#token" not in browser.js("return location.href"), "the token leaves the address bar"

    browser.open(f"http://127.0.0.1:{hub.port}/#token=s3cret")
    wait_for("the page to connect with the right token", lambda: browser.status()[0] == "viewing", timeout=60)


def test_the_page_says_when_the_hub_is_gone_and_reconnects_to_the_next_one(webgpu_browser, start_viewer):
    hub, browser = start_viewer(), webgpu_browser
    with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
        scene(v)
        v.sync()
        browser.open(f"http://127.0.0.1:{hub.port}/")
        wait_viewing(browser, "WebGPU", "webgpu")
    port = hub.port
    hub.stop()
    wait_for("the page to say the hub is gone", lambda: browser.status()[0].startswith("lost"), timeout=30)
    path, img = browser.screenshot("web-disconnected.png")
    m = masks(img)
    assert m["red"].sum() > 1500 and m["blue"].sum() > 1500, f"the last scene stays on the page: see {path}"
    top = img[:28]
    light_red = (top[..., 0] > 200) & (top[..., 1] < 150) & (top[..., 2] < 150)
    assert light_red.sum() > 30, f"the top bar says disconnected: see {path}"

    # A new hub on the same port: the page picks it up by itself and shows its (empty) scene.
    start_viewer(port=port)
    wait_for("the page to reconnect", lambda: browser.status()[0] == "viewing", timeout=30)

    def emptied():
        _, img = browser.screenshot("web-reconnected.png")
        return masks(img)["red"].sum() == 0

    wait_for("the new hub's empty scene in the page", emptied, timeout=30)


def test_a_browser_without_webgpu_or_webgl2_says_so_on_the_page(viewer_process):
    browser = Browser(webgpu=False, extra_args=["--disable-3d-apis"])
    try:
        browser.open(f"http://127.0.0.1:{viewer_process.port}/")
        status = wait_for("the page's failure", lambda: (s := browser.status()[0]).startswith("failed") and s,
                          timeout=60)
        assert "WebGPU" in status and "WebGL2" in status, status
        text = browser.js("return document.getElementById('status').textContent")
        assert "neither WebGPU nor WebGL2" in text and "could not start" in text, text
    finally:
        browser.close()


def test_a_scene_over_the_pages_budget_stops_its_stream_with_a_notice(webgpu_browser, start_viewer):
    hub, browser = start_viewer(config="[server]\nweb_view_budget_mb = 1\n"), webgpu_browser
    with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
        scene(v)
        v.sync()
        browser.open(f"http://127.0.0.1:{hub.port}/")
        wait_viewing(browser, "WebGPU", "webgpu")
        # 3 MB of points: more than the page's 1 MB.
        rng = np.random.default_rng(1)
        RemotePointClouds(v, rng.random((250_000, 3), np.float32), name="too big")
        v.sync()
        status = wait_for("the page to stop at its budget",
                          lambda: (s := browser.status()[0]).startswith("over budget") and s, timeout=60)
        assert "web_view_budget_mb" in status, status
        path, img = browser.screenshot("web-over-budget.png")
        m = masks(img)
        assert m["red"].sum() > 1500 and m["blue"].sum() > 1500, f"the scene as it was stays: see {path}"
        orange = (img[..., 0] > 200) & (img[..., 1] > 110) & (img[..., 1] < 170) & (img[..., 2] < 80)
        assert orange.sum() > 200, f"the notice is on the page: see {path}"
        assert hub.proc.poll() is None, "the hub is unaffected"


def test_a_saved_scene_dropped_on_the_page_is_shown_instead_of_the_hub(webgpu_browser, start_viewer, tmp_path):
    hub = start_viewer(config=f'[viewer]\nexport_dir = "{tmp_path}"\n')
    browser = webgpu_browser
    with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
        nodes = scene(v)
        saved = v.save_scene("three.psr")
        for n in nodes:  # the hub's scene is now empty; the file still holds the three nodes
            n.delete()
        v.sync()
        browser.open(f"http://127.0.0.1:{hub.port}/")
        wait_for("the page to connect", lambda: browser.status()[0] == "viewing", timeout=120)
        data = base64.b64encode(open(saved, "rb").read()).decode()
        # What a person's drop does: a DataTransfer with the file, dropped on the canvas.
        browser.js(f"""
            const bytes = Uint8Array.from(atob("{data}"), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "three.psr"));
            const canvas = document.getElementById("periscope");
            canvas.dispatchEvent(new DragEvent("dragover", {{dataTransfer: dt, bubbles: true, cancelable: true}}));
            canvas.dispatchEvent(new DragEvent("drop", {{dataTransfer: dt, bubbles: true, cancelable: true}}));
        """)
        wait_for("the page to show the dropped file", lambda: browser.status()[0] == "local: three.psr", timeout=30)

        def shows_file():
            path, img = browser.screenshot("web-dropped.png")
            m = masks(img)
            return path if m["red"].sum() > 1500 and m["blue"].sum() > 1500 else None

        wait_for("the file's scene in the page", shows_file, timeout=30)


def test_a_screenshot_from_the_page_is_downloaded_as_the_view_shows_it(viewer_process, tmp_path):
    hub = viewer_process
    browser = Browser(webgpu=True, downloads=tmp_path)
    try:
        with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
            scene(v)
            v.sync()
            browser.open(f"http://127.0.0.1:{hub.port}/")
            wait_viewing(browser, "WebGPU", "webgpu")
            def red():
                m = masks(browser.screenshot("web-before-p.png")[1])["red"]
                return centroid(m) if m.sum() > 1500 else None

            # Focus the canvas with a click (it selects the sphere), then P, as a person would.
            browser.click(*wait_for("the scene in the page", red, timeout=60))
            browser.key("p")
            pngs = wait_for("the screenshot's download",
                            lambda: [p for p in tmp_path.glob("periscope-*.png") if p.stat().st_size > 0], timeout=60)
            assert len(pngs) == 1, pngs
            img = read_png(pngs[0])
            # The 3D view only (no panels), at the page's pixel size, drawn as shown.
            h, w, _ = img.shape
            assert 400 < w < 1280 and 400 < h < 800, (w, h)
            m = masks(img)
            assert shows_scene(m), pngs[0]
            assert mean_x(m["red"]) < mean_x(m["blue"]), pngs[0]
            SHOTS.mkdir(parents=True, exist_ok=True)
            (SHOTS / "web-downloaded-screenshot.png").write_bytes(pngs[0].read_bytes())
    finally:
        browser.close()
