"""A second thread for the database writes of a load, so that parsing and writing overlap.

sqlite3 and psycopg release the GIL while the database works: with the writes in their own
thread, the parser keeps one core busy while SQLite (or the COPY) keeps the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class BackgroundWriter:
    """Applies ``write`` to each batch in order, in one thread; errors surface to the caller."""

    def __init__(self, write: Callable[[Any], None], *, depth: int = 3) -> None:
        self.write = write
        # A short queue: the parser never runs far ahead (memory stays bounded).
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="directory-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is _STOP:
                return
            if self.error is None:
                try:
                    self.write(batch)
                except BaseException as exc:  # handed over to the parsing thread
                    self.error = exc

    def put(self, batch: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def close(self) -> None:
        """Wait for every batch to be written; re-raise a write error."""
        self.queue.put(_STOP)
        self.thread.join()
        if self.error is not None:
            raise self.error
