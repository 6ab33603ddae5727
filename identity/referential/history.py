"""Snapshots of identities (for audit and exact undo) and the event feed's writer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from identity.referential import feed
from identity.referential.models import Identity, IdentityEvent
from referentials.core.bulk_insert import insert_tuples
from referentials.core.principal import Principal

ENTITY = "identity"


def snapshot(identity: Identity) -> dict[str, Any]:
    """Every stored field that a change or an undo must be able to restore."""
    return {
        "birth_name": identity.birth_name,
        "first_names": identity.first_names,
        "sex": identity.sex,
        "birth_date": identity.birth_date.isoformat(),
        "birth_date_estimated": identity.birth_date_estimated,
        "birth_place_code": identity.birth_place_code,
        "used_name": identity.used_name,
        "used_first_name": identity.used_first_name,
        "status": identity.status,
        "attributes": identity.attributes,
        "ins_matricule": identity.ins_matricule,
        "ins_oid": identity.ins_oid,
        "ins_history": identity.ins_history,
        "ins_retrieved_at": (
            identity.ins_retrieved_at.isoformat() if identity.ins_retrieved_at else None
        ),
        "ins_collection_method": identity.ins_collection_method,
        "ins_old": identity.ins_old,
        "validation_document": identity.validation_document,
        "validation_date": (
            identity.validation_date.isoformat() if identity.validation_date else None
        ),
        "active": identity.active,
        "merged_into_id": identity.merged_into_id,
    }


def emit(
    session: Session, principal: Principal, event_type: str, identity_id: int, **payload: Any
) -> None:
    """Append an event to the feed, in the transaction of the change (its cursor comes later).

    ``principal`` made the change: its client is the event's origin.
    """
    event = IdentityEvent(
        type=event_type, identity_id=identity_id, payload=payload, origin=principal.client_name
    )
    session.add(event)
    session.info[_EMITTED] = True


_EMITTED = "feed_events_emitted"


def emit_many(
    session: Session,
    principal: Principal,
    events: list[tuple[str, int, dict[str, Any]]],
    *,
    numbered: bool = False,
) -> None:
    """Append many (type, identity id, payload) events that ``principal`` made, in one
    statement (bulk loads).

    ``numbered`` (SQLite only, in a transaction that has already written): the events take
    their cursors here instead of from the relay after commit. SQLite's one write lock is this
    transaction's until it commits, so no relay can number anything meanwhile, and the
    cursors become visible together at commit: still ordered and gap-free. It spares the
    relay's update of every row (about 40 µs a row on a large feed). Rows others committed
    without a cursor are numbered after these by the next relay, as any later commit's are.
    """
    if not events:
        return
    columns = ("type", "identity_id", "payload", "origin")
    origin = principal.client_name
    if numbered:
        assert session.get_bind().dialect.name == "sqlite"
        top = int(session.scalar(select(func.max(IdentityEvent.feed_cursor))) or 0)
        rows = [(*e, origin, top + k) for k, e in enumerate(events, 1)]
        insert_tuples(session, IdentityEvent, (*columns, "feed_cursor"), rows)
    else:
        insert_tuples(session, IdentityEvent, columns, [(*e, origin) for e in events])
    session.info[_EMITTED] = True


_COMMITTED = "feed_events_committed"


@event.listens_for(Session, "after_commit")
def _events_committed(session: Session) -> None:
    # A savepoint's release fires this event too: only the real commit counts.
    if not session.in_nested_transaction() and session.info.pop(_EMITTED, False):
        session.info[_COMMITTED] = True


@event.listens_for(Session, "after_transaction_end")
def _relay_after_commit(session: Session, transaction: Any) -> None:
    # The writer orders its own events before answering, so a client that follows the feed
    # right after a write sees it; the periodic relay covers a process that died in between.
    # Here the session's connection is back in the pool, so the relay never waits on it.
    if transaction.parent is not None:
        return
    session.info.pop(_EMITTED, None)
    if session.info.pop(_COMMITTED, False):
        bind = session.get_bind()
        feed.relay_after_commit(bind if isinstance(bind, Engine) else bind.engine)
