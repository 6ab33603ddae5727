"""ROR import from real FHIR JSON: Bundles, NDJSON $export folders, deltas, errors, runs."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.db import session_scope
from referentials.core.errors import Conflict
from referentials.core.settings import Settings
from ror_sync import completeness, jobs, repository
from ror_sync.errors import RorFormatError, RorSourceError
from ror_sync.fhir_reader import read_path
from ror_sync.models import RorCapacity, RorContact, RorOffer, RorOrganization, RorSnapshot
from ror_sync.sync import SyncSummary, import_resources
from tests.conftest import FIXTURES
from tests.ror_sync import fhir_builders as b
from tests.ror_sync.rules_fixture import luhn_key

EXAMPLE = FIXTURES / "ror" / "sample" / "ror_bundle_example.json"
SETTINGS = Settings(fixtures_dir=FIXTURES)


def _import(session: Session, path: Path) -> SyncSummary:
    return import_resources(session, read_path(path), SyncSummary(str(path)))


def _write_ndjson(folder: Path, resources: list[dict[str, Any]], compress: bool) -> None:
    by_type: dict[str, list[str]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(json.dumps(r))
    for kind, lines in by_type.items():
        text = "\n".join(lines) + "\n"
        if compress and kind == "Location":
            (folder / f"{kind}.ndjson.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / f"{kind}.ndjson").write_text(text, encoding="utf-8")


def test_imports_the_example_searchset_bundle(session: Session) -> None:
    summary = _import(session, EXAMPLE)
    assert (summary.resources, summary.rejected) == (13, 0)
    assert vars(summary.organizations) == {"created": 8, "updated": 0}
    assert vars(summary.offers) == {"created": 3, "updated": 0}
    assert vars(summary.locations) == {"created": 2, "updated": 0}
    kinds = dict(session.execute(select(RorOrganization.resource_id, RorOrganization.kind)).all())
    assert kinds["ej-1001"] == "EJ" and kinds["eg-2001"] == "EG" and kinds["oi-3003"] == "OI"
    units = repository.units(session)
    # hs-4001 sits under pôle → service → UE of the clinic: the EG is found up the partOf chain.
    assert {u.offer_id for u in units["690099916"]} == {"hs-4001", "hs-4002"}
    statuses = {
        u.offer_id: completeness.unit_result(u, "365").status for us in units.values() for u in us
    }
    assert statuses == {"hs-4001": "finalised", "hs-4002": "in_progress", "hs-4003": "in_progress"}


def test_imports_an_ndjson_export_folder_children_before_parents(
    session: Session, tmp_path: Path
) -> None:
    resources = [e["resource"] for e in json.loads(EXAMPLE.read_text())["entry"]]
    _write_ndjson(tmp_path, resources, compress=True)
    summary = _import(session, tmp_path)
    assert (summary.resources, summary.rejected, summary.offers.created) == (13, 0, 3)
    offer = session.scalar(select(RorOffer).where(RorOffer.resource_id == "hs-4003"))
    assert offer is not None and offer.eg_finess == "690099924"


def test_delta_updates_in_place_by_resource_id(session: Session, tmp_path: Path) -> None:
    _import(session, EXAMPLE)
    before = session.scalar(select(RorOffer).where(RorOffer.resource_id == "hs-4001"))
    assert before is not None
    first_id = before.id
    contacts_before = session.scalars(select(RorContact).where(RorContact.offer_id == first_id))
    assert len(list(contacts_before)) == 1
    changed = b.offer(
        "hs-4001",
        "oi-3004",
        champ="01",
        activities=("022", "023"),
        care_mode="29",
        location_id="loc-5001",
    )
    (tmp_path / "delta.json").write_text(json.dumps(b.bundle([changed])))
    summary = _import(session, tmp_path / "delta.json")
    assert vars(summary.offers) == {"created": 0, "updated": 1}
    session.expire_all()
    after = session.scalar(select(RorOffer).where(RorOffer.resource_id == "hs-4001"))
    assert after is not None and after.id == first_id
    assert (after.care_mode, after.activities, after.provided_by) == ("29", "022,023", "oi-3004")
    contacts = list(session.scalars(select(RorContact).where(RorContact.offer_id == first_id)))
    assert len(contacts) == 1  # replaced, not added


def test_places_keep_coordinates_and_capacities(session: Session, tmp_path: Path) -> None:
    place = b.location("loc-1", "eg-1", lat=45.76, lon=4.83, capacity=24)
    (tmp_path / "place.json").write_text(json.dumps(place))
    _import(session, tmp_path / "place.json")
    capacity = session.scalar(select(RorCapacity))
    assert capacity is not None and (capacity.count, capacity.type_code) == (24, "01")


def test_bad_resource_is_rejected_naming_the_file_entry_and_field(
    session: Session, tmp_path: Path
) -> None:
    bad = b.offer("hs-bad", "ue-1", ages=("douze", 20, "a"))
    good = b.offer("hs-good", "ue-1")
    (tmp_path / "mixed.json").write_text(json.dumps(b.bundle([good, bad])))
    summary = _import(session, tmp_path / "mixed.json")
    assert (summary.rejected, summary.offers.created) == (1, 1)
    message = summary.errors[0]
    assert "mixed.json entry 1" in message and "HealthcareService/hs-bad" in message
    assert "ageRange.low.value" in message


def test_bad_ndjson_line_names_the_file_and_line(session: Session, tmp_path: Path) -> None:
    lines = [json.dumps(b.ej("ej-1", "690099908")), "", '{"resourceType": "Organization",']
    (tmp_path / "Organization.ndjson").write_text("\n".join(lines) + "\n")
    with pytest.raises(RorFormatError, match=r"Organization\.ndjson line 3"):
        _import(session, tmp_path)


def test_resource_without_id_names_the_field(session: Session, tmp_path: Path) -> None:
    resource = b.ej("x", "690099908")
    del resource["id"]
    (tmp_path / "noid.json").write_text(json.dumps(b.bundle([resource])))
    summary = _import(session, tmp_path / "noid.json")
    assert summary.rejected == 1 and "field 'id'" in summary.errors[0]


def test_sync_is_recorded_as_a_run_with_a_snapshot(
    session_factory: sessionmaker[Session],
) -> None:
    summary = jobs.run(session_factory, str(EXAMPLE), SETTINGS, trigger="test")
    with session_scope(session_factory) as session:
        run = runs.get_run(session, summary.run_id or 0)
        assert run is not None and run.source == "ror" and run.outcome == runs.SUCCEEDED
        assert run.counts and run.counts["offers"] == {"created": 3, "updated": 0}
        assert session.scalar(select(RorSnapshot.run_id)) == summary.run_id


def test_a_failed_sync_is_recorded(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    with pytest.raises(RorSourceError, match="no such file"):
        jobs.run(session_factory, str(tmp_path / "missing.json"), SETTINGS)
    with session_scope(session_factory) as session:
        found, _ = runs.list_runs(session, source="ror", limit=5, offset=0)
        assert found[0].outcome == runs.FAILED and "missing.json" in (found[0].error or "")


def test_two_syncs_never_overlap(session_factory: sessionmaker[Session]) -> None:
    assert runs.acquire_lock(
        session_factory, "import:ror", "someone-else:1:x", ttl=timedelta(minutes=5)
    )
    with pytest.raises(Conflict, match="already running"):
        jobs.run(session_factory, str(EXAMPLE), SETTINGS)
    runs.release_lock(session_factory, "import:ror", "someone-else:1:x")


def test_a_mixed_batch_is_one_insert_per_table(session: Session, tmp_path: Path) -> None:
    """Why: the ORM left a None value out of its row, so rows with None in different columns
    (an EJ has no category, a unit no FINESS) each began a new INSERT: one round trip to
    PostgreSQL per one or two rows, which made a national import take half an hour."""
    resources: list[dict[str, Any]] = []
    for i in range(30):
        ej_finess, eg_finess = f"69{i:06d}", f"69{500 + i:06d}"
        resources += [
            b.ej(f"ej-{i}", ej_finess + luhn_key(ej_finess)),
            b.eg(f"eg-{i}", eg_finess + luhn_key(eg_finess), "355", f"ej-{i}"),
            b.oi(f"ue-{i}", f"eg-{i}"),
        ]
    _write_ndjson(tmp_path, resources, compress=False)
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO ror_organizations"):
            inserts.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        summary = _import(session, tmp_path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert vars(summary.organizations) == {"created": 90, "updated": 0}
    assert len(inserts) == 1
    kinds = dict(session.execute(select(RorOrganization.resource_id, RorOrganization.kind)).all())
    assert (kinds["ej-3"], kinds["eg-3"], kinds["ue-3"]) == ("EJ", "EG", "OI")
    # Values rendered as NULL are still NULL, and the defaulted columns hold what was parsed.
    unit = session.scalars(select(RorOrganization).filter_by(resource_id="ue-3")).one()
    assert unit.finess is None and unit.active is True and unit.part_of == "eg-3"
