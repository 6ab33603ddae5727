"""ROR tables: organisations (EJ, EG, OI), offers, places, contacts, capacities, snapshots.

Rows are keyed by the FHIR resource id so that deltas update in place; references between
resources are kept as resource ids (a delta may bring a child before its parent), and the
EG of every organisation and offer is resolved after each sync.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from referentials.core.db import Base, UTCDateTime, utcnow


class AddressColumns:
    """Address of an organisation or a place (libelleVoie, lieu-dit, localité, CP, COG)."""

    address_line: Mapped[str | None] = mapped_column(String(300))
    street: Mapped[str | None] = mapped_column(String(200))
    lieu_dit: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    commune_cog: Mapped[str | None] = mapped_column(String(5), index=True)


class RorOrganization(AddressColumns, Base):
    """An EJ, an EG (FINESS, category) or an internal organisation (pôle ... UE)."""

    __tablename__ = "ror_organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(2))
    oi_type: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str | None] = mapped_column(String(300))
    finess: Mapped[str | None] = mapped_column(String(9), index=True)
    category: Mapped[str | None] = mapped_column(String(8))
    part_of: Mapped[str | None] = mapped_column(String(64), index=True)
    # The EG above this organisation (itself for an EG), resolved after each sync.
    eg_resource_id: Mapped[str | None] = mapped_column(String(64), index=True)
    region: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    opened_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closing_type: Mapped[str | None] = mapped_column(String(8))
    # At least one complete contact (completeness.contact_complete) among its own.
    contact_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    # An EG's FINESS coordinates, copied at each sync: they place the offers whose own place
    # has none, inside the same indexed spatial prefilter as the places.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    lat_band: Mapped[int | None] = mapped_column(Integer)  # geo.band_of(latitude)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_ror_organizations_band", "lat_band", "longitude"),)


class RorOffer(Base):
    """A HealthcareService, the offre opérationnelle: one elementary unit for completeness."""

    __tablename__ = "ror_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), unique=True)
    identifier: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(300))
    provided_by: Mapped[str | None] = mapped_column(String(64), index=True)
    eg_resource_id: Mapped[str | None] = mapped_column(String(64), index=True)
    eg_finess: Mapped[str | None] = mapped_column(String(9), index=True)
    region: Mapped[str | None] = mapped_column(String(3), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    champ: Mapped[str | None] = mapped_column(String(4))
    # Valid activités opérationnelles (TRE_R211), comma-separated; also in ror_offer_activities.
    activities: Mapped[str] = mapped_column(String(400), default="")
    care_mode: Mapped[str | None] = mapped_column(String(8))
    org_category: Mapped[str | None] = mapped_column(String(8))
    publics: Mapped[str] = mapped_column(String(200), default="")
    age_min: Mapped[float | None] = mapped_column(Float)
    age_max: Mapped[float | None] = mapped_column(Float)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closing_type: Mapped[str | None] = mapped_column(String(8))
    contact_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RorOfferActivity(Base):
    """One activité opérationnelle of an offer (the orientation search filters on it)."""

    __tablename__ = "ror_offer_activities"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("ror_offers.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(8), primary_key=True)

    # The near search's activity filter: the offers of a code, read from the index alone.
    __table_args__ = (Index("ix_ror_offer_activities_code_offer", "code", "offer_id"),)


class RorOfferLocation(Base):
    """An offer's place, by the Location's resource id (it may arrive later)."""

    __tablename__ = "ror_offer_locations"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("ror_offers.id", ondelete="CASCADE"), primary_key=True
    )
    location_resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    # The near search's join from the places in the box to their offers, from the index alone.
    __table_args__ = (
        Index("ix_ror_offer_locations_place_offer", "location_resource_id", "offer_id"),
    )


class RorLocation(AddressColumns, Base):
    """A place (Location): address, COG, coordinates, capacities."""

    __tablename__ = "ror_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    managing_org: Mapped[str | None] = mapped_column(String(64), index=True)
    region: Mapped[str | None] = mapped_column(String(3))
    # Street or lieu-dit, locality and postal code (completeness.address_complete).
    address_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    lat_band: Mapped[int | None] = mapped_column(Integer)  # geo.band_of(latitude)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # The orientation search's bounding box: a longitude range in each latitude band.
    __table_args__ = (Index("ix_ror_locations_band", "lat_band", "longitude"),)


class RorPractitionerRole(Base):
    """A professional's role in an offer (PractitionerRole), as the ROR exposes some."""

    __tablename__ = "ror_practitioner_roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), unique=True)
    identifier: Mapped[str | None] = mapped_column(String(64), index=True)
    practitioner: Mapped[str | None] = mapped_column(String(64))
    # The HealthcareService (offer) and the Organization the role is exercised in.
    offer: Mapped[str | None] = mapped_column(String(64), index=True)
    organization: Mapped[str | None] = mapped_column(String(64), index=True)
    profession: Mapped[str | None] = mapped_column(String(8))
    region: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RorContact(Base):
    """A contact of an organisation or of an offer, with its telecoms."""

    __tablename__ = "ror_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("ror_organizations.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("ror_offers.id", ondelete="CASCADE"), index=True
    )
    function_code: Mapped[str | None] = mapped_column(String(8))
    nature_code: Mapped[str | None] = mapped_column(String(8))
    confidentiality: Mapped[str | None] = mapped_column(String(4))
    description: Mapped[str | None] = mapped_column(String(300))
    telecoms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class RorCapacity(Base):
    """A capacity record of a place (nature, status, temporality, number of beds/places)."""

    __tablename__ = "ror_capacities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("ror_locations.id", ondelete="CASCADE"), index=True
    )
    type_code: Mapped[str | None] = mapped_column(String(8))
    status_code: Mapped[str | None] = mapped_column(String(8))
    temporality_code: Mapped[str | None] = mapped_column(String(8))
    count: Mapped[int] = mapped_column(Integer)


class RorSnapshot(Base):
    """The completeness as it stood after one sync, for trends."""

    __tablename__ = "ror_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    reference_date: Mapped[date] = mapped_column(Date)
    run_id: Mapped[int | None] = mapped_column(Integer)


class RorSnapshotRow(Base):
    """Counts of one snapshot for one region × department × sector × champ × category."""

    __tablename__ = "ror_snapshot_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("ror_snapshots.id", ondelete="CASCADE"), index=True
    )
    region: Mapped[str | None] = mapped_column(String(3))
    department: Mapped[str] = mapped_column(String(3))
    sector: Mapped[str] = mapped_column(String(20))
    champ: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(8))
    perimeter: Mapped[int] = mapped_column(Integer)
    finalised: Mapped[int] = mapped_column(Integer)
    in_progress: Mapped[int] = mapped_column(Integer)
    to_do: Mapped[int] = mapped_column(Integer)
