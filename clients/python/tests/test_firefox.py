"""The browser view in a second engine: Debian's Firefox ESR (Gecko, with
its own WebGPU implementation and its own WebGL2), on a virtual X display
with Mesa's software Vulkan and GL (see browser.Firefox). There is no
WebDriver for it in Debian, so the test reads the screen and clicks with
xdotool, and learns which backend the page chose from the hub: the page
joins as `browser (WebGPU)` or `browser (WebGL2)`.

Screenshots are kept in target/screenshots/firefox-*.png."""

import os

import pytest

from browser import BUTTON, FIREFOX_MISSING, Firefox, centroid, masks, mean_x, scene_with_listeners, shows_scene
from conftest import REPO, wait_for
from periscope import RemoteViewer

if not (REPO / "core" / "web" / "dist" / "index.html").exists():
    FIREFOX_MISSING.append("the web bundle (make web)")
if FIREFOX_MISSING:
    if os.environ.get("PERISCOPE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"the Firefox tests need {', '.join(FIREFOX_MISSING)} (apt: firefox-esr xdotool imagemagick)")
    pytest.skip(f"Firefox tests skipped: {', '.join(FIREFOX_MISSING)} missing", allow_module_level=True)


@pytest.mark.parametrize("which", ["WebGPU", "WebGL2"])
def test_firefox_shows_the_hubs_scene_and_its_clicks_reach_the_owner(which, viewer_process):
    hub = viewer_process
    with RemoteViewer("127.0.0.1", hub.port, client_name="producer") as v:
        button, clicks, selected = scene_with_listeners(v)
        query = "?renderer=webgl2" if which == "WebGL2" else ""
        firefox = Firefox(f"http://127.0.0.1:{hub.port}/{query}")
        try:
            def joined():
                names = [c["name"] for c in v.query()["clients"] if c["connected"]]
                return next((n for n in names if n.startswith("browser")), None)

            # Firefox's start, the wasm's compile and the backend's set-up: a liveness bound.
            name = wait_for("the page in Firefox to join the hub", joined, timeout=120)
            assert name == f"browser ({which})", f"{name}; Firefox said:\n{firefox.output()}"

            def scene_on_screen():
                path, img = firefox.screenshot(f"firefox-{which.lower()}.png")
                m = masks(img)
                # Kiosk mode grows the window to the display after the first
                # paint; the clicks below need the page's final layout (the
                # bare X root, outside the window, is black).
                fills = img[:, -1].mean() > 30 and img[-1, :].mean() > 30
                return (path, m) if fills and shows_scene(m) else None

            path, m = wait_for(f"the scene in Firefox ({which})", scene_on_screen, timeout=60)
            assert mean_x(m["red"]) < mean_x(m["blue"]), f"red sphere left of the blue mesh: see {path}"
            assert centroid(m["green"])[1] < centroid(m["red"])[1], f"points above the sphere: see {path}"

            # Input reaches the hub from Gecko's events too: a click on the
            # sphere selects it, a click on the button fires its callback.
            firefox.click(*centroid(m["red"]))
            wait_for("on_select from Firefox's click", lambda: selected, timeout=30)
            assert selected[-1].node is not None, selected[-1]
            firefox.click(*BUTTON)
            wait_for("the button's callback from Firefox", lambda: clicks, timeout=30)
            assert clicks[0].control is button
        finally:
            firefox.close()
