"""Evidence rules of the match band: each disagreement needs its explanation, named."""

from __future__ import annotations

from dataclasses import replace

from matching.config import MatchConfig
from matching.model import default_model
from matching.records import IdentityRecord
from matching.scoring import explain, score_pair
from tests.matching.conftest import person

# A referential of a mid-size region: the prior of any pair is small.
REGION = MatchConfig(referential_size=1_000_000)


def woman(**overrides: object) -> IdentityRecord:
    base = person(
        birth_name="MOREL",
        first_names=("SOPHIE", "ANNE"),
        sex="F",
        birth_date="1962-04-19",
        birth_place_code="69123",
        ins="",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_an_unexplained_birth_name_disagreement_is_not_an_automatic_match() -> None:
    pair = score_pair(woman(), woman(id="B", birth_name="CHAUVIN"), default_model(), REGION)
    assert pair.band == "review"
    assert "birth_name_unexplained" in pair.rules
    assert "rules: birth_name_unexplained" in explain(pair)


def test_a_married_name_typed_with_an_error_explains_it() -> None:
    married = woman(used_name="CHAUVIN")
    typed = woman(id="B", birth_name="CHAUVAIN", used_name="")
    pair = score_pair(married, typed, default_model(), REGION)
    assert "birth_name_unexplained" not in pair.rules
    assert "married_name" in pair.evidence
    assert "evidence: " in explain(pair) and "married_name" in explain(pair)
    assert pair.band == "match"


def test_a_mistyped_compound_part_explains_it() -> None:
    pair = score_pair(
        woman(birth_name="MOREL"), woman(id="B", birth_name="MORRL JURET"), default_model(), REGION
    )
    assert "compound_name" in pair.evidence and "birth_name_unexplained" not in pair.rules


def test_other_sex_and_other_given_name_together_block_the_merge() -> None:
    # COLAS / NICOLAS share a substring; the sexes and the first given names disagree.
    a = person(birth_name="COLAS", first_names=("MARIE",), sex="F", ins="")
    b = person(id="B", birth_name="NICOLAS", first_names=("PIERRE",), sex="M", ins="")
    pair = score_pair(a, b, default_model(), REGION)
    assert pair.band != "match"
    assert "sex_and_given_name_conflict" in pair.rules


def test_a_wrong_sex_alone_is_an_entry_error() -> None:
    pair = score_pair(person(ins=""), person(id="B", sex="F", ins=""), default_model(), REGION)
    assert pair.band == "match" and pair.rules == ()


def test_a_one_edit_given_name_is_a_typo_not_a_twin() -> None:
    a = person(first_names=("JEAN", "MARC"), ins="")
    twin = person(id="B", first_names=("PAUL",), ins="")
    typo = person(id="C", first_names=("MRAC",), ins="")
    assert "twin_signature" in score_pair(a, twin, default_model(), REGION).rules
    typed = score_pair(a, typo, default_model(), REGION)
    assert "twin_signature" not in typed.rules and "given_name_spelling" in typed.evidence


def test_a_capped_pair_is_left_as_a_toss_up() -> None:
    pair = score_pair(woman(), woman(id="B", birth_name="CHAUVIN"), default_model(), REGION)
    assert pair.score <= 0.0 and pair.probability <= 0.5
