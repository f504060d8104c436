"""Record a session, replay it into a fresh viewer, read it from Python."""

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import BIN, Viewer
from periscope import RemoteMeshes, RemoteSpheres, RemoteViewer, ViewerError, read_recording


def session(v):
    rng = np.random.default_rng(5)
    m = RemoteMeshes(v, rng.random((3, 40, 3), dtype=np.float32), np.array([[0, 1, 2], [2, 3, 4]]), name="Mesh",
                     flat_shading=True, color=(0.2, 0.4, 0.8, 1))
    for _ in range(5):
        m.add_frames(rng.random((40, 3), dtype=np.float32))
    m.update_frames(np.zeros((40, 3), np.float32), frames=[1])
    m.remove_frames([2])
    s = RemoteSpheres(v, rng.random((2, 8, 3), dtype=np.float32), radius=0.1, name="Balls")
    s.delete()
    RemoteSpheres(v, rng.random((4, 3), dtype=np.float32), name="Kept", position=(1, 2, 3))
    # 480 KB: sent as ARRAY_PART messages, recorded as the whole message.
    RemoteMeshes(v, rng.random((2, 20_000, 3), dtype=np.float32), np.array([[0, 1, 2]]), name="Big")
    v.send_images(np.zeros((6, 7, 3), np.uint8))
    v.set_frame(3)


def scene_of(port):
    with RemoteViewer("127.0.0.1", port) as v:
        state = v.query()
        data = {n["name"]: [v.query_data(n["uid"], frame=f, client_id=n["client_id"]) for f in range(n["n_frames"])]
                for n in state["nodes"]}
        return state, data


def comparable(state):
    return [(n["name"], n["kind"], n["n_frames"], n["uid"], n["enabled"], tuple(n["color"])) for n in state["nodes"]], \
        state["n_frames"], state["current_frame"]


def stop_gracefully(viewer):
    viewer.proc.send_signal(signal.SIGINT)
    assert viewer.proc.wait(timeout=20) == 0


def replay(path, *extra, timeout=60):
    """Starts `periscope --headless FILE` and returns (process, port)."""
    proc = subprocess.Popen([str(BIN), "--headless", "--port", "0", "--log-level", "warn", str(path), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("periscope listening on ws://"), (line, proc.stderr.read() if proc.poll() else "")
    return proc, int(line.rsplit(":", 1)[1])


def wait_nodes(port, n, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        with RemoteViewer("127.0.0.1", port) as v:
            if len(v.query()["nodes"]) >= n:
                return
        assert time.monotonic() < deadline, "the replay did not arrive"
        time.sleep(0.1)


def test_record_replay_matches_and_python_reads_it(tmp_path):
    rec = tmp_path / "run.psr"
    live = Viewer(f'[recording]\npath = "{rec}"\n')
    try:
        with RemoteViewer(live.host, live.port, client_name="trainer") as v:
            session(v)
            v.sync()
        original, original_data = scene_of(live.port)
        stop_gracefully(live)
    finally:
        live.stop()

    records = list(read_recording(rec))
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "connect" and "disconnect" in kinds
    messages = [r for r in records if r["kind"] == "message"]
    assert messages[0]["message"]["type"] == 2 and messages[0]["name"] == "trainer"
    assert all(b["t"] >= a["t"] for a, b in zip(records, records[1:]))
    assert all(m["message"]["type"] != 330 for m in messages), "array parts are transport, not recorded"
    big = next(m["message"] for m in messages if m["message"]["kwargs"].get("name") == "Big")
    assert big["kwargs"]["vertices"].shape == (2, 20_000, 3), "the message that used parts is recorded with its array"

    proc, port = replay(rec)
    try:
        wait_nodes(port, len(original["nodes"]))
        replayed, replayed_data = scene_of(port)
        assert comparable(replayed) == comparable(original)
        for name, frames in original_data.items():
            for a, b in zip(frames, replayed_data[name]):
                np.testing.assert_array_equal(a, b)
    finally:
        proc.kill()


def test_truncated_recording_loads_the_prefix_with_a_warning(tmp_path):
    rec = tmp_path / "run.psr"
    live = Viewer(f'[recording]\npath = "{rec}"\n')
    try:
        with RemoteViewer(live.host, live.port) as v:
            for k in range(5):
                RemoteSpheres(v, np.full((3, 3), k, np.float32), name=f"S{k}")
            v.sync()
        stop_gracefully(live)
    finally:
        live.stop()
    data = rec.read_bytes()
    cut = tmp_path / "cut.psr"
    cut.write_bytes(data[: len(data) - 40])
    with pytest.warns(UserWarning, match="records before it were read"):
        assert [r["kind"] for r in read_recording(cut)][-1] == "message"
    proc, port = replay(cut)
    try:
        wait_nodes(port, 4)
        with RemoteViewer("127.0.0.1", port) as v:
            names = [n["name"] for n in v.query()["nodes"]]
        assert names[:4] == ["S0", "S1", "S2", "S3"]
    finally:
        proc.kill()
        err = proc.stderr.read()
    assert "loaded the" in err and "before it" in err, err


def test_newer_or_foreign_files_are_refused(tmp_path):
    newer = tmp_path / "new.psr"
    newer.write_bytes(b"PSREC\x1a\r\n" + (9).to_bytes(4, "little") + (0).to_bytes(4, "little"))
    out = subprocess.run([str(BIN), "--headless", "--port", "0", str(newer)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0 and "version 9" in out.stderr and "update Periscope" in out.stderr
    with pytest.raises(ValueError, match="version 9"):
        list(read_recording(newer))
    junk = tmp_path / "x.psr"
    junk.write_bytes(b"hello")
    out = subprocess.run([str(BIN), "--headless", "--port", "0", str(junk)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "not a Periscope recording" in out.stderr


def test_saved_scene_reopens_and_replay_screenshot(viewer_process, tmp_path):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        session(v)
        v.sync()
        original, original_data = scene_of(viewer_process.port)
        path = v.save_scene("my scene.psr")
        assert path.endswith("my scene.psr")
        with pytest.raises(ViewerError, match="plain file name"):
            v.save_scene("../escape.psr")
    # The saved scene reopens equal to the original (no renderer needed).
    reopened, port = replay(path)
    try:
        wait_nodes(port, len(original["nodes"]))
        state, data = scene_of(port)
        assert comparable(state)[0] == comparable(original)[0]
        assert state["current_frame"] == original["current_frame"]
        assert data.keys() == original_data.keys()
        for name, frames in original_data.items():
            assert len(data[name]) == len(frames), name
            for a, b in zip(frames, data[name]):
                np.testing.assert_array_equal(a, b)
    finally:
        reopened.kill()
    # And renders from the command line: skipped without a renderer, unless
    # CI requires one (PERISCOPE_REQUIRE_RENDER).
    shot = tmp_path / "scene.png"
    proc = subprocess.run([str(BIN), "--headless", "--port", "0", "--log-level", "warn", path, "--screenshot",
                           str(shot), "--screenshot-size", "120x90"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and "rendering unavailable" in proc.stderr and not os.environ.get("PERISCOPE_REQUIRE_RENDER"):
        why = next(line for line in proc.stderr.splitlines() if "rendering unavailable" in line)
        pytest.skip(f"no renderer (the replay was checked): {why}")
    assert proc.returncode == 0, proc.stderr
    assert shot.exists() and shot.stat().st_size > 100
