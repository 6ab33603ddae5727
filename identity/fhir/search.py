"""PDQm search parameters of Patient, turned into a PatientQuery."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date

from starlette.datastructures import QueryParams

from identity.errors import TraitError
from identity.fhir import systems as fs
from identity.fhir.repository import PatientQuery
from identity.referential import rules
from referentials.core.fhir import FhirBadRequest, parse_token

SUPPORTED = (
    "_id",
    "active",
    "family",
    "given",
    "birthdate",
    "gender",
    "identifier",
    "_count",
    "_offset",
)
_PREFIXES = ("eq", "ge", "le", "gt", "lt")
SEXES = {"male": "M", "female": "F"}
# A name matched as a prefix must give this many characters to discriminate: `family=A`
# would page through every name starting with A.
MIN_PREFIX = 3
# Paging stops here (offset + _count): past it, the caller refines the criteria instead of
# walking through the referential page by page.
MAX_DEPTH = 1000


def _trait(value: str, parameter: str, *, birth_name: bool = False) -> str:
    try:
        return rules.normalize_trait(value, parameter, birth_name=birth_name)
    except TraitError as exc:
        raise FhirBadRequest(f"{parameter}: {exc.message}", fields={parameter: "invalid"}) from exc


def _date_range(raw: str) -> tuple[date, date]:
    """The first and last day a FHIR date of year, month or day precision covers."""
    parts = raw.split("-")
    try:
        year = int(parts[0])
        if len(parts) == 1 and len(parts[0]) == 4:
            return date(year, 1, 1), date(year, 12, 31)
        month = int(parts[1])
        if len(parts) == 2:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        day = date(year, month, int(parts[2]))
        if len(parts) == 3 and len(parts[2]) == 2:
            return day, day
    except (ValueError, IndexError):
        pass
    raise FhirBadRequest(
        "birthdate must be YYYY, YYYY-MM or YYYY-MM-DD, with an optional eq/ge/le/gt/lt prefix",
        fields={"birthdate": raw},
    )


def birthdate(query: PatientQuery, raw: str) -> PatientQuery:
    prefix = raw[:2] if raw[:2] in _PREFIXES else "eq"
    first, last = _date_range(raw[2:] if raw[:2] in _PREFIXES else raw)
    low, high = query.birth_from, query.birth_to
    if prefix in ("eq", "ge"):
        low = max(low or first, first)
    if prefix in ("eq", "le"):
        high = min(high or last, last)
    if prefix == "gt":
        low = max(low or date.min, date.fromordinal(last.toordinal() + 1))
    if prefix == "lt":
        high = min(high or date.max, date.fromordinal(first.toordinal() - 1))
    return replace(query, birth_from=low, birth_to=high)


def identifier(query: PatientQuery, raw: str, local: fs.LocalIdSystems) -> PatientQuery:
    """INS system -> a QUAL identity's INS; a local-id system -> that establishment's id."""
    system, value = parse_token(raw, "identifier")
    if system is None:
        return replace(query, source=(None, value))
    if system in fs.INS_SYSTEMS:
        return replace(query, ins=(value.strip().upper(), fs.INS_SYSTEMS[system]))
    finess = local.finess_for(system)
    if finess is None:
        return replace(query, impossible=True)
    return replace(query, source=(finess, value))


def _active(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise FhirBadRequest("active must be true or false", fields={"active": raw})
    return raw == "true"


def _gender(query: PatientQuery, raw: str) -> PatientQuery:
    if raw not in ("male", "female", "other", "unknown"):
        raise FhirBadRequest("gender must be male, female, other or unknown", fields={})
    # Stored identities are M or F (INSi returns only those): other/unknown match nothing.
    sex = SEXES.get(raw)
    return replace(query, sex=sex) if sex else replace(query, impossible=True)


def _one(query: PatientQuery, name: str, value: str, local: fs.LocalIdSystems) -> PatientQuery:
    base, _, modifier = name.partition(":")
    if modifier not in ("", "exact") or (modifier and base not in ("family", "given")):
        raise FhirBadRequest(f"unsupported modifier :{modifier} on {base}", fields={})
    exact = modifier == "exact"
    if base == "family":
        return replace(query, family=_trait(value, "family", birth_name=True), family_exact=exact)
    if base == "given":
        return replace(query, given=_trait(value, "given"), given_exact=exact)
    if base == "birthdate":
        return birthdate(query, value)
    if base == "gender":
        return _gender(query, value)
    if base == "identifier":
        return identifier(query, value, local)
    if base == "active":
        return replace(query, active=_active(value))
    if base == "_id":
        return (
            replace(query, identity_id=int(value))
            if value.isdigit()
            else replace(query, impossible=True)
        )
    return query


def parse(params: QueryParams, local: fs.LocalIdSystems) -> PatientQuery:
    """Every supported parameter, ANDed; unknown parameters are ignored (FHIR lenient mode).

    A search with no discriminating criterion is refused (400), as the REST search refuses one.
    """
    query = PatientQuery()
    for name, value in params.multi_items():
        if name.partition(":")[0] in SUPPORTED and name not in ("_count", "_offset"):
            query = _one(query, name, value, local)
    if not discriminates(query):
        raise FhirBadRequest(
            "give a discriminating criterion: identifier, _id, family or given "
            f"(at least {MIN_PREFIX} characters, or :exact), or a birthdate of one day; "
            "gender, active and date ranges only narrow a search",
            fields={"query": "not discriminating"},
        )
    return query


def discriminates(query: PatientQuery) -> bool:
    """True when the criteria name a patient closely enough to not list the referential."""
    if query.identity_id is not None or query.source or query.ins or query.impossible:
        return True
    for value, exact in ((query.family, query.family_exact), (query.given, query.given_exact)):
        if value and (exact or len(value.replace(" ", "")) >= MIN_PREFIX):
            return True
    one_day = query.birth_from is not None and query.birth_from == query.birth_to
    return one_day


def check_depth(offset: int, count: int) -> None:
    """Refuse a page past MAX_DEPTH results: refine the search rather than page on."""
    if offset + count > MAX_DEPTH:
        raise FhirBadRequest(
            f"paging stops at {MAX_DEPTH} results (_offset + _count); refine the criteria",
            fields={"_offset": str(offset)},
        )
