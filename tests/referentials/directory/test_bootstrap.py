"""The embedded default: the sample extracts of fixtures/ are imported at first start."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from referentials import bootstrap
from referentials.core.runs import ImportRun
from referentials.core.settings import Settings
from referentials.directory.models import Professional, Structure


def test_samples_imported_into_an_empty_directory_only(
    engine: Engine, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    settings = db_settings.model_copy(update={"load_demo_data": True})
    bootstrap.load_directory_samples(engine, session_factory, settings)
    bootstrap.load_directory_samples(engine, session_factory, settings)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Professional)) == 9
        assert session.scalar(select(func.count()).select_from(Structure)) == 12
        # The sample's activities file is given with it: its authorisations are read.
        ch = session.get(Structure, "690999016")
        assert ch is not None and ch.sanitary_authorisations == "01,04,50"
        triggers = session.scalars(select(ImportRun.trigger)).all()
    assert triggers == ["bootstrap", "bootstrap"]  # the second start found it loaded
