"""Builders of ROR FHIR resources shaped like the national exposure (IG ans.fhir.fr.ror).

Used to write the rule fixture (fixtures/ror/rules/), the delta tests and the national-size
benchmark generator; the shapes follow the published example bundle.
"""

from __future__ import annotations

from typing import Any

R = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"
NOS = "https://mos.esante.gouv.fr/NOS/"


def nos(tre: str) -> str:
    """NOS canonical of a TRE: TRE-R227-ChampActivite -> .../TRE_R227-ChampActivite/FHIR/..."""
    return f"{NOS}{tre.replace('-', '_', 1)}/FHIR/{tre}"


def cc(tre: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": nos(tre), "code": code}]}


def meta(region: str | None, updated: str = "2026-01-05T10:00:00+01:00") -> dict[str, Any]:
    out: dict[str, Any] = {"lastUpdated": updated}
    if region:
        out["tag"] = [{"system": nos("TRE-R30-RegionOM"), "code": region}]
    return out


def ej(rid: str, finess: str, region: str = "84") -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": rid,
        "meta": meta(region),
        "active": True,
        "identifier": [
            {
                "system": "https://finess.esante.gouv.fr",
                "value": finess,
                "type": cc("TRE-G07-TypeIdentifiantStructure", "1"),
            }
        ],
        "type": [cc("TRE-R72-FinessStatutJuridique", "72")],
        "name": f"EJ {finess}",
    }


def eg(rid: str, finess: str, category: str, ej_id: str, region: str = "84") -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": rid,
        "meta": meta(region),
        "active": True,
        "identifier": [
            {
                "system": "https://finess.esante.gouv.fr",
                "value": finess,
                "type": cc("TRE-G07-TypeIdentifiantStructure", "1"),
            }
        ],
        "type": [cc("TRE-R66-CategorieEtablissement", category)],
        "name": f"EG {finess}",
        "partOf": {"reference": f"Organization/{ej_id}"},
    }


def contact_ext(
    *,
    function: str | None = "05",
    nature: str | None = "06",
    channel: str | None = "2",
    address: str | None = "0400000001",
    telecom_conf: str | None = "1",
) -> dict[str, Any]:
    """A HealthcareService contact extension; pass None to leave an item out."""
    telecom: list[dict[str, Any]] = []
    if channel:
        telecom.append(
            {
                "url": R + "ror-telecom-communication-channel",
                "valueCodeableConcept": cc("TRE-R200-CanalCommunication", channel),
            }
        )
    if telecom_conf:
        telecom.append(
            {
                "url": R + "ror-telecom-confidentiality-level",
                "valueCodeableConcept": cc("TRE-R283-NiveauConfidentialite", telecom_conf),
            }
        )
    if address:
        telecom.append({"url": "telecomAddress", "valueString": address})
    subs: list[dict[str, Any]] = []
    if nature:
        subs.append(
            {"url": "purposeContact", "valueCodeableConcept": cc("TRE-R287-NatureContact", nature)}
        )
    if function:
        subs.append(
            {
                "url": R + "ror-contact-function-contact",
                "valueCodeableConcept": cc("TRE-R251-FonctionContact", function),
            }
        )
    subs.append(
        {
            "url": R + "ror-confidentiality-level",
            "valueCodeableConcept": cc("TRE-R283-NiveauConfidentialite", "1"),
        }
    )
    subs.append({"url": R + "ror-healthcareservice-contact-telecom", "extension": telecom})
    return {"url": R + "ror-healthcareservice-contact", "extension": subs}


def org_contact(function: str = "05") -> dict[str, Any]:
    """An Organization.contact (how OI contacts are exposed since IG 0.6.0)."""
    return {
        "extension": [
            {
                "url": R + "ror-contact-function-contact",
                "valueCodeableConcept": cc("TRE-R251-FonctionContact", function),
            },
            {
                "url": R + "ror-contact-confidentiality-level",
                "valueCodeableConcept": cc("TRE-R283-NiveauConfidentialite", "1"),
            },
        ],
        "telecom": [
            {
                "value": "0400000099",
                "extension": [
                    {
                        "url": R + "ror-telecom-communication-channel",
                        "valueCodeableConcept": cc("TRE-R200-CanalCommunication", "2"),
                    },
                    {
                        "url": R + "ror-telecom-confidentiality-level",
                        "valueCodeableConcept": cc("TRE-R283-NiveauConfidentialite", "1"),
                    },
                ],
            }
        ],
    }


def oi(
    rid: str,
    parent: str,
    oi_type: str = "4",
    region: str = "84",
    *,
    closed_on: str | None = None,
    closing_type: str | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Organization",
        "id": rid,
        "meta": meta(region),
        "active": True,
        "identifier": [
            {
                "system": "https://oi.esante.gouv.fr",
                "value": f"{region}/OI/{rid}",
                "type": cc("TRE-R345-TypeIdentifiantAutre", "42"),
            }
        ],
        "type": [cc("TRE-R207-TypeOrganisationInterne", oi_type)],
        "name": f"OI {rid}",
        "partOf": {"reference": f"Organization/{parent}"},
    }
    extensions = []
    if closed_on:
        extensions.append(
            {
                "url": "http://hl7.org/fhir/StructureDefinition/organization-period",
                "valuePeriod": {"start": "2000-01-01", "end": closed_on},
            }
        )
    if closing_type:
        extensions.append(
            {
                "url": R + "ror-organization-closing-type",
                "valueCodeableConcept": cc("TRE-R286-TypeFermeture", closing_type),
            }
        )
    if extensions:
        res["extension"] = extensions
    if contacts:
        res["contact"] = contacts
    return res


def location(
    rid: str,
    eg_id: str,
    *,
    street: str | None = "des Tilleuls",
    lieu_dit: str | None = None,
    city: str | None = "Lyon",
    postal_code: str | None = "69003",
    cog: str = "69123",
    region: str = "84",
    lat: float | None = None,
    lon: float | None = None,
    capacity: int | None = None,
) -> dict[str, Any]:
    line_ext = []
    if street:
        line_ext.append(
            {
                "url": "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-streetNameBase",
                "valueString": street,
            }
        )
    line_ext.append(
        {
            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber",
            "valueString": "12",
        }
    )
    if lieu_dit:
        line_ext.append({"url": R + "ror-lieu-dit", "valueString": lieu_dit})
    address: dict[str, Any] = {
        "line": ["12 " + (street or lieu_dit or "")],
        "_line": [{"extension": line_ext}],
    }
    if city:
        address["city"] = city
    if postal_code:
        address["postalCode"] = postal_code
    res: dict[str, Any] = {
        "resourceType": "Location",
        "id": rid,
        "meta": meta(region),
        "name": f"Lieu {rid}",
        "extension": [
            {"url": R + "ror-commune-cog", "valueCodeableConcept": cc("TRE-R13-CommuneOM", cog)}
        ],
        "address": address,
        "managingOrganization": {"reference": f"Organization/{eg_id}"},
    }
    if lat is not None and lon is not None:
        res["position"] = {"latitude": lat, "longitude": lon}
    if capacity is not None:
        res["extension"].append(
            {
                "url": R + "ror-location-supported-capacity",
                "extension": [
                    {
                        "url": "capacityType",
                        "valueCodeableConcept": cc("TRE-R329-NatureCapacite", "01"),
                    },
                    {
                        "url": "capacityStatus",
                        "valueCodeableConcept": cc("TRE-R330-TypeStatutCapacite", "1"),
                    },
                    {
                        "url": "temporalityCapacity",
                        "valueCodeableConcept": cc("TRE-R331-TemporaliteCapacite", "1"),
                    },
                    {"url": "nbCapacity", "valueInteger": capacity},
                ],
            }
        )
    return res


def offer(
    rid: str,
    provided_by: str,
    *,
    champ: str | None = "01",
    activities: tuple[str, ...] = ("022",),
    extra_specialty: str | None = None,
    care_mode: str | None = "28",
    ages: tuple[float | None, float | None, str] | None = (0, 120, "a"),
    location_id: str | None = None,
    contact: dict[str, Any] | None = None,
    with_contact: bool = True,
    org_category: str | None = None,
    region: str | None = "84",
    active: bool = True,
    closed_on: str | None = None,
    closing_type: str | None = None,
    updated: str = "2026-01-05T10:00:00+01:00",
) -> dict[str, Any]:
    """A HealthcareService; by default complete for every completeness flag."""
    res: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": rid,
        "meta": meta(region, updated),
        "identifier": [
            {"type": cc("TRE-R355-TypeIdentifiantOffre", "35"), "value": f"{region}/{rid}"}
        ],
        "active": active,
        "providedBy": {"reference": f"Organization/{provided_by}"},
        "name": f"Offre {rid}",
        "extension": [],
    }
    if champ:
        res["type"] = [cc("TRE-R227-ChampActivite", champ)]
    specialty = [cc("TRE-R211-ActiviteOperationnelle", a) for a in activities]
    if extra_specialty:
        specialty.append(cc("TRE-R265-ServicesSerafinPH", extra_specialty))
    if specialty:
        res["specialty"] = specialty
    characteristic = []
    if care_mode:
        characteristic.append(cc("TRE-R213-ModePriseEnCharge", care_mode))
    if closing_type:
        characteristic.append(cc("TRE-R286-TypeFermeture", closing_type))
    if characteristic:
        res["characteristic"] = characteristic
    if closed_on:
        res["notAvailable"] = [
            {
                "id": "closingReopeningDate",
                "description": "fermeture",
                "during": {"start": closed_on},
            }
        ]
    if org_category:
        res["category"] = [cc("TRE-R244-CategorieOrganisation", org_category)]
    if ages is not None:
        low, high, unit = ages
        rng: dict[str, Any] = {}
        if low is not None:
            rng["low"] = {"value": low, "code": unit}
        if high is not None:
            rng["high"] = {"value": high, "code": unit}
        res["extension"].append(
            {
                "url": R + "ror-healthcareservice-patient-type",
                "extension": [
                    {"url": "ageRange", "valueRange": rng},
                ],
            }
        )
    if with_contact:
        res["extension"].append(contact or contact_ext())
    if location_id:
        res["location"] = [{"reference": f"Location/{location_id}"}]
    return res


def bundle(resources: list[dict[str, Any]], kind: str = "collection") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"fullUrl": f"urn:uuid:{r.get('id')}", "resource": r} for r in resources],
    }
