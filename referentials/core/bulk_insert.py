"""Bulk inserts: COPY on PostgreSQL, one executemany of plain tuples on SQLite.

Both skip SQLAlchemy's per-row work (parameter dicts, defaults, result handling), which cost
more than the database's own. Values go through each column type's bind processor on SQLite
(dates, UTC datetimes and JSON stored exactly as the ORM stores them); psycopg's COPY adapts
dates and datetimes itself, and JSON is sent as its text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.orm import Session

from referentials.core.db import utcnow

Processor = Callable[[Any], Any] | None


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _with_defaults(table: Table, columns: Sequence[str]) -> list[str]:
    """The columns given plus the timestamps a Python-side default fills (utcnow)."""
    extra = [
        c.name
        for c in table.columns
        if c.name not in columns
        and c.default is not None
        and getattr(c.default, "arg", None) is not None
        and getattr(c.default.arg, "__name__", "") == "utcnow"  # type: ignore[attr-defined]
    ]
    return [*columns, *extra]


def insert_tuples(
    bind: Session | Connection,
    model: type[Any],
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    json_text: Collection[str] = (),
) -> None:
    """Insert ``rows`` (values in ``columns`` order) in one round of the fastest kind.

    ``json_text``: JSON columns whose values are already the text the column's type stores
    (``json.dumps`` of the value, done elsewhere: a helper process builds them meanwhile).
    ``bind``: a session, or the connection of its transaction (which a thread may write on
    while the session's own thread leaves it alone: see identity/imports/bulk.py).
    """
    if not rows:
        return
    table = _table(model)
    names = _with_defaults(table, columns)
    now = (utcnow(),) * (len(names) - len(columns))
    connection = bind.connection() if isinstance(bind, Session) else bind
    dialect = connection.dialect
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    if dialect.name == "postgresql":
        json_at = [
            i
            for i, n in enumerate(names)
            if isinstance(table.c[n].type, JSON) and n not in json_text
        ]
        statement = f"COPY {table.name} ({quoted}) FROM STDIN"
        raw = connection.connection.driver_connection  # COPY is the driver's own
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                values = list(row + now)
                for i in json_at:
                    values[i] = None if values[i] is None else json.dumps(values[i])
                copy.write_row(values)
        return
    processors: list[Processor] = [
        None if n in json_text else table.c[n].type.bind_processor(dialect) for n in names
    ]
    # The defaulted timestamps are the same for every row: processed once.
    tail = tuple(p(v) if p else v for p, v in zip(processors[len(columns) :], now, strict=True))
    active: list[tuple[int, Callable[[Any], Any]]] = [
        (i, p) for i, p in enumerate(processors[: len(columns)]) if p is not None
    ]
    if active:
        prepared: Sequence[tuple[Any, ...]] = [_processed(row, active) + tail for row in rows]
    else:
        prepared = [row + tail for row in rows] if tail else rows
    marks = ", ".join("?" * len(names))
    # Through the engine (one executemany still), not the driver's cursor: its first write
    # takes SQLite's writers' turn (db.py) before the lock, as every other write does.
    statement = f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})"
    connection.exec_driver_sql(statement, prepared)


def _processed(
    row: tuple[Any, ...], active: list[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = list(row)
    for i, process in active:
        values[i] = process(values[i])
    return tuple(values)
