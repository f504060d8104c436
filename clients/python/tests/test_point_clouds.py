"""Point clouds against the real headless viewer: the API, sizes that change
per frame, colors where sent, and bad input."""

import logging
import os

import numpy as np
import pytest

from periscope import RemotePointClouds, RemoteViewer, ViewerError


def shot(v, **kw):
    try:
        return v.screenshot(width=160, height=120, **kw)
    except ViewerError as e:
        if os.environ.get("PERISCOPE_REQUIRE_RENDER"):
            raise
        pytest.skip(f"no renderer: {e}")


def test_frames_of_different_sizes_and_their_colors(viewer_process):
    rng = np.random.default_rng(0)
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        first = rng.normal(size=(2, 1000, 3))  # float64: sent as float32
        colors = rng.random((2, 1000, 3))  # float: sent as uint8
        pc = RemotePointClouds(v, first, colors=colors, point_size=3.0, name="scan")
        # A list of frames of different sizes, one color for all their points.
        pc.add_frames([rng.normal(size=(10, 3)), rng.normal(size=(20_000, 3))], colors=(1.0, 0.5, 0.0))
        node = next(n for n in v.sync()["nodes"] if n["name"] == "scan")
        assert (node["kind"], node["n_frames"]) == ("point_clouds", 4)
        p = v.query_data(pc, "points", frame=1)
        assert p.dtype == np.float32 and p.shape == (1000, 3)
        np.testing.assert_allclose(p, first[1], rtol=1e-6)
        c = v.query_data(pc, "colors", frame=1)
        assert c.dtype == np.uint8 and c.shape == (1000, 4)
        np.testing.assert_array_equal(c[:, :3], np.round(colors[1] * 255).astype(np.uint8))
        assert (c[:, 3] == 255).all()
        assert v.query_data(pc, "points", frame=2).shape == (10, 3)
        assert v.query_data(pc, "points", frame=3).shape == (20_000, 3)
        assert tuple(v.query_data(pc, "colors", frame=3)[0]) == (255, 128, 0, 255)
        # update_frames may change a frame's size, with its colors.
        pc.update_frames(np.zeros((5, 3)), frames=0, colors=np.full((5, 4), 7, np.uint8))
        assert v.query_data(pc, "colors", frame=0).shape == (5, 4)
        pc.remove_frames([2])
        assert v.query_data(pc, "points", frame=2).shape == (20_000, 3)
        pc.delete()
        assert all(n["name"] != "scan" for n in v.sync()["nodes"])


def test_screenshot_shows_the_colors_where_sent(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        left = np.column_stack([np.full(200, -1.0), np.linspace(-0.5, 0.5, 200), np.zeros(200)])
        right = left * [-1, 1, 1]
        colors = np.concatenate([np.tile([255, 0, 0], (200, 1)), np.tile([0, 0, 255], (200, 1))]).astype(np.uint8)
        pc = RemotePointClouds(v, np.concatenate([left, right]), colors=colors, point_size=6.0)
        v.sync()
        img = shot(v, camera={"target": [0, 0, 0], "yaw": 0, "pitch": 0, "distance": 4, "fov_y": 45})
        rgb = img[..., :3].astype(int)
        red = (rgb[..., 0] > 150) & (rgb[..., 2] < 80)
        blue = (rgb[..., 2] > 150) & (rgb[..., 0] < 80)
        assert red.sum() > 100 and blue.sum() > 100, (red.sum(), blue.sum())
        # Red on the left half, blue on the right.
        assert np.nonzero(red)[1].max() < 80 < np.nonzero(blue)[1].min()
        pc.delete()


def test_non_finite_points_are_skipped_and_warned_once(viewer_process, caplog):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v, caplog.at_level(logging.INFO, "periscope"):
        p = np.zeros((100, 3), np.float32)
        p[3, 1] = np.nan
        p[7, 0] = np.inf
        pc = RemotePointClouds(v, p, colors=np.arange(400, dtype=np.uint8).reshape(100, 4) % 250)
        v.sync()
        assert v.query_data(pc, "points").shape == (98, 3)
        notes = [r.getMessage() for r in caplog.records if "NaN or inf" in r.getMessage()]
        assert len(notes) == 1 and "2 of 100 points" in notes[0], notes
        pc.delete()


@pytest.mark.parametrize("call,field", [
    (lambda v: RemotePointClouds(v, np.zeros((4, 2))), 'field "points" must have shape (N, 3)'),
    (lambda v: RemotePointClouds(v, np.zeros((4, 3)), colors=np.zeros((3, 3))), 'field "colors" has 3 rows'),
    (lambda v: RemotePointClouds(v, np.zeros((4, 3)), colors=np.zeros((4, 5))), 'field "colors" must be'),
    (lambda v: RemotePointClouds(v, np.zeros((2, 4, 3)), colors=np.zeros((3, 4, 3))), '"colors" has 3 frames'),
    (lambda v: RemotePointClouds(v, np.zeros((4, 3)), point_size=0), 'field "point_size" must be a finite number > 0'),
    (lambda v: RemotePointClouds(v, np.zeros((4, 3)), point_size_world=-1), 'field "point_size_world"'),
])
def test_bad_input_names_the_field_and_changes_nothing(viewer_process, call, field):
    with RemoteViewer(viewer_process.host, viewer_process.port, verbose=False) as v:
        before = len(v.sync()["nodes"])
        call(v)
        with pytest.raises(ViewerError) as e:
            v.sync()
        assert field in str(e.value)
        assert len(v.sync()["nodes"]) == before


def test_int_colors_are_refused_by_the_client():
    with pytest.raises(TypeError, match="float in \\[0, 1\\] or uint8"):
        from periscope.renderables import _colors
        _colors(np.zeros((3, 3), np.int64))


def test_a_changed_size_without_colors_is_refused(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port, verbose=False) as v:
        pc = RemotePointClouds(v, np.zeros((3, 3)), colors=np.full((3, 3), 0.5))
        pc.update_frames(np.zeros((5, 3)), frames=0)
        with pytest.raises(ViewerError, match="frame 0 would have 5 points but 3 colors"):
            v.sync()
        assert v.query_data(pc, "points").shape == (3, 3)
        pc.delete()


def test_a_cloud_over_the_clients_budget_is_refused_clearly(start_viewer):
    proc = start_viewer("[scene]\nmax_bytes_per_client = 1000000\n")
    with RemoteViewer("127.0.0.1", proc.port, verbose=False) as v:
        pc = RemotePointClouds(v, np.zeros((100_000, 3)))  # 1.2 MB
        v.sync()
        pc.add_frames(np.zeros((10, 3)))
        with pytest.raises(ViewerError, match="max_bytes_per_client"):
            v.sync()
        assert v.sync()["nodes"][0]["n_frames"] == 1
