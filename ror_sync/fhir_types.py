"""What the ROR import keeps of each FHIR resource (plain frozen records, no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class ParsedTelecom:
    channel: str | None
    address: str | None
    confidentiality: str | None
    usage: str | None = None


@dataclass(frozen=True)
class ParsedContact:
    function_code: str | None
    nature_code: str | None
    confidentiality: str | None
    description: str | None
    telecoms: tuple[ParsedTelecom, ...]


@dataclass(frozen=True)
class ParsedAddress:
    line: str | None
    street: str | None
    lieu_dit: str | None
    city: str | None
    postal_code: str | None
    commune_cog: str | None


@dataclass(frozen=True)
class ParsedCapacity:
    type_code: str | None
    status_code: str | None
    temporality_code: str | None
    count: int


@dataclass(frozen=True)
class ParsedOrganization:
    resource_id: str
    kind: str  # "EJ", "EG" or "OI"
    oi_type: str | None
    name: str | None
    finess: str | None
    category: str | None
    part_of: str | None
    region: str | None
    active: bool
    opened_on: date | None
    closed_on: date | None
    closing_type: str | None
    address: ParsedAddress | None
    contacts: tuple[ParsedContact, ...]
    last_updated: datetime | None


@dataclass(frozen=True)
class ParsedLocation:
    resource_id: str
    name: str | None
    managing_org: str | None
    region: str | None
    address: ParsedAddress | None
    latitude: float | None
    longitude: float | None
    capacities: tuple[ParsedCapacity, ...]
    last_updated: datetime | None


@dataclass(frozen=True)
class ParsedOffer:
    resource_id: str
    identifier: str | None
    name: str | None
    provided_by: str | None
    region: str | None
    active: bool
    champ: str | None
    activities: tuple[str, ...]
    care_mode: str | None
    org_category: str | None
    publics: tuple[str, ...]
    age_min: float | None
    age_max: float | None
    closed_on: date | None
    closing_type: str | None
    location_ids: tuple[str, ...]
    contacts: tuple[ParsedContact, ...]
    last_updated: datetime | None


@dataclass(frozen=True)
class ParsedRole:
    resource_id: str
    identifier: str | None
    practitioner: str | None
    offer: str | None
    organization: str | None
    profession: str | None
    region: str | None
    active: bool
    last_updated: datetime | None


Parsed = ParsedOrganization | ParsedLocation | ParsedOffer | ParsedRole
