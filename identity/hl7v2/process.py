"""One ADT message in, one ACK out, whatever the message holds.

A refused message (AE or AR) changes nothing: its effects are rolled back with the session's
transaction, which must hold nothing else written (both callers, the HTTP route and the MLLP
listener, give each message a session of its own). Not a savepoint: on SQLite a savepoint that
opens the transaction takes the one writers' turn before its first read, so every message's
lookups and candidate scoring would run holding it, one message of the whole server at a time
(README, "HL7 v2 messages at once"). Without it, the lookups and the scoring read outside any
transaction, and the turn is taken at the first write, as a REST creation's is.

Logs carry the control id, the event and identity ids, never the message (it holds identity
traits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from identity.hl7v2 import ack, actions, movements, pam, policy
from identity.hl7v2.message import Adt, Header, Hl7Problem, decode, header_of, read
from identity.referential import rules
from identity.referential.schemas import SourceRef
from referentials.core.auth import Principal
from referentials.core.errors import AppError
from referentials.core.settings import Hl7Settings

log = logging.getLogger("socle.hl7v2")


@dataclass
class Outcome:
    """What a message did: the ACK code and text, the identity it touched, its warnings."""

    code: str
    text: str
    identity_id: int | None = None
    issues: list[ack.Issue] = field(default_factory=list)
    ack: str = ""


def _iti30(
    session: Session, principal: Principal, adt: Adt, ref: SourceRef, settings: Hl7Settings
) -> actions.Done:
    event = adt.header.event
    if event in ("A28", "A31"):
        return actions.upsert(session, principal, adt, ref, policy.ins_verdict(adt))
    if event in pam.LINK_EVENTS:
        other = policy.linked_id(adt, ref.finess, settings)
        return movements.linked(session, principal, adt, ref, other)
    if event == "A47" and adt.merged_ins and not adt.merged_ids:
        return movements.ins_change(session, adt, ref.finess, ref.local_id)
    old = policy.merged_id(adt, ref.finess, settings)
    if event == "A40":
        return actions.merge(session, principal, ref.finess, ref.local_id, old)
    return actions.change_local_id(session, principal, ref.finess, ref.local_id, old)


def _dispatch(
    session: Session, principal: Principal, adt: Adt, settings: Hl7Settings
) -> actions.Done:
    finess, local_id = policy.local_id(adt, settings)
    if principal.finess and principal.finess != finess:
        raise Hl7Problem(
            "AR", "103", f"this key sends for establishment {principal.finess} only", "PID^1^3"
        )
    ref = SourceRef(finess=finess, local_id=local_id)
    verdict = policy.ins_verdict(adt)
    if pam.transaction(adt.header.event) == "ITI-30":
        done = _iti30(session, principal, adt, ref, settings)
    else:
        may_create = finess not in settings.movements_never_create
        done = movements.movement(session, principal, adt, ref, verdict, may_create=may_create)
    if adt.zfd is not None:
        movements.keep_provenance(session, ref, adt.zfd)
    # Warnings in reading order: the INS verdict, what the message held that was dropped, then
    # what the action itself reports.
    done.warnings[:0] = [w for w in (verdict.warning,) if w] + adt.warnings
    return done


def _apply(session: Session, principal: Principal, text: str, settings: Hl7Settings) -> Outcome:
    adt = read(text, rules.INS_OIDS)
    try:
        done = _dispatch(session, principal, adt, settings)
    except AppError as exc:
        session.rollback()
        # A rule of the referential refused the change (merge across two INS, bad trait...).
        raise Hl7Problem("AE", "207", exc.message) from exc
    except BaseException:
        session.rollback()
        raise
    issues = [ack.Issue("0", w, severity="W") for w in done.warnings]
    return Outcome("AA", done.text, done.identity_id, issues)


def handle(session: Session, principal: Principal, raw: bytes, settings: Hl7Settings) -> Outcome:
    """Apply one message and build its ACK; never raises for a bad message."""
    header = Header()
    try:
        if len(raw) > settings.max_message_bytes:
            raise Hl7Problem("AR", "100", "message too large")
        text = decode(raw)
        header = header_of(text)
        outcome = _apply(session, principal, text, settings)
    except Hl7Problem as problem:
        outcome = Outcome(
            problem.ack,
            problem.text,
            issues=[ack.Issue(problem.error, problem.text, "E", problem.location)],
        )
    except Exception as exc:
        # Nothing the sender did may stop the listener. Only the error's type is logged: its
        # text or traceback could quote traits from the message.
        log.error("hl7v2 %s: internal error %s", header.control_id or "-", type(exc).__name__)
        outcome = Outcome("AE", "internal error", issues=[ack.Issue("207", "internal error")])
    outcome.ack = ack.build(
        header,
        outcome.code,
        outcome.text,
        outcome.issues,
        application=settings.receiving_application,
        facility=settings.receiving_facility,
    )
    log.info(
        "hl7v2 %s %s -> %s identity=%s",
        header.event or "?",
        header.control_id or "-",
        outcome.code,
        outcome.identity_id,
    )
    return outcome
