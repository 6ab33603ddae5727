"""Bulk-load helpers: SQLite tuning, transactional index rebuilds, the direct first load.

A first load into an empty table skips the staging copy: rows go straight into the real
tables inside one transaction (on SQLite it holds the write lock for the load; the tables
were empty, so no reader loses anything, and a failure rolls everything back).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, ForeignKeyConstraint, Index, bindparam, text
from sqlalchemy.schema import AddConstraint, DropConstraint

from referentials.core.db import Base, UTCDateTime
from referentials.directory.models import WHOLE_SET
from referentials.directory.spec import SnapshotSpec


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def run_sql(conn: Connection, sql: str, params: dict[str, Any] | list[dict[str, Any]]) -> None:
    statement = text(sql)
    for name in ("now", "previous"):
        if f":{name}" in sql:
            statement = statement.bindparams(bindparam(name, type_=UTCDateTime()))
    conn.execute(statement, params)


def tune(conn: Connection, *, bulk_load: bool) -> None:
    """SQLite: a large page cache while importing (indexes of millions of rows), then back.

    Foreign keys are not checked row by row during the import (they cost half the insert
    time): the apply statements only insert child rows of entities they insert or keep.
    The pragmas are set outside any transaction, where SQLite honours them; the sort threads
    of ``create_indexes`` end with the import.
    """
    if is_sqlite(conn):
        # Negative sizes are KiB: 128 MiB for the base, 32 MiB for the staging tables.
        conn.exec_driver_sql(f"PRAGMA main.cache_size = {-131072 if bulk_load else -2000}")
        conn.exec_driver_sql(f"PRAGMA temp.cache_size = {-32768 if bulk_load else -2000}")
        conn.exec_driver_sql(f"PRAGMA foreign_keys = {'OFF' if bulk_load else 'ON'}")
        conn.exec_driver_sql("PRAGMA threads = 0")
        conn.commit()


def begin_write(conn: Connection) -> None:
    """Open the write transaction now, so that the DDL that follows belongs to it.

    pysqlite runs DDL outside any transaction unless one is open (it only opens one before
    INSERT/UPDATE/DELETE): a dropped index would not come back on rollback. It must come
    before the connection's first write, even to a TEMP table: the deferred transaction
    pysqlite opens there reads the database, and once another connection has committed,
    SQLite refuses at once to make it a write one ("database is locked"; no wait helps).
    """
    if not is_sqlite(conn):
        return
    if conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        raise RuntimeError("the write transaction must begin before the connection writes")
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _secondary_indexes(spec: SnapshotSpec) -> list[Index]:
    names = [spec.table, spec.child_table] if spec.child_table else [spec.table]
    return [ix for name in names for ix in Base.metadata.tables[name].indexes]


def _foreign_keys(conn: Connection, spec: SnapshotSpec) -> list[ForeignKeyConstraint]:
    """PostgreSQL checks a foreign key row by row during COPY: one join at the end is cheaper.

    (SQLite's are switched off for the import connection instead, see ``tune``.)
    """
    if is_sqlite(conn) or not spec.child_table:
        return []
    return list(Base.metadata.tables[spec.child_table].foreign_key_constraints)


def drop_indexes(conn: Connection, spec: SnapshotSpec) -> None:
    """Before a bulk load: building an index once is far cheaper than millions of inserts."""
    for index in _secondary_indexes(spec):
        index.drop(conn)
    for constraint in _foreign_keys(conn, spec):
        conn.execute(DropConstraint(constraint))


# Index builds of a bulk load on SQLite: sort helper threads, and the page cache (KiB) that
# bounds each sorted run.
INDEX_THREADS = 4
INDEX_CACHE_KIB = 8192


def create_indexes(conn: Connection, spec: SnapshotSpec) -> None:
    if is_sqlite(conn):
        # SQLite sorts an index's entries on helper threads only when they overflow its sort
        # memory (the page cache's size): a small cache and four threads build the indexes of
        # two million rows in two thirds of the time of one in-memory sort. ``tune`` restores
        # both. Dirty pages of the load are written to the WAL, as at commit.
        conn.exec_driver_sql(f"PRAGMA threads = {INDEX_THREADS}")
        conn.exec_driver_sql(f"PRAGMA main.cache_size = -{INDEX_CACHE_KIB}")
    else:
        # Sorting in memory rather than in temporary files, for this transaction only.
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for index in _secondary_indexes(spec):
        index.create(conn)
    for constraint in _foreign_keys(conn, spec):
        conn.execute(AddConstraint(constraint))


def direct_columns(spec: SnapshotSpec) -> tuple[str, ...]:
    """Columns of an entity row in a direct load, in the order of ``_Stager`` direct rows."""
    return (*spec.fields, "digest", "warnings")


# Bookkeeping columns of a direct load: the same values for every entity of the load.
DIRECT_CONSTANT = ("active", "first_seen", "last_seen", "last_run_id")


def direct_constants(conn: Connection, *, run_id: int, now: datetime) -> tuple[str, ...]:
    """The values of ``DIRECT_CONSTANT`` as text each database reads back as their types."""
    moment = now.astimezone(UTC)
    if is_sqlite(conn):
        stamp = moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return ("1", stamp, stamp, str(run_id))
    return ("t", moment.isoformat(), moment.isoformat(), str(run_id))


@lru_cache(maxsize=16)
def _insert_sql(table: str, names: tuple[str, ...], constants: tuple[str, ...]) -> str:
    """One row's INSERT: parameters for ``names``, then the constants as SQL literals.

    The constants are the load's own values (a flag, timestamps, a run id), never file data:
    written once in the statement, they are not bound again for each of a million rows.
    """
    quoted = ", ".join(f'"{c}"' for c in (*names, *DIRECT_CONSTANT[: len(constants)]))
    values = ["NULLIF(?, '')"] * len(names) + [f"'{value}'" for value in constants]
    return f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(values)})"


def start_direct(conn: Connection, spec: SnapshotSpec, constants: tuple[str, ...]) -> None:
    """Before a direct load: the write transaction, no secondary indexes, the constants.

    PostgreSQL gets the constants as the columns' defaults for the transaction's length (the
    COPY then carries four columns fewer per row: a fifth of what the server parses);
    ``finish_direct`` drops them. SQLite writes them as literals of its INSERT.
    """
    begin_write(conn)
    drop_indexes(conn, spec)
    if not is_sqlite(conn):
        defaults = ", ".join(
            f"ALTER COLUMN {name} SET DEFAULT '{value}'"
            for name, value in zip(DIRECT_CONSTANT, constants, strict=True)
        )
        conn.exec_driver_sql(f"ALTER TABLE {spec.table} {defaults}")


def insert_direct(
    conn: Connection,
    spec: SnapshotSpec,
    rows: list[tuple[Any, ...]],
    children: list[Any],
    constants: tuple[str, ...],
) -> None:
    """Write new entities straight into empty tables (first load): no staging copy.

    ``constants``: the values of ``DIRECT_CONSTANT`` for every entity row (on PostgreSQL,
    already the columns' defaults). Empty cells become NULL in SQL (NULLIF on SQLite, COPY's
    NULL '' on PostgreSQL).
    """
    batches = (
        (spec.table, direct_columns(spec), rows, constants),
        (spec.child_table, (spec.key, *spec.child_fields), children, ()),
    )
    for table, names, batch, fixed in batches:
        if not (table and batch):
            continue
        if is_sqlite(conn):
            driver: Any = conn.connection.driver_connection
            driver.executemany(_insert_sql(table, names, fixed), batch)
        else:
            _copy_empty_as_null(conn, table, names, batch)


def _copy_empty_as_null(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    driver: Any = conn.connection.driver_connection
    statement = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT text, NULL '')"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def finish_direct(conn: Connection, spec: SnapshotSpec, *, run_id: int, now: datetime) -> None:
    """After a direct load: one run-level history row, then the indexes.

    The table was empty, so every entity is new: one "added" row for the whole set (keyed
    ``WHOLE_SET``, at the entities' ``first_seen``) says what a row per entity would.
    """
    run_sql(
        conn,
        "INSERT INTO dir_changes (entity_type, entity_key, run_id, at, change, fields) "
        "VALUES (:type, :key, :run, :now, 'added', NULL)",
        {"type": spec.entity_type, "key": WHOLE_SET, "run": run_id, "now": now},
    )
    if not is_sqlite(conn):
        defaults = ", ".join(f"ALTER COLUMN {name} DROP DEFAULT" for name in DIRECT_CONSTANT)
        conn.exec_driver_sql(f"ALTER TABLE {spec.table} {defaults}")
    create_indexes(conn, spec)


def delete_keys(conn: Connection, spec: SnapshotSpec, keys: Iterable[str]) -> None:
    """Remove directly loaded entities (to load them again, merged)."""
    params = [{"k": k} for k in keys]
    if params and spec.child_table:
        conn.execute(text(f"DELETE FROM {spec.child_table} WHERE {spec.key} = :k"), params)
    if params:
        conn.execute(text(f"DELETE FROM {spec.table} WHERE {spec.key} = :k"), params)
