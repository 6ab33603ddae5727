"""PIXm (Patient/$ihe-pix): the other identifiers of the patient a source identifier names.

IHE PIXm answers: an unknown source identifier -> 404; a source or target system the
server does not know -> 400 / 403. A local id moved by a merge resolves to the survivor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from identity.fhir import patient as fp
from identity.fhir import systems as fs
from identity.referential import service as identity_service
from identity.referential.models import Identity
from referentials.core.errors import Forbidden, NotFound
from referentials.core.fhir import FhirBadRequest, parse_token

MAX_MERGE_HOPS = 20


def _known(system: str, local: fs.LocalIdSystems) -> bool:
    return system in fs.INS_SYSTEMS or local.finess_for(system) is not None


def _survivor(session: Session, identity: Identity) -> Identity:
    current = identity
    for _ in range(MAX_MERGE_HOPS):
        if current.merged_into_id is None:
            return current
        found = identity_service.find(session, current.merged_into_id)
        if found is None:
            break
        current = found
    return current


def resolve(session: Session, source: str, local: fs.LocalIdSystems) -> Identity:
    """The (surviving) identity a ``system|value`` source identifier names."""
    system, value = parse_token(source, "sourceIdentifier")
    if system is None or not _known(system, local):
        raise FhirBadRequest(
            "sourceIdentifier Assigning Authority not found", fields={"sourceIdentifier": system}
        )
    found: Identity | None
    if system in fs.INS_SYSTEMS:
        found = identity_service.find_qualified_by_ins(
            session, matricule=value.strip().upper(), oid=fs.INS_SYSTEMS[system]
        )
    else:
        finess = local.finess_for(system)
        assert finess is not None
        found = identity_service.find_by_source(session, finess=finess, local_id=value)
    if found is None:
        raise NotFound("sourceIdentifier Patient Identifier not found")
    return _survivor(session, found)


def identifiers(identity: Identity, local: fs.LocalIdSystems) -> list[dict[str, Any]]:
    """Every identifier of the patient: local ids, and the INS when QUAL (current only)."""
    out = [fp.local_identifier(s.finess, s.local_id, local) for s in identity.sources]
    out += [i for i in fp.ins_identifiers(identity) if i["use"] != "old"]
    return out


def answer(
    identity: Identity,
    source: str,
    targets: list[str],
    local: fs.LocalIdSystems,
    base: str,
) -> dict[str, Any]:
    """The Parameters resource: targetIdentifier per other identifier, and targetId."""
    for target in targets:
        if not _known(target, local):
            raise Forbidden("targetSystem not found", fields={"targetSystem": target})
    system, value = parse_token(source, "sourceIdentifier")
    found = [
        i
        for i in identifiers(identity, local)
        if not (i["system"] == system and i["value"] == value)
        and (not targets or i["system"] in targets)
    ]
    parameters: list[dict[str, Any]] = [
        {"name": "targetIdentifier", "valueIdentifier": _plain(i)} for i in found
    ]
    parameters.append(
        {"name": "targetId", "valueReference": {"reference": f"{base}/Patient/{identity.id}"}}
    )
    return {"resourceType": "Parameters", "parameter": parameters}


def _plain(identifier: dict[str, Any]) -> dict[str, Any]:
    # PIXm carries use, system and value; the FR Core type travels with them.
    return {k: identifier[k] for k in ("use", "type", "system", "value") if k in identifier}
