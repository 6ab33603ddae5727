"""Bulk SQL of the snapshot imports: staging tables, COPY/executemany, the diff applied in SQL.

Staging tables are TEMP tables of the import's own connection. On SQLite they live in the
connection's temp database, so filling them takes no lock on the main file and other writers
(the identity API) go on while a two-million-row file is parsed; only the final apply holds
the write lock, for a few statements. Cells are staged as text ("" for empty) and converted
(NULLIF, casts) by the statements that copy them into the real tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from referentials.directory.bulk_load import (
    begin_write,
    create_indexes,
    drop_indexes,
    is_sqlite,
    run_sql,
)
from referentials.directory.spec import SnapshotSpec

STAGE_HEAD = ("key", "digest", "status", "warnings")


def _cast(conn: Connection, expr: str, kind: str | None) -> str:
    value = f"NULLIF({expr}, '')"
    if kind == "float":
        return f"CAST({value} AS {'REAL' if is_sqlite(conn) else 'DOUBLE PRECISION'})"
    if kind == "date" and not is_sqlite(conn):
        return f"CAST({value} AS DATE)"
    if kind == "json" and not is_sqlite(conn):
        return f"CAST({value} AS JSON)"
    # SQLite keeps dates as ISO text, which is what SQLAlchemy's Date reads back.
    return value


def create_stage(conn: Connection, spec: SnapshotSpec) -> None:
    """Fresh TEMP staging tables for ``spec`` on this connection."""
    drop_stage(conn, spec)
    cols = ", ".join(f'"{c}" TEXT' for c in (*STAGE_HEAD, *spec.fields))
    conn.exec_driver_sql(f"CREATE TEMP TABLE {spec.stage} ({cols})")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {spec.stage_removed} (key TEXT)")
    if spec.child_table:
        child_cols = ", ".join(f'"{c}" TEXT' for c in ("key", *spec.child_fields))
        conn.exec_driver_sql(f"CREATE TEMP TABLE {spec.stage_children} ({child_cols})")


def index_stage(conn: Connection, spec: SnapshotSpec) -> None:
    """Indexes that the apply statements join on (built once, after the bulk load)."""
    conn.exec_driver_sql(f"CREATE INDEX ix_{spec.stage}_key ON {spec.stage} (key)")
    conn.exec_driver_sql(f"CREATE INDEX ix_{spec.stage_removed}_k ON {spec.stage_removed} (key)")
    if spec.child_table:
        conn.exec_driver_sql(
            f"CREATE INDEX ix_{spec.stage_children}_key ON {spec.stage_children} (key)"
        )


def drop_stage(conn: Connection, spec: SnapshotSpec) -> None:
    for table in (spec.stage, spec.stage_children, spec.stage_removed):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Append rows to a table: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    driver: Any = conn.connection.driver_connection
    if is_sqlite(conn):
        marks = ", ".join("?" for _ in columns)
        driver.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        return
    with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def delete_stage_keys(conn: Connection, spec: SnapshotSpec, keys: Iterable[str]) -> None:
    """Forget what was staged for ``keys`` (they are staged again, merged)."""
    params = [{"k": k} for k in keys]
    if not params:
        return
    conn.execute(text(f"DELETE FROM {spec.stage} WHERE key = :k"), params)
    if spec.child_table:
        conn.execute(text(f"DELETE FROM {spec.stage_children} WHERE key = :k"), params)


def stored_digests(conn: Connection, spec: SnapshotSpec) -> tuple[dict[str, bytes], set[str]]:
    """Every stored key with its digest (as bytes: half the memory), and the inactive keys."""
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    # The driver's own cursor: 1.5 million rows without SQLAlchemy's per-row processing.
    cursor.execute(f"SELECT {spec.key}, digest FROM {spec.table}")
    digests = {key: bytes.fromhex(value) for key, value in cursor}
    cursor.execute(f"SELECT {spec.key} FROM {spec.table} WHERE NOT active")
    inactive = {key for (key,) in cursor}
    cursor.close()
    return digests, inactive


def old_and_new(
    conn: Connection, spec: SnapshotSpec
) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """Stored and staged fields of the updated entities, as text, for the field-level diff."""
    cols = ", ".join(f't."{c}"' for c in spec.fields)
    old = conn.exec_driver_sql(
        f"SELECT {cols} FROM {spec.table} t JOIN {spec.stage} s ON s.key = t.{spec.key} "
        "WHERE s.status = 'updated'"
    )
    staged = conn.exec_driver_sql(
        f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in spec.fields)} FROM {spec.stage} "
        "WHERE status = 'updated'"
    )
    return _by_key(old), _by_key(staged)


def old_and_new_children(
    conn: Connection, spec: SnapshotSpec
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    """Stored and staged child rows of the updated entities."""
    cols = ", ".join(f'c."{c}"' for c in spec.child_fields)
    old = conn.exec_driver_sql(
        f"SELECT c.{spec.key}, {cols} FROM {spec.child_table} c "
        f"JOIN {spec.stage} s ON s.key = c.{spec.key} WHERE s.status = 'updated'"
    )
    new = conn.exec_driver_sql(
        f"SELECT c.key, {cols} FROM {spec.stage_children} c "
        f"JOIN {spec.stage} s ON s.key = c.key WHERE s.status = 'updated'"
    )
    return _group(old), _group(new)


def _by_key(rows: Iterable[Any]) -> dict[str, tuple[Any, ...]]:
    return {row[0]: tuple(row) for row in rows}


def _group(rows: Iterable[Any]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


def apply_snapshot(
    conn: Connection,
    spec: SnapshotSpec,
    *,
    run_id: int,
    now: datetime,
    bulk_load: bool,
    previous_seen: datetime | None,
) -> None:
    """Apply what is staged: replace changed entities, add new ones, deactivate removed ones.

    ``bulk_load``: most of the table is written, so its indexes are rebuilt rather than
    maintained row by row (inside the same transaction: still all or nothing).
    """
    begin_write(conn)
    if bulk_load:
        drop_indexes(conn, spec)
    params = {"now": now, "run": run_id}
    _replace_changed(conn, spec, params)
    _insert_added(conn, spec, params)
    # Unchanged entries are not written at all: their last sighting is this run, which the
    # service reports for every active entry (rewriting 1.5 million rows daily would cost more
    # than the whole diff). A removed one was last seen by the previous successful run.
    run_sql(
        conn,
        f"UPDATE {spec.table} SET active = FALSE, removed_at = :now, last_run_id = :run, "
        f"last_seen = COALESCE(:previous, last_seen) "
        f"WHERE {spec.key} IN (SELECT key FROM {spec.stage_removed})",
        {**params, "previous": previous_seen},
    )
    _record_changes(conn, spec, params)
    if bulk_load:
        create_indexes(conn, spec)


def _replace_changed(conn: Connection, spec: SnapshotSpec, params: dict[str, Any]) -> None:
    """Updated and re-added entities: new fields; their child rows are replaced below."""
    changed = "s.status IN ('updated', 'readded')"
    if spec.child_table:
        conn.exec_driver_sql(
            f"DELETE FROM {spec.child_table} WHERE {spec.key} IN "
            f"(SELECT s.key FROM {spec.stage} s WHERE {changed})"
        )
    sets = ", ".join(
        f'"{c}" = {_cast(conn, f"s.{chr(34)}{c}{chr(34)}", spec.kinds.get(c))}'
        for c in spec.fields[1:]
    )
    run_sql(
        conn,
        f"UPDATE {spec.table} SET {sets}, digest = s.digest, "
        f"warnings = {_cast(conn, 's.warnings', 'json')}, active = TRUE, removed_at = NULL, "
        "last_seen = :now, last_run_id = :run "
        f"FROM {spec.stage} s WHERE {spec.table}.{spec.key} = s.key AND {changed}",
        params,
    )


def _insert_added(conn: Connection, spec: SnapshotSpec, params: dict[str, Any]) -> None:
    """New entities, then the child rows of every staged entity."""
    cols = ", ".join(f'"{c}"' for c in spec.fields)
    values = ", ".join(
        _cast(conn, f's."{c}"', spec.kinds.get(c)) if i else "s.key"
        for i, c in enumerate(spec.fields)
    )
    run_sql(
        conn,
        f"INSERT INTO {spec.table} ({cols}, digest, warnings, active, first_seen, last_seen, "
        f"last_run_id) SELECT {values}, s.digest, {_cast(conn, 's.warnings', 'json')}, TRUE, "
        f":now, :now, :run FROM {spec.stage} s WHERE s.status = 'added'",
        params,
    )
    if spec.child_table:
        child_cols = ", ".join(f'"{c}"' for c in spec.child_fields)
        child_values = ", ".join(f"NULLIF(c.\"{c}\", '')" for c in spec.child_fields)
        conn.exec_driver_sql(
            f"INSERT INTO {spec.child_table} ({spec.key}, {child_cols}) "
            f"SELECT c.key, {child_values} FROM {spec.stage_children} c"
        )


def _record_changes(conn: Connection, spec: SnapshotSpec, params: dict[str, Any]) -> None:
    head = "INSERT INTO dir_changes (entity_type, entity_key, run_id, at, change, fields) "
    run_sql(
        conn,
        head + f"SELECT '{spec.entity_type}', s.key, :run, :now, 'added', NULL FROM {spec.stage} s "
        "WHERE s.status IN ('added', 'readded')",
        params,
    )
    run_sql(
        conn,
        head + f"SELECT '{spec.entity_type}', r.key, :run, :now, 'removed', NULL "
        f"FROM {spec.stage_removed} r",
        params,
    )


def record_updates(
    conn: Connection,
    spec: SnapshotSpec,
    fields_by_key: dict[str, list[str]],
    *,
    run_id: int,
    now: datetime,
) -> None:
    """One history row per updated entity, naming the fields that changed."""
    rows = [
        {"t": spec.entity_type, "k": key, "run": run_id, "now": now, "f": ",".join(names)}
        for key, names in fields_by_key.items()
    ]
    if rows:
        run_sql(
            conn,
            "INSERT INTO dir_changes (entity_type, entity_key, run_id, at, change, fields) "
            "VALUES (:t, :k, :run, :now, 'updated', :f)",
            rows,
        )
