"""The served processes' loop takes one connection per turn from a shared listening socket."""

from __future__ import annotations

import asyncio
import socket

from referentials.core.serving import FairAcceptLoop


class _Counted(asyncio.Protocol):
    made: list[asyncio.BaseTransport]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(transport)


def _accepted_per_turn(loop: asyncio.AbstractEventLoop, pending: int) -> list[int]:
    """Connections made in each turn of ``loop`` when ``pending`` arrive together.

    A connection accepted in one turn is made (its protocol called) a couple of turns later.
    """
    made: list[asyncio.BaseTransport] = []
    protocol = type("Protocol", (_Counted,), {"made": made})
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    clients: list[socket.socket] = []
    try:
        server = loop.run_until_complete(loop.create_server(protocol, sock=listener, backlog=64))
        # The kernel completes the handshakes: all of them wait in the accept queue at once.
        clients = [socket.create_connection(listener.getsockname()) for _ in range(pending)]
        counts: list[int] = []
        while len(made) < pending and len(counts) < 50:
            before = len(made)
            loop.call_soon(loop.stop)
            loop.run_forever()  # one turn
            counts.append(len(made) - before)
        for transport in made:
            transport.close()
        server.close()
        loop.run_until_complete(server.wait_closed())
        return counts
    finally:
        for client in clients:
            client.close()
        loop.close()


def test_one_connection_is_accepted_per_turn() -> None:
    counts = _accepted_per_turn(FairAcceptLoop(), 8)
    assert sum(counts) == 8, counts
    assert max(counts) == 1, counts


def test_asyncio_alone_takes_every_pending_connection_at_once() -> None:
    # Why the loop above exists: the first process to wake would take the whole pool.
    counts = _accepted_per_turn(asyncio.SelectorEventLoop(), 8)
    assert max(counts) == 8, counts
