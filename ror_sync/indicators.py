"""E-parcours usage indicators for the quarterly report (DGOS instruction 2017, annex 3)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import Session

from referentials.core import usage
from referentials.core.errors import ValidationFailed
from referentials.core.settings import RorSettings
from referentials.directory import service as directory_service
from ror_sync import aggregation, codes, repository, service

# FINESS categories of each population (our choice, stated in the report):
# - health establishments: every category of the sanitaire sector (public and private);
# - medical laboratories: 610, 611, 612 (agrégat 3101 "Laboratoires de Biologie Médicale");
# - imaging centres: FINESS has no imaging category; an imaging practice holding heavy
#   equipment (scanner, IRM) is registered as 699 "Entité Ayant Autorisation";
# - coordination structures: 604 CPTS and 606 DAC.
LAB_CATEGORIES = frozenset({"610", "611", "612"})
IMAGING_CATEGORIES = frozenset({"699"})
COORDINATION_CATEGORIES = frozenset({"604", "606"})
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of ``2026-Q4``."""
    match = QUARTER.match(quarter or "")
    if not match:
        raise ValidationFailed(
            "quarter is written YYYY-Qn, e.g. 2026-Q4", fields={"quarter": quarter}
        )
    year, q = int(match.group(1)), int(match.group(2))
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def current_quarter(today: date) -> str:
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _share(
    key: str,
    label: str,
    structures: Iterable[directory_service.StructureFacts],
    active: set[str],
    target: float,
) -> dict[str, object]:
    # A client key may carry the FINESS of the site or of its legal entity.
    population = list(structures)
    reached = [s for s in population if s.finess in active or (s.finess_ej or "") in active]
    rate = aggregation.rate(len(reached), len(population))
    return {
        "key": key,
        "label": label,
        "numerator": len(reached),
        "denominator": len(population),
        "rate": round(rate, 4),
        "target": target,
        "reached": rate >= target if population else None,
    }


def _completeness(
    session: Session, settings: RorSettings, region: str | None, end: date
) -> list[dict[str, object]]:
    """Completeness per sector at the quarter's end: its last snapshot, else computed now."""
    snaps = [s for s in repository.snapshots(session, limit=500) if s.reference_date <= end]
    goal = service.targets(settings)
    if snaps:
        rows = [
            service.stored_counts(r)
            for r in repository.snapshot_rows(session, [snaps[-1].id], region=region)
        ]
    else:
        rows = aggregation.count_rows(service.evaluate(session, service.Scope(region=region)))
    return aggregation.sector_rows(rows, goal, codes.SECTORS)


def e_parcours(
    session: Session, settings: RorSettings, *, quarter: str, region: str | None = None
) -> dict[str, object]:
    """ROR completeness per sector and the identity-service usage shares of the quarter."""
    start, end = quarter_bounds(quarter)
    active = usage.finess_active(session, start, end, "identity")
    structures = list(directory_service.structure_facts(session, region=region, active_only=True))
    health = [s for s in structures if s.sector == "sanitaire"]
    imaging_labs = [s for s in structures if s.category in LAB_CATEGORIES | IMAGING_CATEGORIES]
    coordination = [s for s in structures if s.category in COORDINATION_CATEGORIES]
    return {
        "quarter": quarter,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "region": region,
        "categories": {
            "health_establishments": ["sector sanitaire"],
            "imaging_centres": sorted(IMAGING_CATEGORIES),
            "medical_laboratories": sorted(LAB_CATEGORIES),
            "coordination": sorted(COORDINATION_CATEGORIES),
        },
        "completeness": _completeness(session, settings, region, end),
        "indicators": [
            _share(
                "identity_health_establishments",
                "Établissements de santé interagissant avec le service d'identité",
                health,
                active,
                settings.target_identity_health,
            ),
            _share(
                "identity_imaging_laboratories",
                "Centres d'imagerie et laboratoires interagissant avec le service d'identité",
                imaging_labs,
                active,
                settings.target_identity_imaging_lab,
            ),
            _share(
                "identity_coordination",
                "Structures de coordination (CPTS, DAC) interagissant avec le service",
                coordination,
                active,
                settings.target_identity_coordination,
            ),
        ],
    }
