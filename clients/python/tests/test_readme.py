"""The README's Python quick start works when pasted."""

import os
import re
import subprocess
import sys

from conftest import REPO


def test_readme_quick_start_runs(viewer_process):
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    env = dict(os.environ, PERISCOPE_PORT=str(viewer_process.port))
    out = subprocess.run([sys.executable, "-c", block], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "90 ['Mesh 0', 'Spheres 2']"
