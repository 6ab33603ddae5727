"""Who sends on the MLLP listener: a client certificate (TLS) or, on a plain-TCP listener bound
to loopback only, the MSH-4 sending facility, each mapped to an API key in the settings or in
the database (``senders``).

The key gives the client, its FINESS and its scopes, as a bearer would on the HTTP route: the
sender needs ``identity:write``, and a key tied to an establishment may only send that
establishment's local ids (``process`` refuses the others with AR). An unmapped certificate or
facility, or a revoked key, gets AR and changes nothing.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from typing import cast

from sqlalchemy.orm import Session

from identity.hl7v2 import senders
from identity.hl7v2.message import Header, Hl7Problem
from referentials.core.errors import AppError
from referentials.core.principal import Principal
from referentials.core.production import is_loopback_host
from referentials.core.senders import principal_for_key
from referentials.core.settings import Hl7Settings
from referentials.core.usage import record_call


class ListenerRefused(ValueError):
    """The listener's settings are unsafe or incomplete: it does not start."""


@dataclass(frozen=True)
class Peer:
    """The verified client certificate of a TLS connection."""

    fingerprint: str
    common_name: str | None


def uses_tls(settings: Hl7Settings) -> bool:
    return bool(settings.tls_cert)


def check_listener(settings: Hl7Settings, host: str) -> None:
    """Refuse a plain-TCP listener off loopback, and a TLS one that cannot verify clients."""
    if not uses_tls(settings):
        if not is_loopback_host(host):
            raise ListenerRefused(
                f"MLLP over plain TCP on {host}: anyone reaching the port could send; bind a "
                "loopback address or set SOCLE_HL7__TLS_CERT, _TLS_KEY and _TLS_CLIENT_CA"
            )
        return
    if not settings.tls_key or not settings.tls_client_ca:
        raise ListenerRefused(
            "MLLP over TLS needs SOCLE_HL7__TLS_KEY and SOCLE_HL7__TLS_CLIENT_CA "
            "(client certificates are required)"
        )


def server_context(settings: Hl7Settings) -> ssl.SSLContext:
    """TLS 1.2 or later, a client certificate required and verified against the client CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    context.load_verify_locations(cafile=settings.tls_client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_of(sock: ssl.SSLSocket) -> Peer:
    """The connection's client certificate (verified by the handshake)."""
    der = sock.getpeercert(binary_form=True) or b""
    info = sock.getpeercert() or {}
    subject = cast(tuple[tuple[tuple[str, str], ...], ...], info.get("subject", ()))
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return Peer(hashlib.sha256(der).hexdigest(), names[0] if names else None)


def _configured(settings: Hl7Settings, peer: Peer | None, header: Header) -> int | None:
    if peer is not None:
        by_print = {k.lower().replace(":", ""): v for k, v in settings.cert_keys.items()}
        found = by_print.get(f"sha256{peer.fingerprint}")
        if found is None and peer.common_name:
            found = settings.cert_keys.get(f"cn:{peer.common_name}")
        return found
    for facility in header.facility_ids:
        if facility in settings.facility_keys:
            return settings.facility_keys[facility]
    return None


def _stored(session: Session, peer: Peer | None, header: Header) -> int | None:
    if peer is not None:
        candidates = [("cert", peer.fingerprint)]
        if peer.common_name:
            candidates.append(("cn", peer.common_name))
    else:
        candidates = [("facility", f) for f in header.facility_ids]
    return senders.key_for(session, candidates)


def sender(session: Session, settings: Hl7Settings, peer: Peer | None, header: Header) -> Principal:
    """The principal a message is applied as; AR (Hl7Problem) when the sender is not allowed.

    The settings' maps first, then the senders stored in the database (``senders``).
    """
    key_id = _configured(settings, peer, header)
    if key_id is None:
        key_id = _stored(session, peer, header)
    if key_id is None:
        what = "client certificate" if peer is not None else "sending facility (MSH-4)"
        raise Hl7Problem("AR", "100", f"this {what} is not mapped to a client", "MSH^1^4")
    try:
        principal = principal_for_key(session, key_id)
    except AppError as exc:
        raise Hl7Problem("AR", "100", exc.message, "MSH^1^4") from exc
    if not principal.has(senders.WRITE_SCOPE):
        raise Hl7Problem(
            "AR", "100", f"this client lacks the scope '{senders.WRITE_SCOPE}'", "MSH^1^4"
        )
    # Counted like a bearer call: the e-parcours indicators see establishments using MLLP too.
    record_call(session, principal, "identity")
    return principal
