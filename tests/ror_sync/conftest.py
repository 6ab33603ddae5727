"""ROR test data: the rule fixture's FINESS (through the directory import) and ROR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.settings import DirectorySettings, Settings
from referentials.directory import imports as directory_imports
from ror_sync import jobs
from ror_sync.fhir_reader import read_path
from ror_sync.sync import SyncSummary, import_resources
from tests.conftest import FIXTURES
from tests.ror_sync import fhir_builders as b
from tests.ror_sync import rules_fixture as rf

LYON = (45.7578, 4.8320)
IG_EXAMPLES = FIXTURES / "ror" / "ig_examples" / "ror_ig_examples.json"


@pytest.fixture()
def rules_loaded(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    """FINESS of the rule fixture imported by the directory, then its ROR synced."""
    directory_imports.run(
        engine,
        session_factory,
        source="finess",
        location=str(rf.FINESS_STRUCTURES),
        trigger="test",
        settings=DirectorySettings(),
        activities=rf.FINESS_ACTIVITIES,
    )
    jobs.run(session_factory, str(rf.FIXTURE), Settings(fixtures_dir=FIXTURES), trigger="test")


@pytest.fixture()
def offers(rules_loaded: None, session: Session, tmp_path: Path) -> None:
    """Places at 0, ~11 and ~56 km from Lyon, plus one offer placed by its FINESS EG."""
    resources = [
        b.ej("o-ej", "690099908"),
        b.eg("o-eg", "690099916", "365", "o-ej"),
        b.location("o-near", "o-eg", cog="69123", lat=LYON[0], lon=LYON[1], capacity=12),
        b.location("o-mid", "o-eg", cog="69266", lat=45.8578, lon=4.8320),
        b.location("o-far", "o-eg", cog="38185", lat=45.2578, lon=4.8320),
        b.oi("o-ue", "o-eg"),
        b.offer("o-hs-near", "o-ue", activities=("901",), ages=(0, 17, "a"), location_id="o-near"),
        b.offer("o-hs-mid", "o-ue", activities=("901",), ages=(0, 120, "a"), location_id="o-mid"),
        b.offer("o-hs-far", "o-ue", activities=("901",), location_id="o-far"),
        b.offer(
            "o-hs-adult", "o-ue", activities=("901",), ages=(18, 120, "a"), location_id="o-near"
        ),
        b.offer(
            "o-hs-closed",
            "o-ue",
            activities=("901",),
            location_id="o-near",
            closed_on="2025-01-01",
            closing_type="DEF",
        ),
        b.offer("o-hs-other", "o-ue", activities=("902",), location_id="o-near"),
        # No coordinates on its place: positioned by the FINESS coordinates of EG A (Lyon),
        # the EG of the rule fixture's ue-A1.
        b.location("o-nopos", "eg-A", cog="69123"),
        b.offer("o-hs-finess", "ue-A1", activities=("901",), location_id="o-nopos"),
    ]
    path = tmp_path / "orientation.json"
    path.write_text(json.dumps(b.bundle(resources)))
    import_resources(session, read_path(path), SyncSummary("orientation"))
    session.commit()


@pytest.fixture()
def ig_examples(offers: None, session: Session) -> None:
    """The ROR guide's published examples (EJ, EG, UE, offer, place) on top of the offers."""
    import_resources(session, read_path(IG_EXAMPLES), SyncSummary("ig-examples"))
    session.commit()
