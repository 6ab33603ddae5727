"""The bulk load gives exactly the per-row load's outcome: identities, local ids, keys, queue."""

from __future__ import annotations

import csv
import random
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import matcher
from identity.imports import bulk, service
from identity.imports import repository as reads
from identity.imports.encoded import EncodedStore
from identity.imports.service import ImportSummary
from identity.referential import service as identities
from identity.referential.models import (
    DuplicatePair,
    Identity,
    IdentityEvent,
    MatchKey,
    SourceRecord,
)
from identity.referential.schemas import IdentityUpdate
from referentials.core.audit import AuditEntry
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
from generate_identities import FIELDS, generate, write_csv

STORED, LOADED = "690999016", "130786049"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """A referential's worth of records and an establishment file sharing persons with it.

    The establishment file also carries: a crowd sharing one name and year (over-common keys),
    exact twins of its own rows, a local id twice, and rows that do not parse.
    """
    people = generate(150, 7)
    stored, loaded = tmp_path / "stored.csv", tmp_path / "loaded.csv"
    write_csv(people[:70], stored)
    write_csv(people[50:], loaded)
    rng = random.Random(3)
    with loaded.open("a", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, FIELDS, restval="")
        for i in range(105):
            given = rng.choice(["JEAN", "JULES", "JOSEPH", "JACQUES"])
            day = f"1980-{1 + i % 12:02d}-{1 + i % 27:02d}"
            out.writerow(
                {
                    "source_id": f"C{i}",
                    "birth_name": "MARTIN",
                    "first_names": given,
                    "sex": "M",
                    "birth_date": day,
                    "birth_place_code": "75056",
                }
            )
        out.writerow(
            {
                "source_id": "C0",
                "birth_name": "AUTRE",
                "first_names": "PAUL",
                "sex": "M",
                "birth_date": "1990-01-01",
            }
        )
        out.writerow(
            {
                "source_id": "BAD1",
                "birth_name": "DURAND",
                "first_names": "ANNE",
                "sex": "F",
                "birth_date": "1990-13-01",
            }
        )
        out.writerow(
            {
                "source_id": "BAD2",
                "birth_name": "",
                "first_names": "ANNE",
                "sex": "Z",
                "birth_date": "1990-01-01",
            }
        )
    return stored, loaded


def _state(factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_scope(factory) as s:
        traits = (
            Identity.id,
            Identity.birth_name,
            Identity.first_names,
            Identity.sex,
            Identity.birth_date,
            Identity.birth_place_code,
            Identity.status,
        )
        return {
            "identities": [tuple(r) for r in s.execute(select(*traits).order_by(Identity.id))],
            "sources": sorted(
                tuple(r)
                for r in s.execute(
                    select(SourceRecord.identity_id, SourceRecord.finess, SourceRecord.local_id)
                )
            ),
            "keys": sorted(tuple(r) for r in s.execute(select(MatchKey.identity_id, MatchKey.key))),
            "pairs": [
                (
                    p.left_id,
                    p.right_id,
                    round(p.score, 9),
                    p.band,
                    p.explanation,
                    p.status,
                    p.origin,
                    p.establishments,
                    p.signature,
                )
                for p in s.scalars(select(DuplicatePair).order_by(DuplicatePair.id))
            ],
            # Each identity's events and trail in order; a chunk's rows are written table by
            # table, so across identities only the per-identity order is compared.
            "events": [
                (e.identity_id, e.type, e.payload)
                for e in sorted(
                    s.scalars(select(IdentityEvent)), key=lambda e: (e.identity_id, e.id)
                )
            ],
            "audit": [
                (a.entity_id, a.action, a.after, a.reason)
                for a in sorted(s.scalars(select(AuditEntry)), key=lambda a: (a.entity_id, a.id))
            ],
        }


def _summary(s: ImportSummary) -> tuple[int, int, int, int, int, list[tuple[int, str]]]:
    return (s.rows, s.created, s.attached, s.already_known, s.duplicates_queued, s.errors)


def _load(factory: sessionmaker[Session], files: tuple[Path, Path], bulk_load: bool, **kw: Any):
    stored, loaded = files
    # The same starting referential for both paths (the bulk load: the per-row one is slow).
    bulk.import_file(factory, SYSTEM, stored, finess=STORED)
    if bulk_load:
        summary = bulk.import_file(factory, SYSTEM, loaded, finess=LOADED, **kw)
    else:
        summary = service.import_file(factory, SYSTEM, loaded, finess=LOADED)
    return summary, _state(factory)


@pytest.mark.parametrize(("chunk_size", "parallel"), [(10_000, False), (37, False), (37, True)])
def test_bulk_load_equals_the_per_row_load(
    session_factory: sessionmaker[Session], tmp_path: Path, chunk_size: int, parallel: bool
) -> None:
    """Also with the helper process the CLI forks (its surname features, cached across
    chunks in the helper, must give the same pairs)."""
    files = _files(tmp_path)
    row_summary, row_state = _load(session_factory, files, bulk_load=False)
    from tests.conftest import _truncate

    _truncate(session_factory.kw["bind"])
    bulk_summary, bulk_state = _load(
        session_factory, files, True, chunk_size=chunk_size, parallel=parallel
    )
    assert _summary(bulk_summary) == _summary(row_summary)
    assert row_summary.duplicates_queued > 20 and row_summary.attached >= 1
    assert [line for line, _ in row_summary.errors] == [line for line, _ in bulk_summary.errors]
    for part in ("identities", "sources", "keys", "pairs", "events", "audit"):
        assert bulk_state[part] == row_state[part], part


def test_bulk_load_resumes_and_reports_lines(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _, loaded = _files(tmp_path)
    seen: list[int] = []
    first = bulk.import_file(
        session_factory, SYSTEM, loaded, finess=LOADED, chunk_size=50, progress=seen.append
    )
    assert seen == sorted(seen) and seen[-1] == first.rows
    lines = {line: message for line, message in first.errors}
    last = max(lines)
    assert "birth_date" in lines[last - 1] and "sex" in lines[last] and "birth_name" in lines[last]
    again = bulk.import_file(session_factory, SYSTEM, loaded, finess=LOADED)
    assert (again.created, again.attached, again.duplicates_queued) == (0, 0, 0)
    assert again.already_known == first.created + first.attached + first.already_known
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Identity)) == first.created


def test_bulk_load_does_not_depend_on_the_cached_referential_size(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """The prior of a chunk is the referential's size at its start, counted: not the size the
    real-time check caches for minutes (a long load would score later chunks otherwise with a
    size read by the clock, and two runs of one file would queue different pairs)."""
    files = _files(tmp_path)
    _, clean = _load(session_factory, files, True, chunk_size=37)
    from tests.conftest import _truncate

    engine = session_factory.kw["bind"]
    _truncate(engine)
    # What an earlier read of a large referential leaves in the process's cache.
    matcher._sizes[id(engine)] = (5_000_000, time.monotonic())
    try:
        _, stale = _load(session_factory, files, True, chunk_size=37)
    finally:
        matcher._sizes.pop(id(engine), None)
    assert clean["pairs"] and stale["pairs"] == clean["pairs"]


def test_bulk_load_reads_again_what_others_change_meanwhile(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load keeps the blocks and stored candidates its chunks read for the next chunks
    (encoded.py): an identity someone else changes between two chunks is read again, so the
    queue is the one of a load that reads everything again for each chunk."""
    from tests.conftest import _truncate

    stored, loaded = _files(tmp_path)
    engine = session_factory.kw["bind"]
    tops: list[int] = []  # the newest identity after each chunk

    def load(change: tuple[int, int] | None) -> list[Any]:
        """The queue of the load, ``change``: (after which chunk, which identity)."""
        _truncate(engine)
        bulk.import_file(session_factory, SYSTEM, stored, finess=STORED)
        tops.clear()

        def after_chunk(rows: int) -> None:
            with session_scope(session_factory) as s:
                tops.append(s.scalar(select(func.max(Identity.id))) or 0)
                if change is not None and change[0] == len(tops) - 1:
                    update = IdentityUpdate(birth_name="QWXYZ", first_names=["OSCAR"])
                    identities.update(s, SYSTEM, change[1], data=update, expected_version=None)

        bulk.import_file(
            session_factory, SYSTEM, loaded, finess=LOADED, chunk_size=37, progress=after_chunk
        )
        return _state(session_factory)["pairs"]

    baseline = load(None)
    # A stored identity (the first file's) paired with rows of two chunks: read by the first
    # one, changed after it, a candidate again in the second.
    stored_top = len(list(csv.DictReader(stored.open(encoding="utf-8"))))
    chunks_of: dict[int, list[int]] = {}
    for left, right, *_ in baseline:
        if left <= stored_top < right:
            chunks_of.setdefault(left, []).append(min(c for c, t in enumerate(tops) if right <= t))
    changed = min((c[0], i) for i, c in chunks_of.items() if max(c) > min(c))

    kept = load(changed)
    original = EncodedStore.forget_changed

    def read_again(self: EncodedStore, session: Session) -> None:
        self.since = None  # as at a load's start: nothing kept
        original(self, session)

    with monkeypatch.context() as m:
        m.setattr(EncodedStore, "forget_changed", read_again)
        fresh = load(changed)
    with monkeypatch.context() as m:
        m.setattr(reads, "changed_since", lambda *_: set())
        blind = load(changed)
    assert kept == fresh
    assert blind != fresh  # what the load kept would have given another queue


def test_bulk_load_starts_its_store_again_past_its_bounds(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_ROWS stored rows or MAX_BLOCKS blocks kept, the next chunk reads everything
    again: the same queue, with bounded memory."""
    from identity.imports import encoded
    from tests.conftest import _truncate

    files = _files(tmp_path)
    _, unbounded = _load(session_factory, files, True, chunk_size=37)
    _truncate(session_factory.kw["bind"])
    resets: list[int] = []
    last_cursor = reads.last_cursor

    def counted(session: Session) -> int:
        resets.append(1)
        return last_cursor(session)

    monkeypatch.setattr(reads, "last_cursor", counted)
    monkeypatch.setattr(encoded, "MAX_ROWS", 10)
    monkeypatch.setattr(encoded, "MAX_BLOCKS", 10)
    _, bounded = _load(session_factory, files, True, chunk_size=37)
    assert bounded["pairs"] and bounded["pairs"] == unbounded["pairs"]
    assert len(resets) > 2  # one per load at its start, then at least one more


def test_bulk_load_store_sees_a_change_committed_with_an_older_event_id(
    session_factory: sessionmaker[Session],
) -> None:
    """A writer in flight when the load starts takes its event's id then, and commits later:
    its id is older than the newest one the load saw, its cursor is newer (or not yet given).
    The store drops the identity it changed and every block either way, and only once."""
    stamp = {"payload": {}, "type": "identity.updated"}
    with session_scope(session_factory) as session:
        session.add(IdentityEvent(id=9_000_010, identity_id=41, feed_cursor=1, **stamp))
    store = EncodedStore()
    with session_scope(session_factory) as session:
        store.forget_changed(session)  # the load's start
    assert store.since == 1
    for relayed in (False, True):
        store.rows, store.blocks = {42: 0, 43: 1}, {"k": [42, 43]}
        with session_scope(session_factory) as session:
            if not relayed:  # committed now, with the id it took before the load's start
                session.add(IdentityEvent(id=9_000_001, identity_id=42, **stamp))
            else:  # the relay has numbered it
                session.get_one(IdentityEvent, 9_000_001).feed_cursor = 2
        with session_scope(session_factory) as session:
            store.forget_changed(session)
        assert store.rows == {43: 1} and store.blocks == {}
    # Seen once: the next look, with nothing new, keeps what is kept.
    store.rows, store.blocks = {42: 0, 43: 1}, {"k": [42, 43]}
    with session_scope(session_factory) as session:
        store.forget_changed(session)
    assert store.rows == {42: 0, 43: 1} and store.blocks == {"k": [42, 43]}


def test_bulk_load_feed_stays_ordered_and_gap_free(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """The load's events get each a cursor, in their ids' order, with no gap, beside an event
    someone else committed before the load that no relay had numbered yet (on SQLite the load
    numbers its own events in its transaction: that one is numbered after the first chunk's)."""
    _, loaded = _files(tmp_path)
    with session_scope(session_factory) as session:  # committed, no relay asked for
        session.add(IdentityEvent(identity_id=1, type="identity.updated", payload={}))
    summary = bulk.import_file(session_factory, SYSTEM, loaded, finess=LOADED, chunk_size=37)
    with session_scope(session_factory) as session:
        events = session.execute(
            select(IdentityEvent.id, IdentityEvent.feed_cursor).order_by(IdentityEvent.id)
        ).all()
    assert len(events) == 1 + summary.created + summary.attached
    cursors = [c for _, c in events]
    assert sorted(cursors) == list(range(1, len(events) + 1))  # every one, once, no gap
    ours = cursors[1:]
    assert ours == sorted(ours)  # the load's own in id order
    if session_factory.kw["bind"].dialect.name == "sqlite":
        assert ours[0] == 1 and cursors[0] > 1
    else:
        assert cursors[0] == 1


def test_bulk_load_finds_local_ids_holding_array_punctuation(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """On PostgreSQL the load sends its lists of local ids, names and keys as array literals
    built by itself: quotes, backslashes, commas, braces, spaces and the word NULL in a local
    id must reach the database as they are (a second load finds every one already there)."""
    local_ids = ['A"1', "B\\2", "C,3", "{D4}", " E5 ", "NULL", "F'6", "é7"]
    path = tmp_path / "punctuation.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, FIELDS, restval="")
        out.writeheader()
        for i, local_id in enumerate(local_ids):
            out.writerow(
                {
                    "source_id": local_id,
                    "birth_name": f"VIRGULE{'ABCDEFGH'[i]}",
                    "first_names": "ANNE",
                    "sex": "F",
                    "birth_date": f"1990-01-{i + 1:02d}",
                }
            )
    first = bulk.import_file(session_factory, SYSTEM, path, finess=LOADED)
    assert (first.created, first.errors) == (len(local_ids), [])
    again = bulk.import_file(session_factory, SYSTEM, path, finess=LOADED)
    assert (again.already_known, again.created) == (len(local_ids), 0)
    with session_scope(session_factory) as s:
        stored = s.scalars(select(SourceRecord.local_id).where(SourceRecord.finess == LOADED))
        assert sorted(stored) == sorted(local_ids)


@pytest.mark.parametrize("failing", ["named", "_first_writes"])
def test_a_failing_chunk_leaves_nothing_of_itself(
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """On PostgreSQL a chunk's identities, local ids and keys are written from a thread while
    its pairs are scored. A failure after those writes (naming the pairs) or in the thread
    itself rolls the whole chunk back with them: the load resumes from that chunk and ends as a
    load that never failed (on PostgreSQL with other ids: the failed chunk took its ids from
    the sequence, which a rollback does not give back)."""
    files = _files(tmp_path)
    _, clean = _load(session_factory, files, True, chunk_size=37)
    from tests.conftest import _truncate

    _truncate(session_factory.kw["bind"])
    stored, loaded = files
    bulk.import_file(session_factory, SYSTEM, stored, finess=STORED)
    module: Any = bulk.candidates if failing == "named" else bulk
    original = getattr(module, failing)
    calls: list[int] = []

    def second_fails(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)  # its work done, then the failure
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return result

    monkeypatch.setattr(module, failing, second_fails)
    with pytest.raises(RuntimeError, match="injected failure"):
        bulk.import_file(session_factory, SYSTEM, loaded, finess=LOADED, chunk_size=37)
    monkeypatch.undo()
    with session_scope(session_factory) as s:
        ids = list(s.scalars(select(Identity.id)))
        kept = s.scalar(
            select(func.count()).select_from(SourceRecord).where(SourceRecord.finess == LOADED)
        )
        keyed = set(s.scalars(select(MatchKey.identity_id).distinct()))
        created = s.scalar(
            select(func.count())
            .select_from(IdentityEvent)
            .where(IdentityEvent.type == "identity.created")
        )
    assert 0 < kept <= 37  # the first chunk's local ids only
    assert keyed <= set(ids) and len(ids) == created  # no identity without its event
    bulk.import_file(session_factory, SYSTEM, loaded, finess=LOADED, chunk_size=37)
    state, expected = _renumbered(_state(session_factory)), _renumbered(clean)
    for part in ("identities", "sources", "keys", "pairs", "events", "audit"):
        assert state[part] == expected[part], part


def _renumbered(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with each identity id replaced by its rank among the identities' ids (which
    keeps the lists' order: they are in id order, or by identity then id)."""
    rank = {row[0]: i for i, row in enumerate(state["identities"])}
    rank.update({str(k): str(v) for k, v in rank.items()})  # the audit's entity ids

    def first(rows: list[tuple[Any, ...]], n: int = 1) -> list[tuple[Any, ...]]:
        return [tuple(rank[v] for v in row[:n]) + tuple(row[n:]) for row in rows]

    return {
        "identities": first(state["identities"]),
        "sources": first(state["sources"]),
        "keys": first(state["keys"]),
        "pairs": first(state["pairs"], 2),
        "events": first(state["events"]),
        # Listed by entity id as text: in text order, which the ranks do not keep.
        "audit": sorted(first(state["audit"]), key=lambda row: int(row[0])),
    }
