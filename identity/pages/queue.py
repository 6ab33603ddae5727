"""The duplicate queue: likely pairs, filtered, sorted and paged (the pair page: pages_pair)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from identity.duplicates import presenter as qp
from identity.pages.common import BAND, DONE, PAIR_STATUS, Officer, helpers, query
from identity.referential import repository, service
from referentials.core.auth import DbSession
from referentials.core.web import User, render

router = APIRouter()
PAGE_SIZE = 25
SORTS = {"priority": "Priorité (score puis ancienneté)", "score": "Score", "age": "Ancienneté"}


@dataclass(frozen=True)
class QueueFilters:
    status: str = "pending"
    band: str = ""
    min_score: str = ""
    finess: str = ""
    older_than_days: str = ""
    sort: str = "priority"
    page: int = 1


def _number(raw: str, kind: type[float] | type[int], label: str, errors: list[str]) -> Any:
    if not raw.strip():
        return None
    try:
        return kind(raw.replace(",", "."))
    except ValueError:
        errors.append(f"{label} : « {raw} » n'est pas un nombre ; filtre ignoré.")
        return None


def _list_pairs(session: Session, f: QueueFilters, errors: list[str]) -> tuple[list[Any], int]:
    older = _number(f.older_than_days, int, "Plus ancien que (jours)", errors)
    rows, total = repository.list_pairs(
        session,
        status=f.status if f.status in PAIR_STATUS else None,
        band=f.band if f.band in BAND else None,
        min_score=_number(f.min_score, float, "Score minimal", errors),
        finess=f.finess.strip() or None,
        older_than_days=older if older is None or older >= 0 else None,
        sort=f.sort if f.sort in SORTS else "priority",
        limit=PAGE_SIZE,
        offset=(max(f.page, 1) - 1) * PAGE_SIZE,
    )
    return rows, total


@router.get("/duplicates", response_class=HTMLResponse)
def queue_page(
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    status: str = "pending",
    band: str = "",
    min_score: str = "",
    finess: str = "",
    older_than_days: str = "",
    sort: str = "priority",
    page: int = 1,
    done: str = "",
    pair: int | None = None,
    merge: int | None = None,
) -> HTMLResponse:
    """The queue of likely duplicates, filtered, sorted and paged."""
    f = QueueFilters(status, band, min_score, finess, older_than_days, sort, max(page, 1))
    errors: list[str] = []
    rows, total = _list_pairs(session, f, errors)
    identities = {i: service.get(session, i) for p in rows for i in (p.left_id, p.right_id)}
    counts = repository.pair_counts(session)
    params = asdict(f)
    context = {
        **helpers(),
        "f": f,
        "sorts": SORTS,
        "rows": [qp.to_summary(p) for p in rows],
        "identities": identities,
        "total": total,
        "pending": {b: counts.get(("pending", b), 0) for b in BAND},
        "deferred": sum(n for (s, _), n in counts.items() if s == "deferred"),
        "errors": errors,
        "done": DONE.get(done),
        "done_pair": pair,
        "done_merge": merge,
        "prev_url": query(params, page=f.page - 1) if f.page > 1 else None,
        "next_url": query(params, page=f.page + 1) if f.page * PAGE_SIZE < total else None,
        "last_page": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
    }
    return render(request, "identity_queue.html", context)
