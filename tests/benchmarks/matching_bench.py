"""Accuracy, time and peak memory of Socle's matcher (and Splink) on a CSV with a truth column.

    # one tool, in this process
    .venv/bin/python tests/benchmarks/matching_bench.py run --tool socle --input /tmp/fr14k.csv
    # both tools side by side, each in its own subprocess (peak RSS per subprocess)
    .venv/bin/python tests/benchmarks/matching_bench.py compare --input /tmp/fr14k.csv

Metrics are pairwise: a predicted pair is right when both records carry the same `truth`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

csv.field_size_limit(1 << 20)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from matching_report import Pair, print_report, report  # noqa: E402


def load_truth(path: Path) -> dict[str, str]:
    """source_id -> truth (person id)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        ident, truth = header.index("source_id"), header.index("truth")
        return {row[ident]: row[truth] for row in reader}


def true_pair_count(truth: dict[str, str]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(truth.values()).values())


def metrics(pairs: list[tuple[str, str, str]], truth: dict[str, str]) -> dict[str, float]:
    """Precision/recall/F1 of the match band and of match+review together."""
    total_true = true_pair_count(truth)
    out: dict[str, float] = {"true_pairs": total_true}
    for label, bands in (("match", {"match"}), ("match+review", {"match", "review"})):
        chosen = {(a, b) if a < b else (b, a) for a, b, band in pairs if band in bands}
        correct = sum(truth[a] == truth[b] for a, b in chosen)
        precision = correct / len(chosen) if chosen else 1.0
        recall = correct / total_true if total_true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.update(
            {
                f"{label}_pairs": len(chosen),
                f"{label}_precision": round(precision, 4),
                f"{label}_recall": round(recall, 4),
                f"{label}_f1": round(f1, 4),
            }
        )
    return out


def read_pairs(path: Path, truth: dict[str, str]) -> list[Pair]:
    """The pairs CSV of `socle dedupe`, each pair with whether it joins one person."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [
            Pair(left, right, float(score), band, text, truth[left] == truth[right])
            for left, right, score, band, text in reader
        ]


def run_socle(input_path: Path, workers: int, model: str | None) -> dict[str, object]:
    from matching.dedupe_csv import run_dedupe

    out = Path(f"/tmp/socle_pairs_{os.getpid()}.csv")
    start = time.perf_counter()
    summary = run_dedupe(input_path, out, model_path=model, workers=workers)
    seconds = time.perf_counter() - start
    truth = load_truth(input_path)
    pairs = read_pairs(out, truth)
    out.unlink()
    result: dict[str, object] = dict(metrics([(p.left, p.right, p.band) for p in pairs], truth))
    accuracy = report(pairs, true_pair_count(truth))
    # The human-readable report goes to stderr: stdout's last line is the JSON summary.
    with contextlib.redirect_stdout(sys.stderr):
        print_report(accuracy)
    result.update(
        review_precision=accuracy["bands"]["review"]["precision"],  # type: ignore[index]
        calibration=accuracy["calibration"],
        calibration_by_probability=accuracy["calibration_by_probability"],
        false_match_patterns=accuracy["false_match_patterns"],
        records=summary.records,
        candidate_pairs=summary.candidate_pairs,
        seconds=round(seconds, 2),
        skipped_rows=len(summary.skipped_rows),
    )
    return result


def run_tool(args: argparse.Namespace) -> None:
    if args.tool == "socle":
        result = run_socle(args.input, args.workers, args.model)
    else:
        from matching_splink import run_splink

        start = time.perf_counter()
        pairs, candidates = run_splink(args.input, args.splink_threshold)
        seconds = time.perf_counter() - start
        result = metrics(pairs, load_truth(args.input))
        result.update(candidate_pairs=candidates, seconds=round(seconds, 2))
    print(json.dumps({"tool": args.tool, "input": str(args.input), **result}))


def run_child(tool: str, args: argparse.Namespace) -> dict[str, object]:
    """Run one tool in a subprocess; peak memory is that child's max RSS."""
    command = [
        sys.executable,
        __file__,
        "run",
        "--tool",
        tool,
        "--input",
        str(args.input),
        "--workers",
        str(args.workers),
    ]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    output = child.stdout.read() if child.stdout else ""
    if status != 0:
        return {"tool": tool, "error": f"exit status {status}"}
    result: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    result.update(wall_seconds=round(wall, 2), peak_rss_mb=round(usage.ru_maxrss / 1024))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="matching benchmark")
    parser.add_argument("mode", choices=["run", "compare"])
    parser.add_argument("--tool", choices=["socle", "splink"], default="socle")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default=None)
    parser.add_argument("--splink-threshold", type=float, default=0.9)
    parser.add_argument("--tools", default="socle,splink")
    args = parser.parse_args()
    if args.mode == "run":
        run_tool(args)
        return
    for tool in args.tools.split(","):
        print(json.dumps(run_child(tool, args)), flush=True)


if __name__ == "__main__":
    main()
