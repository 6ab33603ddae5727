"""Queries of the directory context (the only module that builds ``select()``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from referentials.directory.models import (
    WHOLE_SET,
    Activity,
    DirectoryChange,
    Professional,
    ProfessionalSkill,
    Structure,
)


@dataclass(frozen=True)
class ProfessionalQuery:
    idnps: str | None = None
    name: str | None = None
    first_name: str | None = None
    profession: str | None = None
    skill: str | None = None
    department: str | None = None
    commune: str | None = None
    finess_site: str | None = None
    include_inactive: bool = False


@dataclass(frozen=True)
class StructureQuery:
    finess: str | None = None
    name: str | None = None
    category: str | None = None
    sector: str | None = None
    department: str | None = None
    commune: str | None = None
    include_inactive: bool = False


def _prefix(column: Any, value: str) -> ColumnElement[bool]:
    """Values starting with ``value``, as a range the column's index serves.

    Folded values hold only [a-z0-9 ], so they all sort before ``value + "{"`` ("{" follows
    "z"). LIKE 'x%' would read the whole table: SQLite's LIKE ignores case and PostgreSQL's
    needs a C collation, so neither uses a plain index for it.
    """
    return and_(column >= value, column < value + "{")


def get_professional(session: Session, idnps: str) -> Professional | None:
    return session.get(Professional, idnps)


def by_identifier(session: Session, identifier: str) -> Professional | None:
    """By IDNPS ('8' + RPPS) or by the bare RPPS/ADELI number."""
    found = session.get(Professional, identifier)
    if found is None:
        found = session.scalar(
            select(Professional).where(Professional.identifier == identifier).limit(1)
        )
    return found


def _professional_filters(q: ProfessionalQuery) -> Select[Professional]:
    stmt = select(Professional)
    if not q.include_inactive:
        stmt = stmt.where(Professional.active.is_(True))
    if q.idnps:
        stmt = stmt.where(or_(Professional.idnps == q.idnps, Professional.identifier == q.idnps))
    if q.name:
        stmt = stmt.where(_prefix(Professional.last_name_norm, q.name))
    if q.first_name:
        stmt = stmt.where(_prefix(Professional.first_name_norm, q.first_name))
    conditions = []
    if q.profession:
        conditions.append(Activity.profession_code == q.profession)
    if q.department:
        conditions.append(Activity.department_code == q.department)
    if q.commune:
        conditions.append(Activity.commune_code == q.commune)
    if q.finess_site:
        conditions.append(Activity.finess_site == q.finess_site)
    if conditions:
        stmt = stmt.where(
            select(Activity.id).where(Activity.idnps == Professional.idnps, *conditions).exists()
        )
    if q.skill:
        in_activities = select(Activity.id).where(
            Activity.idnps == Professional.idnps, Activity.skill_code == q.skill
        )
        in_skills = select(ProfessionalSkill.id).where(
            ProfessionalSkill.idnps == Professional.idnps, ProfessionalSkill.skill_code == q.skill
        )
        stmt = stmt.where(or_(in_activities.exists(), in_skills.exists()))
    return stmt


def search_professionals(
    session: Session, query: ProfessionalQuery, *, limit: int, offset: int
) -> tuple[list[Professional], int]:
    stmt = _professional_filters(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(Professional.last_name_norm, Professional.idnps).limit(limit)
    return list(session.scalars(page.offset(offset))), int(total)


def skills_of(session: Session, idnps: str) -> list[ProfessionalSkill]:
    stmt = select(ProfessionalSkill).where(ProfessionalSkill.idnps == idnps)
    return list(session.scalars(stmt.order_by(ProfessionalSkill.id)))


def get_structure(session: Session, finess: str) -> Structure | None:
    return session.get(Structure, finess)


def sites_of(session: Session, finess_ej: str) -> list[Structure]:
    """The sites (EG) of a legal entity, in the last extract or not."""
    stmt = select(Structure).where(Structure.finess_ej == finess_ej).order_by(Structure.finess)
    return list(session.scalars(stmt))


def professionals_at(session: Session, finess: str) -> int:
    """Active professionals with at least one activity at the site ``finess``."""
    stmt = (
        select(func.count(func.distinct(Activity.idnps)))
        .join(Professional, Professional.idnps == Activity.idnps)
        .where(Activity.finess_site == finess, Professional.active.is_(True))
    )
    return int(session.scalar(stmt) or 0)


def search_structures(
    session: Session, q: StructureQuery, *, limit: int, offset: int
) -> tuple[list[Structure], int]:
    stmt = select(Structure)
    if not q.include_inactive:
        stmt = stmt.where(Structure.active.is_(True))
    if q.finess:
        stmt = stmt.where(or_(Structure.finess == q.finess, Structure.finess_ej == q.finess))
    if q.name:
        stmt = stmt.where(_prefix(Structure.name_norm, q.name))
    if q.category:
        stmt = stmt.where(Structure.category == q.category)
    if q.sector:
        stmt = stmt.where(Structure.sector == q.sector)
    if q.department:
        stmt = stmt.where(Structure.department == q.department)
    if q.commune:
        stmt = stmt.where(Structure.commune_cog == q.commune)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(Structure.name_norm, Structure.finess).limit(limit).offset(offset)
    return list(session.scalars(page)), int(total)


# What the completeness computation needs: read as plain rows, not as ORM objects, because it
# runs over every structure of the country.
FACT_COLUMNS = (
    Structure.finess, Structure.finess_ej, Structure.name, Structure.category, Structure.sector,
    Structure.department, Structure.commune_cog, Structure.opened_on, Structure.closed_on,
    Structure.sanitary_authorisations, Structure.latitude, Structure.longitude,
)  # fmt: skip


def iter_structures(
    session: Session, *, departments: list[str] | None, open_on: date | None
) -> Iterator[Any]:
    """Rows of FACT_COLUMNS: in the last extract, and open on ``open_on`` when given."""
    stmt = select(*FACT_COLUMNS)
    if departments is not None:
        stmt = stmt.where(Structure.department.in_(departments))
    if open_on is not None:
        stmt = stmt.where(
            Structure.active.is_(True),
            or_(Structure.closed_on.is_(None), Structure.closed_on > open_on),
        )
    yield from session.execute(stmt.order_by(Structure.finess).execution_options(yield_per=5000))


def changes_of(
    session: Session, entity_type: str, key: str, *, first_seen: datetime | None
) -> list[DirectoryChange]:
    """The entity's own changes, and the first load's run-level "added" if it added it."""
    stmt = select(DirectoryChange).where(
        DirectoryChange.entity_type == entity_type,
        DirectoryChange.entity_key.in_((key, WHOLE_SET)),
    )
    return [
        change
        for change in session.scalars(stmt.order_by(DirectoryChange.id))
        if change.entity_key == key or change.at == first_seen
    ]


def professional_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Professional)) or 0)


def structure_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Structure)) or 0)
