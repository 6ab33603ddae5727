"""Bulk writes of parsed ROR resources: upsert by FHIR resource id, children replaced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from ror_sync import repository
from ror_sync.aggregation import CountRow
from ror_sync.completeness import address_complete, contact_complete
from ror_sync.fhir_types import (
    ParsedAddress,
    ParsedContact,
    ParsedLocation,
    ParsedOffer,
    ParsedOrganization,
    ParsedRole,
)
from ror_sync.geo import band_of
from ror_sync.models import (
    RorCapacity,
    RorContact,
    RorLocation,
    RorOffer,
    RorOfferActivity,
    RorOfferLocation,
    RorOrganization,
    RorPractitionerRole,
    RorSnapshot,
    RorSnapshotRow,
)

# Guard against partOf cycles in bad data: no real hierarchy is this deep.
MAX_DEPTH = 32


@dataclass
class Written:
    created: int = 0
    updated: int = 0


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def _address(address: ParsedAddress | None) -> dict[str, Any]:
    a = address or ParsedAddress(None, None, None, None, None, None)
    return {
        "address_line": _cut(a.line, 300),
        "street": _cut(a.street, 200),
        "lieu_dit": _cut(a.lieu_dit, 200),
        "city": _cut(a.city, 100),
        "postal_code": _cut(a.postal_code, 10),
        "commune_cog": _cut(a.commune_cog, 5),
    }


def _insert(model: type[Any]) -> Any:
    # Every row carries every column, None included: without render_nulls the ORM leaves a
    # None out of its row, so rows with None in different places (an EJ, an EG, a unit) split
    # the batch into groups of one or two rows, each a round trip to PostgreSQL.
    return insert(model).execution_options(render_nulls=True)


def _upsert(
    session: Session, model: type[Any], rows: list[dict[str, Any]], written: Written
) -> tuple[dict[str, int], list[int]]:
    """Insert new rows, update known ones; returns ids by resource id and the updated ids."""
    existing = repository.ids_by_resource(session, model, [r["resource_id"] for r in rows])
    new = [r for r in rows if r["resource_id"] not in existing]
    old = [{**r, "id": existing[r["resource_id"]]} for r in rows if r["resource_id"] in existing]
    if new:
        session.execute(_insert(model), new)
    if old:
        session.execute(update(model), old)
    written.created += len(new)
    written.updated += len(old)
    ids = dict(existing)
    if new:
        ids.update(repository.ids_by_resource(session, model, [r["resource_id"] for r in new]))
    return ids, [r["id"] for r in old]


def _last_wins(records: Sequence[Any]) -> list[Any]:
    # A resource included by several pages of a search comes more than once.
    return list({r.resource_id: r for r in records}.values())


def _contact_rows(
    owner: str, owner_id: int, contacts: Sequence[ParsedContact]
) -> list[dict[str, Any]]:
    return [
        {
            owner: owner_id,
            "function_code": _cut(c.function_code, 8),
            "nature_code": _cut(c.nature_code, 8),
            "confidentiality": _cut(c.confidentiality, 4),
            "description": _cut(c.description, 300),
            "telecoms": [t.__dict__ for t in c.telecoms],
            "complete": contact_complete(c),
        }
        for c in contacts
    ]


def _replace_children(
    session: Session, model: type[Any], column: Any, old_ids: list[int], rows: list[dict[str, Any]]
) -> None:
    for part in repository.chunks(old_ids):
        session.execute(delete(model).where(column.in_(part)))
    if rows:
        session.execute(_insert(model), rows)


def upsert_organizations(
    session: Session, records: Sequence[ParsedOrganization], now: datetime, written: Written
) -> None:
    records = _last_wins(records)
    rows = [
        {
            "resource_id": o.resource_id,
            "kind": o.kind,
            "oi_type": _cut(o.oi_type, 4),
            "name": _cut(o.name, 300),
            "finess": _cut(o.finess, 9),
            "category": _cut(o.category, 8),
            "part_of": o.part_of,
            "region": _cut(o.region, 3),
            "active": o.active,
            "opened_on": o.opened_on,
            "closed_on": o.closed_on,
            "closing_type": _cut(o.closing_type, 8),
            "contact_ok": any(contact_complete(c) for c in o.contacts),
            "last_updated": o.last_updated,
            "synced_at": now,
            **_address(o.address),
        }
        for o in records
    ]
    ids, old_ids = _upsert(session, RorOrganization, rows, written)
    contacts = [
        row
        for o in records
        for row in _contact_rows("organization_id", ids[o.resource_id], o.contacts)
    ]
    _replace_children(session, RorContact, RorContact.organization_id, old_ids, contacts)


def upsert_locations(
    session: Session, records: Sequence[ParsedLocation], now: datetime, written: Written
) -> None:
    records = _last_wins(records)
    rows = [
        {
            "resource_id": p.resource_id,
            "name": _cut(p.name, 300),
            "managing_org": p.managing_org,
            "region": _cut(p.region, 3),
            "address_ok": address_complete(p.address),
            "latitude": p.latitude,
            "longitude": p.longitude,
            "lat_band": band_of(p.latitude) if p.latitude is not None else None,
            "last_updated": p.last_updated,
            "synced_at": now,
            **_address(p.address),
        }
        for p in records
    ]
    ids, old_ids = _upsert(session, RorLocation, rows, written)
    capacities = [
        {
            "location_id": ids[p.resource_id],
            "type_code": _cut(c.type_code, 8),
            "status_code": _cut(c.status_code, 8),
            "temporality_code": _cut(c.temporality_code, 8),
            "count": c.count,
        }
        for p in records
        for c in p.capacities
    ]
    _replace_children(session, RorCapacity, RorCapacity.location_id, old_ids, capacities)


def upsert_offers(
    session: Session, records: Sequence[ParsedOffer], now: datetime, written: Written
) -> None:
    records = _last_wins(records)
    rows = [
        {
            "resource_id": o.resource_id,
            "identifier": _cut(o.identifier, 64),
            "name": _cut(o.name, 300),
            "provided_by": o.provided_by,
            "region": _cut(o.region, 3),
            "active": o.active,
            "champ": _cut(o.champ, 4),
            "activities": ",".join(o.activities)[:400],
            "care_mode": _cut(o.care_mode, 8),
            "org_category": _cut(o.org_category, 8),
            "publics": ",".join(o.publics)[:200],
            "age_min": o.age_min,
            "age_max": o.age_max,
            "closed_on": o.closed_on,
            "closing_type": _cut(o.closing_type, 8),
            "contact_ok": any(contact_complete(c) for c in o.contacts),
            "last_updated": o.last_updated,
            "synced_at": now,
        }
        for o in records
    ]
    ids, old_ids = _upsert(session, RorOffer, rows, written)
    activities = [
        {"offer_id": ids[o.resource_id], "code": code[:8]} for o in records for code in o.activities
    ]
    places = [
        {"offer_id": ids[o.resource_id], "location_resource_id": loc}
        for o in records
        for loc in dict.fromkeys(o.location_ids)
    ]
    contacts = [
        row for o in records for row in _contact_rows("offer_id", ids[o.resource_id], o.contacts)
    ]
    _replace_children(session, RorOfferActivity, RorOfferActivity.offer_id, old_ids, activities)
    _replace_children(session, RorOfferLocation, RorOfferLocation.offer_id, old_ids, places)
    _replace_children(session, RorContact, RorContact.offer_id, old_ids, contacts)


def upsert_roles(
    session: Session, records: Sequence[ParsedRole], now: datetime, written: Written
) -> None:
    rows = [
        {
            "resource_id": p.resource_id,
            "identifier": _cut(p.identifier, 64),
            "practitioner": _cut(p.practitioner, 64),
            "offer": _cut(p.offer, 64),
            "organization": _cut(p.organization, 64),
            "profession": _cut(p.profession, 8),
            "region": _cut(p.region, 3),
            "active": p.active,
            "last_updated": p.last_updated,
            "synced_at": now,
        }
        for p in _last_wins(records)
    ]
    if rows:
        _upsert(session, RorPractitionerRole, rows, written)


def _eg_resolver(links: list[tuple[Any, ...]]) -> tuple[dict[str, str | None], dict[str, Any]]:
    """The EG above every organisation, walking partOf (memoised)."""
    by_rid = {row[1]: row for row in links}
    eg_of: dict[str, str | None] = {}
    for rid in by_rid:
        path: list[str] = []
        current: str | None = rid
        found: str | None = None
        while current is not None and current in by_rid and len(path) < MAX_DEPTH:
            if current in eg_of:
                found = eg_of[current]
                break
            path.append(current)
            kind, parent = by_rid[current][2], by_rid[current][3]
            if kind == "EG":
                found = current
                break
            current = parent if kind == "OI" else None
        for item in path:
            eg_of[item] = found
    return eg_of, by_rid


def resolve_hierarchy(session: Session) -> int:
    """Set the EG (and its FINESS) of every organisation and offer; returns the changes."""
    links = repository.organization_links(session)
    eg_of, by_rid = _eg_resolver(links)
    org_changes = [
        {"id": row[0], "eg_resource_id": eg_of.get(row[1])}
        for row in links
        if row[5] != eg_of.get(row[1])
    ]
    offer_changes = []
    for offer_id, provided_by, old_eg, old_finess in repository.offer_links(session):
        eg = eg_of.get(provided_by) if provided_by else None
        finess = by_rid[eg][4] if eg else None
        if (eg, finess) != (old_eg, old_finess):
            offer_changes.append({"id": offer_id, "eg_resource_id": eg, "eg_finess": finess})
    if org_changes:
        session.execute(update(RorOrganization), org_changes)
    if offer_changes:
        session.execute(update(RorOffer), offer_changes)
    return len(org_changes) + len(offer_changes)


def set_eg_positions(session: Session, positions: dict[str, tuple[float, float]]) -> int:
    """Copy the FINESS coordinates of each EG (by its FINESS number); returns the changes."""
    changes = []
    for row_id, finess, lat, lon in repository.eg_positions(session):
        new = positions.get(finess or "")
        if (new or (None, None)) != (lat, lon):
            latitude, longitude = new or (None, None)
            band = band_of(latitude) if latitude is not None else None
            changes.append(
                {"id": row_id, "latitude": latitude, "longitude": longitude, "lat_band": band}
            )
    if changes:
        session.execute(update(RorOrganization), changes)
    return len(changes)


def save_snapshot(
    session: Session, rows: Sequence[CountRow], *, reference_date: date, run_id: int | None
) -> int:
    """Store the completeness counts of this sync; returns the snapshot id."""
    snapshot = RorSnapshot(reference_date=reference_date, run_id=run_id)
    session.add(snapshot)
    session.flush()
    if rows:
        session.execute(
            insert(RorSnapshotRow), [{"snapshot_id": snapshot.id, **r.__dict__} for r in rows]
        )
    return snapshot.id
