"""The identity commands of `socle`, run as a user would, on real files."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select

from identity.referential.models import DuplicatePair, Identity, SourceRecord
from referentials.core.db import make_engine, make_session_factory, session_scope
from tests.cli import socle
from tests.conftest import FIXTURES


def test_import_identities_creates_attaches_reports_and_queues(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    source = FIXTURES / "identity" / "establishment_a.csv"
    result = socle(db, "import", "identities", str(source), "--finess", "690999016")
    assert result.returncode == 0, result.stderr
    assert "7 rows: 4 created, 1 attached, 0 already known" in result.stdout
    assert "line 5 skipped" in result.stderr and "'2'" in result.stderr
    assert "line 6 skipped" in result.stderr
    factory = make_session_factory(make_engine(f"sqlite:///{db}"))
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(Identity)) == 4
        bernard = session.scalars(select(SourceRecord).where(SourceRecord.local_id == "E7")).one()
        e6 = session.scalars(select(SourceRecord).where(SourceRecord.local_id == "E6")).one()
        assert bernard.identity_id == e6.identity_id
        assert session.scalar(select(func.count()).select_from(DuplicatePair)) == 1
    again = socle(db, "import", "identities", str(source), "--finess", "690999016")
    assert "0 created, 0 attached, 5 already known" in again.stdout
    scan = socle(db, "identities", "scan")
    assert scan.returncode == 0, scan.stderr
    assert "4 identities" in scan.stdout


def test_import_identities_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("source_id,birth_name,sex\nX,DUPONT,M\n", encoding="utf-8")
    result = socle(tmp_path / "s.db", "import", "identities", str(bad), "--finess", "690999016")
    assert result.returncode == 2
    assert "missing column(s) first_names, birth_date" in result.stderr


def test_dedupe_writes_pairs_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    result = socle(
        tmp_path / "s.db",
        "dedupe",
        str(FIXTURES / "identity" / "establishment_a.csv"),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "records" in result.stdout and "candidate pairs" in result.stdout
    assert "line 6" in result.stderr  # the impossible date is reported, not silently dropped
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["left_id", "right_id", "score", "decision", "explanation"]
    pairs = {frozenset((r["left_id"], r["right_id"])) for r in rows}
    assert frozenset(("E2", "E3")) in pairs and frozenset(("E6", "E7")) in pairs
    assert all(r["decision"] in ("match", "review") for r in rows)


def test_matching_fit_writes_a_versioned_model_and_rescores_the_queue(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    source = FIXTURES / "identity" / "establishment_a.csv"
    assert socle(db, "import", "identities", str(source), "--finess", "690999016").returncode == 0
    models = tmp_path / "models"
    result = socle(db, "matching", "fit", "--out-dir", str(models), "--rescore")
    assert result.returncode == 0, result.stderr
    assert f"model v1 written to {models / 'model-v0001.json'}" in result.stdout
    assert "1 open pairs re-scored" in result.stdout
    assert "SOCLE_MATCHING__MODEL_FILE=" in result.stderr
    again = socle(db, "matching", "fit", "--out-dir", str(models))
    assert "model v2 written" in again.stdout
    assert sorted(p.name for p in models.iterdir()) == ["model-v0001.json", "model-v0002.json"]
