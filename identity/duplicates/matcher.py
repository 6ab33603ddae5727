"""The real-time duplicate check: blocking keys kept in step, candidates scored on demand."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session

from identity.referential import repository
from identity.referential.models import Identity, MatchKey
from identity.referential.rows import IdentityRow
from matching import blocking
from matching.config import MatchConfig
from matching.model import MatchModel, default_model
from matching.realtime import score_against
from matching.records import IdentityRecord
from matching.scoring import ScoredPair

# A key shared by more identities than this is over-common (a frequent name with a frequent
# year): it no longer discriminates, so it is skipped rather than cut to an arbitrary slice;
# the selective passes (full date, place, INS) still bring the true match.
PER_KEY_CAP = 100
MATCH_KEYS = cast(Table, MatchKey.__table__)


@dataclass(frozen=True)
class Candidate:
    identity: Identity
    pair: ScoredPair


@dataclass(frozen=True)
class CandidateRow:
    """A candidate to show, read as a plain row (see identity.referential.rows)."""

    identity: IdentityRow
    pair: ScoredPair


@lru_cache(maxsize=4)
def load_model(path: str = "") -> MatchModel:
    """The scoring model: a trained file when configured, else the built-in one."""
    return MatchModel.load(path) if path else default_model()


def to_record(identity: Identity) -> IdentityRecord:
    """The matching library's view of a stored identity."""
    return IdentityRecord(
        id=str(identity.id),
        birth_name=identity.birth_name,
        first_names=tuple(identity.first_name_list),
        used_name=identity.used_name or "",
        used_first_name=identity.used_first_name or "",
        sex=identity.sex,
        birth_date=identity.birth_date.isoformat(),
        birth_place_code=identity.birth_place_code or "",
        ins=identity.ins_matricule or "",
        ins_history=tuple(
            str(h.get("matricule", "")) for h in (identity.ins_history or []) if h.get("matricule")
        ),
    )


def keys_of(record: IdentityRecord) -> list[str]:
    """The blocking keys of a record (its id plays no part)."""
    return list(_keys_of_traits(replace(record, id="")))


# A write computes an identity's keys twice: to find its candidates before it writes, and to
# store them inside its write transaction (on SQLite, with the one writer's lock held). The
# second time is a look-up here.
@lru_cache(maxsize=1024)
def _keys_of_traits(record: IdentityRecord) -> tuple[str, ...]:
    return tuple(sorted({f"{name}:{key}" for name, key in blocking.blocking_keys(record)}))


def refresh_keys(session: Session, identity: Identity, *, new: bool = False) -> None:
    """Replace an identity's keys; an inactive (merged) identity has none (``new``: none yet)."""
    if not new:
        session.execute(delete(MatchKey).where(MatchKey.identity_id == identity.id))
    if identity.active:
        rows = [{"identity_id": identity.id, "key": k} for k in keys_of(to_record(identity))]
        if rows:
            # One statement with every row (not one execution per key, nor the ORM's bulk
            # path): inside the write transaction each execution gives up and takes back the
            # interpreter's lock, which costs milliseconds when other requests are scoring.
            session.execute(insert(MATCH_KEYS).values(rows))


def candidate_ids(session: Session, record: IdentityRecord, exclude: int | None) -> set[int]:
    ids: set[int] = set()
    common: list[set[int]] = []
    for block in repository.key_blocks(session, keys_of(record), PER_KEY_CAP + 1).values():
        if len(block) > PER_KEY_CAP:
            common.append(block)
        else:
            ids.update(block)
    if not ids and common:
        # Every key is over-common (a sparse query): the smallest block is the best we have.
        ids = min(common, key=len)
    ids.discard(exclude if exclude is not None else -1)
    return ids


def row_record(record_id: str, row: Any) -> IdentityRecord:
    """A stored identity's match row as a plain record (the matching library's input)."""
    return IdentityRecord(
        id=record_id,
        birth_name=row.birth_name,
        first_names=tuple(row.first_names.split()),
        used_name=row.used_name or "",
        used_first_name=row.used_first_name or "",
        sex=row.sex,
        birth_date=row.birth_date.isoformat(),
        birth_place_code=row.birth_place_code or "",
        ins=row.ins_matricule or "",
        ins_history=tuple(
            str(h.get("matricule", "")) for h in (row.ins_history or []) if h.get("matricule")
        ),
    )


def _light_records(session: Session, ids: set[int]) -> list[IdentityRecord]:
    """Candidates as plain records, read column-wise: most of them score below review."""
    return [row_record(str(r.id), r) for r in repository.match_rows(session, ids)]


# The referential's size sets the prior of every pair. A count over a million rows costs more
# than a duplicate check and moves slowly, so a large size is read at most every
# SIZE_TTL_SECONDS per process; a small referential is counted every time (cheap, and exact).
SIZE_TTL_SECONDS = 300.0
SIZE_CACHE_MIN = 10_000
_sizes: dict[int, tuple[int, float]] = {}  # per engine: (count, monotonic time read)


def referential_size(session: Session) -> int:
    """Number of identities in the referential (cached when large)."""
    now, engine = time.monotonic(), id(session.get_bind())
    found = _sizes.get(engine)
    if found is None or found[0] < SIZE_CACHE_MIN or now - found[1] > SIZE_TTL_SECONDS:
        found = _sizes[engine] = (repository.count(session), now)
    return found[0]


def rank(
    session: Session,
    record: IdentityRecord,
    *,
    model: MatchModel,
    config: MatchConfig,
    exclude: int | None = None,
    limit: int = 20,
) -> list[ScoredPair]:
    """The pairs of active identities in the review band or above, best first (scores only)."""
    ids = candidate_ids(session, record, exclude)
    if not ids:
        return []
    if not config.referential_size:
        # Never below the model's reference size: a young referential holds the first patients
        # of a region, and a tiny size would give every pair a high prior (a flooded queue).
        size = max(referential_size(session), model.reference_size)
        config = replace(config, referential_size=size)
    pairs = score_against(record, _light_records(session, ids), model, config)
    pairs.sort(key=lambda p: (-p.score, int(p.right_id)))
    return pairs[:limit]


def find(
    session: Session,
    record: IdentityRecord,
    *,
    model: MatchModel,
    config: MatchConfig,
    exclude: int | None = None,
    limit: int = 20,
) -> list[Candidate]:
    """Active identities in the review band or above, best first."""
    pairs = rank(session, record, model=model, config=config, exclude=exclude, limit=limit)
    loaded = repository.identities_by_id(session, [int(p.right_id) for p in pairs])
    return [Candidate(identity=loaded[int(p.right_id)], pair=p) for p in pairs]


def find_rows(
    session: Session,
    record: IdentityRecord,
    *,
    model: MatchModel,
    config: MatchConfig,
    limit: int = 20,
) -> list[CandidateRow]:
    """As find(), the identities read as plain rows: for an answer that only shows them."""
    pairs = rank(session, record, model=model, config=config, limit=limit)
    loaded = repository.identity_rows(session, [int(p.right_id) for p in pairs])
    return [CandidateRow(identity=loaded[int(p.right_id)], pair=p) for p in pairs]
