"""Search parameters of the ROR FHIR API, parsed into the repository's criteria.

A parameter the server does not serve is refused (400) rather than ignored, so that a tool
never takes an unfiltered answer for a filtered one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from starlette.datastructures import QueryParams

from referentials.core.fhir import FhirBadRequest, parse_count, parse_offset, parse_token
from ror_sync import codes
from ror_sync.fhir_emit import SYSTEM_IDNST
from ror_sync.repository_fhir import (
    LocationCriteria,
    OfferCriteria,
    OrganizationCriteria,
    RoleCriteria,
    Updated,
)

MAX_NEAR_KM = 500.0
COMMON = {"_count", "_offset", "_include", "_include:iterate", "_revinclude", "_format"}
ORGANIZATION_PARAMS = {
    "_id", "_lastUpdated", "_tag", "identifier", "type", "partof",
    "address-city", "address-postalcode", "commune",
}  # fmt: skip
OFFER_PARAMS = {
    "_id", "_lastUpdated", "_tag", "identifier", "type", "specialty", "category", "organization",
    "location", "near", "age-range-low", "age-range-high",
}  # fmt: skip
LOCATION_PARAMS = {
    "_id", "_lastUpdated", "_tag", "organization", "address-city", "address-postalcode", "commune",
    "near",
}  # fmt: skip
ROLE_PARAMS = {
    "_id", "_lastUpdated", "_tag", "identifier", "practitioner", "service", "organization",
    "role",
}  # fmt: skip
PREFIXES = ("eq", "ge", "gt", "le", "lt")
# A code that matches no stored value (PostgreSQL refuses NUL characters in strings).
NO_MATCH = "urn:socle:no-match"


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True)
class Paging:
    count: int
    offset: int
    include: tuple[str, ...]
    revinclude: tuple[str, ...]
    iterate: tuple[str, ...]


def check_known(params: QueryParams, allowed: set[str]) -> None:
    unknown = sorted({k for k in params if k not in allowed | COMMON})
    if unknown:
        raise FhirBadRequest(
            f"unsupported search parameter(s): {', '.join(unknown)}; served: "
            + ", ".join(sorted(allowed)),
            fields={k: "unsupported" for k in unknown},
        )


def paging(params: QueryParams) -> Paging:
    return Paging(
        count=parse_count(params.get("_count")),
        offset=parse_offset(params.get("_offset")),
        include=tuple(params.getlist("_include")),
        revinclude=tuple(params.getlist("_revinclude")),
        iterate=tuple(params.getlist("_include:iterate")),
    )


def _values(params: QueryParams, name: str) -> list[str]:
    """Every comma-separated value of a parameter (OR), over its repetitions."""
    return [v.strip() for raw in params.getlist(name) for v in raw.split(",") if v.strip()]


def _codes(params: QueryParams, name: str, fragments: tuple[str, ...]) -> tuple[str, ...]:
    """Codes of a token parameter; a code of another terminology matches nothing."""
    found = []
    for value in _values(params, name):
        system, code = parse_token(value, name)
        found.append(code if system is None or codes.matches(system, fragments) else NO_MATCH)
    return tuple(found)


def regions(params: QueryParams) -> tuple[str, ...]:
    """``_tag`` on the region (TRE_R30), the national API's region filter."""
    return _codes(params, "_tag", codes.SYS_REGION)


def _references(params: QueryParams, name: str, resource: str) -> tuple[str, ...]:
    return tuple(
        v.split("/", 1)[1] if v.startswith(f"{resource}/") else v for v in _values(params, name)
    )


def _day(value: str) -> datetime:
    return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)


def last_updated(params: QueryParams) -> Updated:
    """``_lastUpdated`` with eq/ge/gt/le/lt on a date or an instant."""
    found: list[tuple[str, datetime]] = []
    for raw in params.getlist("_lastUpdated"):
        op, value = (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)
        try:
            if len(value) == 10:
                start = _day(value)
                end = start + timedelta(days=1)
                found += {
                    "eq": [("ge", start), ("lt", end)],
                    "ge": [("ge", start)],
                    "gt": [("ge", end)],
                    "le": [("lt", end)],
                    "lt": [("lt", start)],
                }[op]
                continue
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise FhirBadRequest(
                "_lastUpdated takes [eq|ge|gt|le|lt]YYYY-MM-DD or an instant",
                fields={"_lastUpdated": raw},
            ) from None
        found.append((op, instant if instant.tzinfo else instant.replace(tzinfo=UTC)))
    return tuple(found)


def _finess_of(value: str, system: str | None) -> str:
    if system in (None, SYSTEM_IDNST) and len(value) == 10 and value.startswith("1"):
        return value[1:]
    if system is None or system == SYSTEM_IDNST or "finess" in system.lower():
        return value
    return NO_MATCH  # an identifier system Socle holds no value of


def organization_criteria(params: QueryParams) -> OrganizationCriteria:
    check_known(params, ORGANIZATION_PARAMS)
    finess = tuple(
        _finess_of(code, system)
        for system, code in (parse_token(v, "identifier") for v in _values(params, "identifier"))
    )
    kinds, categories, oi_types = [], [], []
    for value in _values(params, "type"):
        system, code = parse_token(value, "type")
        if code in ("EJ", "EG") and (system is None or "R67" in system or "J203" in system):
            kinds.append(code)
        elif (system is None and len(code) == 1) or codes.matches(system, codes.SYS_OI_TYPE):
            oi_types.append(code)
        elif system is None or codes.matches(system, codes.SYS_EG_CATEGORY):
            categories.append(code)
        else:
            categories.append(NO_MATCH)
    return OrganizationCriteria(
        ids=tuple(_values(params, "_id")),
        regions=regions(params),
        finess=finess,
        kinds=tuple(kinds),
        categories=tuple(categories),
        oi_types=tuple(oi_types),
        part_of=_references(params, "partof", "Organization"),
        cities=tuple(_values(params, "address-city")),
        postal_codes=tuple(_values(params, "address-postalcode")),
        communes=tuple(_values(params, "commune")),
        updated=last_updated(params),
    )


def _champs(params: QueryParams) -> tuple[str, ...]:
    found = []
    for code in _codes(params, "type", codes.SYS_CHAMP):
        found.append(codes.CHAMP_CODES.get(code, code))
    return tuple(found)


def _age(params: QueryParams, name: str) -> tuple[tuple[str, float], ...]:
    found = []
    for raw in _values(params, name):
        op, value = (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)
        try:
            found.append((op, float(value)))
        except ValueError:
            raise FhirBadRequest(
                f"{name} takes [eq|ge|gt|le|lt]<years>", fields={name: raw}
            ) from None
    return tuple(found)


def offer_criteria(params: QueryParams) -> OfferCriteria:
    check_known(params, OFFER_PARAMS)
    return OfferCriteria(
        ids=tuple(_values(params, "_id")),
        regions=regions(params),
        identifiers=tuple(parse_token(v, "identifier")[1] for v in _values(params, "identifier")),
        champs=_champs(params),
        activities=_codes(params, "specialty", codes.SYS_ACTIVITY),
        categories=_codes(params, "category", codes.SYS_ORG_CATEGORY),
        providers=_references(params, "organization", "Organization"),
        places=_references(params, "location", "Location"),
        age_low=_age(params, "age-range-low"),
        age_high=_age(params, "age-range-high"),
        updated=last_updated(params),
    )


def location_criteria(params: QueryParams) -> LocationCriteria:
    check_known(params, LOCATION_PARAMS)
    return LocationCriteria(
        ids=tuple(_values(params, "_id")),
        regions=regions(params),
        managers=_references(params, "organization", "Organization"),
        cities=tuple(_values(params, "address-city")),
        postal_codes=tuple(_values(params, "address-postalcode")),
        communes=tuple(_values(params, "commune")),
        updated=last_updated(params),
    )


def role_criteria(params: QueryParams) -> RoleCriteria:
    check_known(params, ROLE_PARAMS)
    return RoleCriteria(
        ids=tuple(_values(params, "_id")),
        regions=regions(params),
        identifiers=tuple(parse_token(v, "identifier")[1] for v in _values(params, "identifier")),
        practitioners=_references(params, "practitioner", "Practitioner"),
        offers=_references(params, "service", "HealthcareService"),
        organizations=_references(params, "organization", "Organization"),
        professions=_codes(params, "role", codes.SYS_PROFESSION),
        updated=last_updated(params),
    )


def near(params: QueryParams) -> Near | None:
    """``near=latitude|longitude|distance|unit`` (km by default, m accepted)."""
    raw = params.get("near")
    if raw is None:
        return None
    parts = raw.split("|")
    try:
        lat, lon = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else 30.0
    except (ValueError, IndexError):
        raise FhirBadRequest(
            "near takes latitude|longitude|distance|unit, e.g. 45.76|4.83|30|km",
            fields={"near": raw},
        ) from None
    unit = parts[3] if len(parts) > 3 and parts[3] else "km"
    if unit not in ("km", "m"):
        raise FhirBadRequest("near: the distance unit is km or m", fields={"near": raw})
    radius = distance / 1000 if unit == "m" else distance
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not 0 < radius <= MAX_NEAR_KM:
        raise FhirBadRequest(
            f"near: a WGS84 point and a distance above 0 and up to {MAX_NEAR_KM:g} km",
            fields={"near": raw},
        )
    return Near(lat, lon, radius)
