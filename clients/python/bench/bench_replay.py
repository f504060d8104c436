"""Replay speed against live ingest: the same 6,890-vertex x 2,000-frame mesh
stream (165 MB of float32), live from Python into a recording viewer, then
replayed from the file into a fresh one.

    cargo build --release && .venv/bin/python clients/python/bench/bench_replay.py [--frames 2000]
"""

import argparse
import pathlib
import signal
import subprocess
import tempfile
import time

import numpy as np

from periscope import RemoteMeshes, RemoteViewer

REPO = pathlib.Path(__file__).resolve().parents[3]
EXE = REPO / "target" / "release" / "periscope"


def start(*args):
    proc = subprocess.Popen([str(EXE), "--headless", "--port", "0", "--log-level", "error", *args],
                            stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline().strip().rsplit(":", 1)[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=2000)
    args = ap.parse_args()
    d = pathlib.Path(tempfile.mkdtemp(prefix="periscope-replay-"))
    (d / "config.toml").write_text("")
    rec = d / "ingest.psr"
    verts = np.random.default_rng(0).random((args.frames, 6890, 3), dtype=np.float32)
    faces = np.array([[0, 1, 2]])

    proc, port = start("--config", str(d / "config.toml"), "--record", str(rec))
    with RemoteViewer("127.0.0.1", port, client_name="ingest") as v:
        t0 = time.perf_counter()
        m = RemoteMeshes(v, verts[0], faces)
        for f in verts[1:]:
            m.add_frames(f)
        v.sync()
        live = time.perf_counter() - t0
    proc.send_signal(signal.SIGINT)
    proc.wait()

    t0 = time.perf_counter()
    proc, port = start("--config", str(d / "config.toml"), str(rec))
    with RemoteViewer("127.0.0.1", port, client_name="observer") as v:
        while True:
            nodes = v.query()["nodes"]
            if nodes and nodes[0]["n_frames"] == args.frames:
                break
            time.sleep(0.01)
    replayed = time.perf_counter() - t0
    proc.kill()
    mb = verts.nbytes / 1e6
    print(f"{args.frames} frames x 6890 vertices = {mb:.0f} MB; recording {rec.stat().st_size / 1e6:.0f} MB")
    print(f"live ingest from Python : {live:6.2f} s  {mb / live:7.0f} MB/s")
    print(f"replay from the file    : {replayed:6.2f} s  {mb / replayed:7.0f} MB/s  ({live / replayed:.1f}x live, "
          "including viewer start-up)")


if __name__ == "__main__":
    main()
