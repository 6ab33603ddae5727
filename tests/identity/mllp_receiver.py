"""A real MLLP receiver for the notification tests: a socket server in a thread that keeps
every framed message it receives and answers as told (AA, AE with an ERR code, AR, silence,
a closed connection, an unframed answer), over plain TCP or TLS with client certificates."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field

from tests.identity.background_server import InThread

START, END = b"\x0b", b"\x1c\x0d"


@dataclass
class Behaviour:
    """What the receiver answers: 'AA', 'AE', 'AR', 'silent', 'close', 'garbage', 'other-id'."""

    mode: str = "AA"
    error_code: str = ""
    # Answer this many messages with ``mode``, then AA (a receiver that recovers); 0: always.
    times: int = 0


@dataclass
class Received:
    messages: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)


def control_id(message: str) -> str:
    return message.split("\r", 1)[0].split("|")[9]


def ack(message: str, code: str, error_code: str = "", *, echo: str | None = None) -> str:
    msh = f"MSH|^~\\&|DPI|CHU|SOCLE|SOCLE|20260101000000||ACK^A01^ACK|R{time.time_ns()}|P|2.5"
    segments = [msh, f"MSA|{code}|{control_id(message) if echo is None else echo}|{code} text"]
    if error_code:
        segments.append(f"ERR|||{error_code}^Error^HL70357|E")
    return "\r".join(segments) + "\r"


class _Handler(socketserver.BaseRequestHandler):
    server: MllpReceiver

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        with self.server.lock:
            self.server.connections += 1
        buffer = b""
        try:
            if isinstance(sock, ssl.SSLSocket):
                sock.do_handshake()
                cert = sock.getpeercert() or {}
                names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
                self.server.received.peers.append(names[0] if names else "")
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while START in buffer and END in buffer:
                    start = buffer.index(START)
                    end = buffer.index(END, start)
                    text = buffer[start + 1 : end].decode("utf-8")
                    buffer = buffer[end + len(END) :]
                    if not self._answer(sock, text):
                        return
        except (OSError, ssl.SSLError):
            return

    def _answer(self, sock: socket.socket, text: str) -> bool:
        """Answer one message; False to end the connection."""
        srv = self.server
        with srv.lock:
            srv.received.messages.append(text)
            # Read when the message arrives, before the ACK: a test changing them after it got
            # the ACK affects the next message only.
            behaviour, hang_up = srv.behaviour, srv.hang_up
            count = len(srv.received.messages)
        mode = behaviour.mode if not behaviour.times or count <= behaviour.times else "AA"
        if mode == "silent":
            time.sleep(srv.silence_seconds)
            return False
        if mode == "close":
            return False
        if mode == "garbage":
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            return False
        if mode == "other-id":
            sock.sendall(START + ack(text, "AA", echo="NOT-YOURS").encode() + END)
            return True
        sock.sendall(START + ack(text, mode, behaviour.error_code).encode() + END)
        # A receiver that closes every connection after its ACK (as an idle timeout would).
        return not hang_up


class MllpReceiver(InThread[str], socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None = None, silence_seconds: float = 3.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls, self.silence_seconds = tls, silence_seconds
        self.behaviour = Behaviour()
        self.received = Received()
        self.lock = threading.Lock()
        self.connections = 0
        self.hang_up = False

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.tls is None:
            return sock, address
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def answer(self, mode: str, error_code: str = "", times: int = 0) -> None:
        with self.lock:
            self.behaviour = Behaviour(mode, error_code, times)

    def messages(self) -> list[str]:
        with self.lock:
            return list(self.received.messages)

    collected = messages
