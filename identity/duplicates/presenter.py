"""Shaping queue pairs and merges for the API and the pages."""

from __future__ import annotations

from typing import Any

from identity.duplicates import merges
from identity.referential import presenter
from identity.referential.models import DuplicatePair, Identity, Merge, PairComment
from identity.referential.schemas import (
    CommentRead,
    Explanation,
    MergeRead,
    PairDetail,
    PairSummary,
    TraitDifference,
)
from referentials.core.auth import Principal
from referentials.core.db import utcnow

COMPARED = (
    "birth_name",
    "first_names",
    "sex",
    "birth_date",
    "birth_place_code",
    "used_name",
    "used_first_name",
    "status",
    "attributes",
)


def to_summary(pair: DuplicatePair) -> PairSummary:
    return PairSummary(
        id=pair.id,
        left_id=pair.left_id,
        right_id=pair.right_id,
        score=pair.score,
        band=pair.band,
        status=pair.status,
        origin=pair.origin,
        establishments=pair.establishments.split(),
        claimed_by=pair.claimed_by,
        decided_by=pair.decided_by,
        decided_at=pair.decided_at,
        merge_id=pair.merge_id,
        created_at=pair.created_at,
        age_days=(utcnow() - pair.created_at).days,
    )


def differences(left: Identity, right: Identity) -> list[TraitDifference]:
    out = []
    for name in COMPARED:
        a: Any = getattr(left, name)
        b: Any = getattr(right, name)
        if a != b:
            out.append(TraitDifference(field=name, left=a, right=b))
    return out


def to_detail(
    pair: DuplicatePair,
    left: Identity,
    right: Identity,
    comments: list[PairComment],
    principal: Principal,
) -> PairDetail:
    return PairDetail(
        **to_summary(pair).model_dump(),
        left=presenter.to_read(left, principal),
        right=presenter.to_read(right, principal),
        differences=differences(left, right),
        explanation=Explanation.model_validate(pair.explanation),
        proposed_survivor_id=merges.propose_survivor(left, right).id,
        decision_reason=pair.decision_reason,
        comments=[CommentRead(id=c.id, author=c.author, text=c.text, at=c.at) for c in comments],
    )


def to_merge(record: Merge) -> MergeRead:
    return MergeRead(
        id=record.id,
        survivor_id=record.survivor_id,
        loser_id=record.loser_id,
        pair_id=record.pair_id,
        merged_by=record.merged_by,
        merged_at=record.merged_at,
        reason=record.reason,
        automatic=record.automatic,
        moved_local_ids=len(record.moved_sources or []),
        undone_at=record.undone_at,
        undone_by=record.undone_by,
        undo_reason=record.undo_reason,
    )
