"""Every example program runs against the real viewer."""

import os
import subprocess
import sys

import pytest

from conftest import BIN, REPO

EXAMPLES = REPO / "examples"


@pytest.mark.parametrize("name, expected", [
    ("remote_meshes.py", "Cube has 140 frames; showing frame 42"),
    ("all_kinds.py", "6 nodes, 120 frames"),
    ("interactive.py --check", "7 controls; surface recomputed 3 times; frequency 2.0"),
    ("composite.py --check --scale 0.25", None),
    ("point_cloud.py --points 20000", "scan has 30 frames; last frame 60000 points"),
    ("video.py --size 96x64", "wrote turntable.mp4, follow.gif and fly.mp4 from 60 frames"),
])
def test_python_example(viewer_process, name, expected):
    env = dict(os.environ, PERISCOPE_PORT=str(viewer_process.port))
    script, *args = name.split()
    out = subprocess.run([sys.executable, str(EXAMPLES / "python" / script), *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if expected is None:  # the number of images depends on timing
        assert out.stdout.startswith("sent ") and out.stdout.strip().endswith("images with depth; ring has 120 frames")
    else:
        assert out.stdout.strip() == expected


def test_rust_example(viewer_process):
    exe = BIN.parent / "stream_mesh"
    out = subprocess.run([str(exe), f"127.0.0.1:{viewer_process.port}", "50"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("sent 50 frames of 4096 vertices")
    assert out.stdout.rstrip().endswith("the viewer has 1 node(s), 50 frames")
