"""ROR completeness counts sanitary sites by the authorisations read from the FINESS+
activities file as ANS publishes it (directories.md §3: sanitary categories count per champ
opened by an active authorisation; PSY categories without one)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.settings import DirectorySettings
from referentials.directory import imports
from referentials.directory import service as directory_service
from ror_sync import completeness

FINESS = Path(__file__).resolve().parents[2] / "fixtures" / "directory" / "finess"
STRUCTURES = FINESS / "finess-structures-journalier-20260504.json"
ACTIVITIES = FINESS / "finess-activites-journalier-20260504.json"


def _champs(
    engine: Engine, factory: sessionmaker[Session], activities: Path | None
) -> dict[str, list[str]]:
    imports.run(
        engine,
        factory,
        source="finess",
        location=str(STRUCTURES),
        trigger="test",
        settings=DirectorySettings(),
        activities=activities,
    )
    with factory() as session:
        facts = list(directory_service.structure_facts(session, active_only=False))
    return {f.finess: completeness.structure_champs(f) for f in facts if f.sector == "sanitaire"}


def test_sanitary_sites_count_per_authorised_champ(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """Why: with no authorisation read, no sanitary site entered the denominator."""
    champs = _champs(engine, session_factory, ACTIVITIES)
    assert champs["690999016"] == ["MCO", "PSY", "SMR"]  # 01, 04, 50
    assert champs["670999911"] == ["MCO"]  # 01, 02, 03 (14 inactive)
    assert champs["970999819"] == ["MCO", "SMR"]
    assert champs["210999611"] == ["MCO"]  # 19 active, 11 expired
    assert champs["980999007"] == []  # a sanitary site without authorisation
    assert champs["690999024"] == []  # closed


def test_without_the_activities_file_no_sanitary_champ_is_counted(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    champs = _champs(engine, session_factory, None)
    assert champs and all(value == [] for value in champs.values())
