"""A first load parsed in several processes: the file cut in spans, each parsed apart.

Parsing a national extract and shaping its rows is pure Python: in one process it costs as
much as writing the rows, and a thread cannot share it (the GIL). Worker processes parse
their spans and send ready rows; the importing process alone writes them, in its one
transaction, so a first load stays all or nothing whatever happens to a worker.
"""

from __future__ import annotations

import gc
import json
import marshal
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matching.runtime import fork_available
from referentials.core.errors import AppError
from referentials.directory.errors import ImportAborted, ImportFileError
from referentials.directory.limits import Limits, check_early
from referentials.directory.parsers.common import Entity, ParseReport, Row
from referentials.directory.spec import SnapshotSpec

Span = tuple[int, int]
# Entities per message from a worker: large enough that sending costs little per row.
BATCH = 5000
# Seconds between checks that the other side is still there.
POLL = 1.0
# Forked workers start at once; a spawned one would first import the whole command (seconds).
# They only parse and send: they never touch the parent's database connection, logging or
# threads, and end with os._exit (multiprocessing's fork children), closing nothing of the
# parent's.
_START = "fork" if fork_available() else "spawn"
_ERRORS: dict[str, type[AppError]] = {
    "ImportAborted": ImportAborted,
    "ImportFileError": ImportFileError,
}


@dataclass(frozen=True)
class SpannedFile:
    """A plain file whose entities can be parsed by byte span, and how to cut it."""

    path: Path
    # What messages call the file (the extract's name, when ``path`` is an unpacked copy).
    name: str
    # parse(stream, *, name=, report=, span=) -> entities of the span
    parse: Callable[..., Iterator[Entity]]
    # spans(path, parts) -> byte spans, each starting where an entity does
    spans: Callable[[Path, int], list[Span]]
    # Processes to parse in (one per span).
    workers: int


def prepared(spec: SnapshotSpec, entity: Entity, report: ParseReport) -> tuple[Row, str, list[Row]]:
    """An entity as stored: its fields (derived ones too), warnings (JSON), child rows.

    ``entity`` must be materialised; its warnings (e.g. a failed check digit) join the report.
    """
    if spec.check is not None:
        entity.warnings.extend(spec.check(entity.fields))
        report.warnings.extend(entity.warnings)
    warnings = json.dumps(entity.warnings) if entity.warnings else ""
    fields = entity.fields
    if spec.derive is not None:
        fields = (*fields, *spec.derive(fields))
    return fields, warnings, entity.children


def direct_row(
    spec: SnapshotSpec, entity: Entity, digest: bytes, report: ParseReport
) -> tuple[Row, list[Row]]:
    """The row (fields, digest, warnings) and child rows of a first load."""
    fields, warnings, children = prepared(spec, entity.materialise(), report)
    return (*fields, digest.hex(), warnings), children


def _send(out: Any, message: tuple[Any, ...]) -> None:
    """Put ``message``, giving up if the importing process is gone (killed)."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            out.put(message, timeout=POLL)
            return
        except queue.Full:
            if parent is not None and not parent.is_alive():
                # Nobody will read: end now, without waiting to flush the queue.
                os._exit(1)


def _report_part(report: ParseReport, sent_rows: int, sent_bad: int) -> ParseReport:
    """What ``report`` saw since the last message; its lists are emptied once sent."""
    part = ParseReport(
        report.rows - sent_rows, report.bad_lines - sent_bad, report.problems, report.warnings
    )
    report.problems, report.warnings = [], []
    return part


def _rows_message(
    rows: list[Row], children: list[Row], report: ParseReport, sent_rows: int, sent_bad: int
) -> tuple[Any, ...]:
    # marshal reads and writes tuples of strings in a third less time than pickle, and the
    # importing process, which also writes every row, is the one that must keep up.
    blob = marshal.dumps((rows, children))
    return ("rows", blob, _report_part(report, sent_rows, sent_bad))


def work(source: SpannedFile, spec: SnapshotSpec, span: Span, limits: Limits, out: Any) -> None:
    """A worker: parse ``span``, send ("rows", batch, report)... then ("done",)."""
    # Millions of short-lived tuples and no reference cycle: collection passes only cost.
    gc.disable()
    report = ParseReport()
    sent_rows = sent_bad = 0
    rows: list[Row] = []
    children: list[Row] = []
    try:
        with source.path.open("rb") as stream:
            entities = source.parse(stream, name=source.name, report=report, span=span)
            for entity in entities:
                row, kids = direct_row(spec, entity, entity.digest, report)
                rows.append(row)
                children.extend(kids)
                if len(rows) >= BATCH:
                    # The worker's own share of bad lines: stop early on a clearly bad file.
                    check_early(report, limits)
                    _send(out, _rows_message(rows, children, report, sent_rows, sent_bad))
                    sent_rows, sent_bad = report.rows, report.bad_lines
                    rows, children = [], []
        _send(out, _rows_message(rows, children, report, sent_rows, sent_bad))
        _send(out, ("done",))
    except BaseException as exc:  # handed over to the importing process
        if isinstance(exc, AppError):
            _send(out, ("error", type(exc).__name__, exc.message, exc.fields))
        else:
            _send(out, ("error", "", f"{type(exc).__name__}: {exc}", {}))


def _error(name: str, message: str, fields: dict[str, Any]) -> BaseException:
    cls = _ERRORS.get(name)
    return cls(message, fields=fields) if cls else RuntimeError(message)


def absorb(report: ParseReport, part: ParseReport) -> None:
    """Add what a worker saw to the import's report (problems stay capped)."""
    report.rows += part.rows
    report.bad_lines += part.bad_lines
    report.problems.extend(part.problems[: max(0, 1000 - len(report.problems))])
    report.warnings.extend(part.warnings)


def parse_in_workers(
    source: SpannedFile,
    spec: SnapshotSpec,
    limits: Limits,
    take: Callable[[list[Row], list[Row], ParseReport], None],
) -> None:
    """Parse ``source`` in its worker processes; ``take`` each batch, in this process.

    A worker's error is raised here; on any error every worker is stopped.
    """
    context: Any = multiprocessing.get_context(_START)
    out: Any = context.Queue(maxsize=2 * source.workers)
    spans = source.spans(source.path, source.workers)
    processes = [
        context.Process(
            target=work,
            args=(source, spec, span, limits, out),
            name=f"directory-parse-{number}",
            daemon=True,
        )
        for number, span in enumerate(spans, start=1)
    ]
    for process in processes:
        process.start()
    try:
        running = len(processes)
        while running:
            message = _receive(out, processes)
            if message[0] == "rows":
                rows, children = marshal.loads(message[1])
                take(rows, children, message[2])
            elif message[0] == "done":
                running -= 1
            else:
                raise _error(*message[1:])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        out.close()
        out.cancel_join_thread()


def _receive(out: Any, processes: list[Any]) -> tuple[Any, ...]:
    """The next message; a worker that died without a word (killed, out of memory) fails."""
    while True:
        try:
            message: tuple[Any, ...] = out.get(timeout=POLL)
            return message
        except queue.Empty:
            for process in processes:
                if process.exitcode not in (None, 0):
                    raise RuntimeError(
                        f"parsing process {process.name} ended with code {process.exitcode}"
                    ) from None
