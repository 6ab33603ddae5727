"""One test per RNIV trait and status rule (pure functions)."""

from __future__ import annotations

from datetime import date

import pytest

from identity.errors import TraitError
from identity.referential import rules


def test_rule_lower_case_and_accents_are_stored_in_ins_charset() -> None:
    assert rules.normalize_trait("Hélène-Renée", "first_names") == "HELENE-RENEE"
    assert rules.normalize_trait("Çaglar", "birth_name", birth_name=True) == "CAGLAR"


def test_rule_ligatures_become_two_letters() -> None:
    assert rules.normalize_trait("Cœur", "birth_name", birth_name=True) == "COEUR"
    assert rules.normalize_trait("Lætitia", "first_names") == "LAETITIA"


def test_rule_typographic_apostrophe_becomes_ascii() -> None:
    assert rules.normalize_trait("d\u2019Artagnan", "birth_name", birth_name=True) == "D'ARTAGNAN"


@pytest.mark.parametrize("bad", ["DUP0NT", "DU_PONT", "DU/PONT", "MARTIN2", "A@B"])
def test_rule_character_without_equivalent_is_refused_naming_field_and_char(bad: str) -> None:
    with pytest.raises(TraitError) as err:
        rules.normalize_trait(bad, "birth_name", birth_name=True)
    offending = next(c for c in bad if not (c.isalpha() and c.isascii()))
    assert err.value.field == "birth_name"
    assert err.value.char == offending


def test_rule_double_hyphen_only_in_birth_name() -> None:
    assert rules.normalize_trait("MARTIN--DURAND", "birth_name", birth_name=True) == (
        "MARTIN--DURAND"
    )
    with pytest.raises(TraitError):
        rules.normalize_trait("JEAN--PIERRE", "first_names")


def test_rule_first_character_not_space_or_hyphen() -> None:
    with pytest.raises(TraitError):
        rules.normalize_trait("-MARTIN", "birth_name", birth_name=True)


def test_rule_doubled_spaces_are_folded_and_doubled_apostrophes_refused() -> None:
    assert rules.normalize_trait("LE   GOFF", "birth_name", birth_name=True) == "LE GOFF"
    with pytest.raises(TraitError):
        rules.normalize_trait("D''ARC", "birth_name", birth_name=True)


def test_rule_given_name_does_not_end_with_hyphen_or_apostrophe() -> None:
    with pytest.raises(TraitError):
        rules.normalize_trait("JEAN-", "first_names")


def test_rule_given_names_list_keeps_order_and_compound_hyphen() -> None:
    names = rules.normalize_first_names(["Pierre-Alain", "muriel floriant"])
    assert names == ["PIERRE-ALAIN", "MURIEL", "FLORIANT"]


@pytest.mark.parametrize(
    ("first13", "key"),
    [("297022A020778", 78), ("160012B020777", 13), ("2751263220749", 74), ("1090763220834", 89)],
)
def test_rule_nir_key_97_minus_mod_97_with_corsica(first13: str, key: int) -> None:
    assert rules.nir_key(first13) == key
    assert rules.nir_key_is_valid(f"{first13}{key:02d}")


def test_rule_bad_nir_key_is_flagged_without_crashing() -> None:
    # A public certification fixture (HERMANN's history) carries keys that do not validate.
    assert not rules.nir_key_is_valid("281036322045610")
    assert not rules.nir_key_is_valid("2810363")
    with pytest.raises(TraitError, match="key"):
        rules.check_nir("281036322045610")


@pytest.mark.parametrize("code", ["63220", "2A020", "2B020", "97411", "99134", "99999", "75056"])
def test_rule_cog_code_shape_accepted(code: str) -> None:
    assert rules.check_cog(code) == code


@pytest.mark.parametrize("code", ["6322", "632200", "20123", "00123", "96001", "99ABC", "2C020"])
def test_rule_cog_code_with_unknown_department_is_refused(code: str) -> None:
    with pytest.raises(TraitError) as err:
        rules.check_cog(code)
    assert err.value.field == "birth_place_code"


def test_rule_birth_date_in_future_refused() -> None:
    with pytest.raises(TraitError, match="future"):
        rules.check_birth_date(date(2030, 1, 1), date(2026, 11, 22))


def test_rule_birth_date_before_1890_refused() -> None:
    with pytest.raises(TraitError, match="1890"):
        rules.check_birth_date(date(1889, 12, 31), date(2026, 11, 22))
    assert rules.check_birth_date(date(1890, 1, 1), date(2026, 11, 22)) == date(1890, 1, 1)


def test_rule_status_is_the_cross_of_insi_and_document() -> None:
    assert rules.status_for(has_ins=False, validated=False) == "PROV"
    assert rules.status_for(has_ins=True, validated=False) == "RECUP"
    assert rules.status_for(has_ins=False, validated=True) == "VALI"
    assert rules.status_for(has_ins=True, validated=True) == "QUAL"


@pytest.mark.parametrize(
    "combo", [{"DOUT", "FICT"}, {"FICT", "HOMA"}, {"FICT", "HOMA", "DOUT"}, {"XXXX"}]
)
def test_rule_forbidden_attribute_combinations(combo: set[str]) -> None:
    with pytest.raises(TraitError):
        rules.check_attributes(frozenset(combo))


def test_rule_dout_homa_is_the_only_allowed_pair() -> None:
    rules.check_attributes(frozenset({"DOUT", "HOMA"}))
    rules.check_attributes(frozenset({"HOMA"}))


def test_rule_dout_and_fict_forbid_insi_calls() -> None:
    assert rules.forbids_insi(frozenset({"DOUT"}))
    assert rules.forbids_insi(frozenset({"FICT"}))
    assert not rules.forbids_insi(frozenset({"HOMA"}))


def test_rule_driving_licence_is_not_a_high_trust_document() -> None:
    assert rules.check_document("PA") == "PA"
    with pytest.raises(TraitError, match="not a high-trust"):
        rules.check_document("PC")
