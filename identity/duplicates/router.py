"""The merge queue API (scope identity:merge) and the merges with their undo."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from identity.duplicates import merges, queue
from identity.duplicates import presenter as qp
from identity.errors import RuleConflict
from identity.referential import repository, service
from identity.referential.history import ENTITY
from identity.referential.schemas import (
    CommentRead,
    CommentRequest,
    DecisionRequest,
    DecisionResult,
    MergeRead,
    PairDetail,
    PairSummary,
    UndoRequest,
)
from referentials.core import audit
from referentials.core.auth import DbSession, Principal, require
from referentials.core.errors import ValidationFailed
from referentials.core.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/api/v1", tags=["duplicates"])
merge_scope = require("identity:merge")


@router.get("/duplicates", response_model=Page[PairSummary])
def list_pairs(
    *,
    status: Literal["pending", "deferred", "merged", "not_duplicate", "superseded"] | None = Query(
        "pending"
    ),
    band: Literal["match", "review"] | None = None,
    min_score: float | None = None,
    finess: str | None = Query(None, description="an establishment knowing either identity"),
    older_than_days: int | None = Query(None, ge=0),
    sort: Literal["priority", "score", "age", "recent"] = "priority",
    page: PageParams = Depends(page_params),
    session: DbSession,
    principal: Principal = Depends(merge_scope),
) -> Page[PairSummary]:
    """Pairs of likely duplicates, filtered and sorted (priority: score, then age)."""
    rows, total = repository.list_pairs(
        session,
        status=status,
        band=band,
        min_score=min_score,
        finess=finess,
        older_than_days=older_than_days,
        sort=sort,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[qp.to_summary(p) for p in rows], total=total, limit=page.limit, offset=page.offset
    )


def _detail(session: DbSession, pair_id: int, principal: Principal) -> PairDetail:
    pair = queue.get(session, pair_id)
    left, right = service.get(session, pair.left_id), service.get(session, pair.right_id)
    return qp.to_detail(pair, left, right, queue.comments(session, pair_id), principal)


@router.get("/duplicates/{pair_id}", response_model=PairDetail)
def read_pair(
    pair_id: int,
    *,
    purpose: audit.Purpose = None,
    session: DbSession,
    principal: Principal = Depends(merge_scope),
) -> PairDetail:
    """Both identities side by side, their differences and the explanation (reads recorded)."""
    detail = _detail(session, pair_id, principal)
    pair = queue.get(session, pair_id)
    audit.record_access(
        session,
        principal,
        entity_type=ENTITY,
        entity_ids=[pair.left_id, pair.right_id],
        purpose=purpose,
    )
    return detail


@router.post("/duplicates/{pair_id}/claim", response_model=PairSummary)
def claim_pair(
    pair_id: int, *, session: DbSession, principal: Principal = Depends(merge_scope)
) -> PairSummary:
    """Reserve a pair (30 minutes) so that two officers do not work on it at once."""
    return qp.to_summary(queue.claim(session, principal, pair_id))


@router.post("/duplicates/{pair_id}/release", response_model=PairSummary)
def release_pair(
    pair_id: int, *, session: DbSession, principal: Principal = Depends(merge_scope)
) -> PairSummary:
    """Give a claimed pair back to the queue."""
    return qp.to_summary(queue.release(session, principal, pair_id))


@router.post("/duplicates/{pair_id}/decision", response_model=DecisionResult)
def decide_pair(
    pair_id: int,
    body: DecisionRequest,
    *,
    session: DbSession,
    principal: Principal = Depends(merge_scope),
) -> DecisionResult:
    """Merge, mark as not a duplicate, or defer; a pair already decided gets 409."""
    return decide(session, principal, pair_id, body)


def decide(
    session: DbSession, principal: Principal, pair_id: int, body: DecisionRequest
) -> DecisionResult:
    """Shared by the API and the pages."""
    pair = queue.get(session, pair_id)
    if pair.status not in queue.OPEN:
        raise RuleConflict(
            f"pair {pair_id} was already decided ({pair.status}) by {pair.decided_by}",
            fields={"status": pair.status},
        )
    if body.decision == "defer":
        queue.defer(session, principal, pair, body.reason)
        return DecisionResult(pair=qp.to_summary(pair))
    if body.decision == "not_duplicate":
        queue.close(session, principal, pair, status="not_duplicate", reason=body.reason)
        return DecisionResult(pair=qp.to_summary(pair))
    left, right = service.get(session, pair.left_id), service.get(session, pair.right_id)
    survivor_id = body.survivor_id or merges.propose_survivor(left, right).id
    if survivor_id not in (pair.left_id, pair.right_id):
        raise ValidationFailed(
            "survivor_id must be one of the pair's identities", fields={"survivor_id": survivor_id}
        )
    loser_id = pair.right_id if survivor_id == pair.left_id else pair.left_id
    queue.close(session, principal, pair, status="merged", reason=body.reason)
    record = merges.merge(
        session,
        principal,
        survivor_id=survivor_id,
        loser_id=loser_id,
        reason=body.reason,
        pair_id=pair.id,
        confirm_flagged=body.confirm_flagged,
    )
    pair.merge_id = record.id
    return DecisionResult(pair=qp.to_summary(pair), merge_id=record.id)


@router.get("/duplicates/{pair_id}/comments", response_model=list[CommentRead])
def list_comments(
    pair_id: int, *, session: DbSession, principal: Principal = Depends(merge_scope)
) -> list[CommentRead]:
    """The officers' comments on a pair."""
    queue.get(session, pair_id)
    return [
        CommentRead(id=c.id, author=c.author, text=c.text, at=c.at)
        for c in queue.comments(session, pair_id)
    ]


@router.post("/duplicates/{pair_id}/comments", response_model=CommentRead, status_code=201)
def add_comment(
    pair_id: int,
    body: CommentRequest,
    *,
    session: DbSession,
    principal: Principal = Depends(merge_scope),
) -> CommentRead:
    """Add a comment to a pair."""
    c = queue.comment(session, principal, pair_id, body.text)
    return CommentRead(id=c.id, author=c.author, text=c.text, at=c.at)


@router.get("/merges", response_model=Page[MergeRead])
def list_merges(
    *,
    page: PageParams = Depends(page_params),
    session: DbSession,
    principal: Principal = Depends(merge_scope),
) -> Page[MergeRead]:
    """Merges, newest first, with their undo when there was one."""
    rows, total = merges.list_merges(session, limit=page.limit, offset=page.offset)
    return Page(
        items=[qp.to_merge(m) for m in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/merges/{merge_id}", response_model=MergeRead)
def read_merge(
    merge_id: int, *, session: DbSession, principal: Principal = Depends(merge_scope)
) -> MergeRead:
    """One merge."""
    return qp.to_merge(merges.get_merge(session, merge_id))


@router.post("/merges/{merge_id}/undo", response_model=MergeRead)
def undo_merge(
    merge_id: int,
    body: UndoRequest,
    *,
    session: DbSession,
    principal: Principal = Depends(merge_scope),
) -> MergeRead:
    """Restore the loser exactly as it was and give back its local ids."""
    return qp.to_merge(merges.undo(session, principal, merge_id, reason=body.reason))
