"""Re-fitting with the officers' decisions as labels."""

from __future__ import annotations

import itertools
from dataclasses import replace

from matching.fields import level_index
from matching.fit import Decision, fit, held_back
from matching.model import default_model
from matching.records import IdentityRecord
from matching.scoring import score_pair

SURNAMES = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND"]
SURNAMES += ["LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID"]
GIVEN = ["JEAN", "PIERRE", "LOUIS", "PAUL", "ANDRE", "JACQUES", "MARC", "LUC", "HENRI", "YVES"]


def referential() -> tuple[list[IdentityRecord], list[tuple[str, str]]]:
    """400 people; every fifth has a second record giving only the second given name."""
    records: list[IdentityRecord] = []
    pairs: list[tuple[str, str]] = []
    combos = itertools.product(SURNAMES, itertools.permutations(GIVEN, 2))
    for i, (surname, given) in enumerate(itertools.islice(combos, 400)):
        person = IdentityRecord(
            id=f"P{i}",
            birth_name=surname,
            first_names=given,
            sex="M",
            birth_date=f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            birth_place_code=f"{10 + i % 80:02d}{i % 400:03d}",
        )
        records.append(person)
        if i % 5 == 0:
            records.append(replace(person, id=f"D{i}", first_names=given[1:]))
            pairs.append((person.id, f"D{i}"))
    return records, pairs


def first_in_list_weight(model_m: dict[str, list[float]], model_u: dict[str, list[float]]) -> float:
    level = level_index("first_names", "first_in_list")
    return model_m["first_names"][level] / model_u["first_names"][level]


def test_refusals_lower_the_weight_of_the_level_they_share() -> None:
    records, pairs = referential()
    start = default_model()
    refused = [Decision(a, b, same_person=False) for a, b in pairs]
    plain = fit(records, [], start, holdout=0.0)
    taught = fit(records, refused, start, holdout=0.0)
    # The same pairs, decided "two people": "first given name found in the other's list" is
    # now less likely among matches, so it weighs less.
    assert first_in_list_weight(taught.model.m, taught.model.u) < first_in_list_weight(
        plain.model.m, plain.model.u
    )
    assert taught.trained_on == len(pairs) and plain.trained_on == 0


def test_merges_raise_it_and_the_held_back_decisions_evaluate_both_models() -> None:
    records, pairs = referential()
    start = default_model()
    merged = [Decision(a, b, same_person=True) for a, b in pairs]
    refused = fit(records, [Decision(a, b, False) for a, b in pairs], start, holdout=0.0)
    taught = fit(records, merged, start, holdout=0.25)
    assert first_in_list_weight(taught.model.m, taught.model.u) > first_in_list_weight(
        refused.model.m, refused.model.u
    )
    held = [d for d in merged if held_back(d, 0.25)]
    assert taught.held_back == len(held) > 0
    assert taught.trained_on == len(merged) - len(held)
    for name in ("previous", "fitted"):
        assert taught.evaluation[name]["decisions"] == len(held)
        assert 0.0 <= taught.evaluation[name]["match_review_recall"] <= 1.0
    assert taught.model.reference_size == len(records)
    assert taught.model.duplicate_rate > 0


def with_twins() -> tuple[list[IdentityRecord], list[tuple[str, str]]]:
    """The referential plus, for every fourth person, a record sharing all but the given names."""
    records, _ = referential()
    twins: list[tuple[str, str]] = []
    for person in list(records[::4]):
        if person.id.startswith("P"):
            other = replace(person, id=f"T{person.id}", first_names=("GASTON",))
            records.append(other)
            twins.append((person.id, other.id))
    return records, twins


def test_decisions_on_rule_capped_pairs_move_their_probability() -> None:
    records, twins = with_twins()
    start = default_model()
    merged = fit(records, [Decision(a, b, True) for a, b in twins], start, holdout=0.0)
    refused = fit(records, [Decision(a, b, False) for a, b in twins], start, holdout=0.0)
    before = start.capped["twin_signature"]
    # Officers who merge what the twin rule held back make such a pair more probable, and the
    # reverse; rules no decision touched keep their rate.
    assert refused.model.capped["twin_signature"] < before < merged.model.capped["twin_signature"]
    assert merged.model.capped["ins_conflict"] == start.capped["ins_conflict"]
    left, right = records[0], records[-len(twins)]
    twin = score_pair(left, right, merged.model)
    assert twin.band == "review" and twin.rules == ("twin_signature",)
    assert twin.probability > score_pair(left, right, refused.model).probability
