"""Directory services: search, and the structure facts other contexts (ROR) rely on.

Other contexts import this module only (``from referentials.directory import service as
directory_service``); its ``StructureFacts`` contract is kept stable for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from referentials.core import runs
from referentials.directory import reference, repository
from referentials.directory.errors import ProfessionalNotFound, StructureNotFound
from referentials.directory.models import Structure
from referentials.directory.parsers.common import fold
from referentials.directory.repository import ProfessionalQuery, StructureQuery
from referentials.directory.schemas import (
    ChangeRead,
    LegalEntityRead,
    ProfessionalDetail,
    ProfessionalRead,
    SkillRead,
    Snapshot,
    StructureActivityRead,
    StructureDetail,
    StructureRead,
)

T = TypeVar("T", bound=Snapshot)


@dataclass(frozen=True)
class StructureFacts:
    finess: str  # FINESS of the EG (site)
    finess_ej: str | None
    name: str
    category: str  # 3-digit catégorie d'établissement
    sector: str | None  # "sanitaire" | "medico_social" | "social" | "coordination" | "ville" | None
    department: str  # "01".."95", "2A", "2B", "971".."976"
    region: str | None  # INSEE region code, from a shipped department->region table
    commune_cog: str | None
    opened_on: date | None
    closed_on: date | None
    sanitary_authorisations: tuple[str, ...]  # active activiteSanitaireRegulee codes
    latitude: float | None
    longitude: float | None


def sector_of_category(category: str) -> str | None:
    """The sector of a FINESS category (None: outside the perimeter)."""
    return reference.sector_of(category)


def region_of_department(department: str) -> str | None:
    """The INSEE region code of a department ('9D' and '974' alike)."""
    return reference.region_of(department)


def _facts(structure: Any) -> StructureFacts:
    """Facts from a Structure or a row of repository.FACT_COLUMNS (same attribute names)."""
    codes = tuple(c for c in (structure.sanitary_authorisations or "").split(",") if c)
    return StructureFacts(
        finess=structure.finess,
        finess_ej=structure.finess_ej,
        name=structure.name,
        category=structure.category,
        sector=structure.sector,
        department=structure.department,
        region=reference.region_of(structure.department),
        commune_cog=structure.commune_cog,
        opened_on=structure.opened_on,
        closed_on=structure.closed_on,
        sanitary_authorisations=codes,
        latitude=structure.latitude,
        longitude=structure.longitude,
    )


def structure_facts(
    session: Session,
    *,
    region: str | None = None,
    department: str | None = None,
    active_only: bool = True,
) -> Iterator[StructureFacts]:
    """Facts of the structures of a region and/or department.

    ``active_only``: present in the last extract and not closed today.
    """
    departments: list[str] | None = None
    if region is not None:
        departments = [d for d, r in reference.department_regions().items() if r == region]
    if department is not None:
        wanted = reference.normalise_department(department)
        departments = [d for d in (departments or [wanted]) if d == wanted]
    open_on = date.today() if active_only else None
    for structure in repository.iter_structures(session, departments=departments, open_on=open_on):
        yield _facts(structure)


def get_structure_facts(session: Session, finess: str) -> StructureFacts | None:
    """Facts of one structure, whatever its state; None when unknown."""
    structure = repository.get_structure(session, finess)
    return _facts(structure) if structure is not None else None


def _seen_now(session: Session, source: str) -> datetime | None:
    """When the active entries of ``source`` were last seen: its last successful run.

    Unchanged entries are not rewritten by an import (see ``bulk.apply_snapshot``).
    """
    run = runs.last_success(session, source)
    return run.finished_at if run is not None else None


def _with_seen(read: T, seen: datetime | None) -> T:
    if read.active and seen is not None and seen > read.last_seen:
        read.last_seen = seen
    return read


def list_professionals(
    session: Session, *, query: ProfessionalQuery, limit: int, offset: int
) -> tuple[list[ProfessionalRead], int]:
    """Professionals matching every given criterion (names folded, prefix match)."""
    folded = ProfessionalQuery(
        **{
            **query.__dict__,
            "name": fold(query.name) or None,
            "first_name": fold(query.first_name) or None,
        }
    )
    rows, total = repository.search_professionals(session, folded, limit=limit, offset=offset)
    seen = _seen_now(session, "rpps")
    return [_with_seen(ProfessionalRead.model_validate(p), seen) for p in rows], total


def get_professional(session: Session, identifier: str) -> ProfessionalDetail:
    """One professional by IDNPS or RPPS/ADELI number, with activities, skills, history."""
    found = repository.by_identifier(session, identifier)
    if found is None:
        raise ProfessionalNotFound(
            f"no professional {identifier}", fields={"identifier": identifier}
        )
    read = _with_seen(ProfessionalRead.model_validate(found), _seen_now(session, "rpps"))
    base = read.model_dump()
    return ProfessionalDetail(
        **base,
        skills=[SkillRead.model_validate(s) for s in repository.skills_of(session, found.idnps)],
        history=[
            ChangeRead.model_validate(c)
            for c in repository.changes_of(
                session, "professional", found.idnps, first_seen=found.first_seen
            )
        ],
    )


def _structure_read(structure: Structure, seen: datetime | None) -> StructureRead:
    read = StructureRead.model_validate(structure)
    read.region = reference.region_of(structure.department)
    return _with_seen(read, seen)


def list_structures(
    session: Session, *, query: StructureQuery, limit: int, offset: int
) -> tuple[list[StructureRead], int]:
    """Structures matching every given criterion."""
    folded = StructureQuery(
        **{
            **query.__dict__,
            "name": fold(query.name) or None,
            "department": reference.normalise_department(query.department)
            if query.department
            else None,
        }
    )
    rows, total = repository.search_structures(session, folded, limit=limit, offset=offset)
    seen = _seen_now(session, "finess")
    return [_structure_read(s, seen) for s in rows], total


def get_legal_entity(session: Session, finess: str) -> LegalEntityRead:
    """A legal entity (EJ) as its sites describe it; StructureNotFound when none names it."""
    sites = repository.sites_of(session, finess)
    if not sites:
        raise StructureNotFound(f"no legal entity {finess}", fields={"finess": finess})
    named = next((s for s in sites if s.ej_name), sites[0])
    return LegalEntityRead(
        finess=finess,
        name=named.ej_name,
        legal_status=named.legal_status,
        active=any(s.active and s.closed_on is None for s in sites),
        sites=[s.finess for s in sites],
    )


def get_structure(session: Session, finess: str) -> StructureDetail:
    """One structure with the count of professionals active at it, and its history."""
    structure = repository.get_structure(session, finess)
    if structure is None:
        raise StructureNotFound(f"no structure {finess}", fields={"finess": finess})
    return StructureDetail(
        **_structure_read(structure, _seen_now(session, "finess")).model_dump(),
        professionals_count=repository.professionals_at(session, finess),
        activities=[StructureActivityRead.model_validate(a) for a in structure.activities],
        history=[
            ChangeRead.model_validate(c)
            for c in repository.changes_of(
                session, "structure", finess, first_seen=structure.first_seen
            )
        ],
    )


def is_empty(session: Session) -> bool:
    """True when neither professionals nor structures were ever imported."""
    return repository.professional_count(session) == 0 and repository.structure_count(session) == 0
