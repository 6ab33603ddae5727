"""Vectorised comparison levels for arrays of candidate pairs.

One implementation serves both the single-pair path (score_pair) and the batch path, so a pair
scores the same whichever way it is asked. Each function returns one int8 level per pair, the
index of the level in fields.FIELD_LEVELS.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import token_sort_ratio
from rapidfuzz.process import cpdist

from matching.fields import FIELD_LEVELS, FIELDS
from matching.prepared import GIVEN_WIDTH, HISTORY_WIDTH, IntArray, Prepared

Mask = npt.NDArray[np.bool_]
Levels = npt.NDArray[np.int8]

JW_HIGH = 0.94
JW_TYPO = 0.88
FIRST_JW_HIGH = 0.92
FIRST_JW_TYPO = 0.85


# Interned id of each string column: equal ids are equal strings, so a fuzzy score is computed
# once per distinct pair of values (names, and above all cities, repeat across pairs).
STRING_IDS = {
    "bn_core": "bn_core_id",
    "first": "first_id",
    "address": "address_id",
    "city": "city_id",
}


class _Pairs:
    """Column access for the left and right sides of a chunk of pairs."""

    def __init__(
        self, prep: Prepared, left: IntArray, right: IntArray, workers: int, fuzzy: bool = True
    ) -> None:
        self.prep, self.left, self.right, self.workers = prep, left, right, workers
        self.scored = fuzzy
        self._codes: dict[str, tuple[IntArray, IntArray]] = {}

    def code(self, name: str) -> tuple[IntArray, IntArray]:
        found = self._codes.get(name)
        if found is None:
            column = self.prep.codes[name]
            found = self._codes[name] = (column[self.left], column[self.right])
        return found

    def fuzzy(self, name: str, rows: Mask, scorer: Any) -> npt.NDArray[np.float64]:
        """Scorer values on the selected rows only (fuzzy scoring is the costly part)."""
        out = np.zeros(len(self.left), dtype=np.float64)
        if self.scored and rows.any():
            left, right = self.left[rows], self.right[rows]
            ids = self.prep.codes[STRING_IDS[name]]
            key = ids[left] * (int(ids.max(initial=0)) + 1) + ids[right]
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            column = self.prep.strings[name]
            scores = cpdist(
                column[left[first]],
                column[right[first]],
                scorer=scorer,
                workers=self.workers,
                dtype=np.float64,
            )
            out[rows] = scores[inverse.reshape(-1)]
        return out


def _select(field: str, conditions: list[tuple[str, Mask]], size: int) -> Levels:
    """First matching condition wins; order of the list is the priority."""
    names = FIELD_LEVELS[field]
    out = np.full(size, names.index("different"), dtype=np.int8)
    for level, mask in reversed(conditions):
        out[mask] = names.index(level)
    return out


def _same(a: IntArray, b: IntArray) -> Mask:
    return (a == b) & (a > 0)


def _member(value: IntArray, matrix: list[IntArray]) -> Mask:
    hit = np.zeros(len(value), dtype=bool)
    for column in matrix:
        hit |= _same(value, column)
    return hit


def swapped_names(p: _Pairs) -> Mask:
    """Birth name typed as first given name and the reverse (exact or same Phonex key)."""
    (gl, gr), (fl, fr) = p.code("bn"), p.code("first_id")
    (bxl, bxr), (fxl, fxr) = p.code("bn_phonex"), p.code("first_phonex")
    return (_same(gl, fr) | _same(bxl, fxr)) & (_same(gr, fl) | _same(bxr, fxl))


def birth_name_levels(p: _Pairs) -> Levels:
    """Exact (incl. particles), phonetic, part of a double name, other's used name, fuzzy."""
    (gl, gr), (cl, cr) = p.code("bn"), p.code("bn_core_id")
    missing = (gl == 0) | (gr == 0)
    exact = _same(gl, gr) | _same(cl, cr) | _same(gl, cr) | _same(cl, gr)
    (fl, fr), (xl, xr) = p.code("bn_fonem"), p.code("bn_phonex")
    phonetic = _same(fl, fr) | _same(xl, xr)
    parts_l, parts_r = zip(p.code("bn_part0"), p.code("bn_part1"), strict=True)
    part = _member(gl, list(parts_r)) | _member(gr, list(parts_l))
    (ul, ur), (ucl, ucr) = p.code("used"), p.code("used_core")
    used = _member(ul, [gr, cr]) | _member(ur, [gl, cl]) | _member(ucl, [cr]) | _member(ucr, [cl])
    swapped = swapped_names(p)
    rest = ~(missing | exact | phonetic | part | used | swapped)
    jw = p.fuzzy("bn_core", rest, JaroWinkler.normalized_similarity)
    typo = rest & (jw >= JW_TYPO)
    typo |= rest & (p.fuzzy("bn_core", rest & ~typo, OSA.distance) == 1)
    conditions = [
        ("missing", missing),
        ("exact", exact),
        ("phonetic", phonetic),
        ("part", part),
        ("used_name", used),
        ("swapped", swapped),
        ("jw_high", rest & (jw >= JW_HIGH)),
        ("typo", typo),
    ]
    return _select("birth_name", conditions, len(gl))


def first_name_levels(p: _Pairs) -> Levels:
    """Given names as lists: first equal, first found in the other's list, fuzzy, other shared."""
    fl, fr = p.code("first_id")
    missing = (fl == 0) | (fr == 0)
    wholes = [p.code(f"whole{i}") for i in range(GIVEN_WIDTH)]
    parts = [p.code(f"gpart{i}") for i in range(GIVEN_WIDTH)]
    ufl, ufr = p.code("used_first")
    left_all = [w[0] for w in wholes] + [q[0] for q in parts]
    right_all = [w[1] for w in wholes] + [q[1] for q in parts]
    in_list = _member(fl, right_all) | _member(fr, left_all)
    in_list |= _member(ufl, [fr, *right_all]) | _member(ufr, [fl, *left_all])
    other = np.zeros(len(fl), dtype=bool)
    for left_whole, _ in wholes:
        other |= _member(left_whole, [w[1] for w in wholes])
    xl, xr = p.code("first_phonex")
    phonetic = _same(xl, xr)
    swapped = swapped_names(p)
    rest = ~(missing | _same(fl, fr) | in_list | phonetic | swapped)
    jw = p.fuzzy("first", rest, JaroWinkler.normalized_similarity)
    typo = rest & (jw >= FIRST_JW_TYPO)
    typo |= rest & (p.fuzzy("first", rest & ~typo, OSA.distance) == 1)
    conditions = [
        ("missing", missing),
        ("exact", _same(fl, fr)),
        ("first_in_list", in_list),
        ("swapped", swapped),
        ("phonetic", phonetic),
        ("jw_high", rest & (jw >= FIRST_JW_HIGH)),
        ("typo", typo),
        ("other_in_list", other),
    ]
    return _select("first_names", conditions, len(fl))


def sex_levels(p: _Pairs) -> Levels:
    """Same sex, different sex, or unknown on one side."""
    sl, sr = p.code("sex")
    return _select("sex", [("missing", (sl == 0) | (sr == 0)), ("exact", sl == sr)], len(sl))


def _digit_matrix(year: IntArray, month: IntArray, day: IntArray) -> npt.NDArray[np.int64]:
    number = year * 10_000 + month * 100 + day
    powers = 10 ** np.arange(7, -1, -1, dtype=np.int64)
    return (number[:, None] // powers) % 10


def _one_digit(
    yl: IntArray, ml: IntArray, dl: IntArray, yr: IntArray, mr: IntArray, dr: IntArray
) -> Mask:
    """Dates one digit apart, or two adjacent digits swapped."""
    left, right = _digit_matrix(yl, ml, dl), _digit_matrix(yr, mr, dr)
    diff = left != right
    count = diff.sum(axis=1)
    adjacent = np.zeros(len(yl), dtype=bool)
    for i in range(7):
        adjacent |= (
            diff[:, i]
            & diff[:, i + 1]
            & (left[:, i] == right[:, i + 1])
            & (left[:, i + 1] == right[:, i])
        )
    return (count == 1) | ((count == 2) & adjacent)


def date_levels(p: _Pairs) -> Levels:
    """Exact, day/month swapped, one digit or adjacent digits swapped, year ±1, default day."""
    (yl, yr), (ml, mr), (dl, dr) = p.code("year"), p.code("month"), p.code("day")
    missing = (yl == 0) | (yr == 0)
    exact = (yl == yr) & (ml == mr) & (dl == dr)
    swap = (yl == yr) & (ml == dr) & (dl == mr)
    year_1 = (np.abs(yl - yr) == 1) & (ml == mr) & (dl == dr)
    # Unknown parts are entered as 01 (day or month), or the whole date as 01/01 or 31/12.
    default_l = ((ml == 1) & (dl == 1)) | ((ml == 12) & (dl == 31))
    default_r = ((mr == 1) & (dr == 1)) | ((mr == 12) & (dr == 31))
    default = (yl == yr) & (default_l | default_r | ((ml == mr) & ((dl == 1) | (dr == 1))))
    # "One digit" ranks last: only the pairs no other level explains need their digits.
    rows = np.flatnonzero(~(missing | exact | swap | year_1 | default))
    one_digit = np.zeros(len(yl), dtype=bool)
    one_digit[rows] = _one_digit(yl[rows], ml[rows], dl[rows], yr[rows], mr[rows], dr[rows])
    # The specific explanations (year off by one, a default day) win over "one digit".
    conditions = [
        ("missing", missing),
        ("exact", exact),
        ("swap", swap),
        ("year_1", year_1),
        ("default_day", default),
        ("one_digit", one_digit),
    ]
    return _select("birth_date", conditions, len(yl))


def place_levels(p: _Pairs) -> Levels:
    """Same commune, same department (or same foreign country), or unknown."""
    (pl, pr), (dl, dr), (al, _) = p.code("place"), p.code("dept"), p.code("abroad")
    # A country of birth is shared by far more people than a commune: department-level evidence.
    conditions = [
        ("missing", (pl == 0) | (pr == 0)),
        ("exact", (pl == pr) & (al == 0)),
        ("department", _same(dl, dr) | (pl == pr)),
    ]
    return _select("birth_place", conditions, len(pl))


def ins_levels(p: _Pairs) -> Levels:
    """Same matricule (or linked by history); different only when both are valid."""
    il, ir = p.code("ins")
    vl, vr = p.code("ins_valid")
    history = [p.code(f"hist{i}") for i in range(HISTORY_WIDTH)]
    linked = _same(il, ir) | _member(il, [h[1] for h in history])
    linked |= _member(ir, [h[0] for h in history])
    conflict = (vl == 1) & (vr == 1) & ~linked
    conditions = [("exact", linked), ("missing", ~conflict)]
    return _select("ins", conditions, len(il))


def address_levels(p: _Pairs) -> Levels:
    """Address: close or similar (token-sorted ratio), or different."""
    al, ar = p.code("address_id")
    a_missing = (al == 0) | (ar == 0)
    a_score = p.fuzzy("address", ~a_missing & (al != ar), token_sort_ratio)
    a_score[~a_missing & (al == ar)] = 100.0
    conditions = [("missing", a_missing), ("close", a_score >= 90), ("similar", a_score >= 75)]
    return _select("address", conditions, len(al))


def city_levels(p: _Pairs) -> Levels:
    """City: exact, close (Jaro-Winkler) or different."""
    cl, cr = p.code("city_id")
    c_missing = (cl == 0) | (cr == 0)
    c_score = p.fuzzy("city", ~c_missing & (cl != cr), JaroWinkler.normalized_similarity)
    conditions = [("missing", c_missing), ("exact", cl == cr), ("close", c_score >= 0.9)]
    return _select("city", conditions, len(cl))


def contact_levels(p: _Pairs) -> dict[str, Levels]:
    """Address (token-sorted), postcode, city and phone; all optional."""
    (pl, pr), (ql, qr), (tl, tr) = p.code("postcode"), p.code("pc_dept"), p.code("phone")
    size = len(pl)
    return {
        "address": address_levels(p),
        "postcode": _select(
            "postcode",
            [
                ("missing", (pl == 0) | (pr == 0)),
                ("exact", pl == pr),
                ("department", _same(ql, qr)),
            ],
            size,
        ),
        "city": city_levels(p),
        "phone": _select("phone", [("missing", (tl == 0) | (tr == 0)), ("exact", tl == tr)], size),
    }


def compare(
    prep: Prepared, left: IntArray, right: IntArray, workers: int = 1, fuzzy: bool = True
) -> Levels:
    """Level matrix (pairs x FIELDS) for the pairs (left[i], right[i]).

    fuzzy=False: no string similarity is computed; a level that needs one reads "different"
    (or "other_in_list"), see pruned.compare_pruned.
    """
    pairs = _Pairs(prep, left, right, workers, fuzzy)
    columns = {
        "birth_name": birth_name_levels(pairs),
        "first_names": first_name_levels(pairs),
        "sex": sex_levels(pairs),
        "birth_date": date_levels(pairs),
        "birth_place": place_levels(pairs),
        "ins": ins_levels(pairs),
        **contact_levels(pairs),
    }
    return np.stack([columns[f] for f in FIELDS], axis=1).astype(np.int8)


def similarity_levels(prep: Prepared, left: IntArray, right: IntArray, field: str) -> Levels:
    """The levels of one field whose similarity compare(fuzzy=False) skips (pruned.py)."""
    pairs = _Pairs(prep, left, right, 1)
    if field == "birth_name":
        return birth_name_levels(pairs)
    if field == "first_names":
        return first_name_levels(pairs)
    # Only the asked field: the other contact similarities are not needed here.
    return address_levels(pairs) if field == "address" else city_levels(pairs)
