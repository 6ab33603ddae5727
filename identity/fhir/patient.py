"""A stored identity as an FR Core Patient; the INS only on a QUAL identity, whoever asks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from identity.fhir import systems as fs
from identity.referential.models import Identity

SYSTEM_IDNST = "urn:oid:1.2.250.1.71.4.2.2"
STATUS_DISPLAY = {
    "PROV": "Identité provisoire",
    "RECUP": "Identité récupérée",
    "VALI": "Identité validée",
    "QUAL": "Identité qualifiée",
}
GENDERS = {"M": "male", "F": "female"}
COMMENT_DISPLAY = {
    "HOMA": "Homonyme avéré (attribut d'identité homonyme)",
    "FICT": "Identité fictive (attribut d'identité fictive)",
    "DOUT": "Identité douteuse (attribut d'identité douteuse)",
    "DESA": "Identité désactivée",
}


def _instant(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.isoformat()


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def reliability(identity: Identity) -> dict[str, Any]:
    """fr-core-identity-reliability (FR Core 2.x): the RNIV status, how and when the INS was
    obtained (Socle's own INSi call), the document checked, and the comments."""
    parts: list[dict[str, Any]] = [
        {
            "url": "identityStatus",
            "valueCoding": _coding(
                fs.CS_IDENTITY_STATUS, identity.status, STATUS_DISPLAY.get(identity.status)
            ),
        }
    ]
    if identity.validation_document:
        parts.append(
            {
                "url": "validationMode",
                "valueCoding": _coding(fs.CS_VALIDATION_MODE, identity.validation_document),
            }
        )
    if identity.validation_date:
        parts.append({"url": "validationDate", "valueDate": identity.validation_date.isoformat()})
    if identity.ins_collection_method:
        parts.append(
            {
                "url": "methodCollection",
                "valueCoding": _coding(fs.CS_METHOD_COLLECTION, identity.ins_collection_method),
            }
        )
    if identity.ins_retrieved_at:
        queried = _instant(identity.ins_retrieved_at)[:10]
        parts.append({"url": "dateInterrogationINSi", "valueDate": queried})
    flags = sorted(identity.attribute_set) + ([] if identity.active else ["DESA"])
    for flag in flags:
        coding = _coding(fs.CS_IDENTITY_STATUS_COMMENT, flag, COMMENT_DISPLAY.get(flag))
        parts.append({"url": "comment", "valueCodeableConcept": {"coding": [coding]}})
    return {"url": fs.EXT_RELIABILITY, "extension": parts}


def birth_place(code: str) -> dict[str, Any]:
    """The birth place as FR Core shows it: the INSEE code in the fr-core-address-insee-code
    extension of the address (a commune, or for 99xxx the country of birth abroad)."""
    system = fs.CS_COUNTRY if code.startswith("99") else fs.CS_COMMUNE
    return {
        "url": fs.EXT_BIRTH_PLACE,
        "valueAddress": {
            "extension": [{"url": fs.EXT_INSEE_CODE, "valueCoding": _coding(system, code)}]
        },
    }


def ins_identifier(matricule: str, oid: str, *, old: bool = False) -> dict[str, Any]:
    type_code = fs.INS_TYPES.get(oid, "INS-NIR")
    use = "old" if old else ("temp" if type_code == "INS-NIA" else "official")
    return {
        "use": use,
        "type": {"coding": [_coding(fs.CS_IDENTIFIER_TYPE, type_code)]},
        "system": f"urn:oid:{oid}",
        "value": matricule,
    }


def local_identifier(finess: str, local_id: str, local: fs.LocalIdSystems) -> dict[str, Any]:
    return {
        "use": "usual",
        "type": {"coding": [_coding(fs.CS_V2_0203, "PI", "Patient internal identifier")]},
        "system": local.system_for(finess),
        "value": local_id,
        "assigner": {"identifier": {"system": SYSTEM_IDNST, "value": f"1{finess}"}},
    }


def ins_identifiers(identity: Identity) -> list[dict[str, Any]]:
    """The INS and the matricules it replaced: only for a QUAL identity (national rule)."""
    if identity.status != "QUAL" or not identity.ins_matricule or not identity.ins_oid:
        return []
    out = [ins_identifier(identity.ins_matricule, identity.ins_oid)]
    seen = {identity.ins_matricule}
    for old in [*(identity.ins_old or []), *(identity.ins_history or [])]:
        matricule, oid = str(old.get("matricule") or ""), str(old.get("oid") or "")
        if len(matricule) == 15 and oid in fs.INS_TYPES and matricule not in seen:
            seen.add(matricule)
            out.append(ins_identifier(matricule, oid, old=True))
    return out


def names(identity: Identity) -> list[dict[str, Any]]:
    official: dict[str, Any] = {
        "extension": [{"url": fs.EXT_BIRTH_LIST, "valueString": identity.first_names}],
        "use": "official",
        "family": identity.birth_name,
        "given": [identity.first_name],
    }
    out = [official]
    if identity.used_name or identity.used_first_name:
        usual: dict[str, Any] = {"use": "usual"}
        if identity.used_name:
            usual["family"] = identity.used_name
        if identity.used_first_name:
            usual["given"] = [identity.used_first_name]
        out.append(usual)
    return out


def links(identity: Identity, others: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """``replaced-by`` the survivor of a merged identity, then ``others`` (type, identity id)."""
    found = list(others)
    if identity.merged_into_id is not None:
        found.insert(0, ("replaced-by", identity.merged_into_id))
    return [{"other": {"reference": f"Patient/{x}"}, "type": kind} for kind, x in found]


def to_patient(
    identity: Identity, local: fs.LocalIdSystems, *, links_to: Sequence[tuple[str, int]] = ()
) -> dict[str, Any]:
    """The FR Core Patient (fr-core-patient-ins when it carries the INS) of one identity;
    ``links_to``: its links besides ``replaced-by`` (``repository.patient_links``)."""
    ins = ins_identifiers(identity)
    extensions = [reliability(identity)]
    if identity.birth_place_code:
        extensions.append(birth_place(identity.birth_place_code))
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(identity.id),
        "meta": {
            "versionId": str(identity.version),
            "lastUpdated": _instant(identity.updated_at),
            "profile": [fs.PROFILE_PATIENT_INS if ins else fs.PROFILE_PATIENT],
        },
        "extension": extensions,
        "identifier": [
            *(local_identifier(s.finess, s.local_id, local) for s in identity.sources),
            *ins,
        ],
        "active": identity.active,
        "name": names(identity),
        "gender": GENDERS.get(identity.sex, "unknown"),
        "birthDate": identity.birth_date.isoformat(),
    }
    found_links = links(identity, links_to)
    if found_links:
        patient["link"] = found_links
    if not patient["identifier"]:
        del patient["identifier"]
    return patient
