"""Business rules of the identity referential: creation, changes, validation, attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.duplicates.matcher import Candidate
from identity.errors import IdentityNotFound, RuleConflict, StaleVersion
from identity.referential import repository, rules, status
from identity.referential.history import ENTITY, emit, snapshot
from identity.referential.models import Identity, SourceRecord
from identity.referential.schemas import (
    AttributeRequest,
    IdentityCreate,
    IdentityUpdate,
    StatusChange,
    ValidationRequest,
)
from identity.referential.traits import STRICT_TRAITS, normalized_fields
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import utcnow


def not_found(identity_id: int) -> IdentityNotFound:
    """The 404 of an unknown identity id."""
    return IdentityNotFound(f"no identity {identity_id}", fields={"id": identity_id})


def check_active(identity_id: int, active: bool, merged_into_id: int | None) -> None:
    """409 for an identity merged into another (inactive)."""
    if not active:
        raise RuleConflict(
            f"identity {identity_id} was merged into {merged_into_id} and is inactive",
            fields={"merged_into": merged_into_id},
        )


def get(session: Session, identity_id: int) -> Identity:
    """One identity, active or not; 404 when unknown."""
    identity = repository.get(session, identity_id)
    if identity is None:
        raise not_found(identity_id)
    return identity


def find(session: Session, identity_id: int) -> Identity | None:
    """One identity, active or not, or None: for callers that answer 'not found' their own way."""
    return repository.get(session, identity_id)


def find_by_source(session: Session, *, finess: str, local_id: str) -> Identity | None:
    """The identity holding an establishment's local id, or None."""
    return repository.by_source(session, finess, local_id)


def find_qualified_by_ins(session: Session, *, matricule: str, oid: str) -> Identity | None:
    """The QUAL identity carrying this INS, the survivor first."""
    return repository.qualified_by_ins(session, matricule, oid)


def get_by_source(session: Session, *, finess: str, local_id: str) -> Identity:
    identity = repository.by_source(session, finess, local_id)
    if identity is None:
        raise IdentityNotFound("no identity holds this local id", fields={"source_finess": finess})
    return identity


@dataclass
class WriteOutcome:
    """An identity after a write, with what the write did."""

    identity: Identity
    created: bool = False
    status_change: StatusChange | None = None
    duplicates: list[Candidate] = field(default_factory=list)
    # The INS was cleared by traits checked on a document: INSi is to be asked again.
    recheck_insi: bool = False


def create(
    session: Session,
    principal: Principal,
    *,
    data: IdentityCreate,
    fields: dict[str, Any] | None = None,
) -> WriteOutcome:
    """Create a PROV identity and queue its likely duplicates; idempotent on the source.

    ``fields``: ``data``'s normalised traits, when the caller computed them already.
    """
    if data.source is not None:
        existing = repository.by_source(session, data.source.finess, data.source.local_id)
        if existing is not None:
            return WriteOutcome(existing)
    fields = fields or normalized_fields(data, date.today())
    identity = Identity(status="PROV", attributes="", active=True, **fields)
    # Scored before the first write: the write transaction then only writes.
    found = duplicates.find_for(session, identity)
    # Set, not loaded: queueing its pairs reads it, and a lazy load would be one more query.
    identity.sources = (
        [SourceRecord(finess=data.source.finess, local_id=data.source.local_id)]
        if data.source is not None
        else []
    )
    try:
        insert_new(session, identity, savepoint=data.source is not None)
    except IntegrityError:
        if data.source is None:
            raise
        existing = repository.by_source(session, data.source.finess, data.source.local_id)
        if existing is None:
            raise
        return WriteOutcome(existing)
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action="create",
        after=snapshot(identity),
    )
    emit(session, principal, "identity.created", identity.id, status=identity.status)
    found = duplicates.check_after_write(session, principal, identity, found, new=True)
    return WriteOutcome(identity, created=True, duplicates=found)


def insert_new(session: Session, identity: Identity, *, savepoint: bool) -> None:
    """Insert a new identity (and its source record); with a local id, inside a savepoint,
    so that a concurrent creation of the same local id ends in a lookup, not a 500."""
    if not savepoint:
        session.add(identity)
        session.flush()
        return
    with session.begin_nested():
        session.add(identity)
        session.flush()


def _check_version(identity: Identity, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != identity.version:
        raise StaleVersion(
            f"identity {identity.id} is at version {identity.version}, "
            f"not {expected_version}: reload it and apply the change again",
            fields={"version": identity.version},
        )


def finish_change(
    session: Session,
    principal: Principal,
    identity: Identity,
    before: dict[str, Any],
    *,
    action: str,
    reason: str | None,
    change: StatusChange | None,
) -> None:
    identity.updated_at = utcnow()
    session.flush()
    after = snapshot(identity)
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action=action,
        before=before,
        after=after,
        reason=reason,
    )
    emit(
        session,
        principal,
        "identity.updated",
        identity.id,
        changed=sorted(audit.changed_fields(before, after)),
    )
    if change is not None:
        emit(
            session,
            principal,
            "identity.status_changed",
            identity.id,
            before=change.before,
            after=change.after,
            reason=change.reason,
        )


def update(
    session: Session,
    principal: Principal,
    identity_id: int,
    *,
    data: IdentityUpdate,
    expected_version: int | None,
) -> WriteOutcome:
    """Change traits; a strict-trait change clears the INS and the document validation,
    unless the request gives the document the new traits were checked on."""
    identity = get_active(session, identity_id)
    _check_version(identity, expected_version)
    fields = normalized_fields(data, date.today())
    document = status.document_of(identity, data.document_type) if data.document_type else None
    before = snapshot(identity)
    strict_changed = [f for f in STRICT_TRAITS if f in fields and fields[f] != getattr(identity, f)]
    had_ins = bool(identity.ins_matricule)
    for name, value in fields.items():
        setattr(identity, name, value)
    change = None
    if strict_changed:
        change = status.after_strict_change(identity, strict_changed, document, data.validated_at)
    elif document is not None:
        status.set_validation(identity, document, data.validated_at)
        change = status.recompute_status(identity, f"identity document checked ({document})")
    # Scored before the first write (nothing is flushed yet): the write transaction only writes.
    found = duplicates.find_for(session, identity)
    finish_change(
        session, principal, identity, before, action="update", reason=data.reason, change=change
    )
    found = duplicates.check_after_write(session, principal, identity, found)
    recheck = bool(strict_changed) and had_ins and document is not None
    return WriteOutcome(identity, status_change=change, duplicates=found, recheck_insi=recheck)


def get_active(session: Session, identity_id: int) -> Identity:
    identity = get(session, identity_id)
    check_active(identity_id, identity.active, identity.merged_into_id)
    return identity


def validate(
    session: Session, principal: Principal, identity_id: int, *, data: ValidationRequest
) -> tuple[Identity, StatusChange | None]:
    """Record a high-trust document check: PROV→VALI, RECUP→QUAL."""
    identity = get_active(session, identity_id)
    document = status.document_of(identity, data.document_type)
    before = snapshot(identity)
    status.set_validation(identity, document, data.validated_at)
    change = status.recompute_status(identity, f"identity document checked ({document})")
    finish_change(
        session, principal, identity, before, action="validate", reason=document, change=change
    )
    return identity, change


def add_attribute(
    session: Session, principal: Principal, identity_id: int, *, data: AttributeRequest
) -> tuple[Identity, StatusChange | None]:
    """Set HOMA/DOUT/FICT; DOUT and FICT force PROV and invalidate the INS."""
    identity = get_active(session, identity_id)
    attributes = identity.attribute_set | {data.code}
    rules.check_attributes(attributes)
    before = snapshot(identity)
    identity.attributes = ",".join(sorted(attributes))
    change = None
    if rules.forbids_insi(attributes):
        reason = f"attribute {data.code} forces PROV and invalidates the INS"
        status.clear_ins(identity, reason)
        identity.validation_document = None
        identity.validation_date = None
        change = status.recompute_status(identity, reason)
    finish_change(
        session,
        principal,
        identity,
        before,
        action="attribute_add",
        reason=data.reason,
        change=change,
    )
    return identity, change


def remove_attribute(
    session: Session, principal: Principal, identity_id: int, *, code: str
) -> Identity:
    """Remove an attribute; the status stays as it is until a new check or INSi call."""
    identity = get_active(session, identity_id)
    if code not in identity.attribute_set:
        raise IdentityNotFound(
            f"identity {identity_id} does not carry the attribute {code}", fields={"code": code}
        )
    before = snapshot(identity)
    identity.attributes = ",".join(sorted(identity.attribute_set - {code}))
    finish_change(
        session, principal, identity, before, action="attribute_remove", reason=None, change=None
    )
    return identity


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
    """Search on traits normalised as stored (accents and case do not matter)."""
    name = rules.normalize_trait(birth_name, "birth_name", birth_name=True) if birth_name else None
    first = rules.normalize_trait(first_name, "first_name") if first_name else None
    return repository.search(
        session,
        birth_name=name,
        first_name=first,
        birth_date=birth_date,
        source_finess=source_finess,
        include_inactive=include_inactive,
        limit=limit,
        offset=offset,
    )


def history(session: Session, identity_id: int) -> list[audit.AuditEntry]:
    """The audit trail of one identity, oldest first."""
    get(session, identity_id)
    return audit.list_for(session, entity_type=ENTITY, entity_id=identity_id)
