"""Completeness counts grouped by region, department, sector, champ and category."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ror_sync.completeness import FINALISED, IN_PROGRESS, StructureResult

GROUP_FIELDS = ("region", "department", "sector", "champ", "category")


@dataclass(frozen=True)
class CountRow:
    """Counts of EG × champ rows sharing one region, department, sector, champ, category."""

    region: str | None
    department: str
    sector: str
    champ: str
    category: str
    perimeter: int
    finalised: int
    in_progress: int
    to_do: int


def count_rows(results: Iterable[StructureResult]) -> list[CountRow]:
    """The finest grouping (what a snapshot stores)."""
    counts: dict[tuple[str | None, str, str, str, str], list[int]] = {}
    for r in results:
        c = counts.setdefault((r.region, r.department, r.sector, r.champ, r.category), [0, 0, 0])
        c[0 if r.status == FINALISED else 1 if r.status == IN_PROGRESS else 2] += 1
    return [
        CountRow(*key, perimeter=sum(c), finalised=c[0], in_progress=c[1], to_do=c[2])
        for key, c in sorted(counts.items(), key=lambda kv: tuple(v or "" for v in kv[0]))
    ]


def rate(finalised: int, perimeter: int) -> float:
    """Finalised / perimeter, 0 when the perimeter is empty (as ANS does)."""
    return finalised / perimeter if perimeter else 0.0


def gap_to_target(finalised: int, perimeter: int, target: float | None) -> int | None:
    """How many more EG × champ must be finalised to reach the target."""
    if target is None:
        return None
    # The tolerance keeps 0.95 × 20 = 19 from rounding up to 20 through float error.
    needed = math.ceil(target * perimeter - 1e-9)
    return max(0, needed - finalised)


def aggregate(
    rows: Iterable[CountRow],
    group_by: Sequence[str],
    targets: Mapping[str, float | None],
) -> list[dict[str, object]]:
    """Sum ``rows`` by ``group_by``; a group with one sector carries its target and gap."""
    groups: dict[tuple[object, ...], list[int]] = {}
    sectors: dict[tuple[object, ...], set[str]] = {}
    for row in rows:
        key = tuple(getattr(row, f) for f in group_by)
        c = groups.setdefault(key, [0, 0, 0, 0])
        c[0] += row.perimeter
        c[1] += row.finalised
        c[2] += row.in_progress
        c[3] += row.to_do
        sectors.setdefault(key, set()).add(row.sector)
    out: list[dict[str, object]] = []
    for key in sorted(groups, key=lambda k: tuple(str(v or "") for v in k)):
        perimeter, finalised, in_progress, to_do = groups[key]
        only = sectors[key].pop() if len(sectors[key]) == 1 else None
        target = targets.get(only) if only else None
        out.append(
            {
                **dict(zip(group_by, key, strict=True)),
                "perimeter": perimeter,
                "finalised": finalised,
                "in_progress": in_progress,
                "to_do": to_do,
                "rate": round(rate(finalised, perimeter), 4),
                "target": target,
                "gap_to_target": gap_to_target(finalised, perimeter, target),
            }
        )
    return out


def sector_rows(
    rows: Iterable[CountRow], targets: Mapping[str, float | None], sectors: Sequence[str]
) -> list[dict[str, object]]:
    """One row per sector, every sector present even when its perimeter is empty."""
    found = {str(r["sector"]): r for r in aggregate(rows, ["sector"], targets)}
    return [
        found.get(s)
        or {
            "sector": s,
            "perimeter": 0,
            "finalised": 0,
            "in_progress": 0,
            "to_do": 0,
            "rate": 0.0,
            "target": targets.get(s),
            "gap_to_target": 0 if targets.get(s) is not None else None,
        }
        for s in sectors
    ]
