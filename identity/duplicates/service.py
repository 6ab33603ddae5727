"""Duplicate detection in the referential: on every write, on demand, and as a batch scan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from identity.duplicates import matcher, merges, queue
from identity.referential import repository
from identity.referential.models import Identity
from identity.referential.schemas import MatchRequest
from identity.referential.traits import normalized_fields
from matching.batch import dedupe
from matching.config import MatchConfig
from matching.records import IdentityRecord
from referentials.core.auth import Principal


@dataclass(frozen=True)
class DuplicateSettings:
    """How the referential uses the matcher; passed in by the composition root."""

    model_path: str = ""
    config: MatchConfig = field(default_factory=MatchConfig)
    # Automatic merges for the narrow rule "same qualified INS and same strict traits".
    auto_merge: bool = False


_settings = DuplicateSettings()


def configure(settings: DuplicateSettings) -> None:
    """Use these settings from now on; the model is read here, so that a model file that
    cannot be used stops the process at its start (matching.model.ModelFileError), not at
    its first creation."""
    global _settings
    matcher.load_model(settings.model_path)
    _settings = settings


def current() -> DuplicateSettings:
    return _settings


def find_for(session: Session, identity: Identity) -> list[matcher.Candidate]:
    """The likely duplicates of ``identity`` as it is in memory, found before it is written.

    Scoring is the costly part of a write: done first, with nothing flushed, the write
    transaction that follows is short (on SQLite it holds the one writer's lock only for the
    writes themselves). A new identity (no id yet) is simply not among the candidates.
    """
    if not identity.active:
        return []
    with session.no_autoflush:
        return matcher.find(
            session,
            matcher.to_record(identity),
            model=matcher.load_model(_settings.model_path),
            config=_settings.config,
            exclude=identity.id,
        )


def check_after_write(
    session: Session,
    principal: Principal,
    identity: Identity,
    found: list[matcher.Candidate] | None = None,
    *,
    new: bool = False,
) -> list[matcher.Candidate]:
    """Refresh the identity's keys and queue its likely duplicates (``found``: scored before)."""
    matcher.refresh_keys(session, identity, new=new)
    if not identity.active:
        return []
    if found is None:
        found = find_for(session, identity)
    for candidate in found:
        if _settings.auto_merge and _auto_mergeable(identity, candidate.identity):
            survivor = merges.propose_survivor(identity, candidate.identity)
            loser = candidate.identity if survivor is identity else identity
            merges.merge(
                session,
                principal,
                survivor_id=survivor.id,
                loser_id=loser.id,
                reason="automatic: same qualified INS and strict traits",
                automatic=True,
            )
            return [c for c in found if c.identity.id != candidate.identity.id]
        queue.enqueue(
            session, identity, candidate.identity, candidate.pair, origin="realtime", new=new
        )
    return found


def _auto_mergeable(a: Identity, b: Identity) -> bool:
    same_traits = (a.birth_name, a.first_names, a.sex, a.birth_date, a.birth_place_code) == (
        b.birth_name,
        b.first_names,
        b.sex,
        b.birth_date,
        b.birth_place_code,
    )
    return (
        a.status == b.status == "QUAL"
        and a.ins_matricule is not None
        and a.ins_matricule == b.ins_matricule
        and same_traits
        and not (a.attribute_set | b.attribute_set)
    )


def _query_record(request: MatchRequest) -> IdentityRecord:
    fields = normalized_fields(request, date.today())
    return IdentityRecord(
        id="query",
        birth_name=fields.get("birth_name") or "",
        first_names=tuple((fields.get("first_names") or "").split()),
        used_name=fields.get("used_name") or "",
        used_first_name=fields.get("used_first_name") or "",
        sex=fields.get("sex") or "",
        birth_date=fields["birth_date"].isoformat() if fields.get("birth_date") else "",
        birth_place_code=fields.get("birth_place_code") or "",
    )


def match_traits(session: Session, request: MatchRequest, limit: int) -> list[matcher.Candidate]:
    """The front desk's search before creating (recherche d'antériorité)."""
    return matcher.find(
        session,
        _query_record(request),
        model=matcher.load_model(_settings.model_path),
        config=_settings.config,
        limit=limit,
    )


def match_rows(session: Session, request: MatchRequest, limit: int) -> list[matcher.CandidateRow]:
    """As match_traits(), the identities read as plain rows (an answer that only shows them)."""
    return matcher.find_rows(
        session,
        _query_record(request),
        model=matcher.load_model(_settings.model_path),
        config=_settings.config,
        limit=limit,
    )


@dataclass
class ScanSummary:
    identities: int = 0
    candidate_pairs: int = 0
    queued: int = 0
    already_known: int = 0


def scan(session: Session, progress: Callable[[int, int], None] | None = None) -> ScanSummary:
    """Batch scan of every active identity, pair by pair through enqueue(); idempotent (known
    and refused pairs stay put). The bulk scan (identity.imports.scan) gives the same queue."""
    identities = {i.id: i for i in repository.active_identities(session)}
    records = [matcher.to_record(i) for i in identities.values()]
    pairs = dedupe(
        records, matcher.load_model(_settings.model_path), _settings.config, progress=progress
    )
    summary = ScanSummary(identities=len(records), candidate_pairs=len(pairs))
    for scored in pairs:
        a, b = identities[int(scored.left_id)], identities[int(scored.right_id)]
        queued = queue.enqueue(session, a, b, scored, origin="scan")
        if queued is None:
            summary.already_known += 1
        else:
            summary.queued += 1
    return summary
