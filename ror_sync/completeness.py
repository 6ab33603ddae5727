"""The ANS population-completeness method ("taux de peuplement"), as pure functions.

Denominator: FINESS EG (directory StructureFacts) × champ; numerator: the ROR elementary
units (one per HealthcareService) of each EG × champ. Rules follow directories.md §3 and the
ANS SQL read in ror-fhir.md §B; each rule has a test named after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import NamedTuple, Protocol

from ror_sync import codes
from ror_sync.fhir_types import ParsedAddress, ParsedContact

FINALISED = "finalised"
IN_PROGRESS = "in_progress"
TO_DO = "to_do"
STATUSES = (FINALISED, IN_PROGRESS, TO_DO)

# Missing items, in the order the pages list them.
MISSING_LABELS = {
    "champ": "champ d'activité",
    "activite_operationnelle": "activité opérationnelle",
    "mode_prise_en_charge": "mode de prise en charge",
    "ages": "âge minimum et maximum",
    "adresse": "adresse (voie ou lieu-dit, localité, code postal)",
    "contact": "contact (fonction ou nature, canal, adresse, confidentialité)",
    "categorie_organisation": "catégorie d'organisation",
}


class StructureLike(Protocol):
    """The FINESS facts the denominator needs (directory_service.StructureFacts)."""

    @property
    def finess(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def sector(self) -> str | None: ...
    @property
    def department(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def opened_on(self) -> date | None: ...
    @property
    def closed_on(self) -> date | None: ...
    @property
    def sanitary_authorisations(self) -> tuple[str, ...]: ...


class UnitFacts(NamedTuple):
    """What completeness reads of one elementary unit (one HealthcareService)."""

    # NamedTuples rather than dataclasses: a national run builds a few hundred thousand.

    offer_id: str
    name: str | None
    eg_finess: str
    eg_category: str | None  # the category the ROR gives its EG
    champ: str | None  # TRE_R227 code
    activities: tuple[str, ...]
    care_mode: str | None
    org_category: str | None
    age_min: float | None
    age_max: float | None
    address_ok: bool
    contact_ok: bool
    closed_on: date | None = None
    closing_type: str | None = None
    ue_closed_on: date | None = None
    ue_closing_type: str | None = None
    ue_active: bool = True


class UnitResult(NamedTuple):
    offer_id: str
    name: str | None
    status: str
    missing: tuple[str, ...]


class StructureResult(NamedTuple):
    """One row of the perimeter: an EG × champ with its status and its units."""

    finess: str
    name: str
    region: str | None
    department: str
    sector: str
    champ: str
    category: str
    status: str
    units: tuple[UnitResult, ...] = ()


# -- rules on one contact, one address, one unit ------------------------------------------


def contact_complete(contact: ParsedContact) -> bool:
    """Function or nature code, and one telecom with channel, address and confidentiality."""
    if not (contact.function_code or contact.nature_code):
        return False
    return any(t.channel and t.address and t.confidentiality for t in contact.telecoms)


def address_complete(address: ParsedAddress | None) -> bool:
    """Street name or lieu-dit, and locality, and postal code."""
    if address is None:
        return False
    return bool((address.street or address.lieu_dit) and address.city and address.postal_code)


def closed_for_good(closed_on: date | None, closing_type: str | None, today: date) -> bool:
    return closing_type == codes.DEFINITIVE_CLOSING and closed_on is not None and closed_on <= today


def unit_is_open(unit: UnitFacts, today: date) -> bool:
    """Open unless the offer or its UE is closed for good (type DEF, date reached)."""
    if not unit.ue_active:
        return False
    return not (
        closed_for_good(unit.closed_on, unit.closing_type, today)
        or closed_for_good(unit.ue_closed_on, unit.ue_closing_type, today)
    )


def unit_champ(unit: UnitFacts) -> str | None:
    """The short champ label (MCO, SMR, PSY, MS, Ville, Social) of a valid champ code."""
    return codes.CHAMPS.get(unit.champ or "")


FLAG_NAMES = tuple(MISSING_LABELS)


def unit_flags(unit: UnitFacts, eg_category: str) -> dict[str, bool | None]:
    """The ANS flags of a unit; None for the catégorie d'organisation when not required."""
    return dict(zip(FLAG_NAMES, _flags(unit, eg_category), strict=True))


def _flags(unit: UnitFacts, eg_category: str) -> tuple[bool | None, ...]:
    category = unit.eg_category or eg_category
    return (
        unit.champ in codes.CHAMPS,
        bool(unit.activities),
        bool(unit.care_mode),
        unit.age_min is not None and unit.age_max is not None,
        unit.address_ok,
        unit.contact_ok,
        bool(unit.org_category) if category in codes.ORG_CATEGORY_REQUIRED else None,
    )


def _verdict(flags: tuple[bool | None, ...]) -> tuple[str, tuple[str, ...]]:
    """Finalised when no required flag is down; in progress when some flag is up; else to do."""
    missing = tuple(name for name, ok in zip(FLAG_NAMES, flags, strict=True) if ok is False)
    if not missing:
        return FINALISED, missing
    return (IN_PROGRESS if True in flags else TO_DO), missing


# The verdict depends only on the 7 flags: memoised, since a national ROR has ~250k units
# but at most 2^7 × 2 flag combinations.
_VERDICTS: dict[tuple[bool | None, ...], tuple[str, tuple[str, ...]]] = {}


def unit_result(unit: UnitFacts, eg_category: str) -> UnitResult:
    """The status of a unit and the items it misses."""
    flags = _flags(unit, eg_category)
    verdict = _VERDICTS.get(flags)
    if verdict is None:
        verdict = _VERDICTS[flags] = _verdict(flags)
    return UnitResult(unit.offer_id, unit.name, verdict[0], verdict[1])


# -- the perimeter (denominator) ----------------------------------------------------------


def in_perimeter(structure: StructureLike) -> bool:
    """An open EG (opening date set, no closing date) of an in-scope category."""
    return (
        structure.sector in codes.SECTORS
        and structure.opened_on is not None
        and structure.closed_on is None
    )


def structure_champs(structure: StructureLike) -> list[str]:
    """The champs an EG is counted for: by authorisation (sanitaire) or by category."""
    if not in_perimeter(structure):
        return []
    sector = str(structure.sector)
    if sector != "sanitaire":
        return [codes.non_sanitary_champ(structure.category, sector)]
    champs = {codes.champ_of_authorisation(a) for a in structure.sanitary_authorisations}
    if structure.category in codes.PSY_CATEGORIES:
        champs.add("PSY")
    return [c for c in codes.SANITARY_CHAMPS if c in champs]


def eg_status(units: Sequence[UnitResult]) -> str:
    """Finalised when every unit is; in progress when some unit has a flag; to do otherwise."""
    if units and all(u.status == FINALISED for u in units):
        return FINALISED
    if any(u.status in (FINALISED, IN_PROGRESS) for u in units):
        return IN_PROGRESS
    return TO_DO


def evaluate(
    structures: Iterable[StructureLike],
    units_by_finess: Mapping[str, Sequence[UnitFacts]],
    today: date,
) -> list[StructureResult]:
    """Every EG × champ of the perimeter with its status and its units' missing items."""
    results: list[StructureResult] = []
    for structure in structures:
        champs = structure_champs(structure)
        if not champs:
            continue
        open_units = [
            u for u in units_by_finess.get(structure.finess, ()) if unit_is_open(u, today)
        ]
        for champ in champs:
            # Sanitary rows keep the units of their champ; other sectors pool every unit.
            chosen = (
                [u for u in open_units if codes.CHAMPS.get(u.champ or "") == champ]
                if structure.sector == "sanitaire"
                else open_units
            )
            unit_results = tuple(unit_result(u, structure.category) for u in chosen)
            results.append(
                StructureResult(
                    finess=structure.finess,
                    name=structure.name,
                    region=structure.region,
                    department=structure.department,
                    sector=str(structure.sector),
                    champ=champ,
                    category=structure.category,
                    status=eg_status(unit_results),
                    units=unit_results,
                )
            )
    return results
