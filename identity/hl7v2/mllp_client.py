"""Sending notifications over MLLP: one connection per delivery, each message framed, its ACK
awaited within the timeout, and the outcome classified for the delivery engine.

Plain TCP only to a loopback address (an interface engine on the same host), as for the
listener; anything else speaks TLS 1.2+ with Socle's client certificate and checks the
receiver's certificate and name.

**Outcome rule** (original mode, MSA-1):
- ``AA``/``CA``: delivered.
- ``AR``/``CR``: refused; permanent (resending the same message gets the same answer).
- ``AE``/``CE``: retryable when the receiver says the trouble is its own and passing (ERR-3
  ``206`` record locked, ``207`` application internal error) or gives no ERR-3 code; any other
  code (``1xx`` the message, ``2xx`` the content, e.g. ``204`` unknown key) is permanent.
- No ACK (connection refused or closed, timeout, a broken frame, an ACK for another control id,
  an unknown MSA-1): retryable.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from identity.hl7v2.mllp import END, START, frame
from identity.hl7v2.notify import Outgoing
from referentials.core.production import is_loopback_host

log = logging.getLogger("socle.hl7v2.notify")
MAX_ACK_BYTES = 1_000_000
TRANSIENT_ERRORS = ("206", "207")


class TargetRefused(ValueError):
    """An MLLP destination Socle will not send to (plain TCP off loopback, TLS incomplete)."""


@dataclass(frozen=True)
class MllpTarget:
    """Where a subscription's messages go, and how."""

    host: str
    port: int
    tls: bool = False
    # PEM bundle of the CAs that sign the receiver's certificate (the system store when empty).
    ca_file: str = ""
    # Socle's client certificate and key (PEM), required over TLS.
    cert_file: str = ""
    key_file: str = ""
    # The name the receiver's certificate must carry (the host when empty).
    server_name: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class AckOutcome:
    """What became of a send: delivered, or why not and whether to try again."""

    ok: bool
    retryable: bool
    code: str  # MSA-1, '' when no ACK was read
    text: str  # MSA-3 (the receiver's words), or the transport problem
    error_code: str = ""  # ERR-3.1 (HL7 table 0357)
    control_id: str = ""
    ack: str = ""  # the raw ACK, as received
    # The ACK answered the message sent (MSA-2 = MSH-10): the connection is still in step.
    matched: bool = False


def check_target(target: MllpTarget) -> None:
    """Refuse a destination that would send identities in clear off the host."""
    if not target.host or not 0 < target.port < 65536:
        raise TargetRefused("an MLLP destination needs a host and a port (1-65535)")
    if not target.tls and not is_loopback_host(target.host):
        raise TargetRefused(
            f"MLLP over plain TCP to {target.host}: only a loopback address may be reached "
            "without TLS; set tls with Socle's client certificate (cert_file, key_file)"
        )
    if target.tls and not (target.cert_file and target.key_file):
        raise TargetRefused(
            "MLLP over TLS needs cert_file and key_file (Socle's client certificate)"
        )


def _connect(target: MllpTarget) -> socket.socket:
    sock = socket.create_connection((target.host, target.port), timeout=target.timeout_seconds)
    if not target.tls:
        return sock
    context = ssl.create_default_context(cafile=target.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(target.cert_file, target.key_file)
    try:
        return context.wrap_socket(sock, server_hostname=target.server_name or target.host)
    except BaseException:
        sock.close()
        raise


def _read_frame(sock: socket.socket, deadline: float) -> bytes:
    """The body of the next frame; TimeoutError or ConnectionError when there is none."""
    data = b""
    while True:
        start = data.find(START)
        end = data.find(END, start + 1) if start >= 0 else -1
        if end >= 0:
            return data[start + 1 : end]
        if len(data) > MAX_ACK_BYTES:
            raise ConnectionError("the answer is not an MLLP frame (too large)")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the receiver closed the connection before its ACK")
        data += chunk


def _fields(ack: str, name: str) -> list[str]:
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith(name + "|"):
            return segment.split("|")
    return []


def classify(ack: str, control_id: str) -> AckOutcome:
    """The outcome of an ACK's MSA (and ERR-3) for the message sent with ``control_id``."""
    outcome = _classify(ack, control_id)
    msa = _fields(ack, "MSA")
    matched = len(msa) > 2 and msa[2].strip() == control_id
    return AckOutcome(
        outcome.ok,
        outcome.retryable,
        outcome.code,
        outcome.text,
        outcome.error_code,
        control_id,
        ack,
        matched,
    )


def _classify(ack: str, control_id: str) -> AckOutcome:
    msa = _fields(ack, "MSA")
    if len(msa) < 2:
        return AckOutcome(False, True, "", "the answer has no MSA segment")
    code, echoed = msa[1].strip().upper(), msa[2].strip() if len(msa) > 2 else ""
    text = msa[3].strip() if len(msa) > 3 else ""
    err = _fields(ack, "ERR")
    error_code = err[3].split("^", 1)[0].strip() if len(err) > 3 else ""
    if echoed != control_id:
        why = f"the ACK answers control id {echoed!r}, not {control_id!r}"
        return AckOutcome(False, True, code, why, error_code)
    if code in ("AA", "CA"):
        return AckOutcome(True, False, code, text, error_code)
    if code in ("AR", "CR"):
        return AckOutcome(False, False, code, text, error_code)
    if code in ("AE", "CE"):
        retry = not error_code or error_code in TRANSIENT_ERRORS
        return AckOutcome(False, retry, code, text, error_code)
    return AckOutcome(False, True, code, f"unknown MSA-1 {code!r}", error_code)


def _one(sock: socket.socket, message: Outgoing, timeout: float) -> AckOutcome:
    sock.sendall(frame(message.text))
    raw = _read_frame(sock, time.monotonic() + timeout)
    return classify(raw.decode("utf-8", errors="replace"), message.control_id)


def _deliver(sock: socket.socket, target: MllpTarget, messages: Sequence[Outgoing]) -> AckOutcome:
    outcome = AckOutcome(True, False, "", "nothing to send")
    for message in messages:
        outcome = _one(sock, message, target.timeout_seconds)
        if not outcome.ok:
            break
    return outcome


class Connections:
    """Connections kept open between deliveries, one per destination, so that a receiver sees
    one long-lived connection (and one TLS handshake), as PAM interface engines expect. A
    subscription sends one message at a time, so a connection is never shared."""

    def __init__(self) -> None:
        self._open: dict[MllpTarget, socket.socket] = {}
        self._lock = threading.Lock()

    def take(self, target: MllpTarget) -> socket.socket | None:
        with self._lock:
            return self._open.pop(target, None)

    def keep(self, target: MllpTarget, sock: socket.socket) -> None:
        with self._lock:
            old, self._open[target] = self._open.get(target), sock
        if old is not None and old is not sock:
            old.close()

    def close(self) -> None:
        with self._lock:
            socks, self._open = list(self._open.values()), {}
        for sock in socks:
            sock.close()


def _exchange(
    target: MllpTarget, messages: Sequence[Outgoing], connections: Connections | None
) -> tuple[AckOutcome, socket.socket]:
    """Deliver on a kept connection, or a new one; a kept connection the receiver closed while
    idle is replaced once (the resend carries the same control ids)."""
    sock = connections.take(target) if connections is not None else None
    if sock is not None:
        try:
            return _deliver(sock, target, messages), sock
        except ConnectionError:
            sock.close()
    sock = _connect(target)
    try:
        return _deliver(sock, target, messages), sock
    except BaseException:
        sock.close()
        raise


def send(
    target: MllpTarget, messages: Sequence[Outgoing], connections: Connections | None = None
) -> AckOutcome:
    """Send the messages of one delivery in order on one connection; stop at the first that is
    not acknowledged, whose outcome is returned (the last ACK when all are). With
    ``connections``, the connection stays open for the next delivery while the exchange is in
    step (an ACK of our message was read)."""
    try:
        outcome, sock = _exchange(target, messages, connections)
        if connections is not None and outcome.matched:
            connections.keep(target, sock)
        else:
            sock.close()
    except TimeoutError:
        outcome = AckOutcome(False, True, "", f"no ACK within {target.timeout_seconds:g} s")
    except ssl.SSLError as exc:
        outcome = AckOutcome(False, True, "", f"TLS: {exc.reason or exc}")
    except OSError as exc:
        outcome = AckOutcome(False, True, "", f"{type(exc).__name__}: {exc}")
    log.info(
        "mllp %s:%s: %s %s",
        target.host,
        target.port,
        outcome.control_id or "-",
        outcome.code or ("ok" if outcome.ok else "no ack"),
    )
    return outcome
