"""TLS (wss://) with a certificate made for the test."""

import shutil
import ssl
import subprocess

import numpy as np
import pytest

from conftest import BIN
from periscope import RemoteSpheres, RemoteViewer

if shutil.which("openssl") is None:
    pytest.skip("openssl is needed to make a test certificate (apt: openssl)", allow_module_level=True)


@pytest.fixture
def cert(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return tmp_path / "cert.pem", tmp_path / "key.pem"


def test_wss_round_trip_and_plain_clients_are_turned_away(tmp_path, cert):
    (tmp_path / "config.toml").write_text(f'[server]\ntls_cert = "{cert[0]}"\ntls_key = "{cert[1]}"\n')
    proc = subprocess.Popen([str(BIN), "--headless", "--port", "0", "--log-level", "error", "--config",
                             str(tmp_path / "config.toml")], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("periscope listening on wss://"), line
        port = int(line.rsplit(":", 1)[1])
        ctx = ssl.create_default_context(cafile=str(cert[0]))
        with RemoteViewer(f"wss://127.0.0.1:{port}", ssl=ctx) as v:
            RemoteSpheres(v, np.zeros((3, 3), np.float32), name="secret")
            assert [n["name"] for n in v.sync()["nodes"]] == ["secret"]
            # A client without TLS gets nowhere, and the encrypted one is unaffected.
            with pytest.raises((ConnectionError, OSError)):
                RemoteViewer("127.0.0.1", port, timeout=3, required=True, verbose=False)
            # A client that does not trust the certificate is refused by its own TLS check.
            with pytest.raises((ConnectionError, OSError, ssl.SSLError)):
                RemoteViewer(f"wss://127.0.0.1:{port}", ssl=ssl.create_default_context(), timeout=3, required=True,
                             verbose=False)
            assert len(v.sync()["nodes"]) == 1
    finally:
        proc.kill()


def test_bad_tls_configuration_is_a_clear_startup_error(tmp_path, cert):
    (tmp_path / "config.toml").write_text(f'[server]\ntls_cert = "{tmp_path}/missing.pem"\ntls_key = "{cert[1]}"\n')
    out = subprocess.run([str(BIN), "--headless", "--port", "0", "--config", str(tmp_path / "config.toml")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "TLS: cannot read the certificate" in out.stderr and "missing.pem" in out.stderr
    (tmp_path / "config.toml").write_text(f'[server]\ntls_cert = "{cert[0]}"\n')
    out = subprocess.run([str(BIN), "--headless", "--port", "0", "--config", str(tmp_path / "config.toml")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "both server.tls_cert and server.tls_key" in out.stderr
