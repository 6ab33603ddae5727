"""Blocking keys and candidate pairs."""

from __future__ import annotations

from typing import Any

from matching.blocking import PASSES, blocking_keys, candidate_pairs
from matching.config import MatchConfig
from matching.records import IdentityRecord
from tests.matching.conftest import person


def test_keys_are_short_deterministic_and_named() -> None:
    keys = blocking_keys(person())
    assert keys == blocking_keys(person())
    assert {name for name, _ in keys} <= set(PASSES)
    assert all(len(key) <= 40 for _, key in keys)
    names = dict(keys)
    assert names["ins"] == "I1750363113001"
    assert names["birth_name_year"].endswith("1975")


def test_missing_traits_emit_no_key() -> None:
    assert blocking_keys(IdentityRecord(id="X")) == []
    names = {name for name, _ in blocking_keys(IdentityRecord(id="X", birth_name="MARTIN"))}
    assert names == set()


def test_phonetic_variants_share_the_birth_name_key() -> None:
    a = dict(blocking_keys(person(birth_name="LEFEBVRE")))
    b = dict(blocking_keys(person(birth_name="LEFEVRE")))
    assert a["birth_name_year"] == b["birth_name_year"]


def test_inverted_names_share_the_swapped_key() -> None:
    a = dict(blocking_keys(person(birth_name="THOMAS", first_names=("ROBERT",))))
    b = dict(blocking_keys(person(birth_name="ROBERT", first_names=("THOMAS",))))
    assert a["swapped_names"] == b["swapped_names"]


def test_used_name_meets_the_other_birth_name() -> None:
    married = person(birth_name="MARTIN", used_name="DUPONT")
    typed_as_birth = person(id="B", birth_name="DUPONT")
    used_key = dict(blocking_keys(married))["used_name_year"]
    assert used_key == dict(blocking_keys(typed_as_birth))["birth_name_year"]


def test_candidate_pairs_union_and_report() -> None:
    records = [
        person(id="A"),
        person(id="B", birth_name="LEFEVRE", ins=""),
        person(
            id="C",
            birth_name="GARCIA",
            first_names=("LUCIE",),
            birth_date="1990-01-02",
            birth_place_code="13055",
            ins="",
            postcode="13001",
            address="2 QUAI DU PORT",
            city="MARSEILLE",
        ),
    ]
    pairs, report = candidate_pairs(records, MatchConfig())
    assert list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True)) == [(0, 1)]
    assert report.total_pairs == 1
    assert sum(p.new_pairs for p in report.passes.values()) == 1
    assert report.passes["birth_name_year"].pairs == 1
    assert report.passes["ins"].keys == 1


def test_over_common_keys_fall_back_to_a_sorted_window() -> None:
    records = [
        person(
            id=str(i),
            first_names=("MARIE",),
            birth_date=f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}",
            ins="",
            birth_place_code="",
            postcode="",
        )
        for i in range(40)
    ]
    config = MatchConfig(block_cap=10, fallback_window=3)
    pairs, report = candidate_pairs(records, config)
    assert report.capped_blocks >= 1
    # All-pairs would be 780 for the shared name keys; the window bounds it.
    assert len(pairs) < 40 * 3 * len(PASSES)
    assert len(pairs) < 780
    assert (pairs.left < pairs.right).all()


def test_batch_pairs_are_the_blocks_of_the_stored_keys() -> None:
    """The batch computes the passes on interned columns; they must group as the string keys."""
    variants: list[dict[str, Any]] = [
        {},
        {"id": "B", "birth_name": "LEFEVRE", "ins": ""},
        {"id": "C", "birth_name": "JEAN-PIERRE", "first_names": ("LEFEBVRE",), "ins": ""},
        {"id": "D", "birth_name": "MARTIN", "used_name": "LEFEBVRE", "ins": ""},
        {"id": "E", "birth_date": "1957-03-11", "ins": "", "postcode": ""},
        {"id": "F", "first_names": ("PAUL",), "birth_place_code": "", "ins": ""},
        {"id": "G", "birth_name": "", "first_names": ("JULES",), "ins": ""},
        {"id": "H", "birth_name": "LEBLANC", "birth_date": "", "ins": "", "postcode": "75011"},
        {"id": "I", "first_names": (), "birth_date": "1975-11-03", "ins": "175036311300158"},
        {"id": "J", "birth_name": "LE", "first_names": ("JO",), "ins": "", "birth_place_code": ""},
        {"id": "K", "birth_name": "JEAN", "first_names": ("LEFEBVRE",), "ins": ""},
    ]
    records = [person(**v) for v in variants]
    expected: set[tuple[int, int]] = set()
    by_key: dict[str, list[int]] = {}
    for position, record in enumerate(records):
        for _, key in blocking_keys(record):
            members = by_key.setdefault(key, [])
            if position not in members:
                members.append(position)
    for members in by_key.values():
        expected |= {(a, b) for a in members for b in members if a < b}
    config = MatchConfig(block_cap=100, loose_block_cap=100)
    pairs, _ = candidate_pairs(records, config)
    assert set(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True)) == expected


def test_address_pass_finds_a_record_whose_names_and_date_were_all_mistyped() -> None:
    records = [
        person(id="A", address="30 HOLDEN CRESCENT", city="ROCHESTER"),
        person(
            id="B",
            birth_name="JAMES",
            first_names=("SEBRETGS",),
            birth_date="1904-04-04",
            birth_place_code="",
            ins="",
            address="30 holden ctescent",
            city="Rochester",
        ),
        person(
            id="C",
            birth_name="ZOLA",
            first_names=("EMILE",),
            birth_date="1940-04-02",
            birth_place_code="",
            ins="",
            address="31 HOLDEN CRESCENT",
            city="ROCHESTER",
        ),
    ]
    pairs, report = candidate_pairs(records, MatchConfig())
    assert (0, 1) in set(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
    assert report.passes["address"].new_pairs >= 1
    assert dict(blocking_keys(records[0]))["address"] == dict(blocking_keys(records[1]))["address"]
    assert dict(blocking_keys(records[0]))["address"] != dict(blocking_keys(records[2]))["address"]
