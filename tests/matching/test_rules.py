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


def test_a_capped_pair_gets_the_match_rate_of_the_pairs_its_rule_held_back() -> None:
    model = default_model()
    twin = woman(id="B", first_names=("CLAIRE",))
    pair = score_pair(woman(), twin, model, REGION)
    assert pair.rules == ("twin_signature",) and pair.band == "review"
    # Its fields agree on nearly everything, yet about one such pair in eight is one person.
    assert abs(pair.probability - model.capped["twin_signature"]) < 1e-3
    assert 0.0 < pair.probability < 0.5


def test_a_pair_under_several_rules_takes_the_lowest_rate() -> None:
    model = default_model()
    other = woman(id="B", first_names=("CLAIRE",), ins="262046912300204")
    pair = score_pair(woman(ins="262046912300105"), other, model, REGION)
    assert {"twin_signature", "ins_conflict"} <= set(pair.rules)
    lowest = min(model.capped["twin_signature"], model.capped["ins_conflict"])
    assert abs(pair.probability - lowest) < 1e-3


def test_a_model_without_the_table_leaves_a_capped_pair_as_a_toss_up() -> None:
    bare = replace(default_model(), capped={})
    pair = score_pair(woman(), woman(id="B", birth_name="CHAUVIN"), bare, REGION)
    assert pair.band == "review" and pair.score == 0.0 and pair.probability == 0.5


def test_a_capped_pair_below_its_cap_keeps_its_own_score() -> None:
    model = default_model()
    home = woman(address="", postcode="", city="")
    near = replace(home, id="B", first_names=("CLAIRE",), birth_place_code="69001")
    near = replace(near, birth_date="1962-04-18")
    pair = score_pair(home, near, model, REGION)
    own = pair.prior + sum(c.weight for c in pair.contributions)
    # A cap only lowers: a weak pair is not lifted to its rule's rate.
    assert pair.rules == ("twin_signature",)
    assert abs(pair.score - own) < 0.01 and pair.probability < model.capped["twin_signature"]
