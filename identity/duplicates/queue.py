"""The merge queue: pairs queued idempotently, claimed, decided once."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from identity.errors import IdentityNotFound, RuleConflict
from identity.referential import repository
from identity.referential.models import DuplicatePair, Identity, PairComment
from matching.scoring import ScoredPair
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import utcnow

OPEN = ("pending", "deferred")
CLAIM_TTL = timedelta(minutes=30)


def signature(a: Identity, b: Identity) -> str:
    """A digest of both sides' strict traits: a 'not a duplicate' holds while it is unchanged."""
    parts = []
    for ident in sorted((a, b), key=lambda i: i.id):
        parts.append(
            "|".join(
                [
                    ident.birth_name,
                    ident.first_names,
                    ident.sex,
                    ident.birth_date.isoformat(),
                    ident.birth_place_code or "",
                ]
            )
        )
    return hashlib.sha256("#".join(parts).encode()).hexdigest()


def explanation_of(pair: ScoredPair) -> dict[str, Any]:
    return {
        "contributions": [
            {"field": c.field, "level": c.level, "weight": round(c.weight, 3)}
            for c in pair.contributions
        ],
        "rules": list(pair.rules),
    }


def _establishments(a: Identity, b: Identity) -> str:
    return " ".join(sorted({s.finess for s in [*a.sources, *b.sources]}))


def enqueue(
    session: Session,
    a: Identity,
    b: Identity,
    scored: ScoredPair,
    *,
    origin: str,
    new: bool = False,
) -> DuplicatePair | None:
    """Queue a pair in the review band or above; returns it, or None when it stays closed.

    ``new``: ``a`` was created in this transaction, so no pair of it exists yet and no other
    transaction can queue one: no lookup, no savepoint (the write stays a few statements).
    """
    left, right = sorted((a, b), key=lambda i: i.id)
    sig = signature(left, right)
    existing = None if new else repository.pair_between(session, left.id, right.id)
    if existing is not None:
        if existing.status in OPEN:
            existing.score, existing.band = scored.score, scored.band
            existing.explanation = explanation_of(scored)
            existing.signature = sig
            return existing
        if existing.status == "not_duplicate" and existing.signature != sig:
            # A strict trait changed on either side: the old decision no longer stands.
            existing.status = "pending"
            existing.score, existing.band = scored.score, scored.band
            existing.explanation = explanation_of(scored)
            existing.signature, existing.updated_at = sig, utcnow()
            return existing
        return None
    pair = DuplicatePair(
        left_id=left.id,
        right_id=right.id,
        score=scored.score,
        band=scored.band,
        explanation=explanation_of(scored),
        status="pending",
        origin=origin,
        establishments=_establishments(left, right),
        signature=sig,
    )
    if new:
        session.add(pair)
        return pair
    with session.begin_nested():
        session.add(pair)
    return pair


def get(session: Session, pair_id: int) -> DuplicatePair:
    pair = session.get(DuplicatePair, pair_id)
    if pair is None:
        raise IdentityNotFound(f"no duplicate pair {pair_id}", fields={"id": pair_id})
    return pair


def _claim_holder(pair: DuplicatePair) -> str | None:
    if pair.claimed_by and pair.claimed_at and pair.claimed_at > utcnow() - CLAIM_TTL:
        return pair.claimed_by
    return None


def claim(session: Session, principal: Principal, pair_id: int) -> DuplicatePair:
    """Reserve a pair for 30 minutes so two officers do not work on it at once."""
    pair = get(session, pair_id)
    holder = _claim_holder(pair)
    if pair.status not in OPEN:
        raise RuleConflict(f"pair {pair_id} is already decided ({pair.status})")
    if holder and holder != principal.label:
        raise RuleConflict(f"pair {pair_id} is being worked on by {holder}")
    cutoff = utcnow() - CLAIM_TTL
    claimed = session.execute(
        update(DuplicatePair)
        .where(DuplicatePair.id == pair_id, DuplicatePair.status.in_(OPEN))
        .where(
            (DuplicatePair.claimed_by.is_(None))
            | (DuplicatePair.claimed_by == principal.label)
            | (DuplicatePair.claimed_at < cutoff)
        )
        .values(claimed_by=principal.label, claimed_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise RuleConflict(f"pair {pair_id} was claimed by someone else meanwhile")
    session.refresh(pair)
    return pair


def release(session: Session, principal: Principal, pair_id: int) -> DuplicatePair:
    pair = get(session, pair_id)
    holder = _claim_holder(pair)
    if holder and holder != principal.label and not principal.has("admin"):
        raise RuleConflict(f"pair {pair_id} is held by {holder}")
    pair.claimed_by, pair.claimed_at = None, None
    return pair


def close(
    session: Session,
    principal: Principal,
    pair: DuplicatePair,
    *,
    status: str,
    reason: str | None,
    merge_id: int | None = None,
) -> None:
    """Decide a pair exactly once: a concurrent second decision gets 409."""
    holder = _claim_holder(pair)
    if holder and holder != principal.label:
        raise RuleConflict(f"pair {pair.id} is being worked on by {holder}")
    done = session.execute(
        update(DuplicatePair)
        .where(DuplicatePair.id == pair.id, DuplicatePair.status.in_(OPEN))
        .values(
            status=status,
            decided_by=principal.label,
            decided_at=utcnow(),
            decision_reason=reason,
            merge_id=merge_id,
            claimed_by=None,
            claimed_at=None,
            updated_at=utcnow(),
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(pair)
        raise RuleConflict(
            f"pair {pair.id} was already decided ({pair.status}) by {pair.decided_by}",
            fields={"status": pair.status},
        )
    session.refresh(pair)
    audit.record(
        session,
        principal,
        entity_type="duplicate_pair",
        entity_id=pair.id,
        action=f"decision_{status}",
        after={"status": status, "merge_id": merge_id},
        reason=reason,
    )


def defer(session: Session, principal: Principal, pair: DuplicatePair, reason: str | None) -> None:
    """Put a pair aside; it stays open."""
    if pair.status not in OPEN:
        raise RuleConflict(f"pair {pair.id} was already decided ({pair.status})")
    pair.status, pair.decision_reason = "deferred", reason
    pair.claimed_by, pair.claimed_at, pair.updated_at = None, None, utcnow()
    audit.record(
        session,
        principal,
        entity_type="duplicate_pair",
        entity_id=pair.id,
        action="decision_defer",
        reason=reason,
    )


def comment(session: Session, principal: Principal, pair_id: int, text: str) -> PairComment:
    get(session, pair_id)
    entry = PairComment(pair_id=pair_id, author=principal.label, text=text)
    session.add(entry)
    session.flush()
    return entry


def comments(session: Session, pair_id: int) -> list[PairComment]:
    return repository.comments_of(session, pair_id)
