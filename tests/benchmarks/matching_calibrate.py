"""The capped probabilities of a model, measured on a labelled file (a CSV with a `truth` column).

    .venv/bin/python tests/benchmarks/matching_calibrate.py --input /tmp/frcal.csv \
        --out matching/default_model.json

Runs the batch deduplication as `socle dedupe` does, takes every output pair that a rule kept
out of the match band, and sets each rule's probability to the share of such pairs that join
one person (matching.calibration.capped_rates). The built-in model's table comes from a file of
the generator with its own seed, not from the benchmark files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

from matching_bench import load_truth  # noqa: E402

from matching.batch import dedupe_prepared  # noqa: E402
from matching.calibration import DEFAULT_CAPPED_PROBABILITY, capped_rates  # noqa: E402
from matching.config import MatchConfig  # noqa: E402
from matching.csv_columns import read_columns  # noqa: E402
from matching.model import MatchModel, default_model  # noqa: E402
from matching.prepared import prepare_columns  # noqa: E402
from matching.rules import ALL_RULES, RULES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="start model (built-in)")
    parser.add_argument("--out", type=Path, required=True, help="model file to write")
    args = parser.parse_args()
    model = MatchModel.load(args.model) if args.model else default_model()
    config = MatchConfig()
    columns, _ = read_columns(args.input)
    prep = prepare_columns(columns)
    arrays, _ = dedupe_prepared(prep, model, config, workers=2)
    truth = load_truth(args.input)
    ids = prep.ids
    same = np.array(
        [truth[ids[a]] == truth[ids[b]] for a, b in zip(arrays.left, arrays.right, strict=True)]
    )
    raw = arrays.prior + arrays.weights.sum(axis=1)
    # From a toss-up: the labels alone set the rates (a large file outweighs the smoothing).
    start = dict.fromkeys((name for _, name in RULES), DEFAULT_CAPPED_PROBABILITY)
    capped = capped_rates(arrays.flags, raw, same, config.match_threshold, start)
    held = ((arrays.flags & ALL_RULES) != 0) & (raw >= config.match_threshold)
    print(json.dumps({"records": prep.size, "held_back_pairs": int(held.sum()), "capped": capped}))
    replace(model, capped=capped).save(args.out)


if __name__ == "__main__":
    main()
