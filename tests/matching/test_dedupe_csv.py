"""The CSV contract of run_dedupe (what `socle dedupe` calls)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from matching.batch import dedupe, dedupe_with_report
from matching.dedupe_csv import OUTPUT_HEADER, InputError, read_records, run_dedupe

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "matching"


def read_pairs(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_small_file_finds_duplicates_and_keeps_traps_out(tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    calls: list[tuple[int, int]] = []
    summary = run_dedupe(
        FIXTURES / "identities_small.csv",
        out,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert tuple(next(csv.reader(out.open()))) == OUTPUT_HEADER
    rows = read_pairs(out)
    decided = {frozenset((r["left_id"], r["right_id"])): r["decision"] for r in rows}
    assert decided[frozenset(("S01", "S02"))] == "match"
    assert decided.get(frozenset(("S06", "S07"))) in {"match", "review"}  # inverted names
    assert decided.get(frozenset(("S08", "S09")), "non-match") != "match"  # twins
    assert decided.get(frozenset(("S10", "S11")), "non-match") != "match"  # father and son
    assert frozenset(("S05", "S01")) not in decided
    assert summary.records == 11
    assert summary.matches == sum(r["decision"] == "match" for r in rows)
    assert summary.reviews == sum(r["decision"] == "review" for r in rows)
    assert summary.candidate_pairs >= len(rows)
    assert summary.skipped_rows == []
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(r["explanation"].startswith(r["score"][:3]) or r["explanation"] for r in rows)


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        run_dedupe(FIXTURES / "missing_column.csv", tmp_path / "out.csv")
    assert caught.value.line == 1
    assert "used_name" in caught.value.message and "birth_place_code" in caught.value.message


def test_malformed_rows_are_reported_with_line_numbers_and_skipped() -> None:
    records, errors = read_records(FIXTURES / "malformed.csv")
    assert [r.id for r in records] == ["M01", "M04"]
    by_line = {e.line: e.message for e in errors}
    assert set(by_line) == {3, 4, 6, 7, 8}
    assert "YYYY-MM-DD" in by_line[3]
    assert "fields" in by_line[4]
    assert "source_id" in by_line[6]
    assert "sex" in by_line[7]
    assert "duplicate" in by_line[8]
    # Messages never carry the row's traits.
    assert all("LEFEBVRE" not in m and "1975" not in m for m in by_line.values())


def test_batch_matches_single_pair_scoring() -> None:
    from matching.config import MatchConfig
    from matching.model import default_model
    from matching.scoring import score_pair

    records, _ = read_records(FIXTURES / "identities_small.csv")
    by_id = {r.id: r for r in records}
    model = default_model()
    # The same referential size gives the same prior.
    config = MatchConfig(referential_size=len(records))
    for pair in dedupe(records, model):
        single = score_pair(by_id[pair.left_id], by_id[pair.right_id], model, config)
        assert single.band == pair.band
        assert abs(single.score - pair.score) < 1e-6


def test_workers_and_small_chunks_give_the_same_pairs() -> None:
    from matching.config import MatchConfig

    records, _ = read_records(FIXTURES / "identities_small.csv")
    one = dedupe_with_report(records, config=MatchConfig(chunk_size=2), workers=2)
    two = dedupe_with_report(records, workers=1)
    assert sorted((p.left_id, p.right_id, p.band) for p in one.pairs) == sorted(
        (p.left_id, p.right_id, p.band) for p in two.pairs
    )


def test_pairs_file_is_what_explain_and_csv_writer_give(tmp_path: Path) -> None:
    from matching.nir import nir_key
    from matching.scoring import explain

    source = FIXTURES / "identities_small.csv"
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    at = {name: i for i, name in enumerate(header)}
    # Ids needing CSV quoting, and twins with two valid INS: two rules, so a comma to quote.
    body[0][at["source_id"]] = 'S01,"quoted"'
    for row, matricule in ((body[7], "1010544109001"), (body[8], "1010544109002")):
        row[at["ins"]] = f"{matricule}{nir_key(matricule):02d}"
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *body])
    out = tmp_path / "out.csv"
    run_dedupe(path, out, workers=1)
    records, _ = read_records(path)
    pairs = sorted(dedupe(records), key=lambda p: (-p.score, p.left_id, p.right_id))
    expected = tmp_path / "expected.csv"
    with expected.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_HEADER)
        writer.writerows(
            [p.left_id, p.right_id, f"{p.score:.3f}", p.band, explain(p)] for p in pairs
        )
    assert any(len(p.rules) > 1 for p in pairs)
    assert out.read_bytes() == expected.read_bytes()


def test_pairs_file_is_the_same_when_two_processes_write_it(tmp_path: Path) -> None:
    import numpy as np

    from matching.batch import ScoredArrays
    from matching.features import PARALLEL_MIN
    from matching.fields import FIELD_LEVELS, FIELDS
    from matching.pairs_csv import write_pairs

    # Enough pairs for the second half to go to a forked process; ids that need quoting, and
    # rule flags whose names hold a comma.
    rng = np.random.default_rng(7)
    n = 2 * PARALLEL_MIN + 1001
    ids = [f"S{i:05d}" for i in range(5000)]
    ids[3] = 'S3,"b"'
    levels = np.stack([rng.integers(0, len(FIELD_LEVELS[f]), n) for f in FIELDS], axis=1)
    arrays = ScoredArrays(
        left=rng.integers(0, 5000, n),
        right=rng.integers(0, 5000, n),
        scores=rng.normal(10.0, 20.0, n),
        bands=rng.integers(1, 3, n).astype(np.int8),
        levels=levels.astype(np.int8),
        weights=rng.normal(0.0, 3.0, (n, len(FIELDS))),
        flags=rng.choice([0, 1, 3, 1 << 8], n),
        prior=-12.34,
    )
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    write_pairs(one, ids, arrays, workers=1)
    write_pairs(two, ids, arrays, workers=2)
    assert two.read_bytes() == one.read_bytes()
    assert len(read_pairs(two)) == n
