"""The surname columns of a batch: encoded where the names are, interned where the interner is.

The helper process of the batch CLI encodes most of the distinct surnames. It sends back, per
column, the column's distinct values in first-seen order and each name's position among them
(a factor) rather than five strings per name: the process that owns the interner then only
interns the distinct values, a list at a time, and spreads their ids by integer indexing.
Interning each column's distinct values in first-seen order, part after part, inserts the
strings the interner had not seen in the order interning the whole column would: the ids are
the same as when one process encodes every name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matching.features import Factor, factorise, surname_table
from matching.traits import Interner

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]
PART_WIDTH = 2  # parts of a double name kept per record
# The interned columns, in the order they are interned (the ids depend on it).
INTERNED = ("bn", "bn_core_id", "bn_fonem", "bn_phonex", "bn_part0", "bn_part1", "bn_prefix")


@dataclass(slots=True)
class SurnameFactors:
    """Features of a list of distinct surnames, one factor per interned column."""

    columns: dict[str, Factor[str]]
    parts: IntArray  # number of parts of each name (0: a single name)

    @property
    def size(self) -> int:
        """Number of surnames."""
        return len(self.parts)


def surname_factors(names: Sequence[str], cached: bool = False) -> SurnameFactors:
    """The features of each surname (features.surname_table) as per-column factors."""
    rows = surname_table(names, cached)
    glued, cores, parts, fonems, phonexes = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([] for _ in range(5))
    )
    pad = ("",) * PART_WIDTH
    slots = (
        zip(*[(t + pad)[:PART_WIDTH] for t in parts], strict=True) if parts else [()] * PART_WIDTH
    )
    values = {
        "bn": glued,
        "bn_core_id": cores,
        "bn_fonem": fonems,
        "bn_phonex": phonexes,
        **{f"bn_part{i}": list(slot) for i, slot in enumerate(slots)},
        "bn_prefix": [v[:3] if len(v) >= 3 else "" for v in glued],
    }
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    return SurnameFactors({name: factorise(values[name]) for name in INTERNED}, lengths)


def _initials(values: Sequence[str]) -> IntArray:
    return np.array([ord(v[0]) if v else 0 for v in values], dtype=np.int64)


def _spread(parts: list[SurnameFactors], name: str, table: list[IntArray]) -> IntArray:
    """Per name, table[k] (one entry per distinct value of part k's column) at its code."""
    return np.concatenate([t[p.columns[name].codes] for p, t in zip(parts, table, strict=True)])


def surname_table_columns(
    parts: list[SurnameFactors], intern: Interner
) -> tuple[dict[str, IntArray], ObjArray]:
    """The interned columns of the names of every part, in part order (one row per name), and
    each name's core as a string."""
    parts = [p for p in parts if p.size] or [surname_factors([""])]
    interned = {
        name: _spread(parts, name, [intern.many(p.columns[name].values) for p in parts])
        for name in INTERNED
    }
    lengths = np.concatenate([p.parts for p in parts])
    for i in range(PART_WIDTH):
        interned[f"bn_part{i}"] = np.where(lengths > i, interned[f"bn_part{i}"], -1)
    fonems = [p.columns["bn_fonem"].values for p in parts]
    # String order of the FONEM codes: the sorted window of an over-common block follows it.
    order = {v: i for i, v in enumerate(sorted(set().union(*fonems)))}
    ranks = [np.array([order[v] for v in values], dtype=np.int64) for values in fonems]
    table = {
        **{name: interned[name] for name in INTERNED[:-1]},
        "bn_initial": _spread(parts, "bn_fonem", [_initials(v) for v in fonems]),
        "bn_prefix": interned["bn_prefix"],
        "bn_fonem_rank": _spread(parts, "bn_fonem", ranks),
    }
    cores = [np.array(p.columns["bn_core_id"].values, dtype=object) for p in parts]
    return table, np.concatenate(
        [t[p.columns["bn_core_id"].codes] for p, t in zip(parts, cores, strict=True)]
    )
