"""The hub's web view from Python: ``v.url``, ``v.show()`` in a notebook and
``python -m periscope.server --open`` (through ``$BROWSER``, a script that
records the address it was given), against the real viewer binary."""

import os
import signal
import ssl
import subprocess
import sys
import urllib.request

import pytest

from periscope import RemoteViewer

from conftest import BIN, REPO, wait_for


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def test_url_is_the_page_on_the_same_port(start_viewer):
    hub = start_viewer()
    with RemoteViewer(f"ws://127.0.0.1:{hub.port}", required=True) as v:
        assert v.url == f"http://127.0.0.1:{hub.port}/"
        assert v.ws_url == f"ws://127.0.0.1:{hub.port}"
        status, kind, body = fetch(v.url)
        assert status == 200 and kind == "text/html; charset=utf-8"
        assert b"<html" in body.lower()
        v.sync()  # the WebSocket beside it is unaffected
    # TLS: the page is https on the same port; IPv6 hosts are bracketed.
    secure = RemoteViewer("127.0.0.1", port=1, ssl=ssl.create_default_context(), verbose=False)
    assert secure.url == "https://127.0.0.1:1/"
    secure.close()
    v6 = RemoteViewer("::1", port=2, verbose=False)
    assert v6.url == "http://[::1]:2/"
    v6.close()


def test_show_displays_an_iframe_of_the_page(start_viewer, capsys):
    pytest.importorskip("IPython")
    hub = start_viewer()
    with RemoteViewer(f"ws://127.0.0.1:{hub.port}", required=True) as v:
        frame = v.web_view(height=321)
        assert (frame.src, frame.height, frame.width) == (v.url, 321, "100%")
        assert f'src="{v.url}"' in frame._repr_html_()
        v.show(height=600)
        assert "IFrame" in capsys.readouterr().out  # display() outside a notebook prints the object


def test_show_without_ipython_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    v = RemoteViewer("127.0.0.1", port=3, verbose=False)
    with pytest.raises(ImportError, match=r"needs IPython .* open http://127\.0\.0\.1:3/ in a browser"):
        v.show()
    v.close()


def test_server_open_starts_the_browser_on_the_page(tmp_path):
    record = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\n')
    browser.chmod(0o755)
    (tmp_path / "config.toml").write_text("")
    env = dict(os.environ, PERISCOPE_BIN=str(BIN), BROWSER=str(browser),
               PYTHONPATH=os.pathsep.join([str(REPO / "clients" / "python"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "periscope.server", "--open", "--headless", "--port", "0", "--log-level", "warn",
         "--config", str(tmp_path / "config.toml")],
        stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("periscope listening on ws://127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        assert proc.stdout.readline().strip() == f"open http://127.0.0.1:{port}/"
        opened = wait_for("the browser to be started", lambda: record.exists() and record.read_text())
        assert opened == f"http://127.0.0.1:{port}/"
        assert fetch(opened)[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) is not None
