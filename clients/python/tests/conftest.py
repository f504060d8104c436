"""Starts the real ``periscope --headless`` binary on an ephemeral port."""

import os
import pathlib
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(os.environ.get("PERISCOPE_BIN", REPO / "target" / "debug" / "periscope"))


class Viewer:
    def __init__(self, config=""):
        if not BIN.exists():
            raise RuntimeError(f"{BIN} not found: run `cargo build --workspace` first (or set PERISCOPE_BIN)")
        self._cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        self._cfg.write(config)
        self._cfg.close()
        self.proc = subprocess.Popen(
            [str(BIN), "--headless", "--port", "0", "--log-level", "warn", "--config", self._cfg.name],
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
        os.unlink(self._cfg.name)


@pytest.fixture
def viewer_process():
    v = Viewer()
    yield v
    v.stop()


@pytest.fixture
def start_viewer():
    started = []

    def start(config=""):
        v = Viewer(config)
        started.append(v)
        return v

    yield start
    for v in started:
        v.stop()
