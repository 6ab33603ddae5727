"""Shaping stored identities for callers: the INS only where the caller may see it."""

from __future__ import annotations

from identity.duplicates.matcher import Candidate, CandidateRow
from identity.duplicates.queue import explanation_of
from identity.referential.models import Identity
from identity.referential.rows import IdentityRow
from identity.referential.schemas import (
    CandidateRead,
    Explanation,
    HistoryEntry,
    IdentityRead,
    IdentityWriteResult,
    InsRead,
    PossibleDuplicate,
    SourceRead,
    StatusChange,
)
from referentials.core.audit import AuditEntry, changed_fields
from referentials.core.auth import Principal


def sees_ins(principal: Principal) -> bool:
    """Identity-vigilance staff see every INS with its status; others only a QUAL one."""
    return principal.has("identity:merge")


def _ins(identity: Identity | IdentityRow, principal: Principal) -> InsRead | None:
    if not identity.ins_matricule or not identity.ins_oid:
        return None
    if identity.status == "QUAL":
        because = "qualified"
    elif sees_ins(principal):
        because = "identity_vigilance"
    else:
        return None
    return InsRead(
        matricule=identity.ins_matricule,
        oid=identity.ins_oid,
        retrieved_at=identity.ins_retrieved_at,
        collection_method=identity.ins_collection_method,
        history=identity.ins_history or [],
        exposed_because=because,
    )


def to_read(identity: Identity | IdentityRow, principal: Principal) -> IdentityRead:
    return IdentityRead(
        id=identity.id,
        birth_name=identity.birth_name,
        first_names=identity.first_name_list,
        first_name=identity.first_name,
        sex=identity.sex,
        birth_date=identity.birth_date,
        birth_date_estimated=identity.birth_date_estimated,
        birth_place_code=identity.birth_place_code,
        used_name=identity.used_name,
        used_first_name=identity.used_first_name,
        status=identity.status,
        attributes=sorted(identity.attribute_set),
        ins=_ins(identity, principal),
        validation_document=identity.validation_document,
        validation_date=identity.validation_date,
        sources=[SourceRead(finess=s.finess, local_id=s.local_id) for s in identity.sources],
        active=identity.active,
        merged_into=identity.merged_into_id,
        version=identity.version,
        created_at=identity.created_at,
        updated_at=identity.updated_at,
    )


def to_write_result(
    identity: Identity,
    principal: Principal,
    *,
    change: StatusChange | None = None,
    created: bool | None = None,
    duplicates: list[Candidate] | None = None,
) -> IdentityWriteResult:
    base = to_read(identity, principal).model_dump()
    possible = [
        PossibleDuplicate(id=c.identity.id, score=c.pair.score, band=c.pair.band)
        for c in duplicates or []
    ]
    return IdentityWriteResult(
        **base, status_change=change, created=created, possible_duplicates=possible
    )


def to_candidate(candidate: Candidate | CandidateRow, principal: Principal) -> CandidateRead:
    return CandidateRead(
        id=candidate.identity.id,
        score=candidate.pair.score,
        band=candidate.pair.band,
        explanation=Explanation.model_validate(explanation_of(candidate.pair)),
        identity=to_read(candidate.identity, principal),
    )


_INS_KEYS = {"ins_matricule", "ins_history", "ins_old"}


def to_history(entry: AuditEntry, principal: Principal) -> HistoryEntry:
    """One audit entry; matricules are masked for callers who may not see them."""
    changes = None
    if entry.before is not None or entry.after is not None:
        changes = changed_fields(entry.before or {}, entry.after or {})
        if not sees_ins(principal):
            for key in _INS_KEYS & changes.keys():
                changes[key] = {"before": "***", "after": "***"}
    return HistoryEntry(
        at=entry.at, actor=entry.actor, action=entry.action, changes=changes, reason=entry.reason
    )
