"""Every query of the ROR context."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, aliased

from ror_sync.completeness import UnitFacts
from ror_sync.models import (
    RorCapacity,
    RorContact,
    RorLocation,
    RorOffer,
    RorOfferLocation,
    RorOrganization,
    RorPractitionerRole,
    RorSnapshot,
    RorSnapshotRow,
)

CHUNK = 900  # under SQLite's bound-parameter limit


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ids_by_resource(
    session: Session,
    model: type[RorOrganization | RorOffer | RorLocation | RorPractitionerRole],
    ids: Sequence[str],
) -> dict[str, int]:
    """Database ids of the rows holding these FHIR resource ids."""
    found: dict[str, int] = {}
    for part in chunks(ids):
        stmt = select(model.resource_id, model.id).where(model.resource_id.in_(part))
        found.update({rid: pk for rid, pk in session.execute(stmt)})
    return found


def organization_links(session: Session) -> list[tuple[Any, ...]]:
    """(id, resource id, kind, partOf, finess, resolved EG) of every organisation."""
    stmt = select(
        RorOrganization.id,
        RorOrganization.resource_id,
        RorOrganization.kind,
        RorOrganization.part_of,
        RorOrganization.finess,
        RorOrganization.eg_resource_id,
    )
    return [tuple(row) for row in session.execute(stmt)]


def offer_links(session: Session) -> list[tuple[Any, ...]]:
    """(id, providedBy, resolved EG, EG FINESS) of every offer."""
    stmt = select(RorOffer.id, RorOffer.provided_by, RorOffer.eg_resource_id, RorOffer.eg_finess)
    return [tuple(row) for row in session.execute(stmt)]


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _units_statement() -> Select[*tuple[Any, ...]]:
    ue = aliased(RorOrganization)
    eg = aliased(RorOrganization)
    # The practical rule (ror-fhir.md §A.2): a UE's contacts are the offer's and its OI's.
    contact_ok = RorOffer.contact_ok | and_(ue.kind == "OI", ue.contact_ok.is_(True))
    return (
        select(
            RorOffer.id,
            RorOffer.resource_id,
            RorOffer.name,
            RorOffer.eg_finess,
            eg.category,
            RorOffer.champ,
            RorOffer.activities,
            RorOffer.care_mode,
            RorOffer.org_category,
            RorOffer.age_min,
            RorOffer.age_max,
            func.coalesce(contact_ok, False),
            RorOffer.closed_on,
            RorOffer.closing_type,
            ue.closed_on,
            ue.closing_type,
            func.coalesce(ue.active, True),
        )
        .outerjoin(ue, ue.resource_id == RorOffer.provided_by)
        .outerjoin(eg, eg.resource_id == RorOffer.eg_resource_id)
        .where(
            RorOffer.active.is_(True),
            RorOffer.eg_finess.is_not(None),
            RorOffer.region.is_not(None),
        )
    )


def offers_with_address(session: Session) -> set[int]:
    """Ids of the offers with at least one place whose address is complete."""
    stmt = (
        select(RorOfferLocation.offer_id)
        .join(RorLocation, RorLocation.resource_id == RorOfferLocation.location_resource_id)
        .where(RorLocation.address_ok.is_(True))
    )
    return set(session.scalars(stmt))


def units(session: Session, finess: Iterable[str] | None = None) -> dict[str, list[UnitFacts]]:
    """The elementary units of the ROR by EG FINESS (only those EGs when given)."""
    out: dict[str, list[UnitFacts]] = {}
    with_address = offers_with_address(session)
    stmt = _units_statement()
    statements = (
        [stmt]
        if finess is None
        else [stmt.where(RorOffer.eg_finess.in_(p)) for p in chunks(sorted(set(finess)))]
    )
    for part in statements:
        # Core rows straight from the connection: the ORM's row processing doubles the time.
        for row in session.connection().execute(part):
            acts = row[6]
            unit = UnitFacts(
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                tuple(acts.split(",")) if acts else (),
                row[7],
                row[8],
                row[9],
                row[10],
                row[0] in with_address,
                bool(row[11]),
                row[12],
                row[13],
                row[14],
                row[15],
                bool(row[16]),
            )
            out.setdefault(unit.eg_finess, []).append(unit)
    return out


def snapshots(session: Session, *, limit: int = 24) -> list[RorSnapshot]:
    """The latest snapshots, oldest first."""
    stmt = select(RorSnapshot).order_by(RorSnapshot.id.desc()).limit(limit)
    return list(reversed(list(session.scalars(stmt))))


def snapshot_rows(
    session: Session, snapshot_ids: Sequence[int], *, region: str | None = None
) -> list[RorSnapshotRow]:
    stmt = select(RorSnapshotRow).where(RorSnapshotRow.snapshot_id.in_(snapshot_ids))
    if region:
        stmt = stmt.where(RorSnapshotRow.region == region)
    return list(session.scalars(stmt))


def organizations(session: Session, resource_ids: Sequence[str]) -> dict[str, RorOrganization]:
    found: dict[str, RorOrganization] = {}
    for part in chunks(sorted(set(resource_ids))):
        stmt = select(RorOrganization).where(RorOrganization.resource_id.in_(part))
        found.update({o.resource_id: o for o in session.scalars(stmt)})
    return found


def capacities(session: Session, location_ids: Sequence[int]) -> dict[int, list[RorCapacity]]:
    found: dict[int, list[RorCapacity]] = {}
    for part in chunks(sorted(set(location_ids))):
        for cap in session.scalars(select(RorCapacity).where(RorCapacity.location_id.in_(part))):
            found.setdefault(cap.location_id, []).append(cap)
    return found


def commune_positions(session: Session, cog: str) -> list[tuple[float, float]]:
    """Coordinates of the ROR places in a commune."""
    stmt = select(RorLocation.latitude, RorLocation.longitude).where(
        RorLocation.commune_cog == cog,
        RorLocation.latitude.is_not(None),
        RorLocation.longitude.is_not(None),
    )
    return [(float(lat or 0), float(lon or 0)) for lat, lon in session.execute(stmt)]


def contacts_of(session: Session, offer_ids: Sequence[int]) -> dict[int, list[RorContact]]:
    found: dict[int, list[RorContact]] = {}
    for part in chunks(sorted(set(offer_ids))):
        for c in session.scalars(select(RorContact).where(RorContact.offer_id.in_(part))):
            found.setdefault(int(c.offer_id or 0), []).append(c)
    return found


def last_sync_date(session: Session) -> date | None:
    value = session.scalar(select(func.max(RorOffer.synced_at)))
    return value.date() if value else None


def eg_positions(session: Session) -> list[tuple[int, str | None, float | None, float | None]]:
    """(id, FINESS, latitude, longitude) of every EG."""
    stmt = select(
        RorOrganization.id,
        RorOrganization.finess,
        RorOrganization.latitude,
        RorOrganization.longitude,
    ).where(RorOrganization.kind == "EG")
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]
