"""String columns built in one process and interned in another, with the same ids.

The helper process of the batch CLI encodes part of the distinct names. It sends back, per
column, the column's distinct values in first-seen order and each row's position among them
(a factor) rather than several strings per row: the process that owns the interner then only
interns the distinct values, a list at a time, and spreads their ids by integer indexing.
Interning each column's distinct values in first-seen order, part after part, inserts the
strings the interner had not seen in the order interning the whole column would: the ids are
the same as when one process encodes every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from matching.features import Factor, factorise
from matching.traits import Interner

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
G = TypeVar("G", bound=np.generic)


@dataclass(slots=True)
class Factored:
    """String columns of some rows as factors, in the order they are to be interned."""

    columns: dict[str, Factor[str]]
    present: dict[str, BoolArray]  # slot columns: rows whose tuple reaches the slot
    size: int


def slots(
    name: str, tuples: Sequence[tuple[str, ...]], width: int
) -> tuple[dict[str, list[str]], dict[str, BoolArray]]:
    """Slot columns name0, name1...: the i-th item of each tuple for i < width ("" where the
    tuple is shorter), and where each slot is present (elsewhere its id is -1: equals nothing)."""
    pad = ("",) * width
    columns = (
        [list(s) for s in zip(*[(t + pad)[:width] for t in tuples], strict=True)]
        if tuples
        else [[] for _ in range(width)]
    )
    lengths = np.fromiter(map(len, tuples), dtype=np.int64, count=len(tuples))
    names = [f"{name}{i}" for i in range(width)]
    return dict(zip(names, columns, strict=True)), {n: lengths > i for i, n in enumerate(names)}


def factored(columns: dict[str, list[str]], present: dict[str, BoolArray], size: int) -> Factored:
    """Factors of the columns (``present``: the slot columns' presence, see slots())."""
    return Factored({name: factorise(values) for name, values in columns.items()}, present, size)


def spread(
    parts: list[Factored], name: str, table: Callable[[list[str]], npt.NDArray[G]]
) -> npt.NDArray[G]:
    """Per row, in part order: table(part's distinct values of the column) at the row's code."""
    return np.concatenate(
        [table(p.columns[name].values)[p.columns[name].codes] for p in parts if p.size]
    )


def interned(parts: list[Factored], intern: Interner) -> dict[str, IntArray]:
    """The interned columns of every part (columns interned in their order), one row per row."""
    out: dict[str, IntArray] = {}
    for name in parts[0].columns:
        out[name] = spread(parts, name, intern.many)
        if name in parts[0].present:
            present = np.concatenate([p.present[name] for p in parts if p.size])
            out[name] = np.where(present, out[name], -1)
    return out
