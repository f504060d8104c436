"""The viewer from Python: ``create_new_process``, ``python -m periscope.server``,
and the ``periscope`` wheel installed into a fresh virtualenv without Rust."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

from conftest import BIN, REPO
from periscope import RemoteMeshes, RemoteViewer

FACES = np.array([[0, 1, 2]])
VERTS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)


@pytest.fixture
def viewer_bin(monkeypatch):
    monkeypatch.setenv("PERISCOPE_BIN", str(BIN))


def test_create_new_process_connects_and_close_ends_it(viewer_bin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.toml here: the built-in defaults
    v = RemoteViewer.create_new_process(args=["--headless", "--log-level", "warn"], verbose=False)
    assert v.connected and v.process is not None
    RemoteMeshes(v, VERTS, FACES, name="from a new process")
    assert [n["name"] for n in v.sync()["nodes"]] == ["from a new process"]
    v.close()
    assert v.wait_process(timeout=20) == 0, "a headless viewer we started exits cleanly on close()"


def test_create_new_process_reports_a_viewer_that_does_not_start(viewer_bin):
    with pytest.raises(RuntimeError, match="the viewer did not start \\(it exited with status 2\\)"):
        RemoteViewer.create_new_process(args=["--no-such-flag"])


def test_server_module_without_a_viewer_says_how_to_get_one(tmp_path):
    env = dict(os.environ, PERISCOPE_BIN="", PATH=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "periscope.server", "--headless"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    assert "the Periscope viewer is not installed in this environment" in r.stderr
    assert "pip install periscope" in r.stderr


def _wheel():
    wheels = sorted((REPO / "dist").glob("periscope-*.whl"))
    if not wheels:
        if os.environ.get("PERISCOPE_REQUIRE_WHEEL") == "1":
            raise RuntimeError("no dist/periscope-*.whl: run `make wheel` (or `make wheel-dev`) first")
        pytest.skip("no dist/periscope-*.whl (make wheel-dev builds one)")
    return wheels[-1]


def test_wheel_in_a_fresh_venv_without_rust(tmp_path):
    wheel = _wheel()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600)
    # A machine without Rust: nothing of cargo on PATH, only the venv and the system.
    path = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "PERISCOPE_"))}
    env.update(PATH=path, HOME=str(tmp_path))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    assert shutil.which("cargo", path=path) is None, "cargo must not be reachable in this test"
    assert (venv / "bin" / "periscope").is_file(), "the wheel puts the viewer on PATH"
    version = subprocess.run(["periscope", "--version"], env=env, capture_output=True, text=True, check=True)
    assert version.stdout.startswith("periscope 0."), version.stdout

    work = pathlib.Path(tempfile.mkdtemp(dir=tmp_path))  # no config.toml: the built-in defaults
    # No --headless: without a display it falls back to headless and says so, like the binary.
    proc = subprocess.Popen([str(py), "-m", "periscope.server", "--port", "0"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("periscope listening on ws://127.0.0.1:"), (line, proc.stderr.read())
        port = int(line.rsplit(":", 1)[1])
        client = textwrap.dedent(f"""
            import numpy as np
            from periscope import RemoteViewer, RemoteMeshes
            with RemoteViewer("127.0.0.1", {port}, verbose=False, required=True) as v:
                RemoteMeshes(v, np.eye(3, dtype=np.float32), np.array([[0, 1, 2]]), name="from the wheel")
                print([n["name"] for n in v.sync()["nodes"]])
        """)
        r = subprocess.run([str(py), "-c", client], cwd=work, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "['from the wheel']"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, "Ctrl-C stops the viewer cleanly"
        log = proc.stderr.read()
        assert "no display (DISPLAY and WAYLAND_DISPLAY are unset): running headless" in log, log
    finally:
        if proc.poll() is None:
            proc.kill()
