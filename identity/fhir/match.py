"""Patient/$match: a Patient resource in, ranked identities out with score and match grade.

Grades from the matcher's bands (scores are match weights in bits):
``match`` band -> ``certain``; ``review`` band in its upper half (weight at or above the
midpoint of the review and match thresholds) -> ``probable``; the rest of the review band ->
``possible``. ``search.score`` is the posterior probability the weight implies,
1 / (1 + 2^-weight), so it lies in 0..1 and orders like the weight. An input INS that a QUAL
identity carries makes that identity ``certain`` with score 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.fhir import systems as fs
from identity.referential import rules
from identity.referential import service as identity_service
from identity.referential.models import Identity
from identity.referential.schemas import MatchRequest
from referentials.core.fhir import FhirBadRequest

DEFAULT_COUNT = 10
MAX_COUNT = 50


@dataclass(frozen=True)
class MatchInput:
    request: MatchRequest
    only_certain: bool
    count: int
    ins: tuple[str, str] | None


@dataclass(frozen=True)
class Ranked:
    identity: Identity
    score: float
    grade: str


def grade_of(weight: float, band: str) -> str:
    if band == "match":
        return "certain"
    config = duplicates.current().config
    middle = (config.review_threshold + config.match_threshold) / 2
    return "probable" if weight >= middle else "possible"


def _param(parameters: dict[str, Any], name: str) -> dict[str, Any] | None:
    for item in parameters.get("parameter") or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def _names(patient: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    found = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    official = next((n for n in found if n.get("use") == "official"), None)
    usual = next((n for n in found if n.get("use") == "usual"), None)
    official = official or next((n for n in found if n is not usual), None) or usual
    if official is None or not official.get("family"):
        raise FhirBadRequest("the Patient needs a family name (the birth name)", fields={})
    return official, usual if usual is not official else None


def _first_names(name: dict[str, Any]) -> list[str] | None:
    for ext in name.get("extension") or []:
        if ext.get("url") == fs.EXT_BIRTH_LIST and ext.get("valueString"):
            return str(ext["valueString"]).split()
    given = [str(g) for g in name.get("given") or [] if g]
    return given or None


def _birth_place(patient: dict[str, Any]) -> str | None:
    for ext in patient.get("extension") or []:
        if ext.get("url") != fs.EXT_BIRTH_PLACE:
            continue
        address = ext.get("valueAddress") or {}
        for inner in address.get("extension") or []:
            if inner.get("url") == fs.EXT_INSEE_CODE:
                return str((inner.get("valueCoding") or {}).get("code") or "") or None
        return address.get("district")
    return None


def _ins(patient: dict[str, Any]) -> tuple[str, str] | None:
    for ident in patient.get("identifier") or []:
        oid = fs.INS_SYSTEMS.get(str(ident.get("system") or ""))
        value = str(ident.get("value") or "").strip().upper()
        if oid and rules.nir_key_is_valid(value):
            return value, oid
    return None


def to_request(patient: dict[str, Any], count: int) -> MatchRequest:
    official, usual = _names(patient)
    birth = patient.get("birthDate")
    try:
        return MatchRequest(
            birth_name=official["family"],
            first_names=_first_names(official),
            sex={"male": "M", "female": "F"}.get(str(patient.get("gender"))),
            birth_date=date.fromisoformat(birth) if birth and len(birth) == 10 else None,
            birth_place_code=_birth_place(patient),
            used_name=(usual or {}).get("family"),
            used_first_name=next(iter((usual or {}).get("given") or []), None),
            limit=count,
        )
    except (ValidationError, ValueError) as exc:
        raise FhirBadRequest(f"the Patient cannot be matched: {_reason(exc)}", fields={}) from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return "birthDate is not a date"


def parse(parameters: dict[str, Any]) -> MatchInput:
    """The operation's input: resource (Patient), onlyCertainMatches, count."""
    try:
        return _parse(parameters)
    except (AttributeError, TypeError, KeyError) as exc:
        # A structurally wrong resource (a list where an object belongs...): the caller's error.
        raise FhirBadRequest("the Parameters resource is not well formed", fields={}) from exc


def _parse(parameters: dict[str, Any]) -> MatchInput:
    if parameters.get("resourceType") != "Parameters":
        raise FhirBadRequest("$match takes a Parameters resource", fields={})
    resource = (_param(parameters, "resource") or {}).get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        raise FhirBadRequest("the 'resource' parameter must hold a Patient", fields={})
    only = (_param(parameters, "onlyCertainMatches") or {}).get("valueBoolean", False)
    count = (_param(parameters, "count") or {}).get("valueInteger", DEFAULT_COUNT)
    if not isinstance(count, int) or count < 1:
        raise FhirBadRequest("count must be a positive integer", fields={})
    count = min(count, MAX_COUNT)
    return MatchInput(to_request(resource, count), bool(only), count, _ins(resource))


def run(session: Session, given: MatchInput) -> list[Ranked]:
    """Ranked identities, the INS holder first; only certain ones when asked."""
    ranked: list[Ranked] = []
    if given.ins is not None:
        holder = identity_service.find_qualified_by_ins(
            session, matricule=given.ins[0], oid=given.ins[1]
        )
        if holder is not None and holder.active:
            ranked.append(Ranked(holder, 1.0, "certain"))
    seen = {r.identity.id for r in ranked}
    for candidate in duplicates.match_traits(session, given.request, given.count):
        if candidate.identity.id in seen:
            continue
        pair = candidate.pair
        ranked.append(Ranked(candidate.identity, pair.probability, grade_of(pair.score, pair.band)))
    if given.only_certain:
        ranked = [r for r in ranked if r.grade == "certain"]
    return ranked[: given.count]
