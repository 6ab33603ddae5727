"""Evidence that explains a name disagreement, for the evidence rules of the match band.

A birth name that is "different" at the comparison level may still be one person's name typed
twice: two typing errors, a compound name of which one part was typed with an error, a married
name (the other record's used name) typed with an error, or the birth name and the first given
name swapped and one of them mistyped. Each kind is a bit; a pair whose birth names disagree
with none of them cannot be an automatic match (rules.rule_flags). Likewise a first given name
one typing error away from one of the other record's given names is an entry error, not the
other given name that tells twins apart.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA
from rapidfuzz.process import cpdist

from matching.fields import FIELDS, level_index
from matching.prepared import GIVEN_WIDTH, IntArray, ObjArray, Prepared

Levels = npt.NDArray[np.int8]
Mask = npt.NDArray[np.bool_]

SPELLING, COMPOUND, MARRIED, INVERSION, GIVEN_SPELLING = 1, 2, 4, 8, 16
BIRTH_NAME_EVIDENCE = SPELLING | COMPOUND | MARRIED | INVERSION
EVIDENCE: tuple[tuple[int, str], ...] = (
    (SPELLING, "spelling"),
    (COMPOUND, "compound_name"),
    (MARRIED, "married_name"),
    (INVERSION, "inversion"),
    (GIVEN_SPELLING, "given_name_spelling"),
)
# Two edits (OSA: substitution, insertion, deletion, transposition) explain a name of at least
# this many letters; on shorter names two edits leave little of the name (MARTIN / MORIN ...).
TWO_EDITS_MIN_LENGTH = 6


def _distance(table: ObjArray, left: IntArray, right: IntArray) -> IntArray:
    """OSA distance between the strings of two id columns (each distinct pair computed once)."""
    out = np.full(len(left), 99, dtype=np.int64)
    known = (left > 0) & (right > 0)
    if not known.any():
        return out
    width = int(max(left.max(initial=0), right.max(initial=0))) + 1
    key = left[known] * width + right[known]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    lo, hi = left[known][first], right[known][first]
    values = cpdist(table[lo], table[hi], scorer=OSA.distance, dtype=np.int64)
    out[known] = np.asarray(values, dtype=np.int64)[inverse.reshape(-1)]
    return out


class _Sides:
    """Id columns of the pairs that need evidence, both sides."""

    def __init__(self, prep: Prepared, left: IntArray, right: IntArray) -> None:
        self.codes, self.left, self.right = prep.codes, left, right
        self.table = prep.interner.strings()
        self.lengths = prep.interner.lengths()

    def __call__(self, name: str) -> tuple[IntArray, IntArray]:
        column = self.codes[name]
        return column[self.left], column[self.right]

    def close(self, a: IntArray, b: IntArray, edits: int) -> Mask:
        """Strings within `edits` edits (and equal ones), with the length guard for two."""
        distance = _distance(self.table, a, b)
        length = np.minimum(self.lengths[np.maximum(a, 0)], self.lengths[np.maximum(b, 0)])
        return (distance <= 1) | ((distance <= edits) & (length >= TWO_EDITS_MIN_LENGTH))


def _evidence(s: _Sides) -> IntArray:
    (cl, cr), (fl, fr), (xl, xr) = s("bn_core_id"), s("bn_fonem"), s("bn_phonex")
    spelling = s.close(cl, cr, 2) | s.close(fl, fr, 1) | s.close(xl, xr, 1)
    compound = np.zeros(len(cl), dtype=bool)
    for part in ("bn_part0", "bn_part1"):
        pl, pr = s(part)
        compound |= s.close(np.maximum(pl, 0), cr, 1) | s.close(cl, np.maximum(pr, 0), 1)
    (ul, ur) = s("used_core")
    married = s.close(ul, cr, 2) | s.close(cl, ur, 2)
    (gl, gr) = s("first_id")
    inversion = (s.close(cl, gr, 2) & s.close(gl, cr, 2)) & ~((cl == cr) & (gl == gr))
    return spelling * SPELLING + compound * COMPOUND + married * MARRIED + inversion * INVERSION


def _given_evidence(s: _Sides) -> IntArray:
    """A first given name one edit away from one of the other record's given names."""
    (gl, gr) = s("first_id")
    close = np.zeros(len(gl), dtype=bool)
    for i in range(GIVEN_WIDTH):
        wl, wr = s(f"whole{i}")
        close |= s.close(gl, np.maximum(wr, 0), 1) | s.close(np.maximum(wl, 0), gr, 1)
    return close * GIVEN_SPELLING


def birth_name_evidence(
    prep: Prepared, left: IntArray, right: IntArray, levels: Levels
) -> IntArray:
    """Evidence bits per pair, computed only where a field disagrees.

    Birth-name bits where the birth names are "different"; the given-name bit where the given
    names share nothing (or only a later name) at the comparison level.
    """
    out = np.zeros(len(left), dtype=np.int64)
    column = levels[:, FIELDS.index("birth_name")]
    rows = np.flatnonzero(column == level_index("birth_name", "different"))
    if len(rows):
        out[rows] = _evidence(_Sides(prep, left[rows], right[rows]))
    column = levels[:, FIELDS.index("first_names")]
    rows = np.flatnonzero(
        (column == level_index("first_names", "different"))
        | (column == level_index("first_names", "other_in_list"))
    )
    if len(rows):
        out[rows] |= _given_evidence(_Sides(prep, left[rows], right[rows]))
    return out


def evidence_names(bits: int) -> tuple[str, ...]:
    """Names of the evidence kinds set in `bits`."""
    return tuple(name for bit, name in EVIDENCE if bits & bit)
