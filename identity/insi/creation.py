"""The front desk's flow: INSi first, then a RECUP identity made of the returned traits.

It follows ``create``'s rules: the same local id again names the identity that holds it, and a
concurrent creation of that local id ends in a lookup inside a savepoint, never in a 500. An INS
already held by an identity gets the caller's local id attached to that identity (audited).
The traits INSi returns must be coherent with the typed ones, as in ``qualify``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.insi.port import InsiAnswer, InsiPort, TraitsSearch
from identity.insi.service import (
    OUTCOME_OF_CR,
    QualificationResult,
    TypedTraits,
    apply_answer,
    call_record,
    incoherences,
    store_calls,
)
from identity.referential import local_ids, repository, rules
from identity.referential.history import ENTITY, emit, snapshot
from identity.referential.models import Identity, SourceRecord
from identity.referential.schemas import IdentityCreate, SourceRef
from identity.referential.service import insert_new
from identity.referential.traits import normalized_fields
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import end_transaction


def create_from_insi(
    session: Session, principal: Principal, data: IdentityCreate, port: InsiPort
) -> QualificationResult:
    """INSi search with the typed traits; on a coherent CR 00, the identity of that INS."""
    fields = typed_fields(session, data)
    return apply_typed(session, principal, data, fields, search_typed(port, fields))


def typed_fields(session: Session, data: IdentityCreate) -> dict[str, Any]:
    """The typed traits, normalised; then the request's reads so far end (nothing held)."""
    fields = normalized_fields(data, date.today())
    end_transaction(session)
    return fields


def search_typed(port: InsiPort, fields: dict[str, Any]) -> TraitsSearch:
    """The INSi traits search of the typed traits (no transaction open)."""
    return port.search_by_traits(
        fields["birth_name"],
        fields["first_names"].split(" "),
        fields["sex"],
        fields["birth_date"],
        fields.get("birth_place_code"),
    )


def apply_typed(
    session: Session,
    principal: Principal,
    data: IdentityCreate,
    fields: dict[str, Any],
    search: TraitsSearch,
) -> QualificationResult:
    """What the answer makes: checked first, every write (calls included) last."""
    answer = search.final
    calls = [
        call_record(
            principal,
            None,
            "traits",
            t.result,
            t.given_name_sent,
            OUTCOME_OF_CR.get(t.result.cr_code, "applied"),
        )
        for t in search.attempts
    ]
    result = QualificationResult(
        cr_code=answer.cr_code,
        cr_label=answer.cr_label,
        outcome=OUTCOME_OF_CR.get(answer.cr_code, "applied"),
        identity=None,
        matched_given_name=search.matched_given_name,
        calls=calls,
    )
    if answer.cr_code == "00" and answer.active is not None and answer.traits is not None:
        _conclude(session, principal, data, fields, answer, result)
    store_calls(session, calls)
    return result


def _conclude(
    session: Session,
    principal: Principal,
    data: IdentityCreate,
    fields: dict[str, Any],
    answer: InsiAnswer,
    result: QualificationResult,
) -> None:
    assert answer.active is not None
    calls = result.calls
    result.differences = incoherences(TypedTraits.of(fields), answer, result.matched_given_name)
    if result.differences:
        # Nothing is created from traits that contradict the typed ones.
        result.outcome = calls[-1].outcome = "incoherent"
        return
    result.identity, result.outcome = _place(session, principal, data, fields, answer)
    calls[-1].outcome = "applied" if result.outcome == "applied" else "no_change"
    if result.outcome == "applied":
        result.ins_key_valid = rules.nir_key_is_valid(answer.active.full)
    for call in calls:
        call.identity_id = result.identity.id


def _place(
    session: Session,
    principal: Principal,
    data: IdentityCreate,
    fields: dict[str, Any],
    answer: InsiAnswer,
) -> tuple[Identity, str]:
    """The identity the answer belongs to: the local id's, the INS holder's, or a new one."""
    assert answer.active is not None
    source = data.source
    if source is not None:
        held = repository.by_source(session, source.finess, source.local_id)
        if held is not None:
            return held, "existing"
    holder = repository.by_active_ins(session, answer.active.full)
    if holder is not None:
        if source is not None:
            local_ids.attach(
                session,
                principal,
                holder,
                finess=source.finess,
                local_id=source.local_id,
                reason="INSi creation: this identity already holds the INS returned",
            )
        return holder, "existing"
    return _create_recup(session, principal, fields, source, answer)


def _create_recup(
    session: Session,
    principal: Principal,
    fields: dict[str, Any],
    source: SourceRef | None,
    answer: InsiAnswer,
) -> tuple[Identity, str]:
    identity = Identity(status="RECUP", attributes="", active=True, **fields)
    apply_answer(identity, answer, "INSI")
    # Scored before the first write: the write transaction then only writes.
    found = duplicates.find_for(session, identity)
    # Set, not loaded: queueing its pairs reads it, and a lazy load would be one more query.
    identity.sources = (
        [SourceRecord(finess=source.finess, local_id=source.local_id)] if source else []
    )
    try:
        # As in `create`: a concurrent creation of this local id ends in a lookup.
        insert_new(session, identity, savepoint=source is not None)
    except IntegrityError:
        held = repository.by_source(session, source.finess, source.local_id) if source else None
        if held is None:
            raise
        return held, "existing"
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action="create_from_insi",
        after=snapshot(identity),
        reason="INSi CR 00",
    )
    emit(session, principal, "identity.created", identity.id, status=identity.status)
    duplicates.check_after_write(session, principal, identity, found, new=True)
    return identity, "applied"
