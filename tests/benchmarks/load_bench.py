"""Load benchmark: a region calling at once, with wrk against a real `socle serve` on loopback.

    .venv/bin/python tests/benchmarks/load_bench.py                       # SQLite, 1 and 2 workers
    .venv/bin/python tests/benchmarks/load_bench.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Loads N generated identities (14,000 by default) with their blocking keys, starts `socle serve
--workers W` (the per-key rate limit off, as a region's callers each have their own key) and the
mock INSi slowed to 300 ms in a process of its own (`socle mock-insi`, pointed at with
SOCLE_INSI__ENDPOINT: the real teleservice is remote; `--insi-mock embedded` uses the mock
mounted in the served processes instead), then runs each scenario for a bounded time with wrk
(Debian's `wrk` package: `apt-get install wrk`) and prints throughput, p50/p99, the mean, the
errors (non-2xx answers, HL7 ACKs other than AA, socket errors), the CPU time per request of the
served processes (and of PostgreSQL's server processes, all of them: run it on an otherwise idle
server), the mock's CPU per INSi call and the INSi process's per search (a part of the served
processes'), per scenario, with the machine's load average.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generate_identities import Person, generate
from identity_match_bench import load, query_of
from server_cpu import cpu_by_pid, descendants, machine_seconds, named, spent_since

from identity.hl7v2.ack import escape
from identity.referential.schemas import IdentityCreate, MatchRequest
from identity.referential.traits import normalized_fields
from referentials.core.auth import SCOPES, create_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.errors import AppError
from tests.conftest import free_port

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
LUA = HERE / "load" / "socle.lua"
BURN = HERE / "load" / "burn.py"
# Each wrk run draws its own random requests.
RUNS = itertools.count(1)
# Each wrk run that creates takes its own share of the new people (CREATE_FROM): run after run
# creates people that nobody created before, as a region's front desks do.
SHARES = itertools.count(0)
CREATING = ("create", "mixed", "hl7")
# A share's size, per second of the scenarios' runs: more than any run created (about 250 a
# second at most).
CREATED_PER_SECOND = 500
# Each mixed run updates identities of its own, once each (its updates send If-Match 1): a
# run of the same server that updated them before would have them answered 409. A share's
# size per second: more than any run updated (a tenth of `mixed x32`, about 30 a second).
UPDATED_PER_SECOND = 100


@dataclass(frozen=True)
class Part:
    """One wrk run inside a scenario."""

    kind: str
    clients: int


# name: the wrk runs that go at the same time (the first one is the scenario's figure).
SCENARIOS: dict[str, list[Part]] = {
    "read x1": [Part("read", 1)],
    "read x32": [Part("read", 32)],
    # A crowd: many more callers than the server has threads (the others wait in its loop).
    "read x256": [Part("read", 256)],
    "match x1": [Part("match", 1)],
    "match x32": [Part("match", 32)],
    "create x1": [Part("create", 1)],
    "create x16": [Part("create", 16)],
    # The same new people sent as PAM France A28 messages over HTTP, as establishments' feeds.
    "hl7 x1": [Part("hl7", 1)],
    "hl7 x16": [Part("hl7", 16)],
    "insi x8 alone": [Part("insi", 8)],
    "create x16 + insi x8": [Part("create", 16), Part("insi", 8)],
    "read x32 + insi x8": [Part("read", 32), Part("insi", 8)],
    # Beside the reads, a process that burns what the 8 INSi searchers cost in CPU (--cpu-*):
    # how much of the share kept beside them their CPU alone explains.
    "read x32 + cpu": [Part("read", 32), Part("cpu", 0)],
    "mixed x32": [Part("mixed", 32)],
}


@dataclass
class Bench:
    url: str
    schema: str
    key: str
    max_id: int
    insi_ids: str
    match_file: Path
    create_file: Path
    # The same people as create_file, line for line, as A28 messages.
    hl7_file: Path
    # Lines of create_file (and hl7_file) that each creating run may take.
    create_share: int


def loaded_database(
    args: argparse.Namespace, workdir: Path, name: str
) -> tuple[str, str, list[Person], int]:
    """A fresh database holding the generated identities (a schema ``bench_<name>_...`` on
    PostgreSQL, ``<name>.db`` in ``workdir`` on SQLite): its URL, its schema, the people, how
    many were loaded."""
    people = generate(int(args.identities / 1.35), args.seed)[: args.identities]
    url, schema = args.database_url, ""
    if url.startswith("postgresql"):
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        with make_engine(url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    else:
        url = f"sqlite:///{workdir / f'{name}.db'}"
    return url, schema, people, load(url, schema, people)


def prepare(args: argparse.Namespace, workdir: Path) -> Bench:
    """A fresh database with the generated identities, a key, the INSi ids and match bodies."""
    url, schema, people, loaded = loaded_database(args, workdir, "load")
    engine = make_engine(url, schema=schema)
    with session_scope(make_session_factory(engine)) as session:
        _, key = create_api_key(session, client_name="load", scopes=list(SCOPES))
        # One given name: an INSi search of one of them is one SOAP call (CR 01, unknown).
        single = session.execute(
            text("SELECT id FROM identities WHERE first_names NOT LIKE '% %' ORDER BY id LIMIT 400")
        )
        insi_ids = ",".join(str(row[0]) for row in single)
    engine.dispose()
    rng = random.Random(args.seed)
    valid = [p for p in people if _accepted(query_of(p), MatchRequest)]
    match_file = workdir / "match.jsonl"
    match_file.write_text(
        # Only searches the service accepts (the generator also makes invalid traits).
        "\n".join(json.dumps(query_of(p)) for p in rng.sample(valid, 500)) + "\n",
        encoding="utf-8",
    )
    share = CREATED_PER_SECOND * args.seconds
    newcomers = new_people(share * creating_runs(args), args.seed + 1000)
    create_file = workdir / "create.jsonl"
    create_file.write_text(
        "\n".join(json.dumps(body) for body in newcomers) + "\n", encoding="utf-8"
    )
    hl7_file = workdir / "hl7.er7"
    # One message a line: ER7 separates segments with CR, never LF.
    hl7_file.write_text(
        "\n".join(a28(body, n) for n, body in enumerate(newcomers)) + "\n", encoding="utf-8"
    )
    return Bench(url, schema, key, loaded, insi_ids, match_file, create_file, hl7_file, share)


def a28(body: dict[str, object], n: int) -> str:
    """A PAM France ADT^A28 creating the person of ``body``, with IPP ``LOAD-<n>``."""
    names = [escape(str(x)) for x in body["first_names"]]  # type: ignore[attr-defined]
    born = str(body["birth_date"]).replace("-", "")
    place = f"^^^^^^BDL^^{body['birth_place_code']}" if body.get("birth_place_code") else ""
    pid = [""] * 33
    pid[0], pid[1] = "PID", "1"
    pid[3] = f"LOAD-{n}^^^CHFM&1.2.250.1.999.1.1&ISO^PI"
    pid[5] = f"{escape(str(body['birth_name']))}^{names[0]}^{' '.join(names)}^^^^L"
    pid[7], pid[8], pid[11], pid[32] = born, str(body.get("sex") or "U"), place, "PROV"
    return "\r".join(
        [
            "MSH|^~\\&|LOAD|CHFM^690999016^M11|SOCLE|ARS|20260504101500||ADT^A28^ADT_A05|"
            f"LOAD-{n}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8",
            "EVN||20260504101500",
            "|".join(pid),
            "PV1|1|N",
        ]
    )


def new_people(needed: int, seed: int) -> list[dict[str, object]]:
    """Bodies of ``POST /identities``: people drawn as the referential's were, none of them in it.

    The generator's population (names and given names at their French frequencies, birth dates,
    places) with another seed, one record per person: a front desk mostly creates patients the
    referential does not know, and now and then one that looks like someone it does. Creations
    built from 16 surnames and 8 given names instead were each scored against a block that
    every creation made larger, and queued about 7 pairs each: each creation cost more than the
    one before, and the scenarios that compare runs compared different work.
    """
    bodies: list[dict[str, object]] = []
    seen: set[str] = set()
    # A margin: the generator also makes invalid traits, which are left out.
    for person in generate(int(needed * 1.3), seed):
        body = {k: v for k, v in query_of(person).items() if v is not None}
        if person.truth in seen or not _accepted(body, IdentityCreate):
            continue
        seen.add(person.truth)
        bodies.append(body)
    return bodies


def creating_runs(args: argparse.Namespace) -> int:
    """How many wrk runs create: those of the scenarios that do, and each warm-up's."""
    scenarios = _in_rounds(args.scenarios, args.rounds)
    creating = sum(1 for name in scenarios for p in SCENARIOS[name] if p.kind in CREATING)
    return (creating + 1) * len(args.workers)


def updating_runs(args: argparse.Namespace) -> int:
    """How many wrk runs update, for each server (the mixed ones)."""
    scenarios = _in_rounds(args.scenarios, args.rounds)
    return sum(1 for name in scenarios for p in SCENARIOS[name] if p.kind == "mixed")


def update_share(args: argparse.Namespace) -> int:
    """The identities each updating run may update: each server's range, shared out."""
    runs = updating_runs(args)
    share = args.identities // len(args.workers) // max(runs, 1)
    needed = UPDATED_PER_SECOND * args.seconds
    if runs and share < needed:
        raise SystemExit(
            f"{args.identities} identities leave each of the {runs} mixed runs {share} "
            f"identities to update, fewer than {needed}: raise --identities to "
            f"{needed * runs * len(args.workers)} or run fewer rounds"
        )
    return share


def _accepted(body: dict[str, object], model: type[MatchRequest | IdentityCreate]) -> bool:
    """Whether the service takes this body (the generator also makes invalid traits)."""
    try:
        normalized_fields(model.model_validate(body), date.today())
    except (ValueError, AppError):  # pydantic's ValidationError, the trait errors (422)
        return False
    return True


def start_mock(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str]:
    """`socle mock-insi` in a process of its own, as the real teleservice is remote."""
    port = free_port()
    # No access log, as for the served processes: a remote teleservice writes none here.
    env = {
        **os.environ,
        "SOCLE_INSI__MOCK_LATENCY_MS": str(args.insi_latency_ms),
        "SOCLE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "referentials.cli", "mock-insi", "--port", str(port)]
    log = Path(args.server_log or os.devnull).open("ab")  # noqa: SIM115 (the mock's life)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    _wait_ready(process, f"{url}?wsdl")
    return process, url


def serve(
    bench: Bench, workers: int, args: argparse.Namespace, insi_endpoint: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": bench.url,
        "SOCLE_DATABASE_SCHEMA": bench.schema,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_LIMITS__RATE_PER_MINUTE": "0",
        "SOCLE_INSI__MOCK_LATENCY_MS": str(args.insi_latency_ms),
        # Empty: the mock embedded in the served processes (--insi-mock embedded).
        "SOCLE_INSI__ENDPOINT": insi_endpoint,
        "SOCLE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "referentials.cli", "serve", "--workers", str(workers)]
    log = Path(args.server_log or os.devnull).open("ab")  # noqa: SIM115 (the server's life)
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(process, f"{base}/health")
    return process, base


def _wait_ready(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"{url} did not answer: the process did not start")
        time.sleep(0.2)


def wrk(
    bench: Bench, base: str, part: Part, seconds: int, update_from: int
) -> subprocess.Popen[str]:
    threads = min(part.clients, 2)
    env = {
        **os.environ,
        "THREADS": str(threads),
        "SCENARIO": part.kind,
        "KEY": bench.key,
        "IDS": str(bench.max_id),
        "INSI_IDS": bench.insi_ids,
        "MATCH_FILE": str(bench.match_file),
        "CREATE_FILE": str(bench.create_file),
        "HL7_FILE": str(bench.hl7_file),
        # Updates send If-Match 1: identities from here on were never updated yet.
        "UPDATE_FROM": str(update_from),
        "SEED": str(next(RUNS)),
    }
    if part.kind in CREATING:
        env["CREATE_FROM"] = str(next(SHARES) * bench.create_share)
    command = ["wrk", "-t", str(threads), "-c", str(part.clients), "-d", f"{seconds}s"]
    command += ["--timeout", "30s", "-s", str(LUA), base]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen[str], part: Part) -> dict[str, object]:
    out, _ = process.communicate(timeout=600)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line[len("RESULT ") :])
    seconds = raw["duration_us"] / 1e6
    return {
        "kind": part.kind,
        "clients": part.clients,
        "req_s": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        # In a closed loop the mean latency is clients / throughput.
        "mean_ms": round(part.clients / (raw["requests"] / seconds) * 1000, 1),
        # An HL7 message refused (ACK AE or AR) is answered 200: its ACK code is counted too.
        "errors": raw["socket_errors"]
        + raw["http_errors"]
        + sum(n for code, n in raw["statuses"].items() if code.startswith("ACK")),
        "statuses": raw["statuses"],
    }


@dataclass(frozen=True)
class Burn:
    """The "cpu" part: ``ms`` of CPU ``per_second`` times a second, in a process of its own."""

    per_second: float = 23.0
    ms: float = 6.5

    def start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(BURN), str(self.per_second), str(self.ms)])


@dataclass(frozen=True)
class Watched:
    """The processes whose CPU a scenario reports: Socle's, the mock's, the database's."""

    server: int | None = None
    mock: int | None = None
    postgres: bool = False


def _per(cpu: float, requests: float) -> float | str:
    return round(cpu * 1000 / requests, 2) if requests else ""


def run_scenario(
    bench: Bench,
    base: str,
    parts: list[Part],
    seconds: int,
    update_from: int = 1,
    watched: Watched | None = None,
    burn: Burn = Burn(),
) -> list[dict[str, object]]:
    """Run the parts at once; with ``watched``, the CPU per request of what it names too.

    A "cpu" part is ``burn``'s process, for as long as the others run; it has no figures."""
    watched = watched or Watched()
    burner = burn.start() if any(part.kind == "cpu" for part in parts) else None
    parts = [part for part in parts if part.kind != "cpu"]

    def readings() -> list[dict[int, float]]:
        server = descendants(watched.server) if watched.server is not None else []
        mock = [watched.mock] if watched.mock is not None else []
        database = named("postgres") if watched.postgres else []
        return [cpu_by_pid(pids) for pids in (server, mock, database, insi_process(server))]

    before = readings()
    machine_before, wrk_before = machine_seconds(), _children_cpu()
    try:
        processes = [wrk(bench, base, part, seconds, update_from) for part in parts]
        results = [result_of(p, part) for p, part in zip(processes, parts, strict=True)]
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()  # its CPU then counts with wrk's (the "wrk cores" column)
    spent = [spent_since(b, now) for b, now in zip(before, readings(), strict=True)]
    machine = [now - then for now, then in zip(machine_seconds(), machine_before, strict=True)]
    # wrk's runs have ended and been waited for: their CPU is in this process's children's.
    wrk_cpu = _children_cpu() - wrk_before
    # Over every part's requests: the CPU the served processes (and the database server) spent
    # per request, the figure that stays comparable when other work loads the machine; the
    # mock's per INSi call. Together they say what share of the machine the INSi callers take.
    requests = sum(float(r["req_s"]) for r in results) * seconds  # type: ignore[arg-type]
    insi = sum(float(r["req_s"]) for r in results if r["kind"] == "insi") * seconds  # type: ignore[arg-type]
    load1 = round(os.getloadavg()[0], 1)
    for result in results:
        result["load"] = load1
        result["cpu_ms"] = _per(spent[0], requests) if watched.server is not None else ""
        insi_part = watched.mock is not None and result["kind"] == "insi"
        result["mock_ms"] = _per(spent[1], insi) if insi_part else ""
        # Already in the served processes' figure: the part of it the INSi process spent.
        result["insi_ms"] = _per(spent[3], insi) if result["kind"] == "insi" else ""
        result["db_ms"] = _per(spent[2], requests) if watched.postgres else ""
        result.update(_machine_shares(machine, wrk_cpu, sum(spent[:3])))
    return results


def insi_process(server: list[int]) -> list[int]:
    """The INSi process among the served processes (`socle serve` runs one beside its workers)."""
    found = []
    for pid in server:
        try:
            if b"insi-process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:  # ended meanwhile
            continue
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_shares(machine: list[float], wrk_cpu: float, ours: float) -> dict[str, float]:
    """Cores used by wrk, by every process outside the scenario, and left idle, on average.

    The served processes, the mock and PostgreSQL share the machine with wrk and with whatever
    else runs on it; a scenario whose "other" cores differ from its reference's did not run on
    the same machine, whatever its figures say.
    """
    busy, idle = machine
    # Over the whole run (wrk's start and end included), so a little above ``seconds``.
    wall = (busy + idle) / (os.cpu_count() or 1)
    return {
        "wrk_cores": round(wrk_cpu / wall, 2),
        "other_cores": round(max(busy - wrk_cpu - ours, 0.0) / wall, 2),
        "idle_cores": round(idle / wall, 2),
    }


def warm_up(bench: Bench, base: str) -> None:
    """The first requests of each worker build caches and pools: not timed."""
    for kind in ("read", "match", "create"):
        run_scenario(bench, base, [Part(kind, 4)], 2)


BESIDE = (" + insi x8", " + cpu")


def beside_insi(figures: dict[str, list[dict[str, object]]]) -> list[str]:
    """Each "X + insi x8" (or "X + cpu") scenario against "X" alone: throughput kept and p99,
    over the rounds.

    On a machine whose speed drifts from minute to minute, one pair of runs says little: the
    sums over rounds that alternate the two scenarios compare like with like.
    """
    lines = []
    for name, runs in figures.items():
        reference = _reference(name)
        alone = figures.get(reference) if reference else None
        if not alone:
            continue
        rounds = min(len(runs), len(alone))
        kept = _sum(runs[:rounds], "req_s") / _sum(alone[:rounds], "req_s")
        p99 = _sum(runs[:rounds], "p99_ms") / _sum(alone[:rounds], "p99_ms")
        lines.append(
            # One decimal: the targets (90 %, 20 %) are lines that readings come close to.
            f"{name}: {kept:.1%} of the throughput alone, p99 {p99 - 1:+.1%} "
            f"({rounds} round{'s' if rounds > 1 else ''})"
        )
    return lines


def _in_rounds(scenarios: list[str], rounds: int) -> list[str]:
    """The scenarios ``rounds`` times, every other round in reverse order, each "X + insi x8"
    (or "X + cpu") right after its "X".

    The referential grows with every creation and every access record, and the machine's speed
    drifts: in the same order every round, "X + insi x8" always came after "X" and was measured
    on a fuller referential. Reversed every other round, over an even number of rounds each
    comes first as often as the other, and a steady drift weighs on both alike. Side by side,
    the two runs compared are minutes apart at most, however many other scenarios are asked.
    """
    order = _paired(scenarios)
    return [name for r in range(rounds) for name in (order if r % 2 == 0 else order[::-1])]


def _reference(name: str) -> str | None:
    """The scenario "X" that "X + insi x8" (or "X + cpu") is compared with; None for others."""
    suffix = next((s for s in BESIDE if name.endswith(s)), None)
    return name.removesuffix(suffix) if suffix else None


def _paired(scenarios: list[str]) -> list[str]:
    """The scenarios in the order asked, each one beside "X" moved right after that "X"."""
    compared = {n for n in scenarios if _reference(n) in scenarios}
    order = []
    for name in scenarios:
        if name not in compared:
            order += [name, *(n for n in scenarios if n in compared and _reference(n) == name)]
    return order


def _sum(runs: list[dict[str, object]], key: str) -> float:
    return sum(float(str(r[key])) for r in runs)


def _errors(result: dict[str, object]) -> str:
    statuses = result["statuses"]
    detail = ", ".join(f"{n}×{code}" for code, n in sorted(statuses.items())) if statuses else ""  # type: ignore[attr-defined]
    return f"{result['errors']}" + (f" ({detail})" if detail else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--identities", type=int, default=14_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=int, default=10, help="each scenario's duration")
    parser.add_argument("--insi-latency-ms", type=int, default=300)
    parser.add_argument(
        "--insi-mock",
        choices=["process", "embedded"],
        default="process",
        help="the mock INSi in a process of its own (as the real, remote teleservice), or the "
        "one embedded in the served processes (it then answers in their event loops)",
    )
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the scenarios this many times in turn, every other round in reverse order; "
        "the shares beside INSi are then summed over the rounds, each scenario next in time to "
        "its reference (use an even number)",
    )
    parser.add_argument(
        "--cpu-per-second",
        type=float,
        default=Burn.per_second,
        help="the cpu part's wake-ups a second (8 INSi searchers make about 23 searches)",
    )
    parser.add_argument(
        "--cpu-ms",
        type=float,
        default=Burn.ms,
        help="the cpu part's CPU per wake-up: what a search costs the served processes and the "
        "mock ('insi x8 alone' prints it)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server-log", default="", help="append the servers' stderr to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    # Identities each mixed run of one server may update; too few stop it before the load.
    updates = update_share(args)
    workdir = Path(tempfile.mkdtemp(prefix="socle-load-"))
    try:
        bench = prepare(args, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    database = "postgresql" if bench.schema else "sqlite"
    mock, endpoint = start_mock(args) if args.insi_mock == "process" else (None, "")
    print(
        f"# {database}, {bench.max_id} identities, INSi mock ({args.insi_mock}) "
        f"at {args.insi_latency_ms} ms"
    )
    print(
        "| workers | scenario | part | req/s | p50 ms | p99 ms | mean ms | errors "
        "| server CPU ms/req | PostgreSQL CPU ms/req | mock CPU ms/call "
        "| INSi process CPU ms/search | load | wrk cores | other cores | idle cores |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    try:
        for run, workers in enumerate(args.workers):
            process, base = serve(bench, workers, args, endpoint)
            update_from = 1 + run * bench.max_id // len(args.workers)
            updating = itertools.count()
            try:
                warm_up(bench, base)
                figures: dict[str, list[dict[str, object]]] = {}
                for name in _in_rounds(args.scenarios, args.rounds):
                    parts = SCENARIOS[name]
                    watched = Watched(
                        process.pid, mock.pid if mock is not None else None, bool(bench.schema)
                    )
                    first = update_from
                    if any(part.kind == "mixed" for part in parts):
                        first += next(updating) * updates
                    burn = Burn(args.cpu_per_second, args.cpu_ms)
                    results = run_scenario(bench, base, parts, args.seconds, first, watched, burn)
                    figures.setdefault(name, []).append(results[0])
                    for r in results:
                        print(
                            f"| {workers} | {name} | {r['kind']} x{r['clients']} | {r['req_s']} "
                            f"| {r['p50_ms']} | {r['p99_ms']} | {r['mean_ms']} | {_errors(r)} "
                            f"| {r['cpu_ms']} | {r['db_ms']} | {r['mock_ms']} | {r['insi_ms']} "
                            f"| {r['load']} "
                            f"| {r['wrk_cores']} | {r['other_cores']} | {r['idle_cores']} |",
                            flush=True,
                        )
                for line in beside_insi(figures):
                    print(f"# {workers} workers: {line}", flush=True)
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
    finally:
        if mock is not None:
            mock.send_signal(signal.SIGINT)
            mock.wait(timeout=30)
        if bench.schema:
            with make_engine(args.database_url).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{bench.schema}" CASCADE'))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
