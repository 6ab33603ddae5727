"""FINESS+ as ANS publishes it (structures and activities files of the daily data.gouv feed).

The fixtures follow ANS's published schemas and example files: bare nomenclature codes,
``contact[].telecom``, both coordinate pairs (in the example's layout and in the daily feed's
swapped one), legal-entity authorisations exercised at the sites, ``gcc``/``gco`` groups.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.runs import ImportRun
from referentials.directory import reference
from referentials.directory.errors import ImportFileError
from referentials.directory.models import Structure
from referentials.directory.parsers.finess_geo import position
from tests.referentials.directory.conftest import FINESS_ACTIVITIES, FINESS_JSON, Importer


def structures(factory: sessionmaker[Session]) -> dict[str, Structure]:
    with factory() as session:
        found = {s.finess: s for s in session.query(Structure)}
        for s in found.values():
            _ = s.activities  # loaded before the session closes
        return found


def warnings_of(factory: sessionmaker[Session], run_id: int) -> list[str]:
    with factory() as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        return list(run.warnings or [])


def test_published_sample_reads_phones_positions_and_authorisations(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    """Why: the published sample gave 0 phones, 0 positions and 0 authorisations."""
    summary = run_import("finess", FINESS_JSON, activities=FINESS_ACTIVITIES)
    found = structures(session_factory)
    document = json.loads(FINESS_JSON.read_text("utf-8"))
    sites = [e for pm in document["pmej"] for e in pm["ege"]]
    with_contact = {e["informationsGeneralesEGE"]["numFinessEge"] for e in sites if e["contact"]}
    with_geo = {
        e["informationsGeneralesEGE"]["numFinessEge"]
        for e in sites
        if e["adresse"][0].get("coordonneesGeographique")
    }
    assert summary["structures"] == len(sites) == 12 and len(with_contact) == 11
    assert {f for f, s in found.items() if s.phone} == with_contact
    assert {f for f, s in found.items() if s.latitude is not None} == with_geo
    assert len({f for f, s in found.items() if s.sanitary_authorisations}) == 4
    ch = found["690999016"]
    assert (ch.phone, ch.fax, ch.email) == (
        "0400000002",
        "0400000003",
        "accueil@ch-fictif-des-monts.invalid",
    )
    assert ch.postal_line == "69400 VILLEFRANCHE SUR SAONE CEDEX" and ch.place == "BP 100"
    assert (ch.category, ch.legal_status, ch.street_type) == ("355", "13", "AV")


@pytest.mark.parametrize(
    ("finess", "lat", "lon"),
    [
        ("690999016", 46.038771, 4.492497),  # ANS example layout: degrees in direction*
        ("670999911", 48.578662, 7.755801),  # daily feed layout: degrees in coordonnee*
        ("2A0999910", 41.876918, 8.742109),
        ("970999819", -20.882263, 55.445006),
        ("980999007", -13.2955, -176.1808),
    ],
)
def test_positions_whatever_the_layout(
    run_import: Importer,
    session_factory: sessionmaker[Session],
    finess: str,
    lat: float,
    lon: float,
) -> None:
    run_import("finess", FINESS_JSON, activities=FINESS_ACTIVITIES)
    site = structures(session_factory)[finess]
    assert site.latitude == pytest.approx(lat, abs=1e-5)
    assert site.longitude == pytest.approx(lon, abs=1e-5)


def test_projected_pair_alone_is_converted_with_the_territory_projection() -> None:
    # Lambert-93 with X and Y exchanged, as in ANS's example; no degrees given.
    lat, lon = position({"coordonneeX": "6570414.61", "coordonneeY": "873766.07"}, "01") or (0, 0)
    assert (lat, lon) == pytest.approx((46.211257, 5.254203), abs=1e-5)
    # Réunion's UTM 40S, in order.
    reunion = position({"coordonneeX": "338250.01", "coordonneeY": "7690100.04"}, "974")
    assert reunion == pytest.approx((-20.882263, 55.445006), abs=1e-4)
    # A pair out of the territory (null island, the projection read as degrees) is refused.
    assert position({"directionLatitude": "0", "directionLongitude": "0"}, "69") is None
    assert position({"coordonneeX": "5,25", "coordonneeY": "46,21"}, "01") is None


def test_activities_are_stored_with_their_modalities(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    run_import("finess", FINESS_JSON, activities=FINESS_ACTIVITIES)
    found = structures(session_factory)
    ch = found["690999016"]
    assert ch.sanitary_authorisations == "01,04,50"
    rows = sorted(
        (a.level, a.nature, a.activity_code, a.modality_code, a.form_code) for a in ch.activities
    )
    # The legal entity's authorisations name no site: the sites have them as exercised.
    assert rows == [("exercised", "AMF", code, "00", "01") for code in ("01", "04", "50")]
    exercised = ch.activities[0]
    assert (
        exercised.arhgos_number == f"84-82-{exercised.authorisation_id}"
    )  # from its authorisation
    assert exercised.starts_on == "2010-01-01" and exercised.state == "A"
    # Inactive (14 at the CHR) and expired (11 at the dialysis unit): stored, not counted.
    chr_ = found["670999911"]
    assert chr_.sanitary_authorisations == "01,02,03"
    assert "14" in {a.activity_code for a in chr_.activities}
    assert found["210999611"].sanitary_authorisations == "19"


def test_wallis_et_futuna_is_department_986(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    """Why: Wallis-et-Futuna (COG 986xx) landed in department 98."""
    run_import("finess", FINESS_JSON, activities=FINESS_ACTIVITIES)
    wallis = structures(session_factory)["980999007"]
    assert (wallis.department, wallis.commune_cog) == ("986", "98613")
    assert reference.region_of(wallis.department) is None


@pytest.mark.parametrize(
    ("cog", "department"),
    [
        ("97501", "975"),
        ("97411", "974"),
        ("97701", "977"),
        ("97801", "978"),
        ("98613", "986"),
        ("98735", "987"),
        ("98818", "988"),
        ("2A004", "2A"),
        ("69264", "69"),
    ],
)
def test_overseas_cog_gives_a_three_digit_department(cog: str, department: str) -> None:
    assert reference.department_of_commune(cog) == department


def test_fields_present_and_not_read_are_named(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    summary = run_import("finess", FINESS_JSON, activities=FINESS_ACTIVITIES)
    warnings = warnings_of(session_factory, summary["run_id"])
    unread = [w for w in warnings if "fields present and not read" in w]
    assert len(unread) == 2
    structures_warning = next(w for w in unread if w.startswith(FINESS_JSON.name))
    for path in (
        "gcc (1)",
        "gco (1)",
        "pmej[].evenement",
        "pmej[].ege[].evenement",
        "pmej[].ege[].modefixationtarifaire",
        "pmej[].ege[].adresse[].coordonneesGeographique.scoreBAN",
        "pmej[].informationsGeneralesPMEJ.siren",
    ):
        assert path in structures_warning, path
    # What is read is not named.
    for path in ("telecom.telephone", "numFinessEge", "coordonneeX", "cogCommune"):
        assert path not in structures_warning, path
    activities_warning = next(w for w in unread if w.startswith(FINESS_ACTIVITIES.name))
    assert "pmej[].activitesAutorisees[].capacite" in activities_warning
    assert "typeActiviteSMSSE" in activities_warning and "activiteAMF" not in activities_warning


def test_a_schema_beside_the_file_is_never_taken_for_the_activities(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Why: a JSON Schema lying next to the structures file was taken as the activities file."""
    shutil.copy(FINESS_JSON, tmp_path / FINESS_JSON.name)
    schema = tmp_path / "schema-activites-v1.json"
    schema.write_text(
        json.dumps(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Activite"}
        ),
        "utf-8",
    )
    summary = run_import("finess", tmp_path / FINESS_JSON.name)
    assert summary["activities_file"] is None
    assert not any(s.sanitary_authorisations for s in structures(session_factory).values())
    assert any(
        "no activities file given" in w for w in warnings_of(session_factory, summary["run_id"])
    )
    with pytest.raises(ImportFileError, match="not a FINESS\\+ activities file"):
        run_import("finess", tmp_path / FINESS_JSON.name, activities=schema)


def test_an_activities_file_goes_with_the_json_feed_only(
    run_import: Importer, tmp_path: Path
) -> None:
    from tests.referentials.directory.conftest import ETALAB

    with pytest.raises(ImportFileError, match=r"FINESS\+ \.json file only"):
        run_import("finess", ETALAB, activities=FINESS_ACTIVITIES)
