"""Scores, bands, hard rules and explanations."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from matching.config import MatchConfig
from matching.model import default_model
from matching.prepared import prepare
from matching.scoring import explain, record_frequencies, score_pair
from tests.matching.conftest import person


def test_identical_records_match_with_positive_contributions() -> None:
    pair = score_pair(person(), person(id="B"), default_model())
    assert pair.band == "match"
    assert pair.score > MatchConfig().match_threshold
    assert pair.rules == ()
    assert {c.field for c in pair.contributions} >= {"birth_name", "first_names", "birth_date"}
    assert all(c.weight > 0 for c in pair.contributions if c.level == "exact")
    assert (
        abs(sum(c.weight for c in pair.contributions) + default_model().prior_bits() - pair.score)
        < 0.01
    )


def test_typical_duplicate_errors_still_match() -> None:
    dup = person(
        id="B",
        birth_name="Lefèvre",
        first_names=("JEAN PIERRE",),
        birth_date="1975-11-03",
        ins="",
        address="",
        phone="",
    )
    assert score_pair(person(), dup, default_model()).band == "match"


def test_different_people_do_not_match() -> None:
    other = person(
        id="B",
        birth_name="GARCIA",
        first_names=("LUCIE",),
        sex="F",
        birth_date="1990-06-02",
        birth_place_code="13055",
        ins="",
        address="",
        postcode="13001",
        city="MARSEILLE",
    )
    pair = score_pair(person(), other, default_model())
    assert pair.band == "non-match"
    assert pair.score < 0


def test_two_valid_ins_never_match() -> None:
    other = person(id="B", ins="2751263220749")
    pair = score_pair(person(), other, default_model())
    assert "ins_conflict" in pair.rules
    assert pair.band == "review"
    strict = score_pair(
        person(), other, default_model(), MatchConfig(ins_conflict_band="non-match")
    )
    assert strict.band == "non-match"


def test_twin_signature_is_at_most_review() -> None:
    twin = person(id="B", first_names=("PAUL",), ins="", phone="")
    pair = score_pair(replace(person(), ins=""), twin, default_model())
    assert "twin_signature" in pair.rules
    assert pair.band == "review"


def test_twins_sharing_a_second_given_name_are_still_twins() -> None:
    a = person(first_names=("CLAIRE", "MARIE"), sex="F", ins="")
    b = person(id="B", first_names=("ANNE", "MARIE"), sex="F", ins="")
    assert "twin_signature" in score_pair(a, b, default_model()).rules


def test_parent_and_child_with_same_names_are_not_merged() -> None:
    child = person(id="B", birth_date="2001-09-23", ins="")
    pair = score_pair(replace(person(), ins=""), child, default_model())
    assert "birth_date_conflict" in pair.rules
    assert pair.band != "match"


def test_a_shared_ins_overrides_the_trap_rules() -> None:
    same_ins_typo_date = person(id="B", birth_date="1957-11-02")
    pair = score_pair(person(), same_ins_typo_date, default_model())
    assert "birth_date_conflict" not in pair.rules


def test_no_name_agreement_caps_at_review() -> None:
    other = person(id="B", birth_name="GARCIA", first_names=("PAUL",), ins="")
    pair = score_pair(replace(person(), ins=""), other, default_model())
    assert "no_name_agreement" in pair.rules
    assert pair.band != "match"


def test_frequent_name_weighs_less_than_a_rare_one() -> None:
    model = default_model()
    frequent = score_pair(person(birth_name="MARTIN"), person(id="B", birth_name="MARTIN"), model)
    rare = score_pair(person(birth_name="QUEMENER"), person(id="B", birth_name="QUEMENER"), model)
    weight = {
        p: next(c.weight for c in p.contributions if c.field == "birth_name")
        for p in (frequent, rare)
    }
    assert weight[frequent] < weight[rare]


def test_thresholds_are_probabilities_from_the_config() -> None:
    pair = score_pair(person(), person(id="B", ins=""), default_model())
    above = MatchConfig(match_probability=pair.probability + (1 - pair.probability) / 2)
    assert above.match_threshold > pair.score
    assert score_pair(person(), person(id="B", ins=""), default_model(), above).band == "review"


def test_the_same_pair_is_less_probable_in_a_larger_referential() -> None:
    model = default_model()
    small = score_pair(person(), person(id="B"), model, MatchConfig(referential_size=10_000))
    large = score_pair(person(), person(id="B"), model, MatchConfig(referential_size=1_000_000))
    assert large.score == pytest.approx(small.score - math.log2(999_999 / 9_999), abs=1e-2)
    assert large.prior < small.prior and large.probability <= small.probability


def test_explanation_names_fields_levels_and_rules_but_no_traits() -> None:
    twin = person(id="B", first_names=("PAUL",), ins="")
    text = explain(score_pair(replace(person(), ins=""), twin, default_model()))
    assert "birth_name=exact(" in text
    assert "first_names=different(" in text
    assert "rules: twin_signature" in text
    assert "LEFEBVRE" not in text and "1975" not in text
    assert 0.0 < score_pair(person(), person(id="B"), default_model()).probability <= 1.0


def test_model_frequencies_are_those_of_each_records_names() -> None:
    model = default_model()
    common = next(iter(model.tf["birth_name"]))
    records = [
        person(),
        person(id="B", birth_name=common),
        person(id="C", birth_name="ZZQXWYK", first_names=("QWXZJ",)),
        person(id="D", birth_name="LEFEBVRE"),
        person(id="E", first_names=()),
    ]
    prep = prepare(records)
    tf = record_frequencies(prep, model, from_data=False)
    strings = prep.interner.strings()
    for name, column in (("birth_name", "bn"), ("first_names", "first_id")):
        codes = prep.codes[column]
        assert tf[name].shape == codes.shape
        for i, code in enumerate(codes.tolist()):
            expected = model.tf[name].get(strings[code], math.nan) if code > 0 else math.nan
            got = float(tf[name][i])
            assert (math.isnan(got) and math.isnan(expected)) or got == expected
    # The names the model knows get its frequency; the made-up ones none; a missing one none.
    assert tf["birth_name"][1] == model.tf["birth_name"][common]
    assert math.isnan(tf["birth_name"][2]) and math.isnan(tf["first_names"][2])
    assert math.isnan(tf["first_names"][4])
    assert tf["birth_name"][0] == tf["birth_name"][3] == model.tf["birth_name"]["LEFEBVRE"]
    assert not math.isnan(tf["first_names"][0])
