"""FINESS imports (FINESS+ JSON with its activities file, legacy etalab CSV) and the
structure facts contract the ROR context relies on."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referentials.directory import reference
from referentials.directory import service as directory_service
from referentials.directory.models import DirectoryChange, Structure
from tests.referentials.directory.conftest import ETALAB, FINESS_ACTIVITIES, FINESS_JSON, Importer


def structure(factory: sessionmaker[Session], finess: str) -> Structure:
    with factory() as session:
        found = session.get(Structure, finess)
        assert found is not None
        return found


def test_finess_json_with_activities(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    summary = run_import("finess", FINESS_JSON)
    assert summary["structures"] == 12 and summary["activities_file"] == FINESS_ACTIVITIES.name
    ch = structure(session_factory, "690999016")
    assert (ch.category, ch.sector, ch.department, ch.commune_cog) == (
        "355",
        "sanitaire",
        "69",
        "69264",
    )
    assert ch.finess_ej == "690999008" and ch.legal_status == "13" and ch.phone == "0400000002"
    # Active authorisations only: 14 is inactive at the CHR, 11 expired at the dialysis unit.
    assert ch.sanitary_authorisations == "01,04,50"
    assert structure(session_factory, "670999911").sanitary_authorisations == "01,02,03"
    assert structure(session_factory, "210999611").sanitary_authorisations == "19"
    closed = structure(session_factory, "690999024")
    assert closed.closed_on == date(2024, 12, 31)
    reunion = structure(session_factory, "970999819")
    assert (reunion.department, reunion.commune_cog) == ("974", "97411")
    assert reunion.latitude is not None and -21.5 < reunion.latitude < -20.8
    assert structure(session_factory, "750999518").sector == "social"
    assert structure(session_factory, "380999110").sector == "medico_social"


def test_etalab_csv_matches_the_json_feed(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    run_import("finess", FINESS_JSON)
    from_json = {f: structure(session_factory, f) for f in ("690999016", "970999819", "2A0999910")}
    summary = run_import("finess", ETALAB)
    # The closed annex and the Wallis hospital (absent from the legacy extract).
    assert summary["structures"] == 10 and summary["removed"] == 2
    for finess, before in from_json.items():
        after = structure(session_factory, finess)
        assert (after.department, after.commune_cog) == (before.department, before.commune_cog)
        assert after.latitude == pytest.approx(before.latitude, abs=1e-5)
        assert after.longitude == pytest.approx(before.longitude, abs=1e-5)
    lieu = structure(session_factory, "350999710")
    assert lieu.name == 'LIEU DE VIE "LA CLAIRIERE" FICTIF'


def test_etalab_in_windows_1252_reads_the_same(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / ETALAB.name
    path.write_bytes(ETALAB.read_text("utf-8").encode("cp1252"))
    run_import("finess", path)
    assert structure(session_factory, "380999110").category_label == (
        "Etablissement d'hébergement pour personnes âgées dépendantes"
    )


def test_projection_is_chosen_by_department() -> None:
    assert reference.epsg_of_department("69") == 2154
    assert [reference.epsg_of_department(d) for d in ("971", "972", "973", "974", "976")] == [
        5490,
        5490,
        2972,
        2975,
        4471,
    ]
    lat, lon = reference.to_wgs84(652469.0, 6862035.0, "75")  # Paris, Lambert-93
    assert lat == pytest.approx(48.8566, abs=0.01) and lon == pytest.approx(2.3522, abs=0.01)
    assert reference.normalise_department("9D") == "974"


def test_structure_diff_names_changed_fields(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("finess", FINESS_JSON)
    assert run_import("finess", FINESS_JSON)["unchanged"] == 12
    doc = json.loads(FINESS_JSON.read_text("utf-8"))
    doc["pmej"][0]["ege"][0]["informationsGeneralesEGE"]["nomEgeCourt"] = "CH DES MONTS"
    changed = tmp_path / FINESS_JSON.name
    changed.write_text(json.dumps(doc), "utf-8")
    summary = run_import("finess", changed, activities=FINESS_ACTIVITIES)
    assert (summary["updated"], summary["unchanged"]) == (1, 11)
    with session_factory() as session:
        change = session.query(DirectoryChange).filter_by(change="updated").one()
        assert (change.entity_key, change.field_list()) == ("690999016", ["name", "name_norm"])


def test_structure_facts_contract(run_import: Importer, session: Session) -> None:
    run_import("finess", FINESS_JSON)
    facts = directory_service.get_structure_facts(session, "690999016")
    assert facts is not None
    assert facts.region == "84" and facts.sector == "sanitaire" and facts.category == "355"
    assert facts.sanitary_authorisations == ("01", "04", "50")
    assert facts.opened_on == date(1975, 1, 1) and facts.closed_on is None
    assert facts.latitude is not None and facts.longitude is not None
    ara = {f.finess for f in directory_service.structure_facts(session, region="84")}
    assert ara == {"690999016", "380999110"}  # the closed annex is left out
    every = {f.finess for f in directory_service.structure_facts(session, active_only=False)}
    assert "690999024" in every and len(every) == 12
    reunion = list(directory_service.structure_facts(session, department="9D"))
    assert [f.finess for f in reunion] == ["970999819"] and reunion[0].region == "04"
    assert directory_service.get_structure_facts(session, "000000000") is None
    assert directory_service.sector_of_category("500") == "medico_social"
    assert directory_service.sector_of_category("604") == "coordination"
    assert directory_service.sector_of_category("223") is None
    assert directory_service.region_of_department("2A") == "94"
    assert directory_service.region_of_department("975") is None


def test_shipped_mapping_uses_the_contract_sector_names() -> None:
    sectors = set(reference.category_sectors().values())
    assert sectors == {"sanitaire", "medico_social", "social", "coordination", "ville"}
    assert len(reference.department_regions()) == 101
