"""The server's door, over real sockets on loopback: wss:// with a certificate, browsers'
origins, wrong tokens throttled, the token in no log, a warning for plain ws:// off
this machine."""

from __future__ import annotations

import datetime
import http
import ipaddress
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import napari_engine
from napari_engine.server.guard import ALLOWED_FAILURES
from napari_engine.server.process import ServerProcess

TOKEN = "not-in-any-log-7f3a"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, signed by itself."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def _status(url: str, **kwargs: object) -> int:
    """The HTTP status of a websocket upgrade to ``url`` (101: open)."""
    try:
        with connect(url, open_timeout=10, **kwargs):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_wss_with_a_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certfile))  # this client trusts it
    with ServerProcess(["--token", TOKEN, "--size", "64x48", "--empty", "--journal-dir",
                        "none", "--certfile", str(certfile), "--keyfile",
                        str(keyfile)]) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        viewer = napari_engine.connect(server.url, stream="none")
        try:
            assert viewer.screenshot().shape[:2] == (48, 64)
        finally:
            viewer.close()
        plain = server.url.replace("wss://", "ws://")
        with pytest.raises(Exception):  # noqa: B017 - no plain websocket on a TLS port
            connect(plain, open_timeout=5).close()


def test_origins_wrong_tokens_and_logs(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess(["--token", TOKEN, "--size", "64x48", "--empty", "--journal-dir",
                        "none", "--log-level", "DEBUG", "--allow-origin",
                        "https://lab.example"], log_path=log) as server:
        url = server.url
        assert _status(url) == 101  # a script: no Origin
        assert _status(url, origin="https://evil.example") == http.HTTPStatus.FORBIDDEN
        assert _status(url, origin="https://lab.example") == 101
        wrong = url.replace(TOKEN, "guess")
        for _ in range(ALLOWED_FAILURES + 1):
            assert _status(wrong) == http.HTTPStatus.UNAUTHORIZED
        # loopback is not held back (an ssh forward's people all come from it; a
        # guessing address elsewhere is: tests/server/test_guard.py)
        assert _status(url) == 101
        assert server.alive()
    text = log.read_text()
    assert "GET /" in text  # websockets' own request lines were logged (DEBUG) ...
    assert TOKEN not in text and "guess" not in text  # ... without the tokens


def test_plain_ws_off_this_machine_is_warned_about() -> None:
    server = ServerProcess(["--token", TOKEN, "--host", "192.0.2.1", "--empty"])
    with pytest.raises(RuntimeError):  # a documentation address: it cannot bind
        server.start()
    assert "without TLS" in server.stderr
