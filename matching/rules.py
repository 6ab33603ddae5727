"""Hard rules that cap a pair's band whatever its score, each named in the explanation.

The score adds independent pieces of evidence; these rules cover what the independence
assumption gets wrong. Traps (twins, a parent and a child) agree on many fields at once; a
contradiction that practice treats as blocking (sex and given names both disagreeing) is
outweighed by agreements elsewhere; and a birth-name disagreement is only tolerable in the match
band when something explains it (evidence.birth_name_evidence).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from matching.compare import Levels
from matching.evidence import BIRTH_NAME_EVIDENCE, GIVEN_SPELLING
from matching.fields import FIELDS, level_index
from matching.prepared import IntArray, Prepared

Mask = npt.NDArray[np.bool_]

INS_CONFLICT, TWIN, DATE_CONFLICT, NO_NAME = 1, 2, 4, 8
UNEXPLAINED_NAME, SEX_AND_GIVEN, SEX_AND_DATE = 16, 32, 64
# Rules in the order they are reported.
RULES: tuple[tuple[int, str], ...] = (
    (INS_CONFLICT, "ins_conflict"),
    (TWIN, "twin_signature"),
    (DATE_CONFLICT, "birth_date_conflict"),
    (NO_NAME, "no_name_agreement"),
    (UNEXPLAINED_NAME, "birth_name_unexplained"),
    (SEX_AND_GIVEN, "sex_and_given_name_conflict"),
    (SEX_AND_DATE, "sex_and_birth_date_conflict"),
)
# Rules that cap at "review"; the INS conflict has its own cap (MatchConfig.ins_conflict_band).
REVIEW_CAP = TWIN | DATE_CONFLICT | NO_NAME | UNEXPLAINED_NAME | SEX_AND_GIVEN | SEX_AND_DATE
ALL_RULES = INS_CONFLICT | REVIEW_CAP
GENERATION_GAP = 10  # years between two birth dates beyond which a pair may be parent and child


def _is(levels: Levels, name: str, *wanted: str) -> Mask:
    column = levels[:, FIELDS.index(name)]
    hit = np.zeros(len(levels), dtype=bool)
    for level in wanted:
        hit |= column == level_index(name, level)
    return hit


def _twin(levels: Levels, given_spelling: Mask) -> Mask:
    """Twins share birth name (up to a typo), date and place but not the first given name.

    Without a place on one side the signature still holds when both sexes are known (files
    without sex or place, like FEBRL, cannot show it). A close spelling of the first name only
    counts as another name when the sexes differ.
    """
    sex_known = ~_is(levels, "sex", "missing")
    near_first = _is(levels, "first_names", "jw_high", "typo") & _is(levels, "sex", "different")
    same_place = _is(levels, "birth_place", "exact", "department") | (
        _is(levels, "birth_place", "missing") & sex_known
    )
    return (
        ~_is(levels, "birth_name", "missing", "different")
        & _is(levels, "birth_date", "exact", "swap", "one_digit", "year_1", "default_day")
        & same_place
        & (
            (_is(levels, "first_names", "different", "other_in_list") & ~given_spelling)
            | near_first
        )
    )


def _sex_conflicts(levels: Levels) -> tuple[Mask, Mask]:
    """(sex and given names disagree, sex and birth date disagree).

    A wrong sex is a common entry error and so is a given-name error, but both at once leave
    little of the person's civil identity: RNIV practice blocks the merge. The first given names
    must agree (only a later name shared is a sibling's pattern), and so must the date.
    """
    other_sex = _is(levels, "sex", "different")
    given = other_sex & ~_is(levels, "first_names", "missing", "exact", "swapped", "phonetic")
    return given, other_sex & _is(levels, "birth_date", "different")


def rule_flags(
    levels: Levels, year_gap: npt.NDArray[np.int64], name_evidence: IntArray | None = None
) -> IntArray:
    """Bit flags of the rules that apply to each pair.

    year_gap: |birth year difference|; name_evidence: evidence.birth_name_evidence bits (None:
    not computed, then the birth-name rule does not apply).
    """
    sex_known = ~_is(levels, "sex", "missing")
    evidence = np.zeros(len(levels), dtype=np.int64) if name_evidence is None else name_evidence
    given_spelling = (evidence & GIVEN_SPELLING).astype(bool)
    # Parent and child share names; a birth-date difference no entry error explains must reach
    # a human. Same-named parent and child have the same sex, so the rule needs both sexes known.
    date_conflict = (
        _is(levels, "birth_date", "different")
        & (year_gap >= GENERATION_GAP)
        & _is(levels, "sex", "exact")
    )
    # No automatic merge without any agreement on a name. Like the other traps it needs both
    # sexes known: files without sex (FEBRL) corrupt whole names and are left to the score.
    # Evidence of a typing error in either name is an agreement of sorts.
    no_name = (
        _is(levels, "birth_name", "different")
        & _is(levels, "first_names", "different", "other_in_list")
        & sex_known
        & (evidence == 0)
    )
    sex_and_given, sex_and_date = _sex_conflicts(levels)
    unexplained = np.zeros(len(levels), dtype=bool)
    if name_evidence is not None:
        # The evidence that explains a birth-name disagreement includes married names, which
        # need the sexes to be read; a file without sex (FEBRL) is left to the score.
        unexplained = (
            _is(levels, "birth_name", "different")
            & ((evidence & BIRTH_NAME_EVIDENCE) == 0)
            & sex_known
        )
    flags = _is(levels, "ins", "different") * INS_CONFLICT + _twin(levels, given_spelling) * TWIN
    flags += date_conflict * DATE_CONFLICT + no_name * NO_NAME + unexplained * UNEXPLAINED_NAME
    flags += sex_and_given * SEX_AND_GIVEN + sex_and_date * SEX_AND_DATE
    # One shared INS matricule is one person for INSi: no trap or contradiction can hold then.
    same_ins = _is(levels, "ins", "exact")
    return np.where(same_ins, flags & INS_CONFLICT, flags).astype(np.int64)


def year_gap(prep: Prepared, left: IntArray, right: IntArray) -> npt.NDArray[np.int64]:
    """|difference of birth years| per pair (0 when a year is unknown)."""
    years = prep.codes["year"]
    gap = np.abs(years[left] - years[right])
    return np.where((years[left] > 0) & (years[right] > 0), gap, 0)


def rule_names(flags: int) -> tuple[str, ...]:
    """Names of the rules set in `flags`, in report order."""
    return tuple(name for bit, name in RULES if flags & bit)
