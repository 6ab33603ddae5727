"""The file's chunks, read, parsed, normalised and keyed one chunk ahead of the load.

Parsing a chunk (validation, normalising, blocking keys) needs no database and is pure Python:
in a thread it would hold the GIL the load needs, so the CLI does it in a forked process (a real
second core); a serving process, which never forks, keeps the thread (the database's waits,
which let go of the GIL, hide part of it).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date
from itertools import islice
from pathlib import Path

from identity.imports.plan import ParsedChunk, parse_chunk
from identity.imports.rows import read_rows
from matching.runtime import fork_available

Lines = list[tuple[int, dict[str, str]]]

# The job of the forked reader: it closes over the open file, inherited through the fork (an
# open file cannot be pickled; the reader alone reads it from then on).
_INHERITED: list[Callable[[], ParsedChunk | None]] = []


def _run_inherited() -> ParsedChunk | None:
    return _INHERITED[0]()


def line_chunks(path: Path, size: int) -> Iterator[Lines]:
    rows = read_rows(path)
    while chunk := list(islice(rows, size)):
        yield chunk


def parsed_chunks(
    path: Path, finess: str, today: date, size: int, process: bool = False
) -> Generator[ParsedChunk, None, None]:
    """Each chunk of ``size`` rows of the file, parsed (plan.parse_chunk), in file order.

    ``process``: the next chunks are parsed in a forked process rather than a thread. The
    first chunk is read here, so a refused header is raised in this process either way.
    """
    lines = line_chunks(path, size)
    first = next(lines, None)
    if first is None:
        return

    def parse_next() -> ParsedChunk | None:
        part = next(lines, None)
        return None if part is None else parse_chunk(part, finess, today)

    executor: Executor
    job: Callable[[], ParsedChunk | None]
    if process and fork_available():
        _INHERITED[:] = [parse_next]
        context = multiprocessing.get_context("fork")
        executor, job = ProcessPoolExecutor(max_workers=1, mp_context=context), _run_inherited
    else:
        executor, job = ThreadPoolExecutor(max_workers=1), parse_next
    try:
        with executor:
            pending = executor.submit(job)  # the process is forked here
            yield parse_chunk(first, finess, today)
            while (chunk := pending.result()) is not None:
                pending = executor.submit(job)
                yield chunk
    finally:
        _INHERITED.clear()
