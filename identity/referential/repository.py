"""Queries of the identity context (the only module that builds ``select()``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    Table,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from identity.referential.models import (
    DuplicatePair,
    Identity,
    IdentityEvent,
    InsiCall,
    MatchKey,
    Merge,
    PairComment,
    SourceLink,
    SourceRecord,
)
from identity.referential.rows import IdentityRow, SourceRow
from referentials.core.db import utcnow


@cache
def _get_statement(for_update: bool) -> Select[Identity]:
    # Built once: building the statement and its cache key again on every call cost about as
    # much as running it (every read, write and INSi answer starts here).
    stmt = (
        select(Identity)
        .where(Identity.id == bindparam("identity_id"))
        # One identity and its few source records in one query: half the CPU of loading them
        # in a second one.
        .options(joinedload(Identity.sources))
    )
    if for_update:
        # The identity's row only: PostgreSQL locks nothing on the outer join's nullable side.
        stmt = stmt.with_for_update(of=Identity)
    return stmt


def get(session: Session, identity_id: int, *, for_update: bool = False) -> Identity | None:
    stmt = _get_statement(for_update)
    return session.execute(stmt, {"identity_id": identity_id}).unique().scalar()


@cache
def _call_traits_statement() -> Select[*tuple[Any, ...]]:
    return select(
        Identity.active,
        Identity.merged_into_id,
        Identity.attributes,
        Identity.version,
        Identity.birth_name,
        Identity.first_names,
        Identity.sex,
        Identity.birth_date,
        Identity.birth_place_code,
    ).where(Identity.id == bindparam("identity_id"))


def call_traits(session: Session, identity_id: int) -> Row[*tuple[Any, ...]] | None:
    """What an INSi call sends and checks first, as plain columns (no object loaded)."""
    return session.execute(_call_traits_statement(), {"identity_id": identity_id}).first()


@cache
def _insert_insi_call_statement() -> Any:
    table: Any = InsiCall.__table__
    return insert(table).returning(table.c.id)


def insert_insi_calls(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert INSi call records (plain rows, the table's own types); their ids, in order."""
    statement = _insert_insi_call_statement()
    connection = session.connection()
    return [int(connection.execute(statement, row).scalar_one()) for row in rows]


def by_source(session: Session, finess: str, local_id: str) -> Identity | None:
    stmt = (
        select(Identity)
        .join(SourceRecord, SourceRecord.identity_id == Identity.id)
        .where(SourceRecord.finess == finess, SourceRecord.local_id == local_id)
        .options(selectinload(Identity.sources))
    )
    return session.scalar(stmt)


def source_record(session: Session, finess: str, local_id: str) -> SourceRecord | None:
    stmt = select(SourceRecord).where(
        SourceRecord.finess == finess, SourceRecord.local_id == local_id
    )
    return session.scalar(stmt)


def source_link(session: Session, source_id: int, linked_source_id: int) -> SourceLink | None:
    stmt = select(SourceLink).where(
        SourceLink.source_id == source_id, SourceLink.linked_source_id == linked_source_id
    )
    return session.scalar(stmt)


def source_links_of(
    session: Session, identity_id: int
) -> list[tuple[SourceLink, SourceRecord, SourceRecord]]:
    """The links of the identity's local ids: (link, its record, the linked one), oldest first.

    A link between two local ids of the identity itself is given once.
    """
    first, second = aliased(SourceRecord), aliased(SourceRecord)
    stmt = (
        select(SourceLink, first, second)
        .join(first, first.id == SourceLink.source_id)
        .join(second, second.id == SourceLink.linked_source_id)
        .where(or_(first.identity_id == identity_id, second.identity_id == identity_id))
        .order_by(SourceLink.id)
    )
    return [
        (link, one, other) if one.identity_id == identity_id else (link, other, one)
        for link, one, other in session.execute(stmt)
    ]


def search(
    session: Session,
    *,
    birth_name: str | None,
    first_name: str | None,
    birth_date: date | None,
    source_finess: str | None,
    include_inactive: bool,
    limit: int,
    offset: int,
) -> tuple[list[Identity], int]:
    """Identities matching every given normalised trait, with the total count."""
    stmt = select(Identity)
    if birth_name:
        stmt = stmt.where(Identity.birth_name == birth_name)
    if first_name:
        # Any of the birth given names, or the used first name.
        stmt = stmt.where(
            (Identity.first_name == first_name)
            | (Identity.used_first_name == first_name)
            | (Identity.first_names.like(f"% {first_name}"))
            | (Identity.first_names.like(f"% {first_name} %"))
        )
    if birth_date:
        stmt = stmt.where(Identity.birth_date == birth_date)
    if source_finess:
        stmt = stmt.where(
            Identity.id.in_(
                select(SourceRecord.identity_id).where(SourceRecord.finess == source_finess)
            )
        )
    if not include_inactive:
        stmt = stmt.where(Identity.active.is_(True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Identity.id)
        .limit(limit)
        .offset(offset)
        .options(selectinload(Identity.sources))
    )
    return list(rows), total


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Identity)) or 0


def events_after(session: Session, cursor: int, limit: int) -> list[IdentityEvent]:
    # Only relayed events: their cursors were committed in order (identity/referential/feed.py).
    stmt = (
        select(IdentityEvent)
        .where(IdentityEvent.feed_cursor > cursor)
        .order_by(IdentityEvent.feed_cursor)
    )
    return list(session.scalars(stmt.limit(limit)))


def feed_head(session: Session) -> int:
    """The newest event's cursor (0 on an empty feed)."""
    return int(session.scalar(select(func.max(IdentityEvent.id))) or 0)


def relayed_head(session: Session) -> int:
    """The highest cursor given by the relay (0 on an empty feed)."""
    return int(session.scalar(select(func.max(IdentityEvent.feed_cursor))) or 0)


def first_cursor_since(session: Session, when: datetime) -> int | None:
    """The lowest cursor of an event written at or after ``when`` (None: none yet)."""
    stmt = select(func.min(IdentityEvent.feed_cursor)).where(IdentityEvent.at >= when)
    found = session.scalar(stmt)
    return None if found is None else int(found)


def held_by(session: Session, identity_ids: set[int], finess: set[str]) -> set[int]:
    """Those of the identities that hold a local id in one of the establishments."""
    if not identity_ids or not finess:
        return set()
    stmt = select(SourceRecord.identity_id).where(
        SourceRecord.identity_id.in_(identity_ids), SourceRecord.finess.in_(finess)
    )
    return set(session.scalars(stmt.distinct()))


def first_unread_at(session: Session, cursor: int) -> datetime | None:
    """When the oldest event after ``cursor`` was written (None: nothing left to read)."""
    stmt = select(func.min(IdentityEvent.at)).where(IdentityEvent.id > cursor)
    at: datetime | None = session.scalar(stmt)
    return at


def list_pairs(
    session: Session,
    *,
    status: str | None,
    band: str | None,
    min_score: float | None,
    finess: str | None,
    older_than_days: int | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[DuplicatePair], int]:
    """Queue pairs with filters; 'priority' sorts by score then age (oldest first)."""
    stmt = select(DuplicatePair)
    if status:
        stmt = stmt.where(DuplicatePair.status == status)
    if band:
        stmt = stmt.where(DuplicatePair.band == band)
    if min_score is not None:
        stmt = stmt.where(DuplicatePair.score >= min_score)
    if finess:
        stmt = stmt.where(DuplicatePair.establishments.contains(finess))
    if older_than_days is not None:
        stmt = stmt.where(DuplicatePair.created_at <= utcnow() - timedelta(days=older_than_days))
    order = {
        "priority": (DuplicatePair.score.desc(), DuplicatePair.created_at, DuplicatePair.id),
        "score": (DuplicatePair.score.desc(), DuplicatePair.id),
        "age": (DuplicatePair.created_at, DuplicatePair.id),
        "recent": (DuplicatePair.created_at.desc(), DuplicatePair.id.desc()),
    }[sort]
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset))
    return list(rows), total


def pair_counts(session: Session) -> dict[tuple[str, str], int]:
    """Pairs by (status, band)."""
    stmt = select(DuplicatePair.status, DuplicatePair.band, func.count()).group_by(
        DuplicatePair.status, DuplicatePair.band
    )
    return {(s, b): int(n) for s, b, n in session.execute(stmt)}


def decided_pairs(session: Session, statuses: tuple[str, ...]) -> list[DuplicatePair]:
    """Pairs in the given decided statuses, oldest decision first."""
    stmt = select(DuplicatePair).where(DuplicatePair.status.in_(statuses))
    return list(session.scalars(stmt.order_by(DuplicatePair.decided_at, DuplicatePair.id)))


def open_pairs(session: Session, statuses: tuple[str, ...]) -> list[DuplicatePair]:
    """Pairs still waiting for a decision."""
    stmt = select(DuplicatePair).where(DuplicatePair.status.in_(statuses))
    return list(session.scalars(stmt.order_by(DuplicatePair.id)))


def decisions_since(session: Session, since: datetime) -> list[tuple[str, str, datetime]]:
    """(band when decided, status, decided_at) of the pairs decided since `since`."""
    stmt = select(DuplicatePair.band, DuplicatePair.status, DuplicatePair.decided_at).where(
        DuplicatePair.decided_at >= since,
        DuplicatePair.status.in_(("merged", "not_duplicate")),
    )
    return [(b, s, at) for b, s, at in session.execute(stmt) if at is not None]


def by_active_ins(session: Session, matricule: str) -> Identity | None:
    """The active identity carrying this matricule, if any."""
    stmt = (
        select(Identity)
        .where(Identity.ins_matricule == matricule, Identity.active.is_(True))
        .order_by(Identity.id)
        .options(selectinload(Identity.sources))
    )
    return session.scalars(stmt).first()


def active_identities(session: Session) -> list[Identity]:
    """Every active identity with its local ids (the batch scan's input)."""
    stmt = (
        select(Identity)
        .where(Identity.active.is_(True))
        .options(selectinload(Identity.sources))
        .order_by(Identity.id)
    )
    return list(session.scalars(stmt))


def identities_by_id(session: Session, ids: list[int]) -> dict[int, Identity]:
    stmt = select(Identity).where(Identity.id.in_(ids)).options(selectinload(Identity.sources))
    return {i.id: i for i in session.scalars(stmt)} if ids else {}


def lock_identities(session: Session, ids: tuple[int, ...]) -> dict[int, Identity]:
    """Rows locked for update, in id order (so overlapping writers cannot deadlock)."""
    stmt = select(Identity).where(Identity.id.in_(ids)).order_by(Identity.id).with_for_update()
    return {i.id: i for i in session.scalars(stmt)}


def same_strict_traits(session: Session, fields: dict[str, Any]) -> Identity | None:
    """The oldest active identity with exactly these strict traits."""
    stmt = select(Identity).where(
        Identity.active.is_(True),
        Identity.birth_name == fields["birth_name"],
        Identity.first_names == fields["first_names"],
        Identity.sex == fields["sex"],
        Identity.birth_date == fields["birth_date"],
        Identity.birth_place_code == fields.get("birth_place_code"),
    )
    return session.scalars(stmt.order_by(Identity.id)).first()


# The duplicate check's reads run on every match and every write: their statements are built
# once (building one and its cache key again cost about as much as running it), on Core tables
# (the ORM's execution layer adds as much again), and on PostgreSQL they take their ids and keys
# as one array: the statement's text is the same whatever their number, so psycopg prepares it
# once per connection and the server plans it once, where an IN list of a few hundred values
# was a new statement (parsed and planned again) at almost every call.
IDENTITIES = cast(Table, Identity.__table__)
SOURCES = cast(Table, SourceRecord.__table__)
MATCH_KEYS = cast(Table, MatchKey.__table__)


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _among(column: ColumnElement[Any], name: str, array: bool) -> ColumnElement[bool]:
    """``column`` among the values bound to ``name``: one array parameter, or an IN list."""
    if array:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


# PostgreSQL: each key is one walk of the (key, identity_id) index that stops after ``limit``
# rows (numbering every row of a common key read all of them), its ids as one text.
_KEY_BLOCKS_PG = text(
    "SELECT k.key, (SELECT string_agg(m.identity_id::text, ',') FROM (SELECT identity_id "
    "FROM identity_match_keys WHERE key = k.key ORDER BY identity_id LIMIT :limit) AS m) "
    "FROM unnest(CAST(:keys AS text[])) AS k(key)"
)


@cache
def _key_blocks_statement() -> Select[str, int]:
    rank = func.row_number().over(partition_by=MATCH_KEYS.c.key, order_by=MATCH_KEYS.c.identity_id)
    inner = (
        select(MATCH_KEYS.c.key, MATCH_KEYS.c.identity_id, rank.label("rank"))
        .where(_among(MATCH_KEYS.c.key, "keys", array=False))
        .subquery()
    )
    return select(inner.c.key, inner.c.identity_id).where(inner.c.rank <= bindparam("limit"))


def key_blocks(session: Session, keys: list[str], limit: int) -> dict[str, set[int]]:
    """The ``limit`` oldest identities per blocking key, for all keys in one round trip.

    Ordered by id so the slice of an over-common key is reproducible (the bulk import replays it).
    """
    blocks: dict[str, set[int]] = {k: set() for k in keys}
    if not keys:
        return blocks
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        for key, ids in connection.execute(_KEY_BLOCKS_PG, {"keys": keys, "limit": limit}):
            if ids:
                blocks[key].update(map(int, ids.split(",")))
        return blocks
    params = {"keys": keys, "limit": limit}
    for key, identity_id in connection.execute(_key_blocks_statement(), params):
        blocks[key].add(identity_id)
    return blocks


MATCH_COLUMNS = tuple(
    IDENTITIES.c[name]
    for name in (
        "id", "birth_name", "first_names", "used_name", "used_first_name", "sex", "birth_date",
        "birth_place_code", "ins_matricule", "ins_history",
    )
)  # fmt: skip


@cache
def _match_rows_statement(array: bool) -> Select[*tuple[Any, ...]]:
    return select(*MATCH_COLUMNS).where(
        _among(IDENTITIES.c.id, "ids", array), IDENTITIES.c.active.is_(True)
    )


def match_rows(session: Session, ids: set[int]) -> list[Any]:
    """The traits the matcher needs, as plain rows (most candidates score below review)."""
    if not ids:
        return []
    statement = _match_rows_statement(_on_postgresql(session))
    return list(session.connection().execute(statement, {"ids": list(ids)}))


# What an answer shows of an identity (every column but the former matricules).
ROW_COLUMNS = tuple(c for c in IDENTITIES.c if c.name != "ins_old")


@cache
def _identity_rows_statement(array: bool) -> Select[*tuple[Any, ...]]:
    # One query for the identities and their source records: a few rows each at most.
    joined = IDENTITIES.outerjoin(SOURCES, SOURCES.c.identity_id == IDENTITIES.c.id)
    return (
        select(*ROW_COLUMNS, SOURCES.c.finess, SOURCES.c.local_id)
        .select_from(joined)
        .where(_among(IDENTITIES.c.id, "ids", array))
        .order_by(IDENTITIES.c.id, SOURCES.c.id)
    )


def identity_rows(session: Session, ids: list[int]) -> dict[int, IdentityRow]:
    """Identities with their local ids as plain rows, for an answer (no object loaded)."""
    if not ids:
        return {}
    statement = _identity_rows_statement(_on_postgresql(session))
    found: dict[int, IdentityRow] = {}
    for row in session.connection().execute(statement, {"ids": ids}):
        values = row._asdict()
        finess, local_id = values.pop("finess"), values.pop("local_id")
        current = found.get(values["id"])
        if current is None:
            current = found[values["id"]] = IdentityRow(**values)
        if finess is not None:
            current.sources.append(SourceRow(finess=finess, local_id=local_id))
    return found


def pair_between(session: Session, left_id: int, right_id: int) -> DuplicatePair | None:
    stmt = select(DuplicatePair).where(
        DuplicatePair.left_id == left_id, DuplicatePair.right_id == right_id
    )
    return session.scalar(stmt)


def open_pairs_of(session: Session, identity_id: int) -> list[DuplicatePair]:
    stmt = select(DuplicatePair).where(
        (DuplicatePair.left_id == identity_id) | (DuplicatePair.right_id == identity_id),
        DuplicatePair.status.in_(("pending", "deferred")),
    )
    return list(session.scalars(stmt))


def pairs_of_merge(session: Session, merge_id: int) -> list[DuplicatePair]:
    return list(session.scalars(select(DuplicatePair).where(DuplicatePair.merge_id == merge_id)))


def comments_of(session: Session, pair_id: int) -> list[PairComment]:
    stmt = select(PairComment).where(PairComment.pair_id == pair_id).order_by(PairComment.id)
    return list(session.scalars(stmt))


def sources_by_id(session: Session, ids: list[int]) -> list[SourceRecord]:
    return list(session.scalars(select(SourceRecord).where(SourceRecord.id.in_(ids or [-1]))))


def merges_page(session: Session, *, limit: int, offset: int) -> tuple[list[Merge], int]:
    total = session.scalar(select(func.count()).select_from(Merge)) or 0
    rows = session.scalars(select(Merge).order_by(Merge.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def insi_calls(session: Session, identity_id: int) -> list[InsiCall]:
    stmt = select(InsiCall).where(InsiCall.identity_id == identity_id).order_by(InsiCall.id)
    return list(session.scalars(stmt))


def active_status_counts(session: Session) -> dict[str, int]:
    stmt = (
        select(Identity.status, func.count())
        .where(Identity.active.is_(True))
        .group_by(Identity.status)
    )
    return {str(s): int(n) for s, n in session.execute(stmt)}


def merge_times_since(session: Session, since: datetime) -> tuple[list[datetime], list[datetime]]:
    """When merges were made, and when undone, since a moment."""
    merged = session.scalars(select(Merge.merged_at).where(Merge.merged_at >= since))
    undone = session.scalars(select(Merge.undone_at).where(Merge.undone_at >= since))
    return list(merged), [t for t in undone if t is not None]


def qualified_by_ins(session: Session, matricule: str, oid: str) -> Identity | None:
    """The QUAL identity carrying this INS (the survivor first when merges left several)."""
    stmt = (
        select(Identity)
        .where(
            Identity.status == "QUAL",
            Identity.ins_matricule == matricule,
            Identity.ins_oid == oid,
        )
        .order_by(Identity.active.desc(), Identity.id)
        .options(selectinload(Identity.sources))
    )
    return session.scalars(stmt).first()
