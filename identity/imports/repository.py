"""The bulk load's reads: many rows per round trip, in bounded IN lists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from identity.referential.models import DuplicatePair, Identity

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
    for condition, params in _in_parts(session, "local_id", local_ids):
        sql = f"SELECT local_id FROM source_records WHERE finess = ? AND {condition}"
        found.update(row[0] for row in _raw(session, sql, [finess, *params]))
    return found


def oldest_twins(session: Session, wanted: Sequence[StrictTraits]) -> dict[StrictTraits, int]:
    """Per strict-trait tuple, the oldest active identity carrying exactly it.

    One (name = ? AND date = ?) term per wanted pair, OR-ed: both databases search the traits
    index once per term (a row-value IN makes SQLite scan it), and the active flag is checked
    here (as a condition, SQLite would pick the active index and scan the table). Plain SQL:
    building 20,000 expression objects a chunk cost more than the query.
    """
    out: dict[StrictTraits, int] = {}
    wanted_set = set(wanted)
    index = sorted({(t[0], t[3]) for t in wanted})
    for row in _twin_rows(session, index):
        born = date.fromisoformat(row[4]) if isinstance(row[4], str) else row[4]
        traits: StrictTraits = (row[1], row[2], row[3], born, row[5])
        if row[6] and traits in wanted_set and (traits not in out or row[0] < out[traits]):
            out[traits] = row[0]
    return out


def _twin_rows(session: Session, index: list[tuple[str, date]]) -> list[tuple[Any, ...]]:
    """The identities of these (birth name, birth date) pairs. PostgreSQL: one join with the
    pairs as arrays, an index search each (the OR-ed terms cost it more to plan than to run)."""
    columns = "i.id, i.birth_name, i.first_names, i.sex, i.birth_date, i.birth_place_code, i.active"
    if session.get_bind().dialect.name == "postgresql":
        if not index:
            return []
        sql = (
            f"SELECT {columns} FROM unnest(?::text[], ?::date[]) AS w(name, born) "
            "JOIN identities AS i ON i.birth_name = w.name AND i.birth_date = w.born"
        )
        return _raw(session, sql, [[n for n, _ in index], [d for _, d in index]])
    rows: list[tuple[Any, ...]] = []
    for part in chunks(index, IN_CHUNK // 2):
        terms = " OR ".join(["(i.birth_name = ? AND i.birth_date = ?)"] * len(part))
        sql = f"SELECT {columns} FROM identities AS i WHERE {terms}"
        # SQLite stores dates as ISO text.
        rows.extend(_raw(session, sql, [v for n, d in part for v in (n, d.isoformat())]))
    return rows


def _raw(bind: Session | Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders) as the driver returns them: no result processing,
    which costs more than the query when hundreds of thousands of rows come back."""
    connection = bind if isinstance(bind, Connection) else bind.connection()
    if connection.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
        params = [_array(p) if isinstance(p, list) else p for p in params]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _array(values: list[Any]) -> str:
    """A list parameter as PostgreSQL's array literal, which the server casts to the column's
    array type: psycopg dumps a list item by item, with a pattern search each (3 s of a
    1M-row load's CPU); a join costs a fifth. One type a list: ids, dates or text (quoted)."""
    if not values or isinstance(values[0], int):
        return "{" + ",".join(map(str, values)) + "}"
    if isinstance(values[0], date):
        return "{" + ",".join(d.isoformat() for d in values) + "}"
    if not _ESCAPE.search("".join(values)):  # the usual case: one join, no work per item
        return '{"' + '","'.join(values) + '"}'
    return "{" + ",".join('"' + _ESCAPE.sub(r"\\\g<0>", v) + '"' for v in values) + "}"


# Inside a quoted element of an array literal, a double quote or a backslash is escaped.
_ESCAPE = re.compile(r'["\\]')


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _in_parts(
    session: Session, column: str, values: Sequence[T]
) -> Iterator[tuple[str, list[Any]]]:
    """(condition, parameters) selecting ``column`` among ``values``, part by part: one
    ``= ANY(array)`` on PostgreSQL (a short statement psycopg parses once, however many
    values), bounded IN lists on SQLite."""
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield f"{column} = ANY(?)", [list(values)]
        return
    for part in chunks(values):
        yield f"{column} IN ({_marks(len(part))})", list(part)


# Keys per statement on SQLite: one sub-select each, under its 500 terms of a compound select.
BLOCK_KEYS = 250


def key_blocks(
    session: Session, keys: Sequence[str], limit: int, beside: Connection | None = None
) -> dict[str, list[int]]:
    """Per blocking key, the ``limit`` oldest identities holding it, in id order (as
    repository.key_blocks reads them).

    Each key is one walk of the (key, identity_id) index that stops after ``limit`` rows: a
    LATERAL sub-select per key of an array on PostgreSQL, sub-selects joined by UNION ALL on
    SQLite (numbering every row of a key with row_number() read all of a common key's
    thousands of rows to keep the first ``limit``). Each key's ids come back as one text
    "id,id,...": half a million (key, id) rows a chunk cost more to build here than the query.

    ``beside`` (PostgreSQL): another connection, which reads half of the keys from a thread
    meanwhile. The server walks the index for both halves at once, on two cores: 60,000 keys
    of a 1M referential took 0.38-0.52 s instead of 0.62-1.15 s. Read committed, each statement
    sees what is committed when it starts, on either connection: the caller has written
    nothing yet in its own transaction.
    """
    if not keys:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            "SELECT k.key, (SELECT string_agg(m.identity_id::text, ',' ORDER BY m.identity_id) "
            "FROM (SELECT identity_id FROM identity_match_keys WHERE key = k.key "
            "ORDER BY identity_id LIMIT ?) AS m) FROM unnest(?::text[]) AS k(key)"
        )
        if beside is None or len(keys) < 2:
            rows = _raw(session, sql, [limit, list(keys)])
        else:
            half = len(keys) // 2
            with ThreadPoolExecutor(1, thread_name_prefix="key-blocks") as thread:
                other = thread.submit(_raw_apart, beside, sql, [limit, list(keys[half:])])
                rows = _raw(session, sql, [limit, list(keys[:half])])
                rows += other.result()
    else:
        rows = []
        one = (
            "SELECT key, group_concat(identity_id) FROM (SELECT key, identity_id FROM "
            f"identity_match_keys WHERE key = ? ORDER BY identity_id LIMIT {int(limit)})"
        )
        for part in chunks(keys, BLOCK_KEYS):
            rows.extend(_raw(session, " UNION ALL ".join([one] * len(part)), part))
    out: dict[str, list[int]] = {}
    for key, ids in rows:
        if ids:  # a key no identity holds (SQLite: a NULL key too)
            out[key] = sorted(map(int, ids.split(",")))
    return out


def _raw_apart(connection: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """_raw() in a transaction of its own on ``connection``, ended before returning."""
    with connection.begin():
        return _raw(connection, sql, params)


@dataclass
class MatchColumns:
    """repository.match_rows() of many identities as columns of plain values, in id order."""

    ids: list[int] = field(default_factory=list)
    birth_name: list[str] = field(default_factory=list)
    first_names: list[str] = field(default_factory=list)
    used_name: list[str] = field(default_factory=list)
    used_first_name: list[str] = field(default_factory=list)
    sex: list[str] = field(default_factory=list)
    birth_date: list[str] = field(default_factory=list)
    birth_place_code: list[str] = field(default_factory=list)
    ins: list[str] = field(default_factory=list)
    ins_history: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def _history(value: Any) -> tuple[str, ...]:
    if not value or value in ("[]", "null"):  # most identities never had another INS
        return ()
    items = json.loads(value) if isinstance(value, str) else value
    return tuple(str(h.get("matricule", "")) for h in (items or []) if h.get("matricule"))


def _match_select(session: Session) -> str:
    """The matcher's traits as plain text (missing values made empty, dates ISO text by the
    database: SQLite stores them so, PostgreSQL writes them so with to_char)."""
    date_text = (
        "birth_date"
        if session.get_bind().dialect.name == "sqlite"
        else ("to_char(birth_date, 'YYYY-MM-DD')")
    )
    return (
        "SELECT id, birth_name, first_names, COALESCE(used_name, ''), "
        f"COALESCE(used_first_name, ''), sex, {date_text}, COALESCE(birth_place_code, ''), "
        "COALESCE(ins_matricule, ''), ins_history FROM identities"
    )


def _as_columns(rows: Sequence[Sequence[Any]]) -> MatchColumns:
    if not rows:
        return MatchColumns()
    columns = [list(c) for c in zip(*rows, strict=True)]
    ids, birth, given, used, used_first, sex, born_on, place, ins, history = columns
    return MatchColumns(
        ids,
        birth,
        given,
        used,
        used_first,
        sex,
        born_on,
        place,
        ins,
        [_history(v) if v else () for v in history],  # most are NULL: no call
    )


def match_columns(session: Session, ids: Sequence[int]) -> MatchColumns:
    """The matcher's traits of the active identities among ``ids``, as MatchColumns.

    Hundreds of thousands of rows a chunk: missing values and dates are made plain text by
    the database, and the rows are turned into columns by zip (no Python work per row).
    """
    rows: list[tuple[Any, ...]] = []
    for condition, params in _in_parts(session, "id", ids):
        sql = f"{_match_select(session)} WHERE {condition} AND active = ? ORDER BY id"
        rows.extend(_raw(session, sql, [*params, True]))
    return _as_columns(rows)


def active_match_columns(session: Session, batch: int = 50_000) -> Iterator[MatchColumns]:
    """match_columns() of every active identity, in id order, streamed ``batch`` rows at a
    time (a server-side cursor on PostgreSQL): the whole referential is never held as rows."""
    stmt = text(f"{_match_select(session)} WHERE active = :active ORDER BY id")
    streamed = stmt.execution_options(stream_results=True, yield_per=batch)
    result = session.connection().execute(streamed, {"active": True})
    for part in result.partitions():
        yield _as_columns(part)


def establishments_of(session: Session, ids: Iterable[int]) -> dict[int, set[str]]:
    """The FINESS of each identity's local ids."""
    out: dict[int, set[str]] = {}
    for condition, params in _in_parts(session, "identity_id", sorted(set(ids))):
        sql = f"SELECT identity_id, finess FROM source_records WHERE {condition}"
        for identity_id, finess in _raw(session, sql, params):
            out.setdefault(identity_id, set()).add(finess)
    return out


def reserve_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh identity ids, ascending, as the per-row inserts would have received."""
    if session.get_bind().dialect.name == "postgresql":
        seq = text(
            "SELECT nextval(pg_get_serial_sequence('identities', 'id')) FROM generate_series(1, :n)"
        )
        return sorted(session.scalars(seq, {"n": count}))
    # SQLite hands out max(id) + 1: read it under the write lock, which this transaction keeps
    # until it commits, so that no other writer (the API beside the load) takes one of these
    # ids meanwhile. The chunk has only read so far: a write that changes nothing takes the
    # lock (the writers' turn in db.py, then SQLite's).
    session.execute(text("UPDATE identities SET id = id WHERE 0"))
    top = session.scalar(select(func.max(Identity.id))) or 0
    return list(range(top + 1, top + 1 + count))


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


# Changes are followed by the feed's cursor, not the event's id: an id is taken when the event
# is written, so a transaction in flight at the load's start may commit an id older than the
# newest one seen; its cursor, given after its commit (NULL until then), is always newer.
AFTER = "(feed_cursor > ? OR feed_cursor IS NULL)"


def last_cursor(session: Session) -> int:
    """The newest cursor of the identity event feed (0 when none)."""
    return int(_raw(session, "SELECT COALESCE(MAX(feed_cursor), 0) FROM identity_events", [])[0][0])


def changed_since(session: Session, cursor: int, but: Sequence[str]) -> set[int]:
    """The identities with an event committed after ``cursor`` of a type not in ``but``."""
    types = _marks(len(but))
    sql = f"SELECT identity_id FROM identity_events WHERE {AFTER} AND type NOT IN ({types})"
    return {row[0] for row in _raw(session, sql, [cursor, *but])}


def count_events(session: Session, cursor: int, kind: str) -> int:
    """How many events of type ``kind`` were committed after ``cursor``."""
    sql = f"SELECT COUNT(*) FROM identity_events WHERE {AFTER} AND type = ?"
    return int(_raw(session, sql, [cursor, kind])[0][0])
