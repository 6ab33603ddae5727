"""RPPS+ professionals as FHIR R4 resources in the shapes of the national Annuaire Santé FHIR
guide (profiles as-practitioner and as-practitionerrole, identifier systems, MOS/NOS code
systems); the FINESS structures are in ``fhir_organization``."""

from __future__ import annotations

from typing import Any

from referentials.directory.schemas import ActivityRead, ProfessionalRead

SYSTEM_IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
SYSTEM_IDNST = "urn:oid:1.2.250.1.71.4.2.2"
SYSTEM_RPPS = "https://rpps.esante.gouv.fr"
SYSTEM_FINESS = "https://finess.esante.gouv.fr"
SYSTEM_SIRET = "https://sirene.fr"
CS_ID_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
# Annuaire Santé FHIR guide: the generic profiles (the open-data "as-dp" ones require ids the
# RPPS+ extract does not carry, such as the RPPS activity id).
AS_PROFILE = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition"
PROFILE_PRACTITIONER = f"{AS_PROFILE}/as-practitioner"
PROFILE_ROLE = f"{AS_PROFILE}/as-practitionerrole"
PROFILE_ORGANIZATION = f"{AS_PROFILE}/as-organization"
EXT_INSEE_CODE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
_NOS = "https://mos.esante.gouv.fr/NOS"


def nos(table: str) -> str:
    """The FHIR system of a NOS table, e.g. ``TRE_G15-ProfessionSante``."""
    return f"{_NOS}/{table}/FHIR/{table.replace('_', '-', 1)}"


CS_PROFESSION = nos("TRE_G15-ProfessionSante")
CS_CATEGORY = nos("TRE_R09-CategorieProfessionnelle")
CS_GENRE = nos("TRE_R22-GenreActivite")
CS_MODE = nos("TRE_R23-ModeExercice")
CS_FONCTION = nos("TRE_R21-Fonction")
CS_ROLE = nos("TRE_R85-RolePriseCharge")
CS_COMMUNE = nos("TRE_R13-CommuneOM")
CS_STRUCTURE_CATEGORY = nos("TRE_R66-CategorieEtablissement")
# RPPS "type savoir-faire" -> the NOS table its codes come from.
SKILL_SYSTEMS = {
    "S": nos("TRE_R38-SpecialiteOrdinale"),
    "C": nos("TRE_R39-Competence"),
    "CEX": nos("TRE_R40-CompetenceExclusive"),
    "DSM": nos("TRE_R42-DESCnonQualifiant"),
    "CAPA": nos("TRE_R43-CapaciteSavoirFaire"),
    "PAC": nos("TRE_R44-QualificationPAC"),
    "FQ": nos("TRE_R45-FonctionQualifiee"),
    "DEX": nos("TRE_R97-DroitExerciceCompl"),
}


def make_coding(system: str, code: str | None, display: str | None = None) -> dict[str, str] | None:
    if not code:
        return None
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _codings(*items: dict[str, str] | None) -> list[dict[str, str]]:
    return [i for i in items if i is not None]


def make_identifier(system: str, value: str, type_code: str) -> dict[str, Any]:
    return {
        "use": "official",
        "type": {"coding": [{"system": CS_ID_TYPE, "code": type_code}]},
        "system": system,
        "value": value,
    }


def make_address(
    lines: list[str | None], postal: str | None, city: str | None, cog: str | None
) -> dict[str, Any] | None:
    address: dict[str, Any] = {}
    if cog:
        address["extension"] = [
            {"url": EXT_INSEE_CODE, "valueCoding": {"system": CS_COMMUNE, "code": cog}}
        ]
    kept = [line for line in lines if line and line.strip()]
    if kept:
        address["line"] = kept
    if city:
        address["city"] = city
    if postal:
        address["postalCode"] = postal
    if address:
        address["use"] = "work"
        address["country"] = "FR"
    return address or None


def street_line(*parts: str | None) -> str | None:
    line = " ".join(p.strip() for p in parts if p and p.strip())
    return line or None


def activity_address(a: ActivityRead) -> dict[str, Any] | None:
    street = street_line(a.street_number, a.street_repetition, a.street_type, a.street_name)
    lines = [a.address_complement, a.address_place, street, a.distribution]
    return make_address(lines, a.postal_code, a.commune_label, a.commune_code)


def _skill(a: ActivityRead) -> dict[str, Any] | None:
    system = SKILL_SYSTEMS.get(a.skill_type_code or "")
    coding = make_coding(system, a.skill_code, a.skill_label) if system else None
    return {"coding": [coding]} if coding else None


def practitioner(p: ProfessionalRead) -> dict[str, Any]:
    """Practitioner: IDNPS (and RPPS), exercise name, professions and savoir-faire."""
    identifiers = [make_identifier(SYSTEM_IDNPS, p.idnps, "IDNPS")]
    if p.id_type == "8":
        identifiers.append(make_identifier(SYSTEM_RPPS, p.identifier, "RPPS"))
    name: dict[str, Any] = {"use": "usual", "family": p.last_name}
    if p.first_name:
        name["given"] = [p.first_name]
    if p.civility_code:
        name["prefix"] = [p.civility_code]
    if p.practice_civility_code:
        name["suffix"] = [p.practice_civility_code]
    qualifications: list[dict[str, Any]] = []
    addresses: list[dict[str, Any]] = []
    for a in p.activities:
        codings = _codings(
            make_coding(CS_PROFESSION, a.profession_code, a.profession_label),
            make_coding(CS_CATEGORY, a.category_code),
        )
        for item in (({"coding": codings} if codings else None), _skill(a)):
            if item and {"code": item} not in qualifications:
                qualifications.append({"code": item})
        address = activity_address(a)
        if address and address not in addresses:
            addresses.append(address)
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": p.idnps,
        "meta": {"profile": [PROFILE_PRACTITIONER]},
        "identifier": identifiers,
        "active": p.active,
        "name": [name],
    }
    if addresses:
        resource["address"] = addresses
    if qualifications:
        resource["qualification"] = qualifications
    return resource


def role_id(idnps: str, index: int) -> str:
    """A role's id: the professional's IDNPS and the activity's rank (1-based) in the extract."""
    return f"{idnps}-{index}"


def role_codes(a: ActivityRead) -> list[dict[str, Any]]:
    """PractitionerRole.code: one CodeableConcept per slice (profession, category, genre,
    mode, function), never one concept coded in several systems: they are not synonyms."""
    role_system = CS_FONCTION if (a.role_code or "").startswith("FON") else CS_ROLE
    codings = (
        make_coding(CS_PROFESSION, a.profession_code, a.profession_label),
        make_coding(CS_CATEGORY, a.category_code),
        make_coding(CS_GENRE, a.genre_code),
        make_coding(CS_MODE, a.mode_code, a.mode_label),
        make_coding(role_system, a.role_code, a.role_label),
    )
    return [{"coding": [c]} for c in codings if c is not None]


def practitioner_role(p: ProfessionalRead, index: int, id_system: str) -> dict[str, Any]:
    """PractitionerRole: one activity (situation d'exercice) of a professional.

    ``id_system`` names Socle's activity ids: the RPPS+ extract gives an activity no id of
    its own, so the role carries the one Socle serves it under.
    """
    a = p.activities[index - 1]
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": role_id(p.idnps, index),
        "meta": {"profile": [PROFILE_ROLE]},
        "identifier": [{"use": "secondary", "system": id_system, "value": role_id(p.idnps, index)}],
        "active": p.active,
        "practitioner": {
            "reference": f"Practitioner/{p.idnps}",
            "display": " ".join(x for x in (p.first_name, p.last_name) if x),
        },
    }
    organization = _organization_ref(a)
    if organization:
        resource["organization"] = organization
    codes = role_codes(a)
    if codes:
        resource["code"] = codes
    skill = _skill(a)
    if skill:
        resource["specialty"] = [skill]
    return resource


def _organization_ref(a: ActivityRead) -> dict[str, Any] | None:
    if a.finess_site:
        return {"reference": f"Organization/{a.finess_site}", "display": a.structure_name}
    if a.structure_name:
        return {"display": a.structure_name}
    return None
