"""CPU and wall seconds of each step of the batch deduplication (what `socle dedupe` runs).

    .venv/bin/python tests/benchmarks/matching_steps.py --input /tmp/fr1m.csv --workers 1

CPU is this process's plus that of its forked helpers once they are reaped (resource usage of
the children), so with --workers 1 each step's CPU is its own; with more workers a helper's CPU
shows in the step where it ends.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from matching.batch import block_with_data_model, score_arrays  # noqa: E402
from matching.config import MatchConfig  # noqa: E402
from matching.csv_columns import read_columns  # noqa: E402
from matching.csv_input import PARALLEL_BYTES  # noqa: E402
from matching.features import helper_process  # noqa: E402
from matching.model import default_model  # noqa: E402
from matching.pairs_csv import write_pairs  # noqa: E402
from matching.prepared import prepare_columns  # noqa: E402


def _now() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return cpu, time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(f"/tmp/socle_steps_{os.getpid()}.csv"))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    marks = [("start", _now())]
    model, config, workers = default_model(), MatchConfig(), args.workers
    large = os.path.getsize(args.input) >= PARALLEL_BYTES
    with helper_process(workers > 1 and large) as helper:
        columns, _ = read_columns(args.input, helper)
        marks.append(("read the CSV", _now()))
        prep = prepare_columns(columns, helper=helper)
        marks.append(("normalise and encode", _now()))
    del columns
    pairs, _, model = block_with_data_model(prep, model, config, workers)
    marks.append(("block, u and rate", _now()))
    arrays = score_arrays(prep, pairs, model, config, None, workers)
    marks.append(("score", _now()))
    write_pairs(args.out, prep.ids, arrays, args.workers)
    marks.append(("write the pairs", _now()))
    for (_, (cpu0, wall0)), (name, (cpu1, wall1)) in itertools.pairwise(marks):
        print(f"{name:22s} CPU {cpu1 - cpu0:6.2f} s   wall {wall1 - wall0:6.2f} s")
    total_cpu, total_wall = marks[-1][1][0] - marks[0][1][0], marks[-1][1][1] - marks[0][1][1]
    print(f"{'total':22s} CPU {total_cpu:6.2f} s   wall {total_wall:6.2f} s")
    load = os.getloadavg()[0]
    print(f"{prep.size} records, {len(pairs)} pairs, {len(arrays)} kept; load {load:.2f}")


if __name__ == "__main__":
    main()
