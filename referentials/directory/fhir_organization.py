"""FINESS structures as FHIR R4 Organization resources, in the shapes of the Annuaire Santé
FHIR guide (as-organization, on FR Core's fr-core-organization).

A geographical entity (EG, a site) and its legal entity (EJ) are two Organizations: the site
points to its legal entity through ``partOf``, a reference that resolves (``Organization/<EJ
FINESS>`` is served, built from the sites that name it). ``type`` carries FR Core's slices:
``organizationType`` (GEOGRAPHICAL-ENTITY or LEGAL-ENTITY) and ``categorieEtablissementRASS``
(the FINESS category, TRE_R66); a legal entity adds its FINESS legal status (TRE_R72).
"""

from __future__ import annotations

from typing import Any

from referentials.directory.fhir_resources import (
    CS_STRUCTURE_CATEGORY,
    PROFILE_ORGANIZATION,
    SYSTEM_FINESS,
    SYSTEM_IDNST,
    SYSTEM_SIRET,
    make_address,
    make_coding,
    make_identifier,
    nos,
    street_line,
)
from referentials.directory.schemas import LegalEntityRead, StructureRead

CS_ORGANIZATION_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-type-organisation"
CS_LEGAL_STATUS = nos("TRE_R72-FinessStatutJuridique")
GEOGRAPHICAL = ("GEOGRAPHICAL-ENTITY", "Entité géographique")
LEGAL = ("LEGAL-ENTITY", "Entité légale")


def _postal(line: str | None) -> tuple[str | None, str | None]:
    """'69400 VILLEFRANCHE SUR SAONE CEDEX' -> ('69400', 'VILLEFRANCHE SUR SAONE CEDEX')."""
    if not line:
        return None, None
    head, _, rest = line.strip().partition(" ")
    if len(head) == 5 and head.isdigit():
        return head, rest or None
    return None, line.strip()


def _type(system: str, code: str | None, display: str | None = None) -> dict[str, Any] | None:
    coding = make_coding(system, code, display)
    return {"coding": [coding]} if coding else None


def _types(*items: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [i for i in items if i is not None]


def legal_entity_ref(finess_ej: str, name: str | None) -> dict[str, Any]:
    """``partOf`` of a site: a literal reference to its legal entity, with its FINESS."""
    ref: dict[str, Any] = {
        "reference": f"Organization/{finess_ej}",
        "type": "Organization",
        "identifier": make_identifier(SYSTEM_FINESS, finess_ej, "FINEJ"),
    }
    if name:
        ref["display"] = name
    return ref


def organization(s: StructureRead) -> dict[str, Any]:
    """Organization: a FINESS geographical entity (EG), its EJ as partOf."""
    identifiers = [
        make_identifier(SYSTEM_IDNST, f"1{s.finess}", "IDNST"),
        make_identifier(SYSTEM_FINESS, s.finess, "FINEG"),
    ]
    if s.siret:
        identifiers.append(make_identifier(SYSTEM_SIRET, s.siret, "SIRET"))
    postal, city = _postal(s.postal_line)
    street = street_line(s.street_number, s.street_type, s.street_name)
    address = make_address([s.address_complement, s.place, street], postal, city, s.commune_cog)
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": s.finess,
        "meta": {"profile": [PROFILE_ORGANIZATION]},
        "identifier": identifiers,
        "active": s.active and s.closed_on is None,
        "type": _types(
            _type(CS_ORGANIZATION_TYPE, *GEOGRAPHICAL),
            _type(CS_STRUCTURE_CATEGORY, s.category, s.category_label),
        ),
        "name": s.name,
    }
    if s.long_name and s.long_name != s.name:
        resource["alias"] = [s.long_name]
    if s.phone:
        resource["telecom"] = [{"system": "phone", "value": s.phone, "use": "work"}]
    if address:
        resource["address"] = [address]
    if s.finess_ej:
        resource["partOf"] = legal_entity_ref(s.finess_ej, s.ej_name)
    return resource


def legal_entity(e: LegalEntityRead) -> dict[str, Any]:
    """Organization: a FINESS legal entity (EJ), as the sites that name it describe it."""
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": e.finess,
        "meta": {"profile": [PROFILE_ORGANIZATION]},
        "identifier": [
            make_identifier(SYSTEM_IDNST, f"1{e.finess}", "IDNST"),
            make_identifier(SYSTEM_FINESS, e.finess, "FINEJ"),
        ],
        "active": e.active,
        "type": _types(
            _type(CS_ORGANIZATION_TYPE, *LEGAL),
            _type(CS_LEGAL_STATUS, e.legal_status),
        ),
    }
    if e.name:
        resource["name"] = e.name
    return resource
