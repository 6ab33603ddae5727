"""What an ADT message does to the referential, through the identity services and rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from identity.duplicates import merges
from identity.errors import TraitError
from identity.hl7v2.message import Adt, Hl7Problem
from identity.hl7v2.policy import InsVerdict
from identity.referential import local_ids, rules, service
from identity.referential.history import ENTITY, emit
from identity.referential.models import Identity
from identity.referential.schemas import (
    AttributeRequest,
    IdentityCreate,
    IdentityUpdate,
    SourceRef,
)
from identity.referential.traits import STRICT_TRAITS, normalized_fields
from referentials.core import audit
from referentials.core.auth import Principal

COMPLEMENTARY = ("used_name", "used_first_name")


@dataclass
class Done:
    identity_id: int
    text: str
    warnings: list[str] = field(default_factory=list)


def _fields(adt: Adt) -> dict[str, Any]:
    """The traits the message carries (absent ones are left as stored)."""
    values: dict[str, Any] = {
        "birth_name": adt.birth_name,
        "first_names": adt.first_names or None,
        "sex": adt.sex,
        "birth_date": adt.birth_date,
        "birth_place_code": adt.birth_place_code,
        "used_name": adt.used_name,
        "used_first_name": adt.used_first_name,
    }
    return {k: v for k, v in values.items() if v is not None}


def _invalid(exc: ValidationError | TraitError) -> Hl7Problem:
    if isinstance(exc, TraitError):
        return Hl7Problem("AE", "102", f"PID: {exc.message}", "PID^1^5")
    fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")}))
    return Hl7Problem("AE", "101", f"PID: missing or invalid trait(s): {fields}", "PID")


def _twin(session: Session, data: IdentityCreate, ins: InsVerdict) -> Identity | None:
    """The active QUAL identity holding the trusted INS, when its strict traits agree."""
    if ins.matricule is None or ins.oid is None:
        return None
    holder = service.find_qualified_by_ins(session, matricule=ins.matricule, oid=ins.oid)
    if holder is None or not holder.active:
        return None
    wanted = normalized_fields(data, date.today())
    same = all(wanted.get(f) == getattr(holder, f) for f in STRICT_TRAITS if f in wanted)
    return holder if same else None


def _attach(session: Session, principal: Principal, identity: Identity, ref: SourceRef) -> None:
    local_ids.attach(
        session,
        principal,
        identity,
        finess=ref.finess,
        local_id=ref.local_id,
        reason="HL7 ADT with the qualified INS of this identity",
    )


def missing_attributes(identity: Identity, adt: Adt) -> list[str]:
    """PID-32's RNIV attributes that the identity does not carry."""
    return sorted(set(adt.attribute_codes) - identity.attribute_set)


def add_attributes(session: Session, principal: Principal, identity: Identity, adt: Adt) -> Done:
    """Set the attributes PID-32 declares and the identity lacks (A28/A31, or the identity a
    movement creates). A message never removes one: the identity is shared by the region's
    establishments, and lifting an attribute is an identity-vigilance officer's decision."""
    missing = missing_attributes(identity, adt)
    done = Done(identity.id, "")
    if not missing:
        return done
    try:
        rules.check_attributes(identity.attribute_set | set(missing))
    except TraitError as exc:
        done.warnings.append(
            f"PID-32: {', '.join(missing)} not set on identity {identity.id}: {exc.message}"
        )
        return done
    for code in missing:
        request = AttributeRequest(code=code, reason=f"HL7 ADT^{adt.header.event} PID-32")
        service.add_attribute(session, principal, identity.id, data=request)
    done.text = f"attribute(s) {', '.join(missing)} set"
    return done


def _with_attributes(
    session: Session, principal: Principal, identity: Identity, adt: Adt, done: Done
) -> Done:
    added = add_attributes(session, principal, identity, adt)
    if added.text:
        done.text = f"{done.text}; {added.text}"
    done.warnings += added.warnings
    return done


def create_identity(
    session: Session, principal: Principal, adt: Adt, ref: SourceRef, ins: InsVerdict
) -> Done:
    try:
        data = IdentityCreate(**_fields(adt), source=ref)
        twin = _twin(session, data, ins)
    except (ValidationError, TraitError) as exc:
        raise _invalid(exc) from exc
    if twin is not None:
        _attach(session, principal, twin, ref)
        done = Done(twin.id, f"local id attached to identity {twin.id} (same qualified INS)")
        return _with_attributes(session, principal, twin, adt, done)
    try:
        outcome = service.create(session, principal, data=data)
    except TraitError as exc:
        raise _invalid(exc) from exc
    done = Done(outcome.identity.id, f"identity {outcome.identity.id} created")
    return _with_attributes(session, principal, outcome.identity, adt, done)


def changes(identity: Identity, adt: Adt) -> tuple[dict[str, Any], list[str]]:
    """Traits that differ from the stored ones; strict ones of an INSi identity are kept."""
    try:
        given = normalized_fields(IdentityUpdate(**_fields(adt)), date.today())
    except (ValidationError, TraitError) as exc:
        raise _invalid(exc) from exc
    given.pop("first_name", None)
    changed = {k: v for k, v in given.items() if getattr(identity, k) != v}
    warnings = []
    if identity.status in ("RECUP", "QUAL"):
        kept = sorted(k for k in changed if k not in COMPLEMENTARY)
        if kept:
            warnings.append(
                f"identity {identity.id} holds INSi traits: {', '.join(kept)} not changed"
            )
        changed = {k: v for k, v in changed.items() if k in COMPLEMENTARY}
    return changed, warnings


def upsert(
    session: Session, principal: Principal, adt: Adt, ref: SourceRef, ins: InsVerdict
) -> Done:
    """A28/A31: create the identity of a new local id, or bring a known one up to date."""
    identity = service.find_by_source(session, finess=ref.finess, local_id=ref.local_id)
    if identity is None:
        return create_identity(session, principal, adt, ref, ins)
    changed, warnings = changes(identity, adt)
    if not changed:
        done = Done(identity.id, f"identity {identity.id} unchanged", warnings)
        return _with_attributes(session, principal, identity, adt, done)
    data = IdentityUpdate(**_raw(adt, changed), reason=f"HL7 ADT^{adt.header.event}")
    try:
        service.update(session, principal, identity.id, data=data, expected_version=None)
    except TraitError as exc:
        raise _invalid(exc) from exc
    done = Done(identity.id, f"identity {identity.id} updated", warnings)
    return _with_attributes(session, principal, identity, adt, done)


def _raw(adt: Adt, changed: dict[str, Any]) -> dict[str, Any]:
    # IdentityUpdate takes the values as received; the service normalises them again.
    return {k: v for k, v in _fields(adt).items() if k in changed}


def _known(session: Session, finess: str, local_id: str, where: str) -> Identity:
    identity = service.find_by_source(session, finess=finess, local_id=local_id)
    if identity is None:
        raise Hl7Problem("AE", "204", f"{where}: local id unknown in this establishment", where)
    return identity


def merge(session: Session, principal: Principal, finess: str, kept: str, gone: str) -> Done:
    """A40: the identity of MRG-1's local id merges into the one of PID-3's."""
    loser = _known(session, finess, gone, "MRG^1^1")
    survivor = _known(session, finess, kept, "PID^1^3")
    if loser.id == survivor.id:
        return Done(survivor.id, f"already one identity ({survivor.id})")
    record = merges.merge(
        session,
        principal,
        survivor_id=survivor.id,
        loser_id=loser.id,
        reason=f"HL7 ADT^A40 from establishment {finess}",
    )
    return Done(survivor.id, f"identity {loser.id} merged into {survivor.id} (merge {record.id})")


def change_local_id(
    session: Session, principal: Principal, finess: str, new: str, old: str
) -> Done:
    """A47: the establishment renumbers a patient; the identity keeps everything else."""
    identity = _known(session, finess, old, "MRG^1^1")
    if service.find_by_source(session, finess=finess, local_id=new) is not None:
        raise Hl7Problem("AE", "205", "PID-3: the new local id is already in use", "PID^1^3")
    record = next(s for s in identity.sources if s.finess == finess and s.local_id == old)
    record.local_id = new
    session.flush()
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action="local_id_changed",
        before={"finess": finess, "local_id": old},
        after={"finess": finess, "local_id": new},
        reason="HL7 ADT^A47",
    )
    emit(
        session,
        principal,
        "identity.local_id_changed",
        identity.id,
        finess=finess,
        old=old,
        new=new,
    )
    return Done(identity.id, f"local id of identity {identity.id} changed")
