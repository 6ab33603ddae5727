"""ROR FHIR resources (Organization, HealthcareService, Location) to plain records.

The parser keys on codes and systems, never on ``meta.profile``: the 2026 IG splits
organisations into new profiles while keeping the same codings (ror-fhir.md §A.1).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ror_sync import codes
from ror_sync.fhir_reader import Located
from ror_sync.fhir_types import (
    Parsed,
    ParsedAddress,
    ParsedCapacity,
    ParsedContact,
    ParsedLocation,
    ParsedOffer,
    ParsedOrganization,
    ParsedRole,
    ParsedTelecom,
)
from ror_sync.fhir_values import JsonObj, Reader

KINDS = ("Organization", "HealthcareService", "Location", "PractitionerRole")


def parse(item: Located) -> Parsed | None:
    """The record of a resource, or None for resource types the ROR import does not keep."""
    kind = item.resource.get("resourceType")
    reader = Reader(item.resource, item.where)
    if kind == "Organization":
        return parse_organization(reader)
    if kind == "HealthcareService":
        return parse_offer(reader)
    if kind == "Location":
        return parse_location(reader)
    if kind == "PractitionerRole":
        return parse_role(reader)
    return None


def _organization_kind(r: Reader, types: list[JsonObj]) -> tuple[str | None, str | None]:
    """(kind, OI type) when the codings say it; EG/EJ by category and partOf otherwise."""
    oi_type = r.first_code(types, codes.SYS_OI_TYPE, "type")
    if oi_type in ("EJ", "EG"):
        return oi_type, None
    structure = r.first_code(types, codes.SYS_STRUCTURE_TYPE, "type")
    if structure in ("EJ", "EG"):
        return structure, None
    identifiers = r.objects(r.resource, "identifier", "identifier")
    if oi_type or any(i.get("system") == codes.OI_IDENTIFIER_SYSTEM for i in identifiers):
        return "OI", oi_type
    return None, None


def _finess(r: Reader) -> str | None:
    for index, ident in enumerate(r.objects(r.resource, "identifier", "identifier")):
        system = str(ident.get("system") or "")
        type_codes = {
            str(c.get("code"))
            for c in r.objects(ident.get("type") or {}, "coding", f"identifier[{index}].type")
        }
        if "finess" in system.lower() or type_codes & codes.FINESS_TYPE_CODES:
            value = r.text(ident, "value", f"identifier[{index}].value")
            if value:
                return value
    return None


def _closing(r: Reader) -> tuple[date | None, date | None, str | None]:
    """(opened_on, closed_on, closing type) from the core or the older ROR period extension."""
    res = r.resource
    opened: date | None = None
    closed: date | None = None
    closing_type = r.ext_code(res, codes.EXT_ORG_CLOSING_TYPE, None, "extension")
    for ext in r.extensions(res, codes.EXT_ORG_PERIOD, "extension"):
        period = ext.get("valuePeriod") or {}
        opened = r.date_value(period.get("start"), "extension[organization-period].start")
        closed = r.date_value(period.get("end"), "extension[organization-period].end")
    for ext in r.extensions(res, codes.EXT_ROR_ORG_PERIOD, "extension"):
        path = "extension[ror-organization-period]"
        for sub in r.objects(ext, "extension", path):
            if sub.get("url") == "period" and isinstance(sub.get("valuePeriod"), dict):
                opened = opened or r.date_value(sub["valuePeriod"].get("start"), f"{path}.start")
                closed = closed or r.date_value(sub["valuePeriod"].get("end"), f"{path}.end")
        closing_type = closing_type or r.ext_code(ext, "closingType", None, path)
    return opened, closed, closing_type


def parse_organization(r: Reader) -> ParsedOrganization:
    res = r.resource
    types = r.objects(res, "type", "type")
    kind, oi_type = _organization_kind(r, types)
    category = r.first_code(types, codes.SYS_EG_CATEGORY, "type")
    part_of = r.reference(res, "partOf", "partOf")
    if kind is None:
        kind = "EG" if category or part_of else "EJ"
    opened, closed, closing_type = _closing(r)
    addresses = r.objects(res, "address", "address")
    contacts = tuple(
        _org_contact(r, c, f"contact[{i}]")
        for i, c in enumerate(r.objects(res, "contact", "contact"))
    )
    return ParsedOrganization(
        resource_id=r.resource_id(),
        kind=kind,
        oi_type=oi_type,
        name=r.text(res, "name", "name"),
        finess=_finess(r),
        category=category if kind == "EG" else None,
        part_of=part_of,
        region=r.region(),
        active=res.get("active") is not False,
        opened_on=opened,
        closed_on=closed,
        closing_type=closing_type,
        address=r.address(addresses[0], "address[0]") if addresses else None,
        contacts=contacts,
        last_updated=r.last_updated(),
    )


def _org_contact(r: Reader, contact: JsonObj, path: str) -> ParsedContact:
    telecoms = tuple(
        ParsedTelecom(
            channel=r.ext_code(t, codes.EXT_TELECOM_CHANNEL, None, f"{path}.telecom[{i}]"),
            address=r.text(t, "value", f"{path}.telecom[{i}].value"),
            confidentiality=r.ext_code(
                t, codes.EXT_TELECOM_CONFIDENTIALITY, None, f"{path}.telecom[{i}]"
            ),
            usage=None,
        )
        for i, t in enumerate(r.objects(contact, "telecom", f"{path}.telecom"))
    )
    purpose = contact.get("purpose")
    return ParsedContact(
        function_code=r.ext_code(contact, codes.EXT_FUNCTION_CONTACT, None, path),
        nature_code=r.first_code([purpose], (), f"{path}.purpose")
        if isinstance(purpose, dict)
        else None,
        confidentiality=r.ext_code(contact, codes.EXT_CONTACT_CONFIDENTIALITY, None, path),
        description=None,
        telecoms=telecoms,
    )


def _hs_contact(r: Reader, ext: JsonObj, path: str) -> ParsedContact:
    telecoms = []
    for i, tel in enumerate(r.extensions(ext, codes.EXT_HS_CONTACT_TELECOM, path)):
        tpath = f"{path}.telecom[{i}]"
        address = next(
            (s for s in r.objects(tel, "extension", tpath) if s.get("url") == "telecomAddress"), {}
        )
        telecoms.append(
            ParsedTelecom(
                channel=r.ext_code(tel, codes.EXT_TELECOM_CHANNEL, None, tpath),
                address=r.text(address, "valueString", f"{tpath}.telecomAddress"),
                confidentiality=r.ext_code(tel, codes.EXT_TELECOM_CONFIDENTIALITY, None, tpath),
                usage=next(
                    (
                        str(s.get("valueString"))
                        for s in r.objects(tel, "extension", tpath)
                        if s.get("url") == codes.EXT_TELECOM_USAGE
                    ),
                    None,
                ),
            )
        )
    description = next(
        (
            s.get("valueString")
            for s in r.objects(ext, "extension", path)
            if s.get("url") == "description"
        ),
        None,
    )
    return ParsedContact(
        function_code=r.ext_code(ext, codes.EXT_FUNCTION_CONTACT, None, path),
        nature_code=r.ext_code(ext, "purposeContact", None, path),
        confidentiality=r.ext_code(ext, codes.EXT_CONFIDENTIALITY, None, path),
        description=str(description) if description else None,
        telecoms=tuple(telecoms),
    )


def _patient_type(r: Reader) -> tuple[tuple[str, ...], float | None, float | None]:
    publics: list[str] = []
    age_min = age_max = None
    path = "extension[ror-healthcareservice-patient-type]"
    for ext in r.extensions(r.resource, codes.EXT_PATIENT_TYPE, "extension"):
        for sub in r.objects(ext, "extension", path):
            if sub.get("url") == "supportedPatientInfo" and sub.get("valueCodeableConcept"):
                publics += r.codes([sub["valueCodeableConcept"]], (), f"{path}.public")
            elif sub.get("url") == "ageRange":
                rng = sub.get("valueRange")
                if not isinstance(rng, dict):
                    raise r.fail(f"{path}.ageRange.valueRange", "a Range is expected")
                age_min = r.age_years(rng.get("low"), f"{path}.ageRange.low")
                age_max = r.age_years(rng.get("high"), f"{path}.ageRange.high")
    return tuple(publics), age_min, age_max


def parse_offer(r: Reader) -> ParsedOffer:
    res = r.resource
    characteristics = r.objects(res, "characteristic", "characteristic")
    closed_on = None
    for i, na in enumerate(r.objects(res, "notAvailable", "notAvailable")):
        during = na.get("during") or {}
        if na.get("id") in (None, "closingReopeningDate") and isinstance(during, dict):
            closed_on = r.date_value(during.get("start"), f"notAvailable[{i}].during.start")
    identifiers = r.objects(res, "identifier", "identifier")
    publics, age_min, age_max = _patient_type(r)
    return ParsedOffer(
        resource_id=r.resource_id(),
        identifier=r.text(identifiers[0], "value", "identifier[0].value") if identifiers else None,
        name=r.text(res, "name", "name"),
        provided_by=r.reference(res, "providedBy", "providedBy"),
        region=r.region(),
        active=res.get("active") is not False,
        champ=r.first_code(r.objects(res, "type", "type"), codes.SYS_CHAMP, "type"),
        activities=tuple(
            dict.fromkeys(
                r.codes(r.objects(res, "specialty", "specialty"), codes.SYS_ACTIVITY, "specialty")
            )
        ),
        care_mode=r.first_code(characteristics, codes.SYS_CARE_MODE, "characteristic"),
        org_category=r.first_code(
            r.objects(res, "category", "category"), codes.SYS_ORG_CATEGORY, "category"
        ),
        publics=publics,
        age_min=age_min,
        age_max=age_max,
        closed_on=closed_on,
        closing_type=r.first_code(characteristics, codes.SYS_CLOSING_TYPE, "characteristic"),
        location_ids=tuple(
            ref
            for i, loc in enumerate(r.objects(res, "location", "location"))
            if (ref := r.reference({"l": loc}, "l", f"location[{i}]"))
        ),
        contacts=tuple(
            _hs_contact(r, ext, f"extension[contact][{i}]")
            for i, ext in enumerate(r.extensions(res, codes.EXT_HS_CONTACT, "extension"))
        ),
        last_updated=r.last_updated(),
    )


def _capacities(r: Reader) -> tuple[ParsedCapacity, ...]:
    found = []
    for i, ext in enumerate(r.extensions(r.resource, codes.EXT_CAPACITY, "extension")):
        path = f"extension[capacity][{i}]"
        subs = {s.get("url"): s for s in r.objects(ext, "extension", path)}
        count = (subs.get("nbCapacity") or {}).get("valueInteger")
        if count is None:
            continue
        if isinstance(count, bool) or not isinstance(count, int):
            raise r.fail(f"{path}.nbCapacity", f"an integer is expected, got {count!r}")
        found.append(
            ParsedCapacity(
                type_code=r.ext_code(ext, "capacityType", None, path),
                status_code=r.ext_code(ext, "capacityStatus", None, path),
                temporality_code=r.ext_code(ext, "temporalityCapacity", None, path),
                count=count,
            )
        )
    return tuple(found)


def parse_location(r: Reader) -> ParsedLocation:
    res = r.resource
    address = res.get("address")
    if address is not None and not isinstance(address, dict):
        raise r.fail("address", "an Address object is expected")
    parsed_address = r.address(address, "address") if address else None
    cog = r.ext_code(res, codes.EXT_COMMUNE_COG, None, "extension")
    if cog:
        base = parsed_address or ParsedAddress(None, None, None, None, None, None)
        parsed_address = replace(base, commune_cog=cog)
    position = res.get("position") or {}
    lat, lon = position.get("latitude"), position.get("longitude")
    for value, field in ((lat, "position.latitude"), (lon, "position.longitude")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise r.fail(field, f"a number is expected, got {value!r}")
    return ParsedLocation(
        resource_id=r.resource_id(),
        name=r.text(res, "name", "name"),
        managing_org=r.reference(res, "managingOrganization", "managingOrganization"),
        region=r.region(),
        address=parsed_address,
        latitude=float(lat) if lat is not None else None,
        longitude=float(lon) if lon is not None else None,
        capacities=_capacities(r),
        last_updated=r.last_updated(),
    )


def parse_role(r: Reader) -> ParsedRole:
    """A PractitionerRole of the ROR: who, in which offer and organisation, which profession."""
    res = r.resource
    identifiers = r.objects(res, "identifier", "identifier")
    services = r.objects(res, "healthcareService", "healthcareService")
    return ParsedRole(
        resource_id=r.resource_id(),
        identifier=r.text(identifiers[0], "value", "identifier[0].value") if identifiers else None,
        practitioner=r.reference(res, "practitioner", "practitioner"),
        offer=r.reference({"s": services[0]}, "s", "healthcareService[0]") if services else None,
        organization=r.reference(res, "organization", "organization"),
        profession=r.first_code(r.objects(res, "code", "code"), codes.SYS_PROFESSION, "code"),
        region=r.region(),
        active=res.get("active") is not False,
        last_updated=r.last_updated(),
    )
