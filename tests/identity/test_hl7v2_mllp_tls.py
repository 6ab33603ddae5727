"""MLLP over TLS with client certificates, over a real socket, with a PKI made in the test:
each certificate acts as the API key it maps to (client, FINESS, scopes), and nothing else."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2.mllp import MllpServer, frame
from identity.hl7v2.mllp_auth import ListenerRefused
from identity.referential.models import SourceRecord
from referentials.core.auth import create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.settings import Hl7Settings
from referentials.core.usage import ApiUsage, flush_all
from tests.identity.test_hl7v2 import sample
from tests.identity.test_hl7v2_mllp import msa, receive

CHFM = "690999016"


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    fingerprint: str


class Pki:
    """A test CA issuing server and client certificates as PEM files in a folder."""

    def __init__(self, folder: Path, name: str = "Socle Test CA") -> None:
        self.folder = folder
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.ca = (
            self._builder(subject, self.ca_key.public_key(), subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = folder / f"{name.replace(' ', '_')}.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))

    def _builder(
        self, subject: x509.Name, public: ec.EllipticCurvePublicKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    def issue(self, name: str, *, server: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = self._builder(subject, key.public_key(), self.ca.subject).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if server:
            san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        cert_file, key_file = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        return Issued(cert_file, key_file, hashlib.sha256(der).hexdigest())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("mllp-pki"))


def _key(factory: sessionmaker[Session], finess: str | None, scopes: list[str]) -> int:
    with session_scope(factory) as sess:
        key, _ = create_api_key(sess, client_name=f"eai-{finess}", scopes=scopes, finess=finess)
        return key.id


@dataclass
class World:
    server: MllpServer
    pki: Pki
    chfm: Issued
    other: Issued
    by_cn: Issued
    unmapped: Issued
    chfm_key: int


@pytest.fixture()
def world(session_factory: sessionmaker[Session], pki: Pki) -> Iterator[World]:
    chfm_key = _key(session_factory, CHFM, ["identity:write"])
    other_key = _key(session_factory, "750000001", ["identity:write", "identity:merge"])
    reader_key = _key(session_factory, None, ["identity:read"])
    server_cert = pki.issue("mllp-server", server=True)
    chfm, other = pki.issue("chfm-eai"), pki.issue("other-eai")
    by_cn, unmapped = pki.issue("reader-eai"), pki.issue("nobody-eai")
    settings = Hl7Settings(
        idle_timeout_seconds=10,
        tls_cert=str(server_cert.cert),
        tls_key=str(server_cert.key),
        tls_client_ca=str(pki.ca_file),
        cert_keys={
            # Fingerprints as operators copy them: upper case with colons, or plain hex.
            "sha256:" + ":".join(f"{b:02X}" for b in bytes.fromhex(chfm.fingerprint)): chfm_key,
            f"sha256:{other.fingerprint}": other_key,
            "cn:reader-eai": reader_key,
        },
    )
    server = MllpServer(session_factory, settings, host="127.0.0.1", port=0).start()
    yield World(server, pki, chfm, other, by_cn, unmapped, chfm_key)
    server.stop()


def tls_connect(world: World, client: Issued | None, ca: Path | None = None) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(ca or world.pki.ca_file))
    if client is not None:
        context.load_cert_chain(str(client.cert), str(client.key))
    raw = socket.create_connection(("127.0.0.1", world.server.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def exchange(world: World, client: Issued, name: str) -> list[str]:
    with tls_connect(world, client) as sock:
        sock.sendall(frame(sample(name)))
        return msa(receive(sock))


def sources(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with session_scope(factory) as sess:
        rows = sess.scalars(select(SourceRecord).order_by(SourceRecord.local_id))
        return [(s.finess, s.local_id) for s in rows]


def test_a_mapped_certificate_sends_for_its_establishment(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    assert exchange(world, world.chfm, "a28_create.hl7")[1:3] == ["AA", "CHFM-0001"]
    assert exchange(world, world.chfm, "a28_second.hl7")[1] == "AA"
    assert exchange(world, world.chfm, "a40_merge.hl7")[1] == "AA"
    assert sources(session_factory) == [(CHFM, "IPP-1001"), (CHFM, "IPP-1002")]
    # Counted as the establishment's use of the identity service, as a bearer call would be.
    flush_all()
    with session_scope(session_factory) as sess:
        rows = sess.scalars(select(ApiUsage).where(ApiUsage.key_id == world.chfm_key))
        usage = [(u.key_id, u.finess, u.area, u.calls) for u in rows]
    assert usage == [(world.chfm_key, CHFM, "identity", 3)]


def test_another_establishments_certificate_gets_ar_and_changes_nothing(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    assert exchange(world, world.chfm, "a28_create.hl7")[1] == "AA"
    for name in ("a28_second.hl7", "a31_update.hl7", "a40_merge.hl7", "a47_change.hl7"):
        answer = exchange(world, world.other, name)
        assert answer[1] == "AR" and "750000001" in answer[3], name
    assert sources(session_factory) == [(CHFM, "IPP-1001")]


def test_unmapped_or_underprivileged_certificates_get_ar(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    unmapped = exchange(world, world.unmapped, "a28_create.hl7")
    assert unmapped[1] == "AR" and "not mapped" in unmapped[3]
    # Mapped by its subject CN, to a key that may only read.
    reader = exchange(world, world.by_cn, "a28_create.hl7")
    assert reader[1] == "AR" and "identity:write" in reader[3]
    assert sources(session_factory) == []


def test_a_revoked_key_revokes_its_certificate(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_scope(session_factory) as sess:
        revoke_api_key(sess, world.chfm_key)
    answer = exchange(world, world.chfm, "a28_create.hl7")
    assert answer[1] == "AR" and "revoked" in answer[3]
    assert sources(session_factory) == []


def test_no_certificate_or_a_foreign_ca_fails_the_handshake(world: World, tmp_path: Path) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)), tls_connect(world, None) as sock:
        sock.sendall(frame(sample("a28_create.hl7")))
        receive(sock)
    rogue = Pki(tmp_path, "Rogue CA").issue("chfm-eai")
    with pytest.raises((ssl.SSLError, ConnectionError)), tls_connect(world, rogue) as sock:
        sock.sendall(frame(sample("a28_create.hl7")))
        receive(sock)
    # The listener keeps serving the others.
    assert exchange(world, world.chfm, "a28_create.hl7")[1] == "AA"


def test_plain_tcp_off_loopback_and_tls_without_client_ca_are_refused(
    session_factory: sessionmaker[Session], pki: Pki
) -> None:
    with pytest.raises(ListenerRefused, match=r"plain TCP on 0\.0\.0\.0"):
        MllpServer(session_factory, Hl7Settings(), host="0.0.0.0", port=0)
    server_cert = pki.issue("lonely-server", server=True)
    half = Hl7Settings(tls_cert=str(server_cert.cert), tls_key=str(server_cert.key))
    with pytest.raises(ListenerRefused, match="TLS_CLIENT_CA"):
        MllpServer(session_factory, half, host="0.0.0.0", port=0)


def test_plain_tcp_on_loopback_needs_a_mapped_sending_facility(
    session_factory: sessionmaker[Session],
) -> None:
    server = MllpServer(session_factory, Hl7Settings(), host="127.0.0.1", port=0).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(frame(sample("a28_create.hl7")))
            answer = msa(receive(sock))
        assert answer[1] == "AR" and "sending facility" in answer[3]
        assert sources(session_factory) == []
    finally:
        server.stop()
