"""HTTP routes of the ROR: completeness, the actionable list, trend, orientation, e-parcours."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from referentials.core.auth import DbSession, Principal, require
from referentials.core.pagination import Page, PageParams, page_params
from referentials.core.settings import RorSettings
from ror_sync import csv_export, indicators, orientation, service
from ror_sync.completeness import StructureResult
from ror_sync.schemas import (
    CompletenessRead,
    EParcoursRead,
    OfferRead,
    StructureStatusRead,
    TrendPointRead,
)

router = APIRouter(prefix="/api/v1/ror", tags=["ror"])
indicators_router = APIRouter(prefix="/api/v1/indicators", tags=["indicators"])
read_scope = require("ror:read")
FORMAT = Query(None, pattern="^(json|csv)$", description="json (default) or csv")
# Routes that answer CSV with format=csv (or Accept: text/csv) declare it.
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _settings(request: Request) -> RorSettings:
    settings: RorSettings = request.app.state.settings.ror
    return settings


def _structure_read(r: StructureResult) -> StructureStatusRead:
    return StructureStatusRead.model_validate(
        {**r._asdict(), "units": [{**u._asdict(), "missing": list(u.missing)} for u in r.units]}
    )


@router.get("/completeness", response_model=CompletenessRead, responses=CSV)
def completeness(
    request: Request,
    session: DbSession,
    region: str | None = Query(None, description="INSEE region code, e.g. 84"),
    department: str | None = Query(None, description="department, e.g. 69, 2A, 974"),
    group_by: str | None = Query(
        None, description="comma-separated among region, department, sector, champ, category"
    ),
    format: str | None = FORMAT,
    _principal: Principal = Depends(read_scope),
) -> Any:
    """Completeness rates, counts, targets and gap to target (EG × champ), grouped."""
    fields = service.parse_group_by(group_by)
    result = service.get_completeness(
        session, _settings(request), scope=service.Scope(region, department), group_by=fields
    )
    if csv_export.wants_csv(request, format):
        text = csv_export.completeness_rows(result["rows"], fields)  # type: ignore[arg-type]
        return csv_export.response(text, "ror-completeness.csv")
    return result


@router.get("/completeness/structures", response_model=Page[StructureStatusRead], responses=CSV)
def completeness_structures(
    request: Request,
    session: DbSession,
    region: str | None = Query(None),
    department: str | None = Query(None),
    status: str | None = Query(None, description="finalised, in_progress or to_do"),
    sector: str | None = Query(None, description="sanitaire, medico_social, social, ..."),
    champ: str | None = Query(None, description="MCO, SMR, PSY, PA, PH, ..."),
    format: str | None = FORMAT,
    page: PageParams = Depends(page_params),
    _principal: Principal = Depends(read_scope),
) -> Any:
    """The actionable list: each EG × champ with its status and each unit's missing items."""
    found = service.list_structures(
        session,
        scope=service.Scope(region, department),
        status=status,
        sector=sector,
        champ=champ,
    )
    if csv_export.wants_csv(request, format):
        return csv_export.response(csv_export.structures(found), "ror-structures.csv")
    items = [_structure_read(r) for r in found[page.offset : page.offset + page.limit]]
    return Page[StructureStatusRead](
        items=items, total=len(found), limit=page.limit, offset=page.offset
    )


@router.get("/completeness/trend", response_model=list[TrendPointRead])
def completeness_trend(
    request: Request,
    session: DbSession,
    region: str | None = Query(None),
    limit: int = Query(24, ge=1, le=500),
    _principal: Principal = Depends(read_scope),
) -> Any:
    """Rate per sector at each stored snapshot (one per sync), oldest first."""
    return service.trend(session, _settings(request), region=region, limit=limit)


@router.get("/offers", response_model=Page[OfferRead])
def offers(
    session: DbSession,
    commune: str = Query(..., pattern=r"^(\d{5}|2[AB]\d{3})$", description="commune COG"),
    radius_km: float = Query(30.0, gt=0, le=500),
    activity: str | None = Query(None, description="activité opérationnelle (TRE_R211)"),
    champ: str | None = Query(None, description="champ code (01) or label (MCO)"),
    age: float | None = Query(None, ge=0, le=130, description="patient's age in years"),
    page: PageParams = Depends(page_params),
    _principal: Principal = Depends(read_scope),
) -> Any:
    """Open offers near a commune for a patient's age, nearest first, with capacities and
    why each matches (distance and place, activity, champ, age)."""
    found = orientation.search(
        session,
        orientation.OfferQuery(
            commune=commune, radius_km=radius_km, activity=activity, champ=champ, age=age
        ),
    )
    return Page[OfferRead](
        items=[
            OfferRead.model_validate(o)
            for o in orientation.describe(session, found[page.offset : page.offset + page.limit])
        ],
        total=len(found),
        limit=page.limit,
        offset=page.offset,
    )


@indicators_router.get("/e-parcours", response_model=EParcoursRead, responses=CSV)
def e_parcours(
    request: Request,
    session: DbSession,
    quarter: str = Query(..., description="YYYY-Qn, e.g. 2026-Q4"),
    region: str | None = Query(None),
    format: str | None = FORMAT,
    _principal: Principal = Depends(read_scope),
) -> Any:
    """E-parcours usage indicators of a quarter (ROR completeness, identity-service usage)."""
    report = indicators.e_parcours(session, _settings(request), quarter=quarter, region=region)
    if csv_export.wants_csv(request, format):
        return csv_export.response(csv_export.e_parcours(report), f"e-parcours-{quarter}.csv")
    return report
