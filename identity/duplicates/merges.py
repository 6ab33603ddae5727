"""Merges: transactional, refused across two INS, undone exactly."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.duplicates import matcher
from identity.errors import IdentityNotFound, RuleConflict
from identity.referential import repository, rules
from identity.referential.history import ENTITY, emit, snapshot
from identity.referential.models import Identity, Merge
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import utcnow
from referentials.core.principal import SYSTEM

STATUS_RANK = {"QUAL": 3, "RECUP": 2, "VALI": 2, "PROV": 1}


def propose_survivor(a: Identity, b: Identity) -> Identity:
    """QUAL > RECUP ≈ VALI > PROV, then the older identity."""
    return min((a, b), key=lambda i: (-STATUS_RANK[i.status], i.created_at, i.id))


def ins_conflict(a: Identity, b: Identity) -> bool:
    """Two different valid active matricules not linked by INSi history: two people."""
    if not (a.ins_matricule and b.ins_matricule) or a.ins_matricule == b.ins_matricule:
        return False
    if not (rules.nir_key_is_valid(a.ins_matricule) and rules.nir_key_is_valid(b.ins_matricule)):
        return False
    linked_a = {str(h.get("matricule", ""))[:13] for h in a.ins_history or []}
    linked_b = {str(h.get("matricule", ""))[:13] for h in b.ins_history or []}
    return a.ins_matricule[:13] not in linked_b and b.ins_matricule[:13] not in linked_a


def _lock_pair(session: Session, first: int, second: int) -> tuple[Identity, Identity]:
    # The rows in id order, so two merges sharing an identity cannot deadlock.
    found = repository.lock_identities(session, (first, second))
    for ident in (first, second):
        if ident not in found:
            raise IdentityNotFound(f"no identity {ident}", fields={"id": ident})
    return found[first], found[second]


def _check_mergeable(survivor: Identity, loser: Identity, confirm_flagged: bool) -> None:
    if survivor.id == loser.id:
        raise RuleConflict("an identity cannot be merged into itself")
    for ident in (survivor, loser):
        if not ident.active:
            raise RuleConflict(
                f"identity {ident.id} was already merged into {ident.merged_into_id}",
                fields={"id": ident.id, "merged_into": ident.merged_into_id},
            )
    if ins_conflict(survivor, loser):
        raise RuleConflict(
            "the two identities carry different valid INS matricules that INSi does not link: "
            "they are two people",
            fields={"ins": "conflict"},
        )
    flagged = sorted((survivor.attribute_set | loser.attribute_set) & {"DOUT", "FICT"})
    if flagged and not confirm_flagged:
        raise RuleConflict(
            f"an identity is flagged {'/'.join(flagged)}: confirm the merge explicitly",
            fields={"confirm": "required"},
        )


def merge(
    session: Session,
    principal: Principal,
    *,
    survivor_id: int,
    loser_id: int,
    reason: str | None,
    pair_id: int | None = None,
    confirm_flagged: bool = False,
    automatic: bool = False,
) -> Merge:
    """Deactivate the loser into the survivor; its local ids move, its INS is kept as old."""
    survivor, loser = _lock_pair(session, survivor_id, loser_id)
    _check_mergeable(survivor, loser, confirm_flagged)
    loser_before, survivor_before = snapshot(loser), snapshot(survivor)
    moved = list(loser.sources)
    record = Merge(
        survivor_id=survivor.id,
        loser_id=loser.id,
        pair_id=pair_id,
        merged_by=principal.label,
        reason=reason,
        automatic=automatic,
        loser_snapshot=loser_before,
        moved_sources=[s.id for s in moved],
    )
    session.add(record)
    session.flush()
    for source in moved:
        source.identity_id = survivor.id
    if loser.ins_matricule and loser.ins_matricule != survivor.ins_matricule:
        survivor.ins_old = [
            *(survivor.ins_old or []),
            {
                "matricule": loser.ins_matricule,
                "oid": loser.ins_oid,
                "merge_id": record.id,
                "reason": f"merged from identity {loser.id}",
            },
        ]
    loser.active, loser.merged_into_id = False, survivor.id
    loser.updated_at = survivor.updated_at = utcnow()
    session.flush()
    session.expire(survivor, ["sources"])
    session.expire(loser, ["sources"])
    _supersede_open_pairs(session, loser.id, record.id)
    matcher.refresh_keys(session, loser)
    _audit_change(
        session,
        principal,
        loser,
        loser_before,
        "merged_into",
        f"merge {record.id}: {record.reason}",
    )
    _audit_change(
        session,
        principal,
        survivor,
        survivor_before,
        "merge_survivor",
        f"merge {record.id}: absorbed identity {loser.id}",
    )
    local_ids = [{"finess": s.finess, "local_id": s.local_id} for s in moved]
    emit(
        session,
        # An automatic merge is the service's rule, not the change its caller sent: a receiver
        # that skips its own changes must still hear that its new patient was merged.
        SYSTEM if automatic else principal,
        "identity.merged",
        survivor.id,
        survivor_id=survivor.id,
        loser_id=loser.id,
        merge_id=record.id,
        moved_local_ids=local_ids,
    )
    return record


def _audit_change(
    session: Session,
    principal: Principal,
    identity: Identity,
    before: dict[str, Any],
    action: str,
    reason: str,
) -> None:
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action=action,
        before=before,
        after=snapshot(identity),
        reason=reason,
    )


def _supersede_open_pairs(session: Session, loser_id: int, merge_id: int) -> None:
    for pair in repository.open_pairs_of(session, loser_id):
        pair.status, pair.merge_id, pair.updated_at = "superseded", merge_id, utcnow()


def get_merge(session: Session, merge_id: int) -> Merge:
    record = session.get(Merge, merge_id)
    if record is None:
        raise IdentityNotFound(f"no merge {merge_id}", fields={"id": merge_id})
    return record


_RESTORED = (
    "birth_name",
    "first_names",
    "sex",
    "birth_date_estimated",
    "birth_place_code",
    "used_name",
    "used_first_name",
    "status",
    "attributes",
    "ins_matricule",
    "ins_oid",
    "ins_history",
    "ins_collection_method",
    "ins_old",
    "validation_document",
)


def _restore(loser: Identity, snap: dict[str, Any]) -> None:
    for name in _RESTORED:
        setattr(loser, name, snap[name])
    loser.first_name = snap["first_names"].split(" ")[0]
    loser.birth_date = date.fromisoformat(snap["birth_date"])
    loser.validation_date = (
        date.fromisoformat(snap["validation_date"]) if snap["validation_date"] else None
    )
    loser.ins_retrieved_at = (
        datetime.fromisoformat(snap["ins_retrieved_at"]) if snap["ins_retrieved_at"] else None
    )
    loser.active, loser.merged_into_id = True, None


def undo(session: Session, principal: Principal, merge_id: int, *, reason: str | None) -> Merge:
    """Restore the loser as it was and give back its local ids; the survivor keeps its changes."""
    record = get_merge(session, merge_id)
    if record.undone_at is not None:
        raise RuleConflict(f"merge {merge_id} was already undone by {record.undone_by}")
    survivor, loser = _lock_pair(session, record.survivor_id, record.loser_id)
    if loser.active or loser.merged_into_id != survivor.id:
        raise RuleConflict(f"identity {loser.id} is no longer merged by merge {merge_id}")
    loser_before, survivor_before = snapshot(loser), snapshot(survivor)
    _restore(loser, record.loser_snapshot)
    given_back = []
    for source in repository.sources_by_id(session, record.moved_sources or []):
        source.identity_id = loser.id
        given_back.append({"finess": source.finess, "local_id": source.local_id})
    survivor.ins_old = [o for o in survivor.ins_old or [] if o.get("merge_id") != record.id] or None
    record.undone_at, record.undone_by, record.undo_reason = utcnow(), principal.label, reason
    loser.updated_at = survivor.updated_at = utcnow()
    session.flush()
    session.expire(survivor, ["sources"])
    session.expire(loser, ["sources"])
    _reopen_pairs(session, record)
    matcher.refresh_keys(session, loser)
    _audit_change(
        session, principal, loser, loser_before, "unmerged", f"undo of merge {merge_id}: {reason}"
    )
    _audit_change(
        session,
        principal,
        survivor,
        survivor_before,
        "unmerge_survivor",
        f"undo of merge {merge_id}",
    )
    emit(
        session,
        principal,
        "identity.unmerged",
        loser.id,
        survivor_id=survivor.id,
        loser_id=loser.id,
        merge_id=merge_id,
        returned_local_ids=given_back,
    )
    return record


def _reopen_pairs(session: Session, record: Merge) -> None:
    # The decided pair is the officer's mistake: back to the queue, as are the pairs the merge
    # had superseded.
    for pair in repository.pairs_of_merge(session, record.id):
        pair.status, pair.merge_id, pair.updated_at = "pending", None, utcnow()
        pair.decided_by = pair.decided_at = None


def list_merges(session: Session, *, limit: int, offset: int) -> tuple[list[Merge], int]:
    """Merges, newest first, with the total."""
    return repository.merges_page(session, limit=limit, offset=offset)
