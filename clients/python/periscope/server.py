"""``python -m periscope.server [flags]``: runs the Periscope viewer installed
with this package (the ``periscope`` wheel), with the same flags as the
``periscope`` command (``--headless``, ``--port``, ``--config``, ...; see
``--help``). It reads ``config.toml`` from the working directory, or uses the
built-in defaults. Without a display it runs headless and says so.

The client-only distribution (``periscope-client``) has no viewer: this then
says how to get one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from typing import Optional

_EXE = "periscope.exe" if os.name == "nt" else "periscope"


def find_viewer() -> str:
    """The path of the viewer binary: ``$PERISCOPE_BIN``, else the one installed
    beside this Python (the wheel's scripts), else ``periscope`` on ``PATH``.

    Raises FileNotFoundError, saying how to install it, when there is none."""
    explicit = os.environ.get("PERISCOPE_BIN")
    if explicit:
        if not os.path.isfile(explicit):
            raise FileNotFoundError(f"PERISCOPE_BIN is set to {explicit!r}, which is not a file")
        return explicit
    schemes = [sysconfig.get_path("scripts")]
    if sys.platform != "emscripten":
        try:
            schemes.append(sysconfig.get_path("scripts", f"{os.name}_user"))
        except KeyError:
            pass
    for d in schemes:
        candidate = os.path.join(d, _EXE)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which(_EXE)
    if on_path:
        return on_path
    raise FileNotFoundError(
        "the Periscope viewer is not installed in this environment: install the viewer wheel "
        "(`pip install periscope`, or `make wheel` in a checkout and `pip install dist/periscope-*.whl`); "
        "periscope-client only sends data to a viewer running elsewhere"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the viewer with ``argv`` (default: this command's arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        binary = find_viewer()
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if os.name == "posix" and argv is None:
        # Become the viewer: Ctrl-C, the exit status and the first stdout line
        # ("periscope listening on ws://...") are the binary's own.
        sys.stdout.flush()
        os.execv(binary, [binary, *args])
    return subprocess.call([binary, *args])


if __name__ == "__main__":
    sys.exit(main())
