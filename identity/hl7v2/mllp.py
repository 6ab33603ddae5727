"""The MLLP listener: framed HL7 v2 messages over TCP or TLS, one thread per connection.

Frame: ``<VT> message <FS><CR>`` (0x0B ... 0x1C 0x0D). Each frame is handled in its own
transaction and always answered with a framed ACK; bytes outside a frame are skipped, an
oversized frame is refused (AR) and the connection keeps serving. Every message is applied as
the client its sender maps to (``mllp_auth``): a client certificate over TLS, or the sending
facility on a plain-TCP listener, which may only listen on loopback.

Where messages are applied: in the connection's thread, or, given a pool of worker processes
(`socle mllp --workers N`, referentials/mllp_workers.py), in whichever of them is free. One
process applies about a core's worth of messages whatever the number of connections (a message
is mostly the interpreter's work: parsing, then scoring its candidates), and connections
spread over several listening processes by the kernel fall unevenly (3 and 13 of 16 in one
count): the pool shares the messages out instead. A connection's thread still waits for each
ACK before reading the next frame, so an establishment's messages are applied in the order
sent (README, "HL7 v2 messages at once").
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import ack, mllp_auth
from identity.hl7v2.message import Header, Hl7Problem, decode, header_of
from identity.hl7v2.process import handle
from referentials.core.db import session_scope
from referentials.core.settings import Hl7Settings

log = logging.getLogger("socle.hl7v2.mllp")
START, END = b"\x0b", b"\x1c\x0d"


def frame(message: str | bytes) -> bytes:
    body = message.encode("utf-8") if isinstance(message, str) else message
    return START + body + END


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    peer: mllp_auth.Peer | None = None

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.settings.idle_timeout_seconds)
        buffer = b""
        try:
            if isinstance(sock, ssl.SSLSocket):
                # In this connection's thread, so a slow handshake holds no other sender.
                sock.do_handshake()
                self.peer = mllp_auth.peer_of(sock)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer = self._frames(sock, buffer + chunk)
        except ssl.SSLError as exc:
            log.warning("mllp: TLS handshake refused from %s: %s", self.client_address[0], exc)
        except (TimeoutError, ConnectionError, OSError):
            return

    def _frames(self, sock: socket.socket, buffer: bytes) -> bytes:
        """Answer every complete frame in the buffer; return what is left."""
        limit = self.server.settings.max_message_bytes
        while True:
            start = buffer.find(START)
            if start < 0:
                return b""
            end = buffer.find(END, start)
            if end < 0:
                if len(buffer) - start > limit + 2:
                    sock.sendall(frame(reject(self.server.settings, "message too large")))
                    return b""
                return buffer[start:]
            sock.sendall(frame(self.server.answer(buffer[start + 1 : end], self.peer)))
            buffer = buffer[end + len(END) :]


class Applier:
    """Applies framed messages as their senders' clients, each in its own transaction."""

    def __init__(self, factory: sessionmaker[Session], settings: Hl7Settings) -> None:
        self.factory, self.settings = factory, settings

    def answer(self, raw: bytes, peer: mllp_auth.Peer | None = None) -> str:
        """The ACK of one framed message, applied as its sender's client, in its own transaction."""
        header = header_of(decode(raw))
        try:
            with session_scope(self.factory) as session:
                try:
                    principal = mllp_auth.sender(session, self.settings, peer, header)
                except Hl7Problem as refused:
                    log.warning(
                        "mllp %s: sender refused (%s)", header.control_id or "-", refused.text
                    )
                    return reject(self.settings, refused.text, error=refused.error, header=header)
                return handle(session, principal, raw, self.settings).ack
        except Exception as exc:
            # The commit itself failed (database gone...): the sender must resend.
            log.error("mllp: message not stored: %s", type(exc).__name__)
            return not_stored(self.settings, header)


def reject(
    settings: Hl7Settings,
    text: str,
    *,
    code: str = "AR",
    error: str = "100",
    header: Header | None = None,
) -> str:
    issue = ack.Issue(error, text)
    return ack.build(
        header or Header(),
        code,
        text,
        [issue],
        application=settings.receiving_application,
        facility=settings.receiving_facility,
    )


def not_stored(settings: Hl7Settings, header: Header) -> str:
    return reject(settings, "not stored, resend later", code="AE", error="207", header=header)


class WorkerLost(Exception):
    """The worker process applying a message ended before answering."""


class Workers(Protocol):
    """Processes that apply messages (referentials/mllp_workers.py)."""

    def answer(self, raw: bytes, peer: mllp_auth.Peer | None) -> str:
        """The ACK of one framed message (``Applier.answer``, in a worker); WorkerLost."""

    def close(self) -> None:
        """Stop the processes."""


class MllpServer(socketserver.ThreadingTCPServer):
    """The listener; ``serve_forever()`` in the foreground or ``start()`` in a thread.

    ``workers``: the processes that apply the messages; None: each is applied in its
    connection's thread.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Hl7Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        workers: Workers | None = None,
    ) -> None:
        self.settings = settings
        self.applier = Applier(factory, settings)
        address = (host or settings.mllp_host, settings.mllp_port if port is None else port)
        mllp_auth.check_listener(settings, address[0])
        self.tls = mllp_auth.server_context(settings) if mllp_auth.uses_tls(settings) else None
        self.workers = workers
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.tls is None:
            return sock, address
        # The handshake runs in the connection's thread (_Handler.handle), not here.
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def answer(self, raw: bytes, peer: mllp_auth.Peer | None = None) -> str:
        """The ACK of one framed message (see ``Applier.answer``)."""
        if self.workers is None:
            return self.applier.answer(raw, peer)
        try:
            return self.workers.answer(raw, peer)
        except WorkerLost:
            # Killed, out of memory...: its message may or may not be stored. The sender resends
            # (an A28 sent again is an update of what it created).
            return not_stored(self.settings, header_of(decode(raw)))

    def start(self) -> MllpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="mllp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def server_close(self) -> None:
        super().server_close()
        if self.workers is not None:
            self.workers.close()
