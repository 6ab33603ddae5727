"""ROR team pages (role ``ror``): completeness dashboard and e-parcours indicators."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from referentials.core.auth import DbSession
from referentials.core.db import utcnow
from referentials.core.errors import AppError
from referentials.core.web import User, render, require_user
from ror_sync import charts, codes, csv_export, indicators, service
from ror_sync.completeness import MISSING_LABELS, TO_DO, StructureResult

router = APIRouter(prefix="/ui", include_in_schema=False)
ror_user = require_user("ror")
STATUS_LABELS = {"finalised": "Finalisé", "in_progress": "En cours", "to_do": "À faire"}
MAX_LISTED_UNITS = 500


def _to_complete_by_department(results: list[StructureResult]) -> dict[str, list[dict[str, Any]]]:
    """EG × champ not finalised, by department, each with its units' missing items."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results[:MAX_LISTED_UNITS]:
        units = [
            {
                "offer_id": u.offer_id,
                "name": u.name or u.offer_id,
                "missing": [MISSING_LABELS[m] for m in u.missing],
            }
            for u in r.units
            if u.missing
        ]
        out[r.department].append(
            {
                "finess": r.finess,
                "name": r.name,
                "champ": r.champ,
                "status": r.status,
                "sector": codes.SECTOR_LABELS.get(r.sector, r.sector),
                "units": units,
                "no_unit": r.status == TO_DO and not r.units,
            }
        )
    return dict(sorted(out.items()))


@router.get("/ror", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: DbSession,
    region: str | None = Query(None),
    department: str | None = Query(None),
    user: User = Depends(ror_user),
) -> Response:
    """Completeness per sector against its target, trend, and the to-do list by department."""
    settings = request.app.state.settings.ror
    scope = service.Scope(region or None, department or None)
    # One evaluation for the chart and the list: it is the costly part at national scale.
    results = service.evaluate(session, scope)
    summary = service.summarise(results, settings, scope=scope, group_by=["sector"])
    pending = [r for r in service.filter_results(results) if r.status != "finalised"]
    trend = service.trend(session, settings, region=scope.region)
    return render(
        request,
        "ror_dashboard.html",
        {
            "user": user,
            "scope": scope,
            "sectors": summary["sectors"],
            "reference_date": summary["reference_date"],
            "bars": charts.sector_bars(summary["sectors"]),  # type: ignore[arg-type]
            "trend": charts.trend_lines(trend) if trend else None,
            "trend_points": trend,
            "to_complete": _to_complete_by_department(pending),
            "to_complete_total": len(pending),
            "max_rows": MAX_LISTED_UNITS,
            "SECTOR_LABELS": codes.SECTOR_LABELS,
            "STATUS_LABELS": STATUS_LABELS,
        },
    )


def _report(
    request: Request, session: DbSession, quarter: str | None, region: str | None
) -> tuple[str, dict[str, Any] | None, str | None]:
    chosen = quarter or indicators.current_quarter(utcnow().date())
    try:
        return (
            chosen,
            indicators.e_parcours(
                session, request.app.state.settings.ror, quarter=chosen, region=region or None
            ),
            None,
        )
    except AppError as exc:
        return chosen, None, exc.message


@router.get("/e-parcours", response_class=HTMLResponse)
def e_parcours_page(
    request: Request,
    session: DbSession,
    quarter: str | None = Query(None),
    region: str | None = Query(None),
    user: User = Depends(ror_user),
) -> Response:
    """The e-parcours usage indicators of a quarter, for the quarterly report."""
    chosen, report, error = _report(request, session, quarter, region)
    return render(
        request,
        "ror_e_parcours.html",
        {
            "user": user,
            "quarter": chosen,
            "region": region or "",
            "report": report,
            "error": error,
            "SECTOR_LABELS": codes.SECTOR_LABELS,
        },
        status_code=422 if error else 200,
    )


@router.get("/e-parcours.csv")
def e_parcours_csv(
    request: Request,
    session: DbSession,
    quarter: str | None = Query(None),
    region: str | None = Query(None),
    _user: User = Depends(ror_user),
) -> Response:
    """The same indicators as a CSV file."""
    chosen, report, error = _report(request, session, quarter, region)
    if report is None:
        return Response(error or "", status_code=422, media_type="text/plain; charset=utf-8")
    return csv_export.response(csv_export.e_parcours(report), f"e-parcours-{chosen}.csv")
