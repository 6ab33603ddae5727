"""The bulk load's reads: many rows per round trip, in bounded IN lists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from identity.referential import repository
from identity.referential.models import DuplicatePair, Identity, MatchKey, SourceRecord

T = TypeVar("T")
# Bound parameters per statement: well under SQLite's and psycopg's limits.
IN_CHUNK = 500

StrictTraits = tuple[str, str, str, date, str | None]


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]


def known_local_ids(session: Session, finess: str, local_ids: Sequence[str]) -> set[str]:
    """The local ids of this establishment already attached to an identity."""
    found: set[str] = set()
    for part in chunks(local_ids):
        stmt = select(SourceRecord.local_id).where(
            SourceRecord.finess == finess, SourceRecord.local_id.in_(part)
        )
        found.update(session.connection().scalars(stmt))
    return found


def oldest_twins(session: Session, wanted: Sequence[StrictTraits]) -> dict[StrictTraits, int]:
    """Per strict-trait tuple, the oldest active identity carrying exactly it.

    Two plain IN lists (a superset, filtered here), and the active flag checked here too: with a
    row-value IN or the active condition, SQLite scans instead of searching the traits index.
    """
    out: dict[StrictTraits, int] = {}
    wanted_set = set(wanted)
    index = sorted({(t[0], t[3]) for t in wanted})
    connection = session.connection()
    for part in chunks(index, IN_CHUNK // 2):
        stmt = select(
            Identity.id,
            Identity.birth_name,
            Identity.first_names,
            Identity.sex,
            Identity.birth_date,
            Identity.birth_place_code,
            Identity.active,
        ).where(
            Identity.birth_name.in_(sorted({p[0] for p in part})),
            Identity.birth_date.in_(sorted({p[1] for p in part})),
        )
        for row in connection.execute(stmt):
            traits: StrictTraits = (row[1], row[2], row[3], row[4], row[5])
            if row[6] and traits in wanted_set and (traits not in out or row[0] < out[traits]):
                out[traits] = row[0]
    return out


def key_blocks(session: Session, keys: Sequence[str], limit: int) -> dict[str, list[int]]:
    """Per blocking key, the ``limit`` oldest identities holding it, in id order (as
    repository.key_blocks, read on the connection: plain tuples, no ORM result)."""
    out: dict[str, list[int]] = {}
    connection = session.connection()
    rank = (
        func.row_number()
        .over(partition_by=MatchKey.key, order_by=MatchKey.identity_id)
        .label("rank")
    )
    for part in chunks(keys):
        inner = select(MatchKey.key, MatchKey.identity_id, rank).where(MatchKey.key.in_(part))
        sub = inner.subquery()
        stmt = select(sub.c.key, sub.c.identity_id).where(sub.c.rank <= limit)
        for key, identity_id in connection.execute(stmt):
            out.setdefault(key, []).append(identity_id)
    for ids in out.values():
        ids.sort()
    return out


def match_rows(session: Session, ids: Sequence[int]) -> list[Any]:
    """repository.match_rows() of many ids, in bounded IN lists, read on the connection."""
    rows: list[Any] = []
    connection = session.connection()
    for part in chunks(ids):
        stmt = select(*repository.MATCH_COLUMNS).where(
            Identity.id.in_(part), Identity.active.is_(True)
        )
        rows.extend(connection.execute(stmt))
    return rows


def establishments_of(session: Session, ids: Iterable[int]) -> dict[int, set[str]]:
    """The FINESS of each identity's local ids."""
    out: dict[int, set[str]] = {}
    for part in chunks(sorted(set(ids))):
        stmt = select(SourceRecord.identity_id, SourceRecord.finess).where(
            SourceRecord.identity_id.in_(part)
        )
        for identity_id, finess in session.connection().execute(stmt):
            out.setdefault(identity_id, set()).add(finess)
    return out


def reserve_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh identity ids, ascending, as the per-row inserts would have received."""
    if session.get_bind().dialect.name == "postgresql":
        seq = text(
            "SELECT nextval(pg_get_serial_sequence('identities', 'id')) FROM generate_series(1, :n)"
        )
        return sorted(session.scalars(seq, {"n": count}))
    # SQLite hands out max(id) + 1, and nobody else writes until this transaction commits.
    top = session.scalar(select(func.max(Identity.id))) or 0
    return list(range(top + 1, top + 1 + count))


def active_match_rows(session: Session, batch: int = 20_000) -> Iterator[Any]:
    """repository.match_rows() of every active identity, in id order, streamed in batches."""
    stmt = select(*repository.MATCH_COLUMNS).where(Identity.active.is_(True)).order_by(Identity.id)
    # On the statement: a Connection's execution_options() would change the session's own.
    streamed = stmt.execution_options(stream_results=True, yield_per=batch)
    yield from session.connection().execute(streamed)


def pairs_by_sides(session: Session) -> dict[tuple[int, int], tuple[int, str, str]]:
    """(left id, right id) → (pair id, status, signature) of every queued pair."""
    stmt = select(
        DuplicatePair.left_id,
        DuplicatePair.right_id,
        DuplicatePair.id,
        DuplicatePair.status,
        DuplicatePair.signature,
    ).order_by(DuplicatePair.id)
    out: dict[tuple[int, int], tuple[int, str, str]] = {}
    for left, right, pair_id, status, signature in session.connection().execute(stmt):
        # The per-pair check reads the first pair between two sides: keep the oldest.
        out.setdefault((left, right), (pair_id, status, signature))
    return out
