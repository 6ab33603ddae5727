"""The exact diff of a full extract against what is stored, applied in one transaction.

Each entity's digest is compared with the stored one: only added and changed entities are
staged (in TEMP tables), so a re-import of an unchanged file writes almost nothing. Nothing
touches the directory tables before the final transaction: an abort, a crash or a killed
process leaves the stored directory as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from matching.runtime import gc_paused
from referentials.core import runs
from referentials.core.db import utcnow
from referentials.directory import bulk, bulk_load, parallel
from referentials.directory.limits import Counts, Limits, check_early, check_limits
from referentials.directory.parsers.common import Entity, ParseReport, Row
from referentials.directory.spec import SnapshotSpec

BATCH = 5000
# Past this share of the stored entities written, indexes are rebuilt rather than maintained.
BULK_LOAD_SHARE = 0.3
EntitySource = Callable[[ParseReport], Iterator[Entity]]


class _Stager:
    """Classifies streamed entities against the stored digests and stages what changed."""

    def __init__(self, conn: Connection, spec: SnapshotSpec, report: ParseReport) -> None:
        self.conn, self.spec, self.report = conn, spec, report
        stored, self.inactive = bulk.stored_digests(conn, spec)
        # A stored key's value becomes None once seen: no second set of 1.5 million keys.
        self.stored: dict[str, bytes | None] = dict(stored)
        self.new_seen: set[str] = set()
        self.split: set[str] = set()
        self.counts = Counts()
        self.rows: list[tuple[Any, ...]] = []
        self.children: list[tuple[Any, ...]] = []
        # First load into an empty table: rows go straight to it, in the one transaction.
        self.direct = spec.direct_load and not stored
        self.constants: tuple[str, ...] = ()

    def start_direct(self, run_id: int, now: datetime) -> None:
        self.constants = bulk_load.direct_constants(self.conn, run_id=run_id, now=now)
        bulk_load.start_direct(self.conn, self.spec, self.constants)

    def take_rows(self, rows: list[Row], children: list[Row], part: ParseReport) -> None:
        """A batch of direct-load rows parsed by a worker process (keys first in each row)."""
        parallel.absorb(self.report, part)
        seen, repeated, new = self.new_seen, set(), 0
        for row in rows:
            key = str(row[0])
            if key in seen:
                repeated.add(key)
            else:
                seen.add(key)
                new += 1
        # As in ``take``: a key counts once, where first met.
        self.counts.entities += new
        self.counts.added += new
        if repeated:
            # Keys met before (in this batch or an earlier one): merged by the second pass.
            self.split |= repeated
            rows = [row for row in rows if row[0] not in repeated]
            children = [child for child in children if child[0] not in repeated]
        bulk_load.insert_direct(self.conn, self.spec, rows, children, self.constants)

    def take(self, entity: Entity) -> None:
        key = entity.key
        if self.direct:
            # Nothing stored to compare with: every entity is added, unless its key came before.
            if key in self.new_seen:
                self.split.add(key)
            else:
                self.new_seen.add(key)
                self.counts.entities += 1
                self.stage(entity, entity.digest, "added")
            return
        if key in self.new_seen or (key in self.stored and self.stored[key] is None):
            # The file is not grouped for this key: merged in a second pass.
            self.split.add(key)
            return
        self.counts.entities += 1
        old = self.stored.get(key, b"")
        if key in self.stored:
            self.stored[key] = None
        else:
            self.new_seen.add(key)
        value = entity.digest
        if not old:
            status = "added"
        elif key in self.inactive:
            status = "readded"
        elif old != value:
            status = "updated"
        else:
            self.counts.unchanged += 1
            return
        self.stage(entity, value, status)

    def stage(self, entity: Entity, value: bytes, status: str) -> None:
        if status == "updated":
            self.counts.updated += 1
        else:
            self.counts.added += 1
        if self.direct:
            row, children = parallel.direct_row(self.spec, entity, value, self.report)
        else:
            fields, warnings, children = parallel.prepared(
                self.spec, entity.materialise(), self.report
            )
            row = (entity.key, value.hex(), status, warnings, *fields)
        self.rows.append(row)
        self.children.extend(children)
        if len(self.rows) >= BATCH or len(self.children) >= 4 * BATCH:
            self.flush()

    def flush(self) -> None:
        spec = self.spec
        if self.direct:
            bulk_load.insert_direct(self.conn, spec, self.rows, self.children, self.constants)
        else:
            bulk.copy_rows(self.conn, spec.stage, (*bulk.STAGE_HEAD, *spec.fields), self.rows)
            if spec.child_table:
                bulk.copy_rows(
                    self.conn, spec.stage_children, ("key", *spec.child_fields), self.children
                )
        self.rows, self.children = [], []

    def removed_keys(self) -> list[str]:
        return [k for k, v in self.stored.items() if v is not None and k not in self.inactive]


def _merge_split(stager: _Stager, source: EntitySource) -> None:
    """Second pass for keys whose rows are not consecutive: gather all their rows, restage."""
    merged: dict[str, Entity] = {}
    for entity in source(ParseReport()):
        if entity.key in stager.split:
            before = merged.get(entity.key)
            merged[entity.key] = entity if before is None else before.merge(entity)
    spec = stager.spec
    if stager.direct:
        bulk_load.delete_keys(stager.conn, spec, merged)
        for entity in merged.values():
            stager.stage(entity, entity.digest, "added")
        stager.counts.added -= len(merged)
        stager.flush()
        return
    bulk.delete_stage_keys(stager.conn, spec, merged)
    same = text(f"SELECT 1 FROM {spec.table} WHERE {spec.key} = :k AND digest = :d")
    for key, entity in merged.items():
        value = entity.digest
        if key in stager.new_seen:
            status = "added"
        elif key in stager.inactive:
            status = "readded"
        elif stager.conn.execute(same, {"k": key, "d": value.hex()}).first() is None:
            status = "updated"
        else:
            continue
        stager.stage(entity, value, status)
    stager.flush()
    # The first pass classified split keys on part of their rows: count from what is staged.
    rows = stager.conn.exec_driver_sql(
        f"SELECT status, COUNT(*) FROM {spec.stage} GROUP BY status"
    ).all()
    by_status = {status: int(n) for status, n in rows}
    counts = stager.counts
    counts.added = by_status.get("added", 0) + by_status.get("readded", 0)
    counts.updated = by_status.get("updated", 0)
    counts.unchanged = counts.entities - counts.added - counts.updated


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def field_changes(conn: Connection, spec: SnapshotSpec) -> dict[str, list[str]]:
    """For each updated entity, the names of the fields that differ (and 'children')."""
    old, new = bulk.old_and_new(conn, spec)
    out: dict[str, list[str]] = {}
    for key, staged in new.items():
        stored = old.get(key, ())
        out[key] = [
            name
            for i, name in enumerate(spec.fields)
            if i < len(stored) and _as_text(stored[i]) != (staged[i] or "")
        ]
    if spec.child_table:
        old_children, new_children = bulk.old_and_new_children(conn, spec)
        for key in out:
            before = sorted(tuple(_as_text(v) for v in r) for r in old_children.get(key, []))
            after = sorted(tuple(v or "" for v in r) for r in new_children.get(key, []))
            if before != after:
                out[key].append(spec.child_table.removeprefix("dir_"))
    return out


def import_snapshot(
    engine: Engine,
    spec: SnapshotSpec,
    source: EntitySource,
    *,
    run_id: int,
    limits: Limits,
    report: ParseReport,
    progress: Callable[[ParseReport], None] = lambda _r: None,
    prepare: Callable[[Connection], None] = lambda _c: None,
    previous_seen: datetime | None = None,
    finish: Callable[[Connection, Counts], None] = lambda _c, _n: None,
    spanned: parallel.SpannedFile | None = None,
) -> Counts:
    """Stream ``source``, diff it against the stored snapshot, apply it atomically.

    ``spanned``: the same file, for a first load to be parsed in worker processes.
    """
    with engine.connect() as conn, contextlib.ExitStack() as writing:
        bulk_load.tune(conn, bulk_load=True)
        stager: _Stager | None = None
        try:
            stager = _Stager(conn, spec, report)
            conn.commit()
            bulk.create_stage(conn, spec)
            now = utcnow()
            if stager.direct:
                # Before ``prepare``'s first write: see ``bulk_load.begin_write``.
                stager.start_direct(run_id, now)
                if bulk_load.is_sqlite(conn):  # the write lock is the load's until it commits
                    writing.enter_context(runs.refreshed_in(conn))
            prepare(conn)
            # Millions of tuples, none in a cycle: collection passes would only walk them (a
            # tenth of a first load's CPU). In `socle serve` it pauses for the import's length.
            with gc_paused():
                if stager.direct and spanned is not None and spanned.workers > 1:
                    _stream_in_workers(stager, spanned, limits, progress)
                else:
                    _stream(stager, source, report, limits, progress)
                if stager.split:
                    _merge_split(stager, source)
            if stager.direct:
                check_limits(report, stager.counts, 0, limits)
                bulk_load.finish_direct(conn, spec, run_id=run_id, now=now)
            else:
                _apply(
                    conn,
                    stager,
                    report,
                    limits,
                    run_id=run_id,
                    now=now,
                    previous_seen=previous_seen,
                )
            finish(conn, stager.counts)
            conn.commit()
            return stager.counts
        except BaseException:
            conn.rollback()
            raise
        finally:
            bulk.drop_stage(conn, spec)
            conn.commit()
            bulk_load.tune(conn, bulk_load=False)


def _stream(
    stager: _Stager,
    source: EntitySource,
    report: ParseReport,
    limits: Limits,
    progress: Callable[[ParseReport], None],
) -> None:
    for number, entity in enumerate(source(report)):
        stager.take(entity)
        if number % BATCH == 0:
            progress(report)
            check_early(report, limits)
    stager.flush()


def _stream_in_workers(
    stager: _Stager,
    spanned: parallel.SpannedFile,
    limits: Limits,
    progress: Callable[[ParseReport], None],
) -> None:
    """A first load parsed by worker processes; this one writes what they send."""

    def take(rows: list[Row], children: list[Row], part: ParseReport) -> None:
        stager.take_rows(rows, children, part)
        progress(stager.report)
        check_early(stager.report, limits)

    parallel.parse_in_workers(spanned, stager.spec, limits, take)


def _apply(
    conn: Connection,
    stager: _Stager,
    report: ParseReport,
    limits: Limits,
    *,
    run_id: int,
    now: datetime,
    previous_seen: datetime | None,
) -> None:
    """Check the staged diff against the limits, then apply it (the caller commits)."""
    spec = stager.spec
    removed = stager.removed_keys()
    stager.counts.removed = len(removed)
    stored_active = len(stager.stored) - len(stager.inactive)
    check_limits(report, stager.counts, stored_active, limits)
    bulk.copy_rows(conn, spec.stage_removed, ("key",), [(k,) for k in removed])
    bulk.index_stage(conn, spec)
    conn.commit()
    changes = field_changes(conn, spec)
    staged = stager.counts.added + stager.counts.updated
    bulk_load = staged > BULK_LOAD_SHARE * max(len(stager.stored), 1)
    bulk.apply_snapshot(
        conn, spec, run_id=run_id, now=now, bulk_load=bulk_load, previous_seen=previous_seen
    )
    bulk.record_updates(conn, spec, changes, run_id=run_id, now=now)
