"""Stored ROR rows as FHIR R4 resources shaped by ANS's ROR guide (ans.fhir.fr.ror).

Profiles, identifier systems, NOS code systems and extension URLs are the guide's
(ror-fhir.md §A); an element is written only when Socle holds its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ror_sync import codes
from ror_sync.models import (
    RorCapacity,
    RorContact,
    RorLocation,
    RorOrganization,
    RorPractitionerRole,
)

R = codes.R
PROFILE_ORGANIZATION = R + "ror-organization"
PROFILE_HEALTHCARESERVICE = R + "ror-healthcareservice"
PROFILE_LOCATION = R + "ror-location"
PROFILE_PRACTITIONERROLE = R + "ror-practitionerrole"
SYSTEM_FINESS = "https://finess.esante.gouv.fr"
SYSTEM_IDNST = "urn:oid:1.2.250.1.71.4.2.2"
SYSTEM_OI = codes.OI_IDENTIFIER_SYSTEM
EXT_LIEU_DIT = R + "ror-lieu-dit"
# TRE_R200 canal: the ContactPoint.system a FHIR client needs beside the ROR's channel code.
CHANNEL_SYSTEMS = {"2": "phone", "3": "email"}


def nos(table: str) -> str:
    """NOS canonical of a terminology: TRE-R227-ChampActivite -> .../TRE_R227-.../FHIR/..."""
    return f"https://mos.esante.gouv.fr/NOS/{table.replace('-', '_', 1)}/FHIR/{table}"


CS_REGION = nos("TRE-R30-RegionOM")
CS_ID_TYPE = nos("TRE-G07-TypeIdentifiantStructure")
CS_STRUCTURE_TYPE = nos("TRE-R67-TypeStructure-EJ-EG")
CS_CATEGORY = nos("TRE-R66-CategorieEtablissement")
CS_OI_TYPE = nos("TRE-R207-TypeOrganisationInterne")
CS_CLOSING = nos("TRE-R286-TypeFermeture")
CS_CHAMP = nos("TRE-R227-ChampActivite")
CS_ACTIVITY = nos("TRE-R211-ActiviteOperationnelle")
CS_CARE_MODE = nos("TRE-R213-ModePriseEnCharge")
CS_ORG_CATEGORY = nos("TRE-R244-CategorieOrganisation")
CS_PUBLIC = nos("TRE-R239-PublicPrisEnCharge")
CS_OFFER_ID_TYPE = nos("TRE-R355-TypeIdentifiantOffre")
CS_UNIT = nos("TRE-R247-UcumUniteMesure")
CS_COMMUNE = nos("TRE-R13-CommuneOM")
CS_NATURE = nos("TRE-R287-NatureContact")
CS_FUNCTION = nos("TRE-R251-FonctionContact")
CS_CONFIDENTIALITY = nos("TRE-R283-NiveauConfidentialite")
CS_CHANNEL = nos("TRE-R200-CanalCommunication")
CS_PROFESSION = nos("TRE-G15-ProfessionSante")
CS_CAPACITY_TYPE = nos("TRE-R329-NatureCapacite")
CS_CAPACITY_STATUS = nos("TRE-R330-StatutCapacite")
CS_CAPACITY_TEMPORALITY = nos("TRE-R332-TemporaliteCapacite")


def cc(system: str, code: str | None) -> dict[str, Any] | None:
    return {"coding": [{"system": system, "code": code}]} if code else None


def _ext(url: str, **value: Any) -> dict[str, Any]:
    return {"url": url, **value}


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _meta(profile: str, updated: datetime | None, region: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"profile": [profile]}
    if updated:
        meta["lastUpdated"] = _instant(updated)
    if region:
        meta["tag"] = [{"system": CS_REGION, "code": region}]
    return meta


def _address(row: RorOrganization | RorLocation) -> dict[str, Any] | None:
    parts = [row.address_line, row.street, row.lieu_dit, row.city, row.postal_code]
    if not any(parts):
        return None
    address: dict[str, Any] = {"use": "work", "type": "physical"}
    line_ext = []
    if row.street:
        line_ext.append(_ext(codes.EXT_STREET_NAME, valueString=row.street))
    if row.lieu_dit:
        line_ext.append(_ext(EXT_LIEU_DIT, valueString=row.lieu_dit))
    line = row.address_line or row.street or row.lieu_dit
    if line:
        address["line"] = [line]
        if line_ext:
            address["_line"] = [{"extension": line_ext}]
    if row.city:
        address["city"] = row.city
    if row.postal_code:
        address["postalCode"] = row.postal_code
    return address


def _telecom_point(t: dict[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = {"system": CHANNEL_SYSTEMS.get(t.get("channel") or "", "other")}
    if t.get("address"):
        point["value"] = t["address"]
    ext = [
        _ext(codes.EXT_TELECOM_CHANNEL, valueCodeableConcept=cc(CS_CHANNEL, t.get("channel"))),
        _ext(
            codes.EXT_TELECOM_CONFIDENTIALITY,
            valueCodeableConcept=cc(CS_CONFIDENTIALITY, t.get("confidentiality")),
        ),
    ]
    if t.get("usage"):
        ext.append(_ext(codes.EXT_TELECOM_USAGE, valueString=t["usage"]))
    point["extension"] = [e for e in ext if len(e) > 1 and e.get("valueCodeableConcept", 1)]
    return point


def _org_contact(c: RorContact) -> dict[str, Any]:
    contact: dict[str, Any] = {}
    ext = []
    if c.function_code:
        ext.append(
            _ext(codes.EXT_FUNCTION_CONTACT, valueCodeableConcept=cc(CS_FUNCTION, c.function_code))
        )
    if c.confidentiality:
        ext.append(
            _ext(
                codes.EXT_CONTACT_CONFIDENTIALITY,
                valueCodeableConcept=cc(CS_CONFIDENTIALITY, c.confidentiality),
            )
        )
    if ext:
        contact["extension"] = ext
    if c.nature_code:
        contact["purpose"] = cc(CS_NATURE, c.nature_code)
    telecoms = [_telecom_point(t) for t in c.telecoms or []]
    if telecoms:
        contact["telecom"] = telecoms
    return contact


def _org_types(o: RorOrganization) -> list[dict[str, Any]]:
    if o.kind == "OI":
        return [t for t in [cc(CS_OI_TYPE, o.oi_type)] if t]
    found = [cc(CS_STRUCTURE_TYPE, o.kind)]
    if o.kind == "EG":
        found.append(cc(CS_CATEGORY, o.category))
    return [t for t in found if t]


def _org_identifiers(o: RorOrganization) -> list[dict[str, Any]]:
    if not o.finess or o.kind == "OI":
        return []
    return [
        {
            "use": "official",
            "type": cc(CS_ID_TYPE, "40"),
            "system": SYSTEM_IDNST,
            "value": "1" + o.finess,
        },
        {"type": cc(CS_ID_TYPE, "1"), "system": SYSTEM_FINESS, "value": o.finess},
    ]


def _period_extensions(o: RorOrganization) -> list[dict[str, Any]]:
    found = []
    if o.opened_on or o.closed_on:
        period = {k: v.isoformat() for k, v in (("start", o.opened_on), ("end", o.closed_on)) if v}
        found.append(_ext(codes.EXT_ORG_PERIOD, valuePeriod=period))
    if o.closing_type:
        found.append(
            _ext(
                codes.EXT_ORG_CLOSING_TYPE,
                valueCodeableConcept=cc(CS_CLOSING, o.closing_type),
            )
        )
    return found


def organization(o: RorOrganization, contacts: Sequence[RorContact] = ()) -> dict[str, Any]:
    """An EJ, EG or internal organisation (ror-organization)."""
    res: dict[str, Any] = {
        "resourceType": "Organization",
        "id": o.resource_id,
        "meta": _meta(PROFILE_ORGANIZATION, o.last_updated, o.region),
        "active": o.active,
    }
    optional: dict[str, Any] = {
        "extension": _period_extensions(o),
        "identifier": _org_identifiers(o),
        "type": _org_types(o),
        "name": o.name,
        "contact": [_org_contact(c) for c in contacts],
        "partOf": {"reference": f"Organization/{o.part_of}"} if o.part_of else None,
    }
    address = _address(o)
    if address and o.commune_cog:
        address["extension"] = [
            _ext(codes.EXT_INSEE_CODE, valueCoding={"system": CS_COMMUNE, "code": o.commune_cog})
        ]
    optional["address"] = [address] if address else None
    res.update({k: v for k, v in optional.items() if v})
    return res


def _capacity(c: RorCapacity) -> dict[str, Any]:
    subs = [
        _ext("capacityType", valueCodeableConcept=cc(CS_CAPACITY_TYPE, c.type_code)),
        _ext("capacityStatus", valueCodeableConcept=cc(CS_CAPACITY_STATUS, c.status_code)),
        _ext(
            "temporalityCapacity",
            valueCodeableConcept=cc(CS_CAPACITY_TEMPORALITY, c.temporality_code),
        ),
    ]
    subs = [s for s in subs if s["valueCodeableConcept"]]
    subs.append(_ext("nbCapacity", valueInteger=c.count))
    return _ext(codes.EXT_CAPACITY, extension=subs)


def location(p: RorLocation, capacities: Sequence[RorCapacity] = ()) -> dict[str, Any]:
    """A place (ror-location) with its COG, position and capacities."""
    ext = []
    if p.commune_cog:
        ext.append(_ext(codes.EXT_COMMUNE_COG, valueCodeableConcept=cc(CS_COMMUNE, p.commune_cog)))
    ext += [_capacity(c) for c in capacities]
    optional: dict[str, Any] = {
        "extension": ext,
        "name": p.name,
        "address": _address(p),
        "managingOrganization": {"reference": f"Organization/{p.managing_org}"}
        if p.managing_org
        else None,
    }
    if p.latitude is not None and p.longitude is not None:
        optional["position"] = {"latitude": p.latitude, "longitude": p.longitude}
    res: dict[str, Any] = {
        "resourceType": "Location",
        "id": p.resource_id,
        "meta": _meta(PROFILE_LOCATION, p.last_updated, p.region),
        "status": "active",
    }
    res.update({k: v for k, v in optional.items() if v})
    return res


def practitioner_role(p: RorPractitionerRole) -> dict[str, Any]:
    """A professional's role in an offer (ror-practitionerrole)."""
    optional: dict[str, Any] = {
        "identifier": [{"value": p.identifier}] if p.identifier else None,
        "practitioner": {"reference": f"Practitioner/{p.practitioner}"} if p.practitioner else None,
        "organization": {"reference": f"Organization/{p.organization}"} if p.organization else None,
        "code": [cc(CS_PROFESSION, p.profession)] if p.profession else None,
        "healthcareService": [{"reference": f"HealthcareService/{p.offer}"}] if p.offer else None,
    }
    res: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": p.resource_id,
        "meta": _meta(PROFILE_PRACTITIONERROLE, p.last_updated, p.region),
        "active": p.active,
    }
    res.update({k: v for k, v in optional.items() if v})
    return res
