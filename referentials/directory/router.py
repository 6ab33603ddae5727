"""HTTP routes of the directory (/api/v1/directory) and of the import runs (/api/v1/imports)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, status

from referentials.core import runs
from referentials.core.auth import DbSession, Principal, require
from referentials.core.pagination import Page, PageParams, page_params
from referentials.directory import imports, service
from referentials.directory.errors import UnknownSource
from referentials.directory.reference import SECTORS
from referentials.directory.repository import ProfessionalQuery, StructureQuery
from referentials.directory.schemas import (
    ImportRunRead,
    ProfessionalDetail,
    ProfessionalRead,
    StructureDetail,
    StructureRead,
)

router = APIRouter(prefix="/api/v1/directory", tags=["directory"])
imports_router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
read_scope = require("directory:read")
admin_scope = require("admin")


@router.get("/professionals", response_model=Page[ProfessionalRead])
def list_professionals(
    *,
    idnps: str | None = Query(None, description="IDNPS, or the RPPS/ADELI number"),
    name: str | None = Query(None, max_length=100, description="last name prefix"),
    first_name: str | None = Query(None, max_length=100, description="first name prefix"),
    profession: str | None = Query(None, max_length=10, description="profession code (TRE_G15)"),
    skill: str | None = Query(None, max_length=10, description="savoir-faire code, e.g. SM54"),
    department: str | None = Query(None, max_length=3),
    commune: str | None = Query(None, max_length=5, description="commune COG code"),
    finess_site: str | None = Query(None, max_length=9),
    include_inactive: bool = Query(False, description="also those no longer in the extract"),
    page: PageParams = Depends(page_params),
    session: DbSession,
    _principal: Principal = Depends(read_scope),
) -> Page[ProfessionalRead]:
    """Search professionals (name: accent- and case-insensitive prefix)."""
    query = ProfessionalQuery(
        idnps=idnps,
        name=name,
        first_name=first_name,
        profession=profession,
        skill=skill,
        department=department,
        commune=commune,
        finess_site=finess_site,
        include_inactive=include_inactive,
    )
    items, total = service.list_professionals(
        session, query=query, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/professionals/{identifier}", response_model=ProfessionalDetail)
def get_professional(
    *,
    identifier: str,
    session: DbSession,
    _principal: Principal = Depends(read_scope),
) -> ProfessionalDetail:
    """One professional (by IDNPS or RPPS/ADELI number) with all activities."""
    return service.get_professional(session, identifier)


@router.get("/structures", response_model=Page[StructureRead])
def list_structures(
    *,
    finess: str | None = Query(None, max_length=9, description="FINESS of the site or its EJ"),
    name: str | None = Query(None, max_length=200, description="name prefix"),
    category: str | None = Query(None, max_length=3),
    sector: str | None = Query(None, description=" | ".join(SECTORS)),
    department: str | None = Query(None, max_length=3),
    commune: str | None = Query(None, max_length=5, description="commune COG code"),
    include_inactive: bool = Query(False),
    page: PageParams = Depends(page_params),
    session: DbSession,
    _principal: Principal = Depends(read_scope),
) -> Page[StructureRead]:
    """Search FINESS structures."""
    query = StructureQuery(
        finess=finess,
        name=name,
        category=category,
        sector=sector,
        department=department,
        commune=commune,
        include_inactive=include_inactive,
    )
    items, total = service.list_structures(
        session, query=query, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/structures/{finess}", response_model=StructureDetail)
def get_structure(
    *,
    finess: str,
    session: DbSession,
    _principal: Principal = Depends(read_scope),
) -> StructureDetail:
    """One structure with its count of active professionals."""
    return service.get_structure(session, finess)


@imports_router.get("", response_model=Page[ImportRunRead])
def list_runs(
    *,
    source: str | None = Query(None, description=" | ".join(imports.SOURCES)),
    page: PageParams = Depends(page_params),
    session: DbSession,
    _principal: Principal = Depends(admin_scope),
) -> Page[ImportRunRead]:
    """Import run history, newest first."""
    rows, total = runs.list_runs(session, source=source, limit=page.limit, offset=page.offset)
    items = [ImportRunRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@imports_router.post(
    "/{source}/run", response_model=ImportRunRead, status_code=status.HTTP_202_ACCEPTED
)
def trigger_run(
    *,
    source: str,
    request: Request,
    session: DbSession,
    _principal: Principal = Depends(admin_scope),
) -> ImportRunRead:
    """Start an import of the configured source now (409 when one is running)."""
    if source not in imports.SOURCES:
        raise UnknownSource(f"unknown import source '{source}'", fields={"source": source})
    state = request.app.state
    location = imports.configured_location(state.settings, source)
    # The lock and the run record are committed by sessions of their own (other processes
    # must see them at once); on SQLite this request's pending write (the usage count) would
    # hold the only write lock against them, so it is committed first.
    session.commit()
    ticket = imports.begin(
        state.session_factory,
        source=source,
        location=location,
        trigger="api",
        settings=state.settings.directory,
    )
    imports.run_in_background(
        state.engine,
        state.session_factory,
        ticket,
        state.settings.directory,
        activities=imports.configured_activities(state.settings, source),
    )
    run = runs.get_run(session, ticket.run_id)
    return ImportRunRead.model_validate(run)
