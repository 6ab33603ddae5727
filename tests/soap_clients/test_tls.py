"""Mutual TLS plumbing: CA bundle, client certificate and key reach the HTTPS connection."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from soap_clients.insi import InsiProtocolError, InsiUnavailable
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.soap_clients.conftest import IDAM, free_port, make_client

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(cwd: Path, name: str, subject: str, extensions: str) -> None:
    """A key and a certificate for `name`, signed by the test CA."""
    (cwd / f"{name}.ext").write_text(extensions, encoding="utf-8")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj", subject,
             "-out", f"{name}.csr", cwd=cwd)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
             cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=Socle Test CA", cwd=cwd)  # fmt: skip
    _issue(cwd, "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n")
    _issue(cwd, "client", "/O=Socle tests/CN=INSI-AUTO", "extendedKeyUsage=clientAuth\n")
    return cwd


@pytest.fixture(scope="module")
def https_mock(pki: Path) -> Iterator[str]:
    """The mock behind HTTPS that demands a client certificate signed by the test CA."""
    port = free_port()
    config = uvicorn.Config(
        create_mock_app(MockConfig(known_idam=[IDAM])),
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        timeout_graceful_shutdown=1,
        ssl_keyfile=str(pki / "server.key"),
        ssl_certfile=str(pki / "server.pem"),
        ssl_ca_certs=str(pki / "ca.pem"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    yield f"https://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


def _adrun_answers(https_mock: str, pki: Path) -> bool:
    """Whether a client holding the test CA and client certificate gets Adrun's CR 00."""
    client = make_client(
        https_mock,
        ca_bundle=str(pki / "ca.pem"),
        client_cert=str(pki / "client.pem"),
        client_key=str(pki / "client.key"),
    )
    return client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").cr_code == "00"


def test_mutual_tls_call_succeeds(https_mock: str, pki: Path) -> None:
    assert _adrun_answers(https_mock, pki)


def test_missing_client_certificate_is_refused(https_mock: str, pki: Path) -> None:
    client = make_client(https_mock, ca_bundle=str(pki / "ca.pem"))
    # With TLS 1.3 the server refuses the certificate after the client's handshake is done,
    # so the client sees either a TLS alert or an aborted connection, depending on timing.
    with pytest.raises((InsiProtocolError, InsiUnavailable)):
        client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31")


def test_unknown_server_ca_is_a_protocol_error(https_mock: str, pki: Path) -> None:
    client = make_client(
        https_mock, client_cert=str(pki / "client.pem"), client_key=str(pki / "client.key")
    )
    with pytest.raises(InsiProtocolError, match="TLS"):
        client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31")


def test_ca_bundle_of_the_environment_is_used_when_none_is_configured(
    https_mock: str, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client reads the environment once, when built (not on every call): the bundle
    # named by REQUESTS_CA_BUNDLE must still be the one it trusts.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki / "ca.pem"))
    client = make_client(
        https_mock, client_cert=str(pki / "client.pem"), client_key=str(pki / "client.key")
    )
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").cr_code == "00"


def test_configured_ca_bundle_wins_over_the_environment(
    https_mock: str, pki: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
             str(other), "-days", "2", "-subj", "/CN=Other CA", cwd=tmp_path)  # fmt: skip
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    assert _adrun_answers(https_mock, pki)
