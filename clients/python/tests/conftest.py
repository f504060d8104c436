"""Starts the real ``periscope --headless`` binary on an ephemeral port."""

import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(os.environ.get("PERISCOPE_BIN", REPO / "target" / "debug" / "periscope"))


def wait_for(what, check, timeout=10):
    """Polls `check` until it returns something truthy (returned), failing after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Viewer:
    """A headless viewer in its own directory (config.toml, scripts/)."""

    def __init__(self, config="", scripts=None, port=0):
        if not BIN.exists():
            raise RuntimeError(f"{BIN} not found: run `cargo build --workspace` first (or set PERISCOPE_BIN)")
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="periscope-py-"))
        (self.dir / "config.toml").write_text(config)
        for name, text in (scripts or {}).items():
            path = self.dir / "scripts" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.proc = subprocess.Popen(
            [str(BIN), "--headless", "--port", str(port), "--log-level", "warn", "--config", str(self.dir / "config.toml")],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline().strip()
        prefix = "periscope listening on ws://"
        assert line.startswith(prefix), f"unexpected first line {line!r}"
        self.host, port = line[len(prefix):].rsplit(":", 1)
        self.port = int(port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def viewer_process():
    v = Viewer()
    yield v
    v.stop()


@pytest.fixture
def start_viewer():
    started = []

    def start(config="", scripts=None, port=0):
        v = Viewer(config, scripts, port)
        started.append(v)
        return v

    yield start
    for v in started:
        v.stop()
