"""GET /api/v1/audit (admin): the audit trail, filtered and paginated; read-only by design."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from referentials.core import audit
from referentials.core.auth import DbSession, Principal, require
from referentials.core.errors import ValidationFailed
from referentials.core.pagination import Page, PageParams, page_params

# No route here changes the trail: it is written only by the services, in their transactions.
router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditRead(BaseModel):
    """One entry of the trail: a change (with before/after) or an access (with its purpose)."""

    id: int
    at: datetime
    actor: str
    actor_key_id: int | None
    entity_type: str
    entity_id: str
    action: str
    reason: str | None
    purpose: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _utc(moment: datetime | None) -> datetime | None:
    # A time without a zone is taken as UTC, the zone the trail is stored in.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("", response_model=Page[AuditRead])
def list_audit(
    *,
    entity_type: str | None = Query(None, max_length=40, description="e.g. identity"),
    entity_id: str | None = Query(None, max_length=64),
    actor: str | None = Query(None, max_length=200, description="label, e.g. key:3:client"),
    actor_key_id: int | None = Query(None, ge=1),
    action: str | None = Query(None, max_length=60, description="e.g. read, update, merged_into"),
    since: datetime | None = Query(None, alias="from", description="at or after (ISO 8601)"),
    until: datetime | None = Query(None, alias="to", description="before (ISO 8601)"),
    page: PageParams = Depends(page_params),
    session: DbSession,
    principal: Principal = Depends(require("admin")),
) -> Page[AuditRead]:
    """Audit entries, newest first: changes and reads of records, by whom, when and why."""
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since > until:
        raise ValidationFailed("from is after to", fields={"from": since.isoformat()})
    query = audit.AuditQuery(entity_type, entity_id, actor, actor_key_id, action, since, until)
    rows, total = audit.search(session, query, limit=page.limit, offset=page.offset)
    items = [AuditRead.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
