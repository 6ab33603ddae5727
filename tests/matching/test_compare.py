"""Comparison levels per field, through the public single-pair scorer."""

from __future__ import annotations

import pytest

from matching.model import default_model
from matching.scoring import ScoredPair, score_pair
from tests.matching.conftest import person


def levels(pair: ScoredPair) -> dict[str, str]:
    return {c.field: c.level for c in pair.contributions}


def compare_with(**changes: object) -> dict[str, str]:
    return levels(score_pair(person(), person(id="B", **changes), default_model()))


@pytest.mark.parametrize(
    ("birth_name", "level"),
    [
        ("Lefèbvre", "exact"),
        ("LEFEVRE", "phonetic"),
        ("LEFEUVRE", "phonetic"),
        ("LEFEBVRE DURAND", "part"),
        ("LEFZBVRE", "jw_high"),
        ("MARTIN", "different"),
        ("", "missing"),
    ],
)
def test_birth_name_levels(birth_name: str, level: str) -> None:
    assert compare_with(birth_name=birth_name)["birth_name"] == level


def test_particles_agree_in_every_written_form() -> None:
    a = person(birth_name="DE LA FONTAINE")
    for variant in ("DELAFONTAINE", "LA FONTAINE", "de la Fontaine"):
        pair = score_pair(a, person(id="B", birth_name=variant), default_model())
        assert levels(pair)["birth_name"] == "exact", variant
    pair = score_pair(
        person(birth_name="D'ARTAGNAN"), person(birth_name="DARTAGNAN"), default_model()
    )
    assert levels(pair)["birth_name"] == "exact"


def test_married_name_typed_as_birth_name() -> None:
    a = person(sex="F", first_names=("MARIE",), birth_name="DUPONT", used_name="")
    b = person(id="B", sex="F", first_names=("MARIE",), birth_name="MARTIN", used_name="DUPONT")
    assert levels(score_pair(a, b, default_model()))["birth_name"] == "used_name"


def test_birth_name_and_first_name_inverted() -> None:
    a = person(birth_name="THOMAS", first_names=("ROBERT",))
    b = person(id="B", birth_name="ROBERT", first_names=("THOMAS",))
    found = levels(score_pair(a, b, default_model()))
    assert found["birth_name"] == "swapped"
    assert found["first_names"] == "swapped"


@pytest.mark.parametrize(
    ("first_names", "level"),
    [
        (("JEAN-PIERRE", "MARC"), "exact"),
        (("JEANPIERRE",), "exact"),
        (("JEAN", "PIERRE"), "first_in_list"),  # hyphen typed as a space
        (("JEAN",), "first_in_list"),  # compound cut
        (("MARC", "JEAN-PIERRE"), "first_in_list"),  # second given name entered first
        (("JEAN-PIERRF",), "jw_high"),
        (("JAN-PIERRE",), "typo"),
        (("PAUL", "MARC"), "other_in_list"),
        (("PAUL",), "different"),
        ((), "missing"),
    ],
)
def test_given_names_compared_as_lists(first_names: tuple[str, ...], level: str) -> None:
    assert compare_with(first_names=first_names)["first_names"] == level


def test_used_first_name_counts_as_in_list() -> None:
    a = person(first_names=("JEAN-PIERRE",), used_first_name="MARC")
    b = person(id="B", first_names=("MARC",))
    assert levels(score_pair(a, b, default_model()))["first_names"] == "first_in_list"


@pytest.mark.parametrize(
    ("birth_date", "level"),
    [
        ("1975-03-11", "exact"),
        ("1975-11-03", "swap"),
        ("1975-03-12", "one_digit"),
        ("1975-08-11", "one_digit"),
        ("1957-03-11", "one_digit"),  # adjacent digits transposed
        ("1976-03-11", "year_1"),
        ("1975-01-01", "default_day"),
        ("1975-03-01", "default_day"),
        ("1982-07-30", "different"),
        ("", "missing"),
    ],
)
def test_birth_date_levels(birth_date: str, level: str) -> None:
    assert compare_with(birth_date=birth_date)["birth_date"] == level


@pytest.mark.parametrize(
    ("place", "level"),
    [
        ("63113", "exact"),
        ("63300", "department"),
        ("75056", "different"),
        ("", "missing"),
        ("99999", "missing"),
    ],
)
def test_birth_place_levels(place: str, level: str) -> None:
    assert compare_with(birth_place_code=place)["birth_place"] == level


def test_same_foreign_country_is_department_level_evidence() -> None:
    a = person(birth_place_code="99134")
    b = person(id="B", birth_place_code="99134")
    assert levels(score_pair(a, b, default_model()))["birth_place"] == "department"


def test_ins_levels_and_history() -> None:
    other_valid = "2751263220749"
    assert compare_with()["ins"] == "exact"
    assert compare_with(ins=other_valid)["ins"] == "different"
    assert compare_with(ins="275126322074900")["ins"] == "missing"  # bad key: not evidence
    linked = person(id="B", ins=other_valid, ins_history=("175036311300158",))
    assert levels(score_pair(person(), linked, default_model()))["ins"] == "exact"


def test_contact_fields() -> None:
    found = compare_with(
        address="12 rue Pasteur", postcode="63100", city="Clermont Ferrand", phone=""
    )
    assert found["address"] == "close"
    assert found["postcode"] == "department"
    assert found["city"] == "exact"
    assert found["phone"] == "missing"
