"""Links between an establishment's local ids (PAM France A24/A37): one patient, not merged.

An establishment links two of its local ids when it knows they name one patient but keeps both
(HL7 v2.5 A24, "link patient information"), and undoes the link with A37. Socle stores the link
between the two source records, with an audit row on each identity and one event in the feed
(``identity.local_ids_linked``, ``identity.local_ids_unlinked``), which subscribers of either
identity hear of; it merges nothing and changes no identity. Tools read an identity's links at
``GET /api/v1/identities/{id}/links``; FHIR shows them as ``Patient.link`` ``seealso``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.referential import repository
from identity.referential.history import ENTITY, emit
from identity.referential.models import SourceLink, SourceRecord
from identity.referential.schemas import LocalIdLink
from identity.referential.service import get
from referentials.core import audit
from referentials.core.auth import Principal

LINKED = "local_ids_linked"
UNLINKED = "local_ids_unlinked"
EVENTS = {LINKED: f"identity.{LINKED}", UNLINKED: f"identity.{UNLINKED}"}


def record_of(session: Session, finess: str, local_id: str) -> SourceRecord | None:
    """The source record of an establishment's local id, or None."""
    return repository.source_record(session, finess, local_id)


def _pair(first: SourceRecord, second: SourceRecord) -> tuple[SourceRecord, SourceRecord]:
    # One row a pair, whichever order the message names them in.
    return (first, second) if first.id < second.id else (second, first)


def link(
    session: Session,
    principal: Principal,
    first: SourceRecord,
    second: SourceRecord,
    *,
    control_id: str,
    reason: str,
) -> bool:
    """Link two local ids; False when they are linked already."""
    low, high = _pair(first, second)
    if repository.source_link(session, low.id, high.id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                SourceLink(source_id=low.id, linked_source_id=high.id, control_id=control_id)
            )
            session.flush()
    except IntegrityError:
        # A concurrent message linked them first.
        if repository.source_link(session, low.id, high.id) is None:
            raise
        return False
    _record(session, principal, first, second, LINKED, reason)
    return True


def unlink(
    session: Session,
    principal: Principal,
    first: SourceRecord,
    second: SourceRecord,
    *,
    reason: str,
) -> bool:
    """Remove the link of two local ids; False when they were not linked."""
    low, high = _pair(first, second)
    found = repository.source_link(session, low.id, high.id)
    if found is None:
        return False
    session.delete(found)
    session.flush()
    _record(session, principal, first, second, UNLINKED, reason)
    return True


def _record(
    session: Session,
    principal: Principal,
    first: SourceRecord,
    second: SourceRecord,
    action: str,
    reason: str,
) -> None:
    """The event of the change, and an audit row on each identity it concerns."""
    emit(
        session,
        principal,
        EVENTS[action],
        first.identity_id,
        finess=first.finess,
        local_id=first.local_id,
        linked_local_id=second.local_id,
        linked_identity_id=second.identity_id,
    )
    # One row on each identity the link concerns (one when both local ids are of one identity).
    sides = [(first, second)]
    if first.identity_id != second.identity_id:
        sides.append((second, first))
    for mine, other in sides:
        facts = {
            "finess": mine.finess,
            "local_id": mine.local_id,
            "linked_local_id": other.local_id,
            "linked_identity_id": other.identity_id,
        }
        audit.record(
            session,
            principal,
            entity_type=ENTITY,
            entity_id=mine.identity_id,
            action=action,
            before=facts if action == UNLINKED else None,
            after=facts if action == LINKED else None,
            reason=reason,
        )


def holders(session: Session, identity_id: int, payload: Mapping[str, Any]) -> tuple[int, int]:
    """The identities holding the two local ids of a link event (``identity_id``: the event's).

    Those holding them now: a merge since moved a local id to its survivor. A local id
    renumbered since (A47) is no longer found: then the identity the event named.
    """
    finess = str(payload.get("finess", ""))
    named = (identity_id, int(payload.get("linked_identity_id") or identity_id))
    found = []
    for key, fallback in zip(("local_id", "linked_local_id"), named, strict=True):
        record = record_of(session, finess, str(payload.get(key, "")))
        found.append(record.identity_id if record is not None else fallback)
    return found[0], found[1]


def links_of(session: Session, identity_id: int) -> list[LocalIdLink]:
    """The links of an identity's local ids (404 for an unknown identity)."""
    get(session, identity_id)
    return [
        LocalIdLink(
            finess=mine.finess,
            local_id=mine.local_id,
            linked_local_id=other.local_id,
            linked_identity_id=other.identity_id,
            linked_at=found.linked_at,
        )
        for found, mine, other in repository.source_links_of(session, identity_id)
    ]
