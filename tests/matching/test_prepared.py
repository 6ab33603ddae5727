"""The batch preparation's fast paths give what the per-value functions give."""

from __future__ import annotations

import numpy as np
import pytest

from matching.compare import compare
from matching.features import (
    _given_row,
    given_features,
    helper_process,
    surname_features,
    surname_table,
)
from matching.fields import FIELDS, level_index
from matching.nir import ins_table, is_valid_ins, matricule13, nir_key
from matching.phonetics import fonem
from matching.prepared import Interner, Prepared, RecordColumns, prepare, prepare_columns
from matching.records import IdentityRecord
from matching.surname_codes import surname_factors, surname_table_columns
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


def _varied_records() -> list[IdentityRecord]:
    """Records whose names take every path: plain, accented, particles, double names, empty."""
    surnames = ["DUPONT", "Lefèvre", "DE LA FONTAINE", "MARTIN-DUPONT", "", "LE GALL", "MAC", "X"]
    givens = [("MARIE", "ANNE"), ("JEAN-PIERRE", "MARC"), (), ("Léa",), ("A", "B", "C", "D", "E")]
    return [
        person(
            id=f"R{i}",
            birth_name=surnames[i % len(surnames)] + ("" if i < 8 else f"{'AB'[i % 2]}{i % 5}"),
            used_name=surnames[(i * 3) % len(surnames)],
            first_names=givens[i % len(givens)],
            used_first_name=("JEAN", "", "Léa")[i % 3],
            ins="" if i % 4 else "175036311300158",
            phone=f"06 12 34 56 {i % 7:02d}",
        )
        for i in range(40)
    ]


def _same_prepared(one: Prepared, two: Prepared) -> None:
    assert list(one.codes) == list(two.codes)
    for name, column in one.codes.items():
        assert column.dtype == two.codes[name].dtype
        assert np.array_equal(column, two.codes[name]), name
    assert {k: v.tolist() for k, v in one.strings.items()} == {
        k: v.tolist() for k, v in two.strings.items()
    }
    assert one.interner.strings().tolist() == two.interner.strings().tolist()


@pytest.mark.parametrize("cached", [False, True])
def test_surnames_split_with_a_helper_give_the_columns_and_ids_of_one_process(
    cached: bool,
) -> None:
    cols = RecordColumns.from_records(_varied_records())
    alone = prepare_columns(cols, cached=cached)
    with helper_process(True) as helper:
        assert helper is not None
        for share in (0.0, 0.3, 1.0):
            split = prepare_columns(cols, helper=helper, cached=cached, helper_share=share)
            _same_prepared(alone, split)


def test_surname_factors_of_no_name_and_of_parts_intern_as_the_whole_list() -> None:
    names = ["DE LA FONTAINE", "DUPONT", "Lefèvre", "DUPONT-MARTIN", "", "LE GALL"]
    whole, parts = Interner(), Interner()
    one, one_cores = surname_table_columns([surname_factors(names)], whole)
    pieces = [surname_factors(names[:0]), surname_factors(names[:2]), surname_factors(names[2:])]
    two, two_cores = surname_table_columns(pieces, parts)
    assert list(one) == list(two)
    assert all(np.array_equal(one[k], two[k]) for k in one)
    assert one_cores.tolist() == two_cores.tolist()
    assert whole.strings().tolist() == parts.strings().tolist()
    assert one["bn_part1"].tolist()[3] >= 0 and one["bn_part0"].tolist()[1] == -1


def test_given_names_kept_for_an_interner_give_what_encoding_them_again_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches prepared with one interner (a bulk load's chunks, ``cached``) encode each
    given-name list once: a later batch encodes only the lists no earlier one brought, and
    its given-name columns stand for the same strings as when encoded afresh."""
    from matching import prepared

    records = _varied_records()
    first, second = records[:12], [*records[8:], person(id="N", first_names=("NOUVEAU",))]
    encoded: list[list[tuple[str, ...]]] = []
    table = prepared._given_table

    def counted(values: list[tuple[str, ...]], intern: Interner, cached: bool) -> object:
        encoded.append(list(values))
        return table(values, intern, cached)

    monkeypatch.setattr(prepared, "_given_table", counted)
    intern = Interner()
    prepare(first, intern, cached=True)
    kept = prepare(second, intern, cached=True)
    seen = set(encoded[0])
    assert encoded[1] == [("NOUVEAU",)]  # the only list the first batch did not bring
    assert seen | {("NOUVEAU",)} == {r.first_names for r in records} | {("NOUVEAU",)}
    fresh = prepare(second, Interner())
    given = [n for n in kept.codes if n.startswith(("first", "whole", "gpart"))]
    assert len(given) == 13

    for name in given:
        assert _as_strings(kept, name) == _as_strings(fresh, name), name
    assert kept.strings["first"].tolist() == fresh.strings["first"].tolist()


def _as_strings(prep: Prepared, name: str) -> list[object]:
    """A column with each interned id as the string it stands for (None: equals nothing)."""
    column = prep.codes[name]
    if name in ("first_initial", "bn_initial", "bn_fonem_rank"):  # not interned ids
        return column.tolist()
    strings = prep.interner.strings()
    return [strings[i] if i >= 0 else None for i in column.tolist()]


def test_surnames_kept_for_an_interner_give_what_encoding_them_again_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the given names: a later batch encodes only the surnames no earlier one brought,
    and its surname columns (the FONEM rank among its own names) are those of a fresh one."""
    from matching import prepared

    records = _varied_records()
    new = person(id="N", birth_name="NOUVEAUNOM", used_name="")
    first, second = records[:12], [*records[8:], new]
    encoded: list[str] = []
    factors = prepared.surname_factors

    def counted(names: list[str], cached: bool = False) -> object:
        encoded.extend(names)
        return factors(names, cached)

    monkeypatch.setattr(prepared, "surname_factors", counted)
    intern = Interner()
    prepare(first, intern, cached=True)
    assert "NOUVEAUNOM" not in encoded
    encoded.clear()
    kept = prepare(second, intern, cached=True)
    seen = {r.birth_name for r in first} | {r.used_name for r in first}
    brought = list(dict.fromkeys([r.birth_name for r in second] + [r.used_name for r in second]))
    assert encoded == [n for n in brought if n not in seen]
    assert "NOUVEAUNOM" in encoded and len(encoded) < len(brought)
    fresh = prepare(second, Interner())
    surnames = [n for n in kept.codes if n.startswith(("bn", "used"))]
    assert {"bn", "bn_core_id", "bn_fonem", "bn_fonem_rank", "used", "used_fonem"} <= set(surnames)
    for name in surnames:
        assert _as_strings(kept, name) == _as_strings(fresh, name), name
    assert kept.strings["bn_core"].tolist() == fresh.strings["bn_core"].tolist()
