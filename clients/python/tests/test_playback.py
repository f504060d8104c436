"""Playback is scene state changed by PLAYBACK messages: a headless viewer plays."""

import time

import numpy as np
import pytest
from periscope import RemoteSpheres, RemoteViewer, ViewerError


def test_play_pause_and_speed_on_a_headless_viewer(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as v:
        RemoteSpheres(v, np.zeros((10, 2, 3)))
        state = v.sync()
        assert (state["n_frames"], state["playing"], state["fps"]) == (10, False, 30.0)

        v.set_playback(playing=True, fps=50)
        state = v.sync()
        assert (state["playing"], state["fps"]) == (True, 50.0)
        seen = set()
        deadline = time.monotonic() + 10
        while len(seen) < 4:
            assert time.monotonic() < deadline, f"the playhead did not move: {seen}"
            seen.add(v.sync()["current_frame"])
            time.sleep(0.005)

        v.pause()
        stopped = v.sync()["current_frame"]
        time.sleep(0.15)
        state = v.sync()
        assert (state["playing"], state["current_frame"]) == (False, stopped)

        v.set_playback(fps=12.5)
        v.play()
        state = v.sync()
        assert (state["playing"], state["fps"]) == (True, 12.5), "a missing field keeps its value"
        v.pause()

        with pytest.raises(ViewerError, match=r'playback: field "fps" must be a finite number in \[0.001, 240\], found 0.0'):
            v.set_playback(fps=0)
            v.sync()
        with pytest.raises(ViewerError, match=r'playback: field "fps" must be a finite number in \[0.001, 240\], found inf'):
            v.set_playback(fps=float("inf"))
            v.sync()
        state = v.sync()
        assert (state["playing"], state["fps"]) == (False, 12.5), "refused messages change nothing"
