"""One test per rule of the ANS completeness method, on the rule fixture (real FHIR JSON
imported into the database) with FINESS facts built from the same fixture."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine

from referentials.core.db import make_session_factory, session_scope
from referentials.directory import service as directory_service
from ror_sync import aggregation, codes, completeness, repository
from ror_sync.completeness import StructureResult
from ror_sync.fhir_reader import read_path
from ror_sync.sync import SyncSummary, import_resources
from tests.conftest import _truncate
from tests.ror_sync import rules_fixture as rf

TODAY = date(2026, 5, 4)
TARGETS = {"sanitaire": 0.95, "medico_social": 0.60, "social": 0.30}
Results = dict[str, dict[str, StructureResult]]


def facts() -> list[directory_service.StructureFacts]:
    return [
        directory_service.StructureFacts(
            finess=e.finess,
            finess_ej=None,
            name=f"EG {e.key}",
            category=e.category,
            sector=directory_service.sector_of_category(e.category),
            department=e.department,
            region=directory_service.region_of_department(e.department),
            commune_cog=None,
            opened_on=e.opened_on,
            closed_on=e.closed_on,
            sanitary_authorisations=e.authorisations,
            latitude=None,
            longitude=None,
        )
        for e in rf.EGS
    ]


@pytest.fixture(scope="module")
def evaluated(engine: Engine) -> list[StructureResult]:
    _truncate(engine)
    with session_scope(make_session_factory(engine)) as session:
        import_resources(session, read_path(rf.FIXTURE), SyncSummary("rules"))
        units = repository.units(session)
    return completeness.evaluate(facts(), units, TODAY)


@pytest.fixture(scope="module")
def results(evaluated: list[StructureResult]) -> Results:
    by_finess = {e.finess: e.key for e in rf.EGS}
    out: Results = {}
    for r in evaluated:
        out.setdefault(by_finess[r.finess], {})[r.champ] = r
    return out


def missing(results: Results, key: str, champ: str) -> dict[str, tuple[str, ...]]:
    return {u.offer_id: u.missing for u in results[key][champ].units}


def test_rules_fixture_file_is_up_to_date() -> None:
    assert json.loads(rf.FIXTURE.read_text(encoding="utf-8")) == rf.build()


def test_rule_fixture_matches_the_hand_computed_expectation(results: Results) -> None:
    got = {key: {c: r.status for c, r in champs.items()} for key, champs in results.items()}
    assert got == rf.EXPECTED


def test_rule_denominator_counts_open_eg_only(results: Results) -> None:
    # E has a closing date, EE no opening date.
    assert "E" not in results and "EE" not in results


def test_rule_denominator_counts_in_scope_categories_only(results: Results) -> None:
    assert "F" not in results  # 124 is "Offre de ville, non suivi"


def test_rule_sanitary_eg_counts_only_with_an_authorisation(results: Results) -> None:
    assert "B" not in results


def test_rule_authorisations_50_to_59_open_smr(results: Results) -> None:
    assert "SMR" in results["A"] and set(results["K"]) == {"SMR"}


def test_rule_authorisation_04_opens_psy(results: Results) -> None:
    assert "PSY" in results["A"]


def test_rule_other_authorisations_open_mco(results: Results) -> None:
    assert all(set(results[k]) == {"MCO"} for k in ("G", "H", "I", "J"))


def test_rule_authorisations_outside_the_list_are_ignored(results: Results) -> None:
    assert set(results["D"]) == {"MCO"}  # 05 opens nothing, 07 opens MCO


def test_rule_psy_categories_count_without_authorisation(results: Results) -> None:
    assert set(results["C"]) == {"PSY"}
    assert results["C"]["PSY"].status == completeness.FINALISED


def test_rule_eg_counts_once_per_champ(results: Results) -> None:
    assert set(results["A"]) == {"MCO", "SMR", "PSY"}


def test_rule_sanitary_rows_keep_only_the_units_of_their_champ(results: Results) -> None:
    assert set(missing(results, "A", "MCO")) == {"hs-A1", "hs-A2"}
    # hs-A5 (champ MS) does not count for PSY: no unit, to do.
    assert results["A"]["PSY"].units == ()
    assert results["A"]["PSY"].status == completeness.TO_DO


def test_rule_non_sanitary_rows_pool_every_unit(results: Results) -> None:
    assert set(missing(results, "M", "PA")) == {"hs-M1", "hs-M2"}
    assert set(results["P"]) == {"Coordination"}  # its unit has champ Ville


def test_rule_finalised_needs_an_open_unit(results: Results) -> None:
    assert results["H"]["MCO"].status == completeness.TO_DO
    assert results["H"]["MCO"].units == ()


def test_rule_definitively_closed_unit_is_ignored(results: Results) -> None:
    # hs-G1 (closed DEF) is incomplete, hs-H1's UE organisation is closed DEF.
    assert set(missing(results, "G", "MCO")) == {"hs-G2"}
    assert results["G"]["MCO"].status == completeness.FINALISED


def test_rule_provisional_closure_keeps_the_unit(results: Results) -> None:
    assert "hs-G2" in missing(results, "G", "MCO")


def test_rule_inactive_offer_is_deleted(results: Results) -> None:
    assert set(missing(results, "U", "PA")) == {"hs-U1"}
    assert results["U"]["PA"].status == completeness.FINALISED


def test_rule_unit_without_region_is_ignored(results: Results) -> None:
    assert results["V"]["PA"].units == ()
    assert results["V"]["PA"].status == completeness.TO_DO


def test_rule_every_unit_must_be_complete(results: Results) -> None:
    assert missing(results, "A", "SMR") == {"hs-A3": (), "hs-A4": ("ages",)}
    assert results["A"]["SMR"].status == completeness.IN_PROGRESS


def test_rule_valid_champ_d_activite(results: Results) -> None:
    assert missing(results, "M", "PA")["hs-M2"] == ("champ",)
    assert results["M"]["PA"].status == completeness.IN_PROGRESS


def test_rule_valid_activite_operationnelle(results: Results) -> None:
    # A SERAFIN code alone (TRE_R265) is not an activité opérationnelle.
    assert missing(results, "I", "MCO") == {"hs-I1": ("activite_operationnelle",)}


def test_rule_valid_mode_de_prise_en_charge(results: Results) -> None:
    assert missing(results, "D", "MCO") == {"hs-D1": ("mode_prise_en_charge",)}


def test_rule_age_min_and_max_filled_zero_allowed(results: Results) -> None:
    assert missing(results, "A", "SMR")["hs-A4"] == ("ages",)
    assert results["T"]["PA"].status == completeness.FINALISED  # 0 to 216 months


def test_rule_address_street_or_lieu_dit_locality_postal_code(results: Results) -> None:
    assert missing(results, "J", "MCO") == {"hs-J1": ("adresse",), "hs-J2": ()}


def test_rule_contact_function_or_nature_channel_address_confidentiality(
    results: Results,
) -> None:
    assert missing(results, "K", "SMR")["hs-K1"] == ("contact",)


def test_rule_contact_of_the_ue_organisation_counts(results: Results) -> None:
    assert missing(results, "K", "SMR")["hs-K2"] == ()


def test_rule_categorie_organisation_for_categories_209_354_460(results: Results) -> None:
    assert missing(results, "N", "ESMS Domicile") == {"hs-N1": ("categorie_organisation",)}
    assert results["O"]["ESMS Domicile"].status == completeness.FINALISED
    assert missing(results, "M", "PA")["hs-M1"] == ()  # 500: not required


def test_rule_status_to_do_without_any_flag(results: Results) -> None:
    unit = results["R"]["Ville"].units[0]
    assert unit.status == completeness.TO_DO and len(unit.missing) == 6
    assert results["R"]["Ville"].status == completeness.TO_DO


def test_rule_status_in_progress_when_some_unit_has_flags(results: Results) -> None:
    # One finalised unit and one with no flag: some flags, so in progress (directories.md §3).
    assert [u.status for u in results["S"]["PA"].units] == ["finalised", "to_do"]
    assert results["S"]["PA"].status == completeness.IN_PROGRESS


def test_rule_eg_missing_from_the_ror_is_to_do(results: Results) -> None:
    assert results["Q"]["Social"].status == completeness.TO_DO


def test_rule_rate_and_gap_to_target_per_sector(evaluated: list[StructureResult]) -> None:
    rows = aggregation.sector_rows(aggregation.count_rows(evaluated), TARGETS, codes.SECTORS)
    got = {
        r["sector"]: (
            r["perimeter"],
            r["finalised"],
            r["in_progress"],
            r["to_do"],
            r["gap_to_target"],
        )
        for r in rows
    }
    assert got == {
        "sanitaire": (10, 3, 5, 2, 7),  # ceil(0.95 × 10) = 10 → 7 more
        "medico_social": (7, 3, 3, 1, 2),  # ceil(0.60 × 7) = 5 → 2 more
        "social": (1, 0, 0, 1, 1),
        "coordination": (1, 1, 0, 0, None),
        "ville": (1, 0, 0, 1, None),
    }
    assert rows[0]["rate"] == 0.3


def test_rule_grouping_by_region_department_champ_category(
    evaluated: list[StructureResult],
) -> None:
    rows = aggregation.count_rows(evaluated)
    by_region = {r["region"]: r["perimeter"] for r in aggregation.aggregate(rows, ["region"], {})}
    assert by_region == {"11": 2, "84": 18}
    by_dept = aggregation.aggregate(rows, ["department", "champ"], {})
    # D (in progress), H (to do), I (in progress).
    assert {
        "department": "38",
        "champ": "MCO",
        "perimeter": 3,
        "finalised": 0,
        "in_progress": 2,
        "to_do": 1,
        "rate": 0.0,
        "target": None,
        "gap_to_target": None,
    } in by_dept
    by_category = {
        r["category"]: r["perimeter"] for r in aggregation.aggregate(rows, ["category"], {})
    }
    assert by_category["355"] == 4 and by_category["500"] == 2
