"""Benchmark of the RPPS+ import: full load, re-import, next-day diff; SQLite and PostgreSQL.

    .venv/bin/python tests/benchmarks/directory_generate.py /tmp/rppsgen
    .venv/bin/python tests/benchmarks/directory_import.py /tmp/rppsgen \
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--skip-sqlite]

Each step runs ``socle import rpps FILE --json`` under ``/usr/bin/time -v`` (wall time, CPU
with the parsing workers', peak RSS of the largest process) while sampling the memory (PSS) of
the whole process tree, and checks the next-day counts against ``truth.json`` written by the
generator. DuckDB's parse of the same file is timed for comparison. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOCLE = ROOT / ".venv" / "bin" / "socle"


def _tree_pss_kb(root: int) -> int:
    """Proportional set size of ``root`` and its descendants (parsing workers included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        found = re.search(r"^Pss:\s+(\d+)", text, re.M)
        total += int(found.group(1)) if found else 0
    return total


def timed_import(path: Path, env: dict[str, str]) -> dict[str, object]:
    """One import under /usr/bin/time -v: its JSON summary, wall seconds, peak RSS of its
    largest process and peak PSS of its whole process tree (MB), sampled every second."""
    command = ["/usr/bin/time", "-v", str(SOCLE), "import", "rpps", str(path), "--json"]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak_pss = 0
    while proc.poll() is None:
        peak_pss = max(peak_pss, _tree_pss_kb(proc.pid))
        time.sleep(1.0)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"import failed:\n{stderr[-3000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    summary["pss_mb"] = peak_pss // 1024
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", stderr))
    summary["cpu"] = round(cpu, 1)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    parts = [float(p) for p in wall.group(1).split(":")] if wall else [0.0]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    summary["wall"] = round(seconds, 1)
    summary["rss_mb"] = int(rss.group(1)) // 1024 if rss else None
    return summary


def duckdb_parse(path: Path) -> tuple[float, int, int]:
    import duckdb

    started = time.monotonic()
    rows, people = duckdb.sql(
        f'SELECT count(*), count(DISTINCT "Identification nationale PP") FROM read_csv('
        f"'{path}', delim='|', header=true, quote='', escape='', all_varchar=true)"
    ).fetchall()[0]
    return time.monotonic() - started, rows, people


def scenario(name: str, env: dict[str, str], day1: Path, day2: Path, truth: dict) -> list[str]:
    lines = []
    for label, path in (
        ("full import (empty base)", day1),
        ("re-import, same file", day1),
        ("next-day file", day2),
    ):
        before = os.getloadavg()[0]
        s = timed_import(path, env)
        # Another job on the machine inflates wall time: the 1-minute load, before and after.
        load = f"{before:.2f}→{os.getloadavg()[0]:.2f}"
        ok = ""
        if label == "next-day file":
            exact = all(s[k] == truth[k] for k in ("added", "updated", "removed", "unchanged"))
            ok = "exact" if exact else f"MISMATCH (truth {truth})"
        elif label.startswith("re-import"):
            ok = "exact" if s["added"] == s["updated"] == s["removed"] == 0 else "MISMATCH"
        lines.append(
            f"| {name} | {label} | {s['rows']:,} | {s['professionals']:,} | {s['added']:,} | "
            f"{s['updated']:,} | {s['removed']:,} | {s['unchanged']:,} | {s['seconds']} | "
            f"{s['wall']} | {s['cpu']} | {s['rss_mb']} | {s['pss_mb']} | {ok} | {load} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--pg", default="")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    day1 = next((args.data / "day1").glob("*.txt"))
    day2 = next((args.data / "day2").glob("*.txt"))
    truth = json.loads((args.data / "truth.json").read_text())
    base = {**os.environ, "SOCLE_SCHEDULER__ENABLED": "false"}
    # Other work on the machine slows everything: the load is printed with the figures.
    load = os.getloadavg()
    out = [
        "| database | step | rows | professionals | added | updated | removed | unchanged "
        "| import s | wall s | CPU s | peak RSS MB | peak tree PSS MB | diff | load 1 min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(out), flush=True)
    if not args.skip_sqlite:
        db = Path(f"/tmp/socle-bench-{uuid.uuid4().hex[:8]}.db")
        env = {**base, "SOCLE_DATABASE_URL": f"sqlite:///{db}"}
        try:
            out += scenario("SQLite", env, day1, day2, truth)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    if args.pg:
        out += pg_scenario(args.pg, base, day1, day2, truth)
    seconds, rows, people = duckdb_parse(day1)
    print(f"\nload average before: {load}, after: {os.getloadavg()}")
    print(
        f"\nDuckDB read_csv of the same file: {seconds:.1f} s ({rows:,} rows, {people:,} "
        "professionals)"
    )


def pg_scenario(url: str, base: dict[str, str], day1: Path, day2: Path, truth: dict) -> list[str]:
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        env = {**base, "SOCLE_DATABASE_URL": url, "SOCLE_DATABASE_SCHEMA": schema}
        return scenario("PostgreSQL", env, day1, day2, truth)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
