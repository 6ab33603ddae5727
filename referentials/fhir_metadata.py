"""GET /fhir/metadata: the CapabilityStatement of everything Socle serves over FHIR.

Public, as FHIR servers usually make it: it describes the server and carries no data. Part of
the composition root because it lists the routes of several contexts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from identity.fhir import subscription as fhir_subscription
from identity.fhir import systems as patient_systems
from referentials.core.fhir import FHIR_JSON, FHIR_VERSION, FhirResponse, base_url
from referentials.core.oauth.docs import smart_security
from referentials.directory import fhir_resources as directory_fhir
from ror_sync import fhir_emit as ror_emit
from ror_sync import fhir_search as ror_search

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
_UPDATED = ("_lastUpdated", _DATE, "[eq|ge|gt|le|lt]YYYY-MM-DD or an instant (deltas)")
_COMMUNE = ("commune", _TOKEN, "commune COG (INSEE code), e.g. 69123")
_TAG = ("_tag", _TOKEN, f"region (TRE_R30), e.g. {ror_emit.CS_REGION}|84")
_NEAR = (
    "near",
    "special",
    "latitude|longitude|distance|unit (km or m, 30 km by default, 500 km at most): "
    "nearest first, each entry with its distance and why it matches",
)
ROR_ORGANIZATION_PARAMS = (
    ("_id", _TOKEN, "ROR resource id"),
    (
        "identifier",
        _TOKEN,
        "https://finess.esante.gouv.fr|FINESS or urn:oid:1.2.250.1.71.4.2.2|1<FINESS>",
    ),
    ("type", _TOKEN, "EJ | EG (TRE_R67), EG category (TRE_R66), OI type (TRE_R207)"),
    ("partof", _REF, "Organization/<id>: the organisations directly under it"),
    ("address-city", _STRING, "city, exact (case ignored)"),
    ("address-postalcode", _STRING, "postal code, exact"),
    _COMMUNE,
    _TAG,
    _UPDATED,
)
ROR_OFFER_PARAMS = (
    ("_id", _TOKEN, "ROR resource id"),
    ("identifier", _TOKEN, "the offer's identifier (TRE_R355 type 35)"),
    ("type", _TOKEN, "champ d'activité (TRE_R227 code, or MCO, SMR, PSY, MS ...)"),
    ("specialty", _TOKEN, "activité opérationnelle (TRE_R211)"),
    ("category", _TOKEN, "catégorie d'organisation (TRE_R244)"),
    ("organization", _REF, "Organization/<id> providing the offer"),
    ("location", _REF, "Location/<id> where the offer is given"),
    _NEAR,
    ("age-range-low", "number", "prefixed minimum age in years: le10 = takes a 10-year-old"),
    ("age-range-high", "number", "prefixed maximum age in years: ge10 = takes a 10-year-old"),
    _TAG,
    _UPDATED,
)
ROR_LOCATION_PARAMS = (
    ("_id", _TOKEN, "ROR resource id"),
    ("organization", _REF, "Organization/<id> managing the place"),
    ("address-city", _STRING, "city, exact (case ignored)"),
    ("address-postalcode", _STRING, "postal code, exact"),
    _COMMUNE,
    _NEAR,
    _TAG,
    _UPDATED,
)
ROR_ROLE_PARAMS = (
    ("_id", _TOKEN, "ROR resource id"),
    ("identifier", _TOKEN, "the role's identifier"),
    ("practitioner", _REF, "Practitioner/<id> as the ROR references it"),
    ("service", _REF, "HealthcareService/<id>"),
    ("organization", _REF, "Organization/<id>"),
    ("role", _TOKEN, "profession (TRE_G15)"),
    _TAG,
    _UPDATED,
)
SUBSCRIPTION_PARAMS = (
    ("_id", _TOKEN, "Subscription id"),
    ("status", _TOKEN, "active | off | error"),
    ("url", "uri", "channel.endpoint, exact"),
)
SUBSCRIPTION_DOC = (
    "Rest-hook Subscriptions on Patient changes (scope admin). channel.type rest-hook, "
    "channel.payload application/fhir+json, channel.endpoint https (http on loopback only), "
    "channel.header 'Name: value' lines sent with each notification. criteria: 'Patient?' "
    "(every identity event), optionally event=" + ",".join(fhir_subscription.EVENTS) + " "
    "and identifier=<local-id system>| (only patients of those establishments). "
    "Extension <base>/fhir/StructureDefinition/subscription-skip-changes-by (valueString, "
    "repeated): clients whose changes are not sent (no echo of the receiver's own). "
    "Update (PUT) replaces a stored Subscription, its id in the body too, and keeps it its "
    "client's; it creates none. "
    "Notifications: history Bundles as in the Subscriptions R4 Backport IG "
    "(SubscriptionStatus Parameters first, then the Patients)."
)
ROR_PROFILES = {
    "Organization": (ror_emit.PROFILE_ORGANIZATION, ROR_ORGANIZATION_PARAMS),
    "HealthcareService": (ror_emit.PROFILE_HEALTHCARESERVICE, ROR_OFFER_PARAMS),
    "Location": (ror_emit.PROFILE_LOCATION, ROR_LOCATION_PARAMS),
    "PractitionerRole": (ror_emit.PROFILE_PRACTITIONERROLE, ROR_ROLE_PARAMS),
}


def _params(items: tuple[tuple[str, str, str], ...]) -> list[dict[str, str]]:
    return [{"name": n, "type": t, "documentation": d} for n, t, d in (*items, *PAGING)]


def _resource(kind: str, params: tuple[tuple[str, str, str], ...], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": _params(params),
        **extra,
    }


def subscription_resource() -> dict[str, Any]:
    """Subscription: create, read, search, update (of a stored one: no create), delete."""
    return {
        "type": "Subscription",
        "documentation": SUBSCRIPTION_DOC,
        "interaction": [{"code": c} for c in ("create", "read", "search-type", "update", "delete")],
        "updateCreate": False,
        "searchParam": _params(SUBSCRIPTION_PARAMS),
    }


def ror_resources(ror_base: str) -> list[dict[str, Any]]:
    """The ROR's resources with their profiles, parameters and includes, served at ``ror_base``."""
    return [
        _resource(
            kind,
            params,
            profile=profile,
            documentation=f"The ROR's {kind}: {ror_base}/{kind}",
            searchInclude=sorted(ror_search.INCLUDES[kind] | {"Organization:partof"}),
            searchRevInclude=sorted(ror_search.REVINCLUDES[kind]),
        )
        for kind, (profile, params) in ROR_PROFILES.items()
    ]


def _ror_rest(ror_base: str, service_base: str) -> dict[str, Any]:
    return {
        "mode": "server",
        "documentation": f"The ROR, served under its own base {ror_base} (also described by "
        f"{ror_base}/metadata), shaped like the national ROR API (ans.fhir.fr.ror). "
        "Unsupported parameters are refused (400).",
        # The same two schemes as the other endpoints (API keys and SMART tokens).
        "security": {
            **smart_security(service_base),
            "description": "Every resource needs 'Authorization: Bearer <API key or "
            "access token>' with the ror:read scope. The statements are public.",
        },
        "resource": ror_resources(ror_base),
    }


def capability_statement(base: str, *, service_base: str) -> dict[str, Any]:
    """The statement; ``service_base`` is Socle's configured address (token endpoint)."""
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
        # Two server entries: R4 describes a resource type once per rest entry (cpb-9), and
        # Organization and PractitionerRole are both the directories (here, under {base}) and
        # the ROR's (under {base}/ror, other resources with other ids). R4 no longer limits a
        # statement to one rest entry per mode.
        "rest": [
            {
                "mode": "server",
                "security": smart_security(service_base),
                "documentation": f"Patient identities and the directories, under {base}. The "
                f"ROR (Organization, HealthcareService, Location, PractitionerRole) is served "
                f"under {base}/ror: the second rest entry, also described by {base}/ror/metadata.",
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
                    subscription_resource(),
                ],
            },
            _ror_rest(f"{base}/ror", service_base),
        ],
    }


def ror_capability_statement(base: str, *, service_base: str) -> dict[str, Any]:
    """The ROR endpoint's statement: its resources, profiles, parameters and includes."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "kind": "instance",
        "software": {"name": "Socle", "version": "0.1.0"},
        "implementation": {"description": "Socle: the region's ROR over FHIR R4", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "implementationGuide": ["https://interop.esante.gouv.fr/ig/fhir/ror"],
        "rest": [_ror_rest(base, service_base)],
    }


@router.get("/metadata")
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement (public)."""
    service_base = request.app.state.settings.base_url.rstrip("/")
    return FhirResponse(capability_statement(base_url(request), service_base=service_base))


@router.get("/ror/metadata")
def ror_metadata(request: Request) -> FhirResponse:
    """The ROR endpoint's CapabilityStatement (public)."""
    service_base = request.app.state.settings.base_url.rstrip("/")
    return FhirResponse(
        ror_capability_statement(base_url(request) + "/ror", service_base=service_base)
    )
