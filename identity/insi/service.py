"""INS qualification: INSi searches, the coherence check, and what a CR 00 changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.insi.port import InsiAnswer, InsiPort, InsNumber, TraitsSearch
from identity.insi.window import Sent, read_for_call, reload, store_calls
from identity.referential import cog, repository, rules
from identity.referential.history import snapshot
from identity.referential.models import Identity, InsiCall
from identity.referential.schemas import StatusChange
from identity.referential.service import finish_change, get
from identity.referential.status import recompute_status
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


def call_record(
    principal: Principal,
    identity_id: int | None,
    operation: str,
    answer: InsiAnswer,
    given_name: str | None,
    outcome: str,
) -> InsiCall:
    """The record of one INSi call, not yet stored (``store_calls`` writes it with the answer)."""
    return InsiCall(
        identity_id=identity_id,
        actor=principal.label,
        operation=operation,
        given_name_sent=given_name,
        cr_code=answer.cr_code,
        cr_label=answer.cr_label,
        outcome=outcome,
        request_xml=answer.request_xml,
        response_xml=answer.response_xml,
        protocol_warnings=list(answer.warnings) or None,
    )


class LocalTraits(Protocol):
    """The strict traits the coherence check compares: a stored identity or typed ones."""

    @property
    def birth_name(self) -> str: ...
    @property
    def first_name_list(self) -> list[str]: ...
    @property
    def sex(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def birth_place_code(self) -> str | None: ...


@dataclass(frozen=True)
class TypedTraits:
    """Traits typed at the front desk, normalised (for the check before any identity exists)."""

    birth_name: str
    first_name_list: list[str]
    sex: str
    birth_date: date
    birth_place_code: str | None

    @classmethod
    def of(cls, fields: dict[str, Any]) -> TypedTraits:
        return cls(
            fields["birth_name"],
            fields["first_names"].split(" "),
            fields["sex"],
            fields["birth_date"],
            fields.get("birth_place_code"),
        )


def incoherences(identity: LocalTraits, answer: InsiAnswer, matched: str | None) -> list[str]:
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
    # INSi gives the commune at the birth date; a commune merged since then is the same place.
    history = cog.current()
    if not history.same_place(
        identity.birth_place_code, traits.birth_place_code, identity.birth_date
    ):
        diffs.append("birth_place_code")
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


def apply_answer(identity: Identity, answer: InsiAnswer, method: str) -> InsNumber:
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


def search_traits(port: InsiPort, sent: Sent) -> TraitsSearch:
    """The INSi traits search of what was read (no transaction open: see ``read_for_call``)."""
    return port.search_by_traits(
        sent.birth_name, list(sent.first_names), sent.sex, sent.birth_date, sent.birth_place_code
    )


def search_vitale(port: InsiPort, sent: Sent, matricule: str, birth_rank: str | None) -> InsiAnswer:
    """The INSi Carte Vitale search (no transaction open: see ``read_for_call``)."""
    return port.search_by_carte_vitale(
        matricule[:13], matricule[13:], sent.birth_name, sent.birth_date, birth_rank
    )


def qualify(
    session: Session, principal: Principal, identity_id: int, port: InsiPort
) -> QualificationResult:
    """Traits search for a stored identity; on a coherent CR 00, PROV→RECUP or VALI→QUAL."""
    sent = read_for_call(session, identity_id)
    return apply_search(session, principal, sent, search_traits(port, sent))


def apply_search(
    session: Session, principal: Principal, sent: Sent, search: TraitsSearch
) -> QualificationResult:
    """Apply a traits search's answer: re-read and checked first, every write last."""
    calls = [
        call_record(
            principal,
            sent.identity_id,
            "traits",
            t.result,
            t.given_name_sent,
            OUTCOME_OF_CR.get(t.result.cr_code, "pending"),
        )
        for t in search.attempts
    ]
    identity = reload(session, sent, calls, lock=may_apply(search.final))
    return _conclude(
        session, principal, identity, search.final, search.matched_given_name, "INSI", calls
    )


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
    sent = read_for_call(session, identity_id)
    return apply_vitale(session, principal, sent, search_vitale(port, sent, matricule, birth_rank))


def apply_vitale(
    session: Session, principal: Principal, sent: Sent, answer: InsiAnswer
) -> QualificationResult:
    """Apply a Carte Vitale search's answer: re-read and checked first, every write last."""
    outcome = OUTCOME_OF_CR.get(answer.cr_code, "pending")
    call = call_record(principal, sent.identity_id, "carte_vitale", answer, None, outcome)
    identity = reload(session, sent, [call], lock=may_apply(answer))
    return _conclude(session, principal, identity, answer, None, "CV", [call])


def may_apply(answer: InsiAnswer) -> bool:
    """Whether this answer may change the identity (a CR 00 with an INS: see ``_conclude``)."""
    return answer.cr_code == "00" and answer.active is not None


def _conclude(
    session: Session,
    principal: Principal,
    identity: Identity,
    answer: InsiAnswer,
    matched: str | None,
    method: str,
    calls: list[InsiCall],
) -> QualificationResult:
    result = QualificationResult(
        cr_code=answer.cr_code,
        cr_label=answer.cr_label,
        outcome=OUTCOME_OF_CR.get(answer.cr_code, "applied"),
        identity=identity,
        matched_given_name=matched,
        calls=calls,
    )
    last_call = calls[-1]
    if not may_apply(answer):
        last_call.outcome = result.outcome if answer.cr_code != "00" else "no_change"
    else:
        result.differences = incoherences(identity, answer, matched)
        if result.differences:
            result.outcome = last_call.outcome = "incoherent"
        else:
            last_call.outcome = "applied"
            _apply(session, principal, identity, answer, method, result)
    store_calls(session, calls)
    return result


def _apply(
    session: Session,
    principal: Principal,
    identity: Identity,
    answer: InsiAnswer,
    method: str,
    result: QualificationResult,
) -> None:
    before = snapshot(identity)
    active = apply_answer(identity, answer, method)
    result.ins_key_valid = rules.nir_key_is_valid(active.full)
    result.status_change = recompute_status(identity, f"INS retrieved from INSi ({method})")
    # Scored with INSi's traits before anything is written: the writes then follow at once.
    found = duplicates.find_for(session, identity)
    finish_change(
        session,
        principal,
        identity,
        before,
        action="insi_qualification",
        reason=f"INSi CR 00 ({method})",
        change=result.status_change,
    )
    duplicates.check_after_write(session, principal, identity, found)


def calls_of(session: Session, identity_id: int) -> list[InsiCall]:
    """Every INSi call made for an identity, oldest first."""
    get(session, identity_id)
    return repository.insi_calls(session, identity_id)
