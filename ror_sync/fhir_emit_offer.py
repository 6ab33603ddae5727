"""A stored offer as a ROR HealthcareService (ror-healthcareservice, ror-fhir.md §A.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ror_sync import codes
from ror_sync.fhir_emit import (
    CS_ACTIVITY,
    CS_CARE_MODE,
    CS_CHAMP,
    CS_CHANNEL,
    CS_CLOSING,
    CS_CONFIDENTIALITY,
    CS_FUNCTION,
    CS_NATURE,
    CS_OFFER_ID_TYPE,
    CS_ORG_CATEGORY,
    CS_PUBLIC,
    CS_UNIT,
    PROFILE_HEALTHCARESERVICE,
    _ext,
    _meta,
    cc,
)
from ror_sync.models import RorContact, RorOffer


def _age(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "année", "system": CS_UNIT, "code": "a"}


def _patient_type(o: RorOffer) -> dict[str, Any] | None:
    subs = [
        _ext("supportedPatientInfo", valueCodeableConcept=cc(CS_PUBLIC, code))
        for code in o.publics.split(",")
        if code
    ]
    if o.age_min is not None or o.age_max is not None:
        age_range = {}
        if o.age_min is not None:
            age_range["low"] = _age(o.age_min)
        if o.age_max is not None:
            age_range["high"] = _age(o.age_max)
        subs.append(_ext("ageRange", valueRange=age_range))
    return _ext(codes.EXT_PATIENT_TYPE, extension=subs) if subs else None


def _telecom(t: dict[str, Any]) -> dict[str, Any]:
    subs = [
        _ext(codes.EXT_TELECOM_CHANNEL, valueCodeableConcept=cc(CS_CHANNEL, t.get("channel"))),
        _ext(
            codes.EXT_TELECOM_CONFIDENTIALITY,
            valueCodeableConcept=cc(CS_CONFIDENTIALITY, t.get("confidentiality")),
        ),
    ]
    found = [s for s in subs if s["valueCodeableConcept"]]
    if t.get("usage"):
        found.append(_ext(codes.EXT_TELECOM_USAGE, valueString=t["usage"]))
    if t.get("address"):
        found.append(_ext("telecomAddress", valueString=t["address"]))
    return _ext(codes.EXT_HS_CONTACT_TELECOM, extension=found)


def _contact(c: RorContact) -> dict[str, Any]:
    subs = [
        _ext("purposeContact", valueCodeableConcept=cc(CS_NATURE, c.nature_code)),
        _ext(codes.EXT_FUNCTION_CONTACT, valueCodeableConcept=cc(CS_FUNCTION, c.function_code)),
        _ext(
            codes.EXT_CONFIDENTIALITY,
            valueCodeableConcept=cc(CS_CONFIDENTIALITY, c.confidentiality),
        ),
    ]
    found = [s for s in subs if s["valueCodeableConcept"]]
    if c.description:
        found.append(_ext("description", valueString=c.description))
    found += [_telecom(t) for t in c.telecoms or [] if t]
    return _ext(codes.EXT_HS_CONTACT, extension=found)


def _characteristics(o: RorOffer) -> list[dict[str, Any]]:
    found = [cc(CS_CARE_MODE, o.care_mode), cc(CS_CLOSING, o.closing_type)]
    return [c for c in found if c]


def healthcare_service(
    o: RorOffer, places: Sequence[str] = (), contacts: Sequence[RorContact] = ()
) -> dict[str, Any]:
    """An offre opérationnelle: champ, activities, care mode, publics and ages, contacts."""
    extensions = [_patient_type(o), *(_contact(c) for c in contacts)]
    activities = [a for a in o.activities.split(",") if a]
    optional: dict[str, Any] = {
        "extension": [e for e in extensions if e],
        "identifier": [{"type": cc(CS_OFFER_ID_TYPE, "35"), "value": o.identifier}]
        if o.identifier
        else None,
        "providedBy": {"reference": f"Organization/{o.provided_by}"} if o.provided_by else None,
        "category": [cc(CS_ORG_CATEGORY, o.org_category)] if o.org_category else None,
        "type": [cc(CS_CHAMP, o.champ)] if o.champ else None,
        "specialty": [cc(CS_ACTIVITY, a) for a in activities],
        "location": [{"reference": f"Location/{p}"} for p in places],
        "name": o.name,
        "characteristic": _characteristics(o),
    }
    if o.closed_on:
        optional["notAvailable"] = [
            {
                "id": "closingReopeningDate",
                "description": "fermeture",
                "during": {"start": o.closed_on.isoformat()},
            }
        ]
    res: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": o.resource_id,
        "meta": _meta(PROFILE_HEALTHCARESERVICE, o.last_updated, o.region),
        "active": o.active,
    }
    res.update({k: v for k, v in optional.items() if v})
    return res
