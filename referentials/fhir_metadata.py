"""GET /fhir/metadata: the CapabilityStatement of everything Socle serves over FHIR.

Public, as FHIR servers usually make it: it describes the server and carries no data. Part of
the composition root because it lists the routes of several contexts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from identity.fhir import systems as patient_systems
from referentials.core.fhir import FHIR_JSON, FHIR_VERSION, FhirResponse, base_url
from referentials.directory import fhir_resources as directory_fhir

router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse)

_STRING, _TOKEN, _DATE, _REF = "string", "token", "date", "reference"
PATIENT_PARAMS = (
    ("_id", _TOKEN, "Socle identity id"),
    ("active", _TOKEN, "true: only active identities (a merged one is inactive)"),
    ("family", _STRING, "birth or used name, prefix (:exact supported), accents ignored"),
    ("given", _STRING, "any birth given name or the used first name, prefix (:exact)"),
    ("birthdate", _DATE, "YYYY[-MM[-DD]] with eq/ge/le/gt/lt"),
    ("gender", _TOKEN, "male | female"),
    (
        "identifier",
        _TOKEN,
        "INS urn:oid:1.2.250.1.213.1.4.8|matricule (QUAL identities only), or an "
        "establishment's local id <local-id system>|IPP",
    ),
)
PRACTITIONER_PARAMS = (
    ("identifier", _TOKEN, "urn:oid:1.2.250.1.71.4.2.1|IDNPS or https://rpps.esante.gouv.fr|RPPS"),
    ("family", _STRING, "exercise name, prefix"),
    ("given", _STRING, "exercise first name, prefix"),
    ("role", _TOKEN, "profession code (TRE_G15)"),
)
ROLE_PARAMS = (
    ("practitioner", _REF, "Practitioner/<IDNPS>"),
    ("organization", _REF, "Organization/<FINESS>"),
    ("role", _TOKEN, "profession code (TRE_G15)"),
    ("specialty", _TOKEN, "savoir-faire code, e.g. SM54"),
)
ORGANIZATION_PARAMS = (
    (
        "identifier",
        _TOKEN,
        "urn:oid:1.2.250.1.71.4.2.2|1<FINESS> or https://finess.esante.gouv.fr|FINESS",
    ),
    ("name", _STRING, "name, prefix (sites)"),
    ("type", _TOKEN, "FINESS category code (TRE_R66), sites"),
)
PAGING = (("_count", "number", "page size (max 100)"), ("_offset", "number", "entries to skip"))


def _params(items: tuple[tuple[str, str, str], ...]) -> list[dict[str, str]]:
    return [{"name": n, "type": t, "documentation": d} for n, t, d in (*items, *PAGING)]


def _resource(kind: str, params: tuple[tuple[str, str, str], ...], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": _params(params),
        **extra,
    }


def capability_statement(base: str) -> dict[str, Any]:
    patient = _resource(
        "Patient",
        PATIENT_PARAMS,
        supportedProfile=[patient_systems.PROFILE_PATIENT, patient_systems.PROFILE_PATIENT_INS],
        operation=[
            {
                "name": "match",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
            },
            {
                "name": "ihe-pix",
                "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix",
            },
        ],
    )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "kind": "instance",
        "software": {"name": "Socle", "version": "0.1.0"},
        "implementation": {"description": "Socle FHIR R4 endpoint", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Every resource needs 'Authorization: Bearer <API key>': "
                    "identity:read for Patient, directory:read for Practitioner, "
                    "PractitionerRole and Organization. This statement is public."
                },
                "resource": [
                    patient,
                    _resource(
                        "Practitioner",
                        PRACTITIONER_PARAMS,
                        supportedProfile=[directory_fhir.PROFILE_PRACTITIONER],
                    ),
                    _resource(
                        "PractitionerRole",
                        ROLE_PARAMS,
                        supportedProfile=[directory_fhir.PROFILE_ROLE],
                    ),
                    _resource(
                        "Organization",
                        ORGANIZATION_PARAMS,
                        supportedProfile=[directory_fhir.PROFILE_ORGANIZATION],
                    ),
                ],
            }
        ],
    }


@router.get("/metadata")
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement (public)."""
    return FhirResponse(capability_statement(base_url(request)))
