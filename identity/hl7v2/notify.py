"""The HL7 v2 notifications of identity events (IHE PAM France ITI-30, as an IHE PIX manager
notifies its consumers): which ADT message(s) each event becomes, built from the identity as
Socle holds it when the message is built (read in the caller's short read session).

| event | message(s) |
|---|---|
| identity.created | A28 ``ADT_A05`` |
| identity.updated, identity.status_changed, identity.local_id_attached | A31 ``ADT_A05`` |
| identity.merged | A40 ``ADT_A39``: PID the survivor, MRG-1 the loser's ids |
| identity.local_id_changed | A47 ``ADT_A30``: PID-3 the new local id, MRG-1 the old one |
| identity.unmerged | A28 of the restored identity, then A31 of the survivor |
| identity.local_ids_linked | A24 ``ADT_A24``: the two identities, each PID with its PV1 |
| identity.local_ids_unlinked | A37 ``ADT_A37``: the same two PIDs |

An unmerge has no PAM France message: A40 cannot be cancelled, and A37 (unlink) undoes a link,
which receivers never made of a merge. For a receiver the restored identity is a patient again:
A28 gives it back with the local ids it had, then A31 gives the survivor without them.

A link (A24 received from an establishment) is sent on only when the two local ids are held by
two identities, and only to receivers shown that establishment's ids: two ids of one identity
are already in the same PID-3 of every message about it.

MSH-10 is ``<key>`` for a single message, ``<key>-<n>`` in a sequence: the same on every
attempt, so a receiver recognises a resend (at-least-once delivery).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.hl7v2 import segments as seg
from identity.hl7v2.segments import LocalId, Parties
from identity.referential import links, service
from identity.referential.models import Identity

A28, A31 = ("A28", "ADT_A05"), ("A31", "ADT_A05")
A40, A47 = ("A40", "ADT_A39"), ("A47", "ADT_A30")
A24, A37 = ("A24", "ADT_A24"), ("A37", "ADT_A37")
EVENT_MESSAGES: dict[str, str] = {
    "identity.created": "A28",
    "identity.updated": "A31",
    "identity.status_changed": "A31",
    "identity.local_id_attached": "A31",
    "identity.merged": "A40",
    "identity.local_id_changed": "A47",
    "identity.unmerged": "A28 + A31",
    links.EVENTS[links.LINKED]: "A24",
    links.EVENTS[links.UNLINKED]: "A37",
}
LINK_MESSAGES = {links.EVENTS[links.LINKED]: A24, links.EVENTS[links.UNLINKED]: A37}
SUPPORTED_EVENTS = tuple(EVENT_MESSAGES)


class UnsupportedEvent(ValueError):
    """An event HL7 v2 has no message for (directory and ROR changes)."""


@dataclass(frozen=True)
class Notice:
    """One event to notify: its type, the identity it concerns, its payload, when it happened."""

    type: str
    identity_id: int
    payload: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True)
class Outgoing:
    """One message to send, with its MSH-9 event and MSH-10 control id."""

    event: str
    control_id: str
    text: str


def _locals(items: object) -> list[LocalId]:
    """Local ids of a payload list of {"finess", "local_id"}; anything else is ignored."""
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("finess") and item.get("local_id"):
            out.append(LocalId(str(item["finess"]), str(item["local_id"])))
    return out


def _message(
    kind: tuple[str, str],
    control_id: str,
    notice: Notice,
    parties: Parties,
    body: list[str],
) -> Outgoing:
    event, structure = kind
    header = seg.msh(parties, event=event, structure=structure, control_id=control_id, at=notice.at)
    text = "\r".join([header, seg.evn(notice.at), *body]) + "\r"
    return Outgoing(event, control_id, text)


def _snapshot(identity: Identity, parties: Parties) -> list[str]:
    return [seg.pid(identity, parties), seg.pv1()]


def render(session: Session, notice: Notice, parties: Parties, *, key: str) -> list[Outgoing]:
    """The message(s) of one event, in sending order (none when nothing concerns the
    receiver); ``key`` is the event's idempotency key."""
    kind = notice.type
    if kind not in EVENT_MESSAGES:
        raise UnsupportedEvent(f"{kind}: HL7 v2 notifications cover identity events only")
    if kind == "identity.merged":
        survivor = service.get(session, int(notice.payload.get("survivor_id", notice.identity_id)))
        loser_id = int(notice.payload["loser_id"])
        moved = _locals(notice.payload.get("moved_local_ids"))
        body = [seg.pid(survivor, parties, leave_out=moved), seg.mrg(loser_id, moved, parties)]
        return [_message(A40, key, notice, parties, body)]
    if kind == "identity.unmerged":
        restored = service.get(session, int(notice.payload.get("loser_id", notice.identity_id)))
        survivor = service.get(session, int(notice.payload["survivor_id"]))
        return [
            _message(A28, f"{key}-1", notice, parties, _snapshot(restored, parties)),
            _message(A31, f"{key}-2", notice, parties, _snapshot(survivor, parties)),
        ]
    if kind in LINK_MESSAGES:
        return _link(session, notice, parties, key)
    identity = service.get(session, notice.identity_id)
    if kind == "identity.local_id_changed":
        finess = str(notice.payload["finess"])
        old = LocalId(finess, str(notice.payload["old"]))
        if not parties.shows(old):
            # Another establishment renumbered its own id: nothing this receiver knows changed.
            return []
        # ADT_A30: no PV1.
        body = [seg.pid(identity, parties), seg.mrg(None, [old], parties)]
        return [_message(A47, key, notice, parties, body)]
    message_kind = A28 if kind == "identity.created" else A31
    return [_message(message_kind, key, notice, parties, _snapshot(identity, parties))]


def _link(session: Session, notice: Notice, parties: Parties, key: str) -> list[Outgoing]:
    """A24 or A37: the identities holding the two local ids, each PID followed by its PV1."""
    first, second = links.holders(session, notice.identity_id, notice.payload)
    local = LocalId(str(notice.payload["finess"]), str(notice.payload["local_id"]))
    if first == second or not parties.shows(local):
        return []
    body = []
    for set_id, identity_id in enumerate((first, second), 1):
        body += [seg.pid(service.get(session, identity_id), parties, set_id=set_id), seg.pv1()]
    return [_message(LINK_MESSAGES[notice.type], key, notice, parties, body)]
