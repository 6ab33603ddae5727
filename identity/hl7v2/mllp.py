"""The MLLP listener: framed HL7 v2 messages over TCP, one thread per connection.

Frame: ``<VT> message <FS><CR>`` (0x0B ... 0x1C 0x0D). Each frame is handled in its own
transaction and always answered with a framed ACK; bytes outside a frame are skipped, an
oversized frame is refused (AR) and the connection keeps serving.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import ack
from identity.hl7v2.message import Header, decode, header_of
from identity.hl7v2.process import handle
from referentials.core.db import session_scope
from referentials.core.principal import SYSTEM, Principal
from referentials.core.settings import Hl7Settings

log = logging.getLogger("socle.hl7v2.mllp")
START, END = b"\x0b", b"\x1c\x0d"
MLLP_PRINCIPAL = replace(SYSTEM, client_name="hl7-mllp")


def frame(message: str | bytes) -> bytes:
    body = message.encode("utf-8") if isinstance(message, str) else message
    return START + body + END


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.settings.idle_timeout_seconds)
        buffer = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer = self._frames(sock, buffer + chunk)
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
                    sock.sendall(frame(self.server.reject("message too large")))
                    return b""
                return buffer[start:]
            sock.sendall(frame(self.server.answer(buffer[start + 1 : end])))
            buffer = buffer[end + len(END) :]


class MllpServer(socketserver.ThreadingTCPServer):
    """The listener; ``serve_forever()`` in the foreground or ``start()`` in a thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Hl7Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        principal: Principal = MLLP_PRINCIPAL,
    ) -> None:
        self.factory, self.settings, self.principal = factory, settings, principal
        address = (host or settings.mllp_host, settings.mllp_port if port is None else port)
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def answer(self, raw: bytes) -> str:
        """The ACK of one framed message, in its own transaction."""
        try:
            with session_scope(self.factory) as session:
                return handle(session, self.principal, raw, self.settings).ack
        except Exception as exc:
            # The commit itself failed (database gone...): the sender must resend.
            log.error("mllp: message not stored: %s", type(exc).__name__)
            header = header_of(decode(raw))
            return self.reject("not stored, resend later", code="AE", error="207", header=header)

    def reject(
        self, text: str, *, code: str = "AR", error: str = "100", header: Header | None = None
    ) -> str:
        issue = ack.Issue(error, text)
        return ack.build(
            header or Header(),
            code,
            text,
            [issue],
            application=self.settings.receiving_application,
            facility=self.settings.receiving_facility,
        )

    def start(self) -> MllpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="mllp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
