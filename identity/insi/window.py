"""The window around an INSi call: read, call with nothing held, re-check, apply.

A search reads what it sends, ends the transaction (no row lock, no SQLite snapshot or write
lock while INSi answers, however slow it is), then applies the answer in a short transaction
that reloads the identity and re-checks its version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from identity.errors import RuleConflict, StaleVersion
from identity.referential import repository, rules, service
from identity.referential.models import Identity, InsiCall, attribute_set_of, first_name_list_of
from referentials.core.db import end_transaction, utcnow

log = logging.getLogger("socle.identity.insi")


def check_callable(attributes: frozenset[str]) -> None:
    if rules.forbids_insi(attributes):
        raise RuleConflict(
            "a DOUT or FICT identity is never sent to INSi",
            fields={"attributes": sorted(attributes)},
        )


@dataclass(frozen=True)
class Sent:
    """What was read and sent to INSi, kept while no transaction is open."""

    identity_id: int
    version: int
    birth_name: str
    first_names: tuple[str, ...]
    sex: str
    birth_date: date
    birth_place_code: str | None


def read_for_call(session: Session, identity_id: int) -> Sent:
    """Read what the call needs, then end the transaction: nothing is held while INSi answers.

    Plain columns, not the identity: the answer's transaction loads it anew in any case.
    """
    row = repository.call_traits(session, identity_id)
    if row is None:
        raise service.not_found(identity_id)
    service.check_active(identity_id, row.active, row.merged_into_id)
    check_callable(attribute_set_of(row.attributes))
    sent = Sent(
        identity_id,
        row.version,
        row.birth_name,
        tuple(first_name_list_of(row.first_names)),
        row.sex,
        row.birth_date,
        row.birth_place_code,
    )
    end_transaction(session)
    return sent


def reload(session: Session, sent: Sent, calls: list[InsiCall], *, lock: bool) -> Identity:
    """The identity again, if the answer still fits it; else 409 (calls stored).

    A change made while INSi answered is re-evaluated: when the identity is still active,
    callable and carries the traits that were sent, the answer is checked against its current
    state; otherwise it is not applied, the calls are kept as ``stale`` and the caller retries.
    ``lock``: the answer may change the identity, whose row is then locked until the commit.
    An answer that changes nothing (no INS found, several) only adds its call records: it
    takes no lock (on PostgreSQL a row lock is a write of the row), and waits for no
    transaction that holds the row.
    """
    identity = repository.get(session, sent.identity_id, for_update=lock)
    if identity is None or not _still_fits(identity, sent):
        for call in calls:
            call.outcome = "stale"
        # The calls are recorded all the same, before the 409 rolls the request back.
        store_calls(session, calls)
        end_transaction(session)
        raise StaleVersion(
            f"identity {sent.identity_id} changed while INSi was answering; "
            "the answer was not applied: search again",
            fields={"version": identity.version if identity else None},
        )
    return identity


def _still_fits(identity: Identity, sent: Sent) -> bool:
    if not identity.active or rules.forbids_insi(identity.attribute_set):
        return False
    if identity.version == sent.version:
        return True
    return (
        identity.birth_name,
        tuple(identity.first_name_list),
        identity.sex,
        identity.birth_date,
        identity.birth_place_code,
    ) == (sent.birth_name, sent.first_names, sent.sex, sent.birth_date, sent.birth_place_code)


_CALL_COLUMNS = tuple(c.key for c in InsiCall.__table__.columns if c.key != "id")


def store_calls(session: Session, calls: list[InsiCall]) -> None:
    """Write the call records: the last writes of the transaction that applies an answer.

    A plain insert per call rather than the ORM's unit of work (about a tenth of a search's
    CPU); the records keep their id and time for the answer, and are not added to the session.
    """
    session.flush()  # whatever the answer changed first, as the unit of work would
    for call in calls:
        call.at = call.at or utcnow()
    rows = [{column: getattr(call, column) for column in _CALL_COLUMNS} for call in calls]
    for call, call_id in zip(calls, repository.insert_insi_calls(session, rows), strict=True):
        call.id = call_id
    for call in calls:
        if call.protocol_warnings:
            # By ids only: the warnings name elements, the traits stay in the call record.
            log.warning(
                "INSi call %s (identity %s): %d protocol warning(s) tolerated",
                call.id,
                call.identity_id,
                len(call.protocol_warnings),
            )
