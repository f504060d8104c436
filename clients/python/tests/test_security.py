"""Tokens and per-client limits."""

import os
import subprocess

import numpy as np
import pytest

from conftest import BIN
from periscope import RemoteSpheres, RemoteViewer, ViewerError


def test_token_from_the_environment_on_both_sides(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text("")
    env = dict(os.environ, PERISCOPE_TOKEN="from-env")
    proc = subprocess.Popen([str(BIN), "--headless", "--port", "0", "--log-level", "error",
                             "--config", str(tmp_path / "config.toml")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
        monkeypatch.delenv("PERISCOPE_TOKEN", raising=False)
        with pytest.raises(ViewerError, match="token"):
            RemoteViewer("127.0.0.1", port, required=True)
        with pytest.raises(ViewerError, match="token"):
            RemoteViewer("127.0.0.1", port, token="wrong")
        monkeypatch.setenv("PERISCOPE_TOKEN", "from-env")
        with RemoteViewer("127.0.0.1", port) as v:
            assert v.connected and v.sync()["nodes"] == []
    finally:
        proc.kill()


def test_per_client_node_and_byte_limits(start_viewer):
    viewer = start_viewer("[scene]\nmax_nodes_per_client = 2\nmax_bytes_per_client = 100000\n")
    with RemoteViewer(viewer.host, viewer.port, verbose=False) as greedy, \
            RemoteViewer(viewer.host, viewer.port, verbose=False) as other:
        for _ in range(3):
            RemoteSpheres(greedy, np.zeros((2, 3), np.float32))
        with pytest.raises(ViewerError, match="max_nodes_per_client"):
            greedy.sync()
        s = RemoteSpheres(other, np.zeros((5000, 3), np.float32))   # 60 kB
        s.add_frames(np.zeros((5000, 3), np.float32))                # 120 kB now
        other.sync()
        s.add_frames(np.zeros((5000, 3), np.float32))                # refused: over 100 kB
        with pytest.raises(ViewerError, match="max_bytes_per_client"):
            other.sync()
        state = other.query()
        assert sorted(n["n_frames"] for n in state["nodes"]) == [1, 1, 2], "nothing else was lost"


def test_a_reply_over_max_reply_bytes_raises_instead_of_hanging(start_viewer):
    # 100 kB: a 64x64 screenshot (16 kB) fits; a 200x200 one (160 kB) and a
    # 240 kB frame of data do not, and their callers get a clear error.
    viewer = start_viewer("[server]\nmax_reply_bytes = 100000\n")
    with RemoteViewer(viewer.host, viewer.port, verbose=False) as v:
        RemoteSpheres(v, np.zeros((2, 3), np.float32))
        assert v.screenshot(width=64, height=64).shape == (64, 64, 4)
        with pytest.raises(ViewerError, match=r"server\.max_reply_bytes \(100000 bytes\)") as shot:
            v.screenshot(width=200, height=200)
        assert shot.value.code == "reply_too_large"
        s = RemoteSpheres(v, np.zeros((20000, 3), np.float32))
        with pytest.raises(ViewerError, match="scene_state reply would be 240") as data:
            v.query_data(s, "positions", 0)
        assert data.value.code == "reply_too_large"
        assert len(v.sync()["nodes"]) == 2
