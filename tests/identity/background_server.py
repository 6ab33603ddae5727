"""A test server (HTTP or MLLP receiver) served in a thread for the length of a `with` block."""

from __future__ import annotations

import socketserver
import threading
import time
from abc import abstractmethod
from typing import Generic, Self, TypeVar

Item = TypeVar("Item")


class InThread(socketserver.BaseServer, Generic[Item]):
    """Mixed into a socketserver: `with` serves it in a thread; `wait_for` polls what it got."""

    _thread: threading.Thread

    @abstractmethod
    def collected(self) -> list[Item]:
        """What the server received so far (a copy): each receiver says what it collects."""

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Item]:
        deadline = time.monotonic() + timeout
        while len(self.collected()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.collected()

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)
