"""The batch preparation's fast paths give what the per-value functions give."""

from __future__ import annotations

import numpy as np

from matching.compare import compare
from matching.features import _given_row, given_features, surname_features, surname_table
from matching.fields import FIELDS, level_index
from matching.nir import ins_table, is_valid_ins, matricule13, nir_key
from matching.phonetics import fonem
from matching.prepared import prepare
from tests.matching.conftest import person


def _with_key(matricule: str) -> str:
    return f"{matricule}{nir_key(matricule):02d}"


def test_ins_table_checks_as_the_single_value_functions() -> None:
    valid = _with_key("1750363113001")
    values = [
        valid,
        valid[:13],
        valid[:13] + "00",  # wrong key
        _with_key("2750799113002"),
        _with_key("475036311300"[:12] + "1"),  # sex digit 4: not a NIR
        _with_key("1751363113001"),  # month 13
        _with_key("1752063113001"),  # month 20 (allowed)
        _with_key("1750063113001"),  # month 00
        "1750363113001" + "５８",  # non-ASCII digits: the slow path
        _with_key("1752A63113001".replace("2A", "19"))[:5] + "2A" + valid[7:],
        "2752B63113001" + "12",
        f" {valid}",
        valid.replace("1", "1 ", 1),
        "abcdefghijklmno",
        "17503631130",
        "",
    ]
    matricules, flags = ins_table(values)
    assert matricules == [matricule13(v) for v in values]
    assert flags == [1 if matricule13(v) and is_valid_ins(v) else 0 for v in values]
    assert flags[:3] == [1, 1, 0]
    assert ins_table([]) == ([""], [0])


def test_plain_names_take_the_features_of_the_full_normalisation() -> None:
    names = ["DUPONT", "DE", "LE", "X", "MAC", "DE LA FONTAINE", "Dupont", "ÉLOI", ""]
    full = [surname_features.__wrapped__(name) for name in names]  # type: ignore[attr-defined]
    assert surname_table(names) == full
    assert surname_table(names, cached=True) == full
    lists = [("MARIE", "ANNE"), ("JEAN", "PIERRE", "MARC"), ("DE",), ("JEAN-PIERRE",), ("Léa",)]
    for names in lists:
        first = given_features.__wrapped__(names)  # type: ignore[attr-defined]
        assert _given_row(names) == (first, fonem(first[0]) if first[0] else "")


def test_ins_history_links_two_records_in_the_ins_namespace() -> None:
    old = "175036311300158"
    new = _with_key("1750363113002")
    prep = prepare([person(id="A", ins=old), person(id="B", ins=new, ins_history=(old,))])
    levels = compare(prep, np.array([0]), np.array([1]))
    assert levels[0, FIELDS.index("ins")] == level_index("ins", "exact")
    alone = prepare([person(id="A", ins=old), person(id="B", ins=new)])
    levels = compare(alone, np.array([0]), np.array([1]))
    assert levels[0, FIELDS.index("ins")] == level_index("ins", "different")
