"""``python -m periscope.server [flags]``: runs the Periscope viewer installed
with this package (the ``periscope`` wheel), with the same flags as the
``periscope`` command (``--headless``, ``--port``, ``--config``, ...; see
``--help``). It reads ``config.toml`` from the working directory, or uses the
built-in defaults. Without a display it runs headless and says so.

``--open`` (this command's own flag) also opens the default browser
(``webbrowser``, which honours ``$BROWSER``) on the hub's web view once it is
listening: ``http://HOST:PORT/``, the viewer's second stdout line.

The client-only distribution (``periscope-client``) has no viewer: this then
says how to get one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import webbrowser
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


def page_url(listening: str) -> Optional[str]:
    """The web view's address from the viewer's first stdout line
    (``periscope listening on ws://HOST:PORT``): ``http://HOST:PORT/``
    (``https://`` for ``wss://``; a wildcard bind is opened on loopback, as the
    viewer's own ``open`` line says). None for another line."""
    prefix = "periscope listening on "
    if not listening.startswith(prefix):
        return None
    scheme, _, address = listening[len(prefix):].strip().partition("://")
    host, _, port = address.rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"{'https' if scheme == 'wss' else 'http'}://{host}:{port}/"


def _run_and_open(binary: str, args: list[str]) -> int:
    """Runs the viewer, passing its output through, and opens the browser on
    its page as soon as it listens."""
    proc = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    opened = False
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            url = None if opened else page_url(line)
            if url is not None:
                opened = True
                if not webbrowser.open(url):
                    print(f"could not start a browser: open {url}", file=sys.stderr)
        return proc.wait()
    except KeyboardInterrupt:
        # The viewer got the same Ctrl-C; let it shut down cleanly.
        return proc.wait()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the viewer with ``argv`` (default: this command's arguments);
    ``--open`` opens the browser on its web view."""
    args = list(sys.argv[1:] if argv is None else argv)
    want_open = "--open" in args
    args = [a for a in args if a != "--open"]
    try:
        binary = find_viewer()
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if want_open:
        return _run_and_open(binary, args)
    if os.name == "posix" and argv is None:
        # Become the viewer: Ctrl-C, the exit status and the first stdout line
        # ("periscope listening on ws://...") are the binary's own.
        sys.stdout.flush()
        os.execv(binary, [binary, *args])
    return subprocess.call([binary, *args])


if __name__ == "__main__":
    sys.exit(main())
