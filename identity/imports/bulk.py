"""The bulk load of an establishment's identity file: the per-row load's outcome, by chunks.

Each chunk of rows is decided as a whole (plan.py), its created rows are checked for
duplicates as the real-time check would check them one by one (candidates.py), then
identities, local ids, blocking keys, audit entries, events and queue pairs are written with
one statement per table (on PostgreSQL the first three from a thread, while the chunk's pairs
are scored). Each chunk is committed: a rerun skips the local ids already loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import closing
from datetime import date
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import service as duplicates
from identity.duplicates.matcher import load_model
from identity.imports import candidates
from identity.imports import repository as reads
from identity.imports.checkpoints import Checkpoints, load_sessions
from identity.imports.encoded import EncodedStore
from identity.imports.plan import ChunkPlan, ParsedChunk, plan_chunk
from identity.imports.queue import JSON_TEXT, PAIR_COLUMNS, pair_rows
from identity.imports.reader import parsed_chunks
from identity.imports.service import ImportSummary
from identity.referential.history import ENTITY, emit_many, snapshot
from identity.referential.local_ids import ACTION as ATTACHED
from identity.referential.local_ids import EVENT as ATTACHED_EVENT
from identity.referential.models import DuplicatePair, Identity, MatchKey, SourceRecord
from matching.features import helper_process
from matching.model import MatchModel
from matching.runtime import gc_paused
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.bulk_insert import insert_tuples
from referentials.core.db import session_scope

# Rows decided and written per transaction: bounds memory and the work a crash loses.
CHUNK = 10_000


def import_file(
    factory: sessionmaker[Session],
    principal: Principal,
    path: Path,
    *,
    finess: str,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK,
    parallel: bool = False,
) -> ImportSummary:
    """Create or attach each row's identity and queue its likely duplicates, chunk by chunk.

    ``parallel`` (the CLI only: a serving process never forks): a helper process, forked
    before the first chunk while this one is small, builds the candidates' surname features
    (the longest step) while this one does the rest; it keeps its own cache across chunks.
    On SQLite, another forked process reads and parses the next chunk (reader.py).
    """
    summary = ImportSummary()
    model = load_model(duplicates.current().model_path)
    # The next chunk is parsed meanwhile: in a forked process from the CLI (in a thread, its 15 s
    # of parsing in a 1M load competed for the GIL the load needs), in a thread when serving (a
    # serving process never forks).
    chunks = parsed_chunks(path, finess, date.today(), chunk_size, process=parallel)
    # The stored candidates encoded by a chunk, kept for the next ones (encoded.py).
    store = EncodedStore()
    # A chunk builds millions of small acyclic objects (rows, records, keys): the cyclic
    # collector would rescan them all every few thousand allocations (a fifth of the CPU). It
    # stays paused between chunks too: turned back on, it ran a full pass over what the load
    # keeps (the store's rows) after most chunks, 2 to 6 s of a 1M load (py-spy).
    with (
        gc_paused(),
        helper_process(parallel) as helper,
        closing(chunks),
        load_sessions(factory) as (sessions, checkpoints, beside),
    ):
        aids = (helper, store, checkpoints, beside)
        for chunk in chunks:
            _chunk(sessions, principal, chunk, finess, model, aids, summary)
            if progress:
                progress(summary.rows)
    summary.errors.sort()
    return summary


def _chunk(
    factory: sessionmaker[Session],
    principal: Principal,
    chunk: ParsedChunk,
    finess: str,
    model: MatchModel,
    aids: tuple[Executor | None, EncodedStore, Checkpoints, Connection | None],
    summary: ImportSummary,
) -> None:
    """Decide, check and write one chunk in one transaction."""
    helper, store, checkpoints, beside = aids
    config = duplicates.current().config
    with session_scope(factory) as session:
        plan = plan_chunk(session, chunk, finess)
        keys = [c.keys for c in plan.creates]
        created = [c.fields for c in plan.creates]
        checked = candidates.read(session, created, model, config, keys, store, beside)
        if session.get_bind().dialect.name == "postgresql":
            # The chunk's identities, local ids and blocking keys are sent from a thread, on
            # the chunk's connection, while its pairs are scored here (which reads nothing):
            # the server's work on the key index, its foreign key and the others was a fifth
            # of a 1M load that this process spent waiting. Ids come from a sequence: taking
            # them early holds nothing. Not on SQLite: it would hold the write lock meanwhile.
            ids = reads.reserve_ids(session, len(plan.creates))
            connection = session.connection()
            with ThreadPoolExecutor(1, thread_name_prefix="bulk-write") as thread:
                written = thread.submit(_first_writes, connection, finess, plan, ids)
                scored = candidates.score(checked, model, helper, store)
            attached = written.result()
            found = candidates.named(session, checked, scored)
            pairs_of = pair_rows(session, found, ids, finess, helper)  # built by the helper
        else:
            scored = candidates.score(checked, model, helper, store)
            found = candidates.named(session, checked, scored)
            checkpoints.wait()  # the last chunk's, copied meanwhile
            ids = reads.reserve_ids(session, len(plan.creates))
            pairs_of = pair_rows(session, found, ids, finess, helper)  # built meanwhile
            attached = _first_writes(session, finess, plan, ids)
        _write(session, principal, finess, plan, ids, attached, pairs_of, summary)
        store.created(ids, keys)
    checkpoints.start()


# What a created identity holds besides its traits (the model's defaults).
NEW_IDENTITY: dict[str, Any] = {
    "status": "PROV",
    "attributes": "",
    "birth_date_estimated": False,
    "active": True,
    "version": 1,
}
TRAITS = (
    "birth_name", "first_names", "first_name", "sex", "birth_date", "birth_place_code",
    "used_name", "used_first_name",
)  # fmt: skip
IDENTITY_COLUMNS = ("id", *TRAITS, *NEW_IDENTITY)
# Every attribute snapshot() reads that a new identity leaves empty.
EMPTY = dict.fromkeys(
    ("ins_matricule", "ins_oid", "ins_history", "ins_retrieved_at", "ins_collection_method",
     "ins_old", "validation_document", "validation_date", "merged_into_id"),
)  # fmt: skip


def _identity_rows(ids: list[int], plan: ChunkPlan) -> list[tuple[Any, ...]]:
    defaults = tuple(NEW_IDENTITY.values())
    return [
        (i, *(c.fields.get(t) for t in TRAITS), *defaults)
        for i, c in zip(ids, plan.creates, strict=True)
    ]


def _snapshots(ids: list[int], plan: ChunkPlan) -> list[tuple[int, dict[str, Any]]]:
    """history.snapshot() of each created identity, from its plain fields (no ORM object)."""
    return [
        (i, snapshot(cast(Identity, SimpleNamespace(**EMPTY, **NEW_IDENTITY, **c.fields))))
        for i, c in zip(ids, plan.creates, strict=True)
    ]


def _first_writes(
    bind: Session | Connection,
    finess: str,
    plan: ChunkPlan,
    ids: list[int],
) -> list[tuple[int, str]]:
    """The created identities, every local id and the created identities' blocking keys;
    returns the attached (identity id, local id) pairs. Touches nothing but ``bind``."""
    insert_tuples(bind, Identity, IDENTITY_COLUMNS, _identity_rows(ids, plan))
    sources = [(i, finess, c.local_id) for i, c in zip(ids, plan.creates, strict=True)]
    attached: list[tuple[int, str]] = []
    for a in plan.attaches:
        target = a.identity_id if a.new_index is None else ids[a.new_index]
        assert target is not None  # an attach names a stored identity or a created row
        sources.append((target, finess, a.local_id))
        attached.append((target, a.local_id))
    insert_tuples(bind, SourceRecord, ("identity_id", "finess", "local_id"), sources)
    rows = [(i, k) for i, c in zip(ids, plan.creates, strict=True) for k in c.keys]
    # In key order: each page of the large key index is then written once (PostgreSQL).
    rows.sort(key=itemgetter(1))
    insert_tuples(bind, MatchKey, ("identity_id", "key"), rows)
    return attached


def _write(
    session: Session,
    principal: Principal,
    finess: str,
    plan: ChunkPlan,
    ids: list[int],
    attached: list[tuple[int, str]],
    pairs_of: Callable[[], list[tuple[Any, ...]]],
    summary: ImportSummary,
) -> None:
    """The chunk's audit entries, events and queue pairs, after ``_first_writes``."""
    audit.record_many(
        session, principal, entity_type=ENTITY, action="create", entries=_snapshots(ids, plan)
    )
    # SQLite: numbered here, the chunk's first insert having taken the write lock (emit_many).
    numbered = session.get_bind().dialect.name == "sqlite"
    created = [("identity.created", i, {"status": "PROV"}) for i in ids]
    emit_many(session, principal, created, numbered=numbered)
    # A local id joining an identity with the same strict traits: audited, with its event, as
    # the shared attach does on the per-row path.
    audit.record_many(
        session,
        principal,
        entity_type=ENTITY,
        action=ATTACHED,
        entries=[(i, {"finess": finess, "local_id": lid}) for i, lid in attached],
        reason="identity file import: same strict traits",
    )
    attach_events = [(ATTACHED_EVENT, i, {"finess": finess}) for i, _ in attached]
    emit_many(session, principal, attach_events, numbered=numbered)
    pairs = pairs_of()
    insert_tuples(session, DuplicatePair, PAIR_COLUMNS, pairs, json_text=JSON_TEXT)
    summary.rows += plan.rows
    summary.created += len(ids)
    summary.attached += len(plan.attaches)
    summary.already_known += plan.already_known
    summary.duplicates_queued += len(pairs)
    summary.errors.extend(plan.errors)
