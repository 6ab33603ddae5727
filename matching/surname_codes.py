"""The surname columns of a batch, as factors (factored.py) and interned.

The helper process of the batch CLI encodes the distinct surnames (or a share of them); the
process that owns the interner interns the distinct values of each part, in part order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from matching.factored import Factored, factored, interned, slots, spread
from matching.features import surname_table
from matching.traits import Interner

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]
PART_WIDTH = 2  # parts of a double surname kept per record


def prefixes(values: Sequence[str]) -> list[str]:
    """The first three letters of each name ("" for a shorter one)."""
    return [v[:3] if len(v) >= 3 else "" for v in values]


def initials(values: Sequence[str]) -> IntArray:
    """The code point of each name's first letter (0 for an empty one)."""
    return np.array([ord(v[0]) if v else 0 for v in values], dtype=np.int64)


def _objects(values: list[str]) -> ObjArray:
    return np.array(values, dtype=object)


def surname_factors(names: Sequence[str], cached: bool = False) -> Factored:
    """The features of each surname (features.surname_table) as factors, in interning order."""
    rows = surname_table(names, cached)
    glued, cores, parts, fonems, phonexes = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([] for _ in range(5))
    )
    part_columns, present = slots("bn_part", parts, PART_WIDTH)
    columns = {"bn": glued, "bn_core_id": cores, "bn_fonem": fonems, "bn_phonex": phonexes}
    columns.update(part_columns)
    columns["bn_prefix"] = prefixes(glued)
    return factored(columns, present, len(rows))


def surname_table_columns(
    parts: list[Factored], intern: Interner
) -> tuple[dict[str, IntArray], ObjArray]:
    """The surname columns of every part's names, in part order (one row per distinct name),
    and each name's core as a string."""
    parts = [p for p in parts if p.size] or [surname_factors([""])]
    ids = interned(parts, intern)
    fonems = [p.columns["bn_fonem"].values for p in parts]
    # String order of the FONEM codes: the sorted window of an over-common block follows it.
    order = {v: i for i, v in enumerate(sorted(set().union(*fonems)))}
    table = {name: ids[name] for name in ids if name != "bn_prefix"}
    table["bn_initial"] = spread(parts, "bn_fonem", initials)
    table["bn_prefix"] = ids["bn_prefix"]
    table["bn_fonem_rank"] = spread(
        parts, "bn_fonem", lambda v: np.array([order[x] for x in v], dtype=np.int64)
    )
    return table, spread(parts, "bn_core_id", _objects)
