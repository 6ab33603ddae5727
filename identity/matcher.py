"""The real-time duplicate check: blocking keys kept in step, candidates scored on demand."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, selectinload

from identity.models import Identity, MatchKey
from matching import blocking
from matching.config import MatchConfig
from matching.model import MatchModel, default_model
from matching.records import IdentityRecord
from matching.scoring import ScoredPair, score_pair

# Candidates read per blocking key: an over-common key (MARTIN + a frequent year) must not turn
# a front-desk search into a scan; other passes (full date, place) still find the true match.
PER_KEY_CAP = 200


@dataclass(frozen=True)
class Candidate:
    identity: Identity
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
    return sorted({f"{name}:{key}" for name, key in blocking.blocking_keys(record)})


def refresh_keys(session: Session, identity: Identity) -> None:
    """Replace an identity's keys; an inactive (merged) identity has none."""
    session.execute(delete(MatchKey).where(MatchKey.identity_id == identity.id))
    if identity.active:
        rows = [{"identity_id": identity.id, "key": k} for k in keys_of(to_record(identity))]
        if rows:
            session.execute(insert(MatchKey), rows)


def candidate_ids(session: Session, record: IdentityRecord, exclude: int | None) -> set[int]:
    ids: set[int] = set()
    for key in keys_of(record):
        stmt = select(MatchKey.identity_id).where(MatchKey.key == key).limit(PER_KEY_CAP)
        ids.update(session.scalars(stmt))
    ids.discard(exclude if exclude is not None else -1)
    return ids


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
    ids = candidate_ids(session, record, exclude)
    if not ids:
        return []
    stmt = (
        select(Identity)
        .where(Identity.id.in_(ids), Identity.active.is_(True))
        .options(selectinload(Identity.sources))
    )
    found = []
    for identity in session.scalars(stmt):
        pair = score_pair(record, to_record(identity), model, config)
        if pair.band != "non-match":
            found.append(Candidate(identity=identity, pair=pair))
    found.sort(key=lambda c: (-c.pair.score, c.identity.id))
    return found[:limit]
