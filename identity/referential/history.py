"""Snapshots of identities (for audit and exact undo) and the event feed's writer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from identity.referential.models import Identity, IdentityEvent

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


# Any constant: the advisory lock that orders the feed's writers on PostgreSQL.
FEED_LOCK = 7_311_001


def begin_write(session: Session) -> None:
    """Hold the feed lock until commit, so cursors commit in increasing order.

    Without it, two concurrent transactions could commit ids 6 then 5, and a consumer that
    had already read 6 would never see 5. Every identity write calls this first, before any row
    lock, so all writers take locks in one order and cannot deadlock. SQLite has a single
    writer, so it needs nothing.
    """
    if session.info.get("feed_locked"):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK})
    session.info["feed_locked"] = True


def emit(session: Session, event_type: str, identity_id: int, **payload: Any) -> None:
    """Append an event to the feed, in the transaction of the change."""
    begin_write(session)
    session.add(IdentityEvent(type=event_type, identity_id=identity_id, payload=payload))


@event.listens_for(Session, "after_transaction_end")
def _forget_feed_lock(session: Session, transaction: Any) -> None:
    # The lock ends with the outermost transaction; a reused session must take it again.
    if transaction.parent is None:
        session.info.pop("feed_locked", None)
