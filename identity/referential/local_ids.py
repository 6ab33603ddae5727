"""Attaching an establishment's local id (IPP) to an identity: the one way every intake does it.

REST, the CSV import, INSi creation and HL7 v2 all call :func:`attach`, so each attachment is
written the same way: in a savepoint (a concurrent writer of the same local id ends in a clear
conflict, not a 500), with its audit row and its ``identity.local_id_attached`` event.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.errors import RuleConflict
from identity.referential import repository
from identity.referential.history import ENTITY, emit
from identity.referential.models import Identity, SourceRecord
from identity.referential.schemas import LocalIdRequest
from identity.referential.service import get_active
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.errors import Forbidden

ACTION = "local_id_attached"
EVENT = "identity.local_id_attached"


class LocalIdTaken(RuleConflict):
    """The local id already belongs to another identity (a merge, not an attachment, is due)."""

    code = "local_id_taken"


def _taken(finess: str, holder_id: int) -> LocalIdTaken:
    return LocalIdTaken(
        f"this local id of establishment {finess} already belongs to identity {holder_id}",
        fields={"identity_id": holder_id, "finess": finess},
    )


def attach(
    session: Session,
    principal: Principal,
    identity: Identity,
    *,
    finess: str,
    local_id: str,
    reason: str,
) -> bool:
    """Attach ``finess``/``local_id`` to ``identity``; False when it is attached already.

    Raises LocalIdTaken when another identity holds that local id.
    """
    holder = repository.by_source(session, finess, local_id)
    if holder is not None:
        if holder.id == identity.id:
            return False
        raise _taken(finess, holder.id)
    try:
        with session.begin_nested():
            session.add(SourceRecord(identity_id=identity.id, finess=finess, local_id=local_id))
            session.flush()
    except IntegrityError as exc:
        # A concurrent writer attached it first: say to whom.
        holder = repository.by_source(session, finess, local_id)
        if holder is None:
            raise
        if holder.id == identity.id:
            return False
        raise _taken(finess, holder.id) from exc
    session.refresh(identity, ["sources"])
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action=ACTION,
        after={"finess": finess, "local_id": local_id},
        reason=reason,
    )
    emit(session, principal, EVENT, identity.id, finess=finess)
    return True


def attach_by_request(
    session: Session, principal: Principal, identity_id: int, *, data: LocalIdRequest
) -> tuple[Identity, bool]:
    """REST: attach a local id to an active identity; a key of an establishment, its own only."""
    if principal.finess and principal.finess != data.finess:
        raise Forbidden(
            f"this key attaches local ids of establishment {principal.finess} only",
            fields={"finess": data.finess},
        )
    identity = get_active(session, identity_id)
    attached = attach(
        session,
        principal,
        identity,
        finess=data.finess,
        local_id=data.local_id,
        reason=data.reason or "attached through the API",
    )
    return identity, attached
