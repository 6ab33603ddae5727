"""INS qualification: INSi searches, the coherence check, and what a CR 00 changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.errors import RuleConflict
from identity.insi.port import InsiAnswer, InsiPort, InsNumber
from identity.referential import repository, rules
from identity.referential.history import ENTITY, begin_write, emit, snapshot
from identity.referential.models import Identity, InsiCall, SourceRecord
from identity.referential.schemas import IdentityCreate, StatusChange
from identity.referential.service import finish_change, get, get_active, recompute_status
from identity.referential.traits import normalized_fields
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import utcnow

OUTCOME_OF_CR = {"01": "not_found", "02": "several"}


@dataclass
class QualificationResult:
    """What one qualification request did."""

    cr_code: str
    cr_label: str
    outcome: str
    identity: Identity | None
    status_change: StatusChange | None = None
    differences: list[str] = field(default_factory=list)
    matched_given_name: str | None = None
    calls: list[InsiCall] = field(default_factory=list)
    ins_key_valid: bool | None = None


def _record_call(
    session: Session,
    principal: Principal,
    identity_id: int | None,
    operation: str,
    answer: InsiAnswer,
    given_name: str | None,
    outcome: str,
) -> InsiCall:
    call = InsiCall(
        identity_id=identity_id,
        actor=principal.label,
        operation=operation,
        given_name_sent=given_name,
        cr_code=answer.cr_code,
        cr_label=answer.cr_label,
        outcome=outcome,
        request_xml=answer.request_xml,
        response_xml=answer.response_xml,
    )
    session.add(call)
    session.flush()
    return call


def incoherences(identity: Identity, answer: InsiAnswer, matched: str | None) -> list[str]:
    """Traits INSi returned that contradict the local ones (empty when coherent)."""
    traits = answer.traits
    if traits is None:
        return ["traits"]
    diffs = []
    if traits.sex != identity.sex:
        diffs.append("sex")
    if traits.birth_date != identity.birth_date.isoformat():
        diffs.append("birth_date")
    if _norm(traits.birth_name) != identity.birth_name:
        diffs.append("birth_name")
    returned = _norm(traits.first_names_list).split()
    local = identity.first_name_list
    # The first given name must agree, unless the given-name retry explains the difference.
    explained = matched is not None and set(_norm(matched).split()) <= set(returned)
    if not (returned and local and returned[0] == local[0]) and not explained:
        diffs.append("first_names")
    return diffs


def _norm(value: str) -> str:
    try:
        return rules.normalize_trait(value, "insi", birth_name=True)
    except rules.TraitError:
        return value.upper()


def _history(answer: InsiAnswer) -> list[dict[str, str | None]]:
    return [
        {"matricule": h.full, "oid": h.oid, "date_deb": h.date_deb, "date_fin": h.date_fin}
        for h in answer.history
    ]


def _apply(identity: Identity, answer: InsiAnswer, method: str) -> InsNumber:
    """Store the INS and replace the strict traits with INSi's values, verbatim."""
    active, traits = answer.active, answer.traits
    assert active is not None and traits is not None
    identity.ins_matricule, identity.ins_oid = active.full, active.oid
    identity.ins_history = _history(answer)
    identity.ins_retrieved_at, identity.ins_collection_method = utcnow(), method
    identity.birth_name = traits.birth_name
    identity.first_names = traits.first_names_list
    identity.first_name = traits.first_names_list.split(" ")[0]
    identity.sex = traits.sex
    identity.birth_date = date.fromisoformat(traits.birth_date)
    identity.birth_place_code = traits.birth_place_code or identity.birth_place_code
    return active


def _check_callable(identity: Identity) -> None:
    if rules.forbids_insi(identity.attribute_set):
        raise RuleConflict(
            "a DOUT or FICT identity is never sent to INSi",
            fields={"attributes": sorted(identity.attribute_set)},
        )


def qualify(
    session: Session, principal: Principal, identity_id: int, port: InsiPort
) -> QualificationResult:
    """Traits search for a stored identity; on a coherent CR 00, PROV→RECUP or VALI→QUAL."""
    identity = get_active(session, identity_id)
    _check_callable(identity)
    search = port.search_by_traits(
        identity.birth_name,
        identity.first_name_list,
        identity.sex,
        identity.birth_date,
        identity.birth_place_code,
    )
    calls = [
        _record_call(
            session,
            principal,
            identity.id,
            "traits",
            t.result,
            t.given_name_sent,
            OUTCOME_OF_CR.get(t.result.cr_code, "pending"),
        )
        for t in search.attempts
    ]
    result = _conclude(
        session,
        principal,
        identity,
        search.final,
        search.matched_given_name,
        method="INSI",
        last_call=calls[-1],
    )
    result.calls = calls
    return result


def qualify_by_carte_vitale(
    session: Session,
    principal: Principal,
    identity_id: int,
    port: InsiPort,
    *,
    matricule: str,
    birth_rank: str | None,
) -> QualificationResult:
    """RECVITALE search with the Carte Vitale's matricule (collection method CV)."""
    identity = get_active(session, identity_id)
    _check_callable(identity)
    answer = port.search_by_carte_vitale(
        matricule[:13], matricule[13:], identity.birth_name, identity.birth_date, birth_rank
    )
    call = _record_call(
        session,
        principal,
        identity.id,
        "carte_vitale",
        answer,
        None,
        OUTCOME_OF_CR.get(answer.cr_code, "pending"),
    )
    result = _conclude(session, principal, identity, answer, None, method="CV", last_call=call)
    result.calls = [call]
    return result


def _conclude(
    session: Session,
    principal: Principal,
    identity: Identity,
    answer: InsiAnswer,
    matched: str | None,
    *,
    method: str,
    last_call: InsiCall,
) -> QualificationResult:
    result = QualificationResult(
        cr_code=answer.cr_code,
        cr_label=answer.cr_label,
        outcome=OUTCOME_OF_CR.get(answer.cr_code, "applied"),
        identity=identity,
        matched_given_name=matched,
    )
    if answer.cr_code != "00" or answer.active is None:
        last_call.outcome = result.outcome if answer.cr_code != "00" else "no_change"
        return result
    result.differences = incoherences(identity, answer, matched)
    if result.differences:
        result.outcome = last_call.outcome = "incoherent"
        return result
    last_call.outcome = "applied"
    before = snapshot(identity)
    active = _apply(identity, answer, method)
    result.ins_key_valid = rules.nir_key_is_valid(active.full)
    result.status_change = recompute_status(identity, f"INS retrieved from INSi ({method})")
    finish_change(
        session,
        principal,
        identity,
        before,
        action="insi_qualification",
        reason=f"INSi CR 00 ({method})",
        change=result.status_change,
    )
    duplicates.check_after_write(session, principal, identity)
    return result


def create_from_insi(
    session: Session, principal: Principal, data: IdentityCreate, port: InsiPort
) -> QualificationResult:
    """The front desk's flow: INSi first, then a RECUP identity made of the returned traits."""
    fields = normalized_fields(data, date.today())
    search = port.search_by_traits(
        fields["birth_name"],
        fields["first_names"].split(" "),
        fields["sex"],
        fields["birth_date"],
        fields.get("birth_place_code"),
    )
    answer = search.final
    calls = [
        _record_call(
            session,
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
    if answer.cr_code != "00" or answer.active is None or answer.traits is None:
        return result
    existing = repository.by_active_ins(session, answer.active.full)
    if existing is not None:
        result.identity, result.outcome = existing, "existing"
    else:
        result.identity = _create_recup(session, principal, data, answer)
        result.ins_key_valid = rules.nir_key_is_valid(answer.active.full)
    for call in calls:
        call.identity_id = result.identity.id
    return result


def _create_recup(
    session: Session, principal: Principal, data: IdentityCreate, answer: InsiAnswer
) -> Identity:
    begin_write(session)
    fields = normalized_fields(data, date.today())
    identity = Identity(status="PROV", attributes="", **fields)
    session.add(identity)
    _apply(identity, answer, "INSI")
    identity.status = "RECUP"
    session.flush()
    if data.source is not None:
        session.add(
            SourceRecord(
                identity_id=identity.id, finess=data.source.finess, local_id=data.source.local_id
            )
        )
        session.flush()
    session.refresh(identity)
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=identity.id,
        action="create_from_insi",
        after=snapshot(identity),
        reason="INSi CR 00",
    )
    emit(session, "identity.created", identity.id, status=identity.status)
    duplicates.check_after_write(session, principal, identity)
    return identity


def calls_of(session: Session, identity_id: int) -> list[InsiCall]:
    """Every INSi call made for an identity, oldest first."""
    get(session, identity_id)
    return repository.insi_calls(session, identity_id)
