"""The identity event feed as a notification source, and who may hear of each event.

A client hears of an identity only if it holds a local id for it in one of its
establishments (the FINESS of its keys), unless it may merge identities (``identity:merge``),
which sees every identity; a subscription may narrow that to some establishments. A merge, an
unmerge, a link or an unlink of two local ids concerns two identities: it is visible if either
is, and is ordered after the earlier events of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.referential import repository
from referentials.core.notify.sources import Audience, SourceEvent

SOURCE = "identity"
EVENT_TYPES = (
    "identity.created",
    "identity.updated",
    "identity.status_changed",
    "identity.merged",
    "identity.unmerged",
    "identity.local_id_attached",
    "identity.local_id_changed",
    "identity.local_ids_linked",
    "identity.local_ids_unlinked",
)
_PAIR_KEYS = ("survivor_id", "loser_id", "linked_identity_id")


def identities_of(identity_id: int, payload: dict[str, Any]) -> tuple[int, ...]:
    """The identities an event concerns: its own, and both sides of a merge, an unmerge, a link
    or an unlink."""
    ids = [identity_id] + [int(payload[k]) for k in _PAIR_KEYS if payload.get(k) is not None]
    return tuple(sorted(set(ids)))


class IdentitySource:
    name: str = SOURCE
    event_types: tuple[str, ...] = EVENT_TYPES

    def read(self, session: Session, after: int, limit: int) -> list[SourceEvent]:
        return [
            SourceEvent(
                source=SOURCE,
                cursor=int(e.feed_cursor or 0),
                type=e.type,
                subjects=tuple(f"identity:{i}" for i in identities_of(e.identity_id, e.payload)),
                at=e.at,
                payload={"identity_id": e.identity_id, **e.payload},
                origin=e.origin,
            )
            for e in repository.events_after(session, after, limit)
        ]

    def head(self, session: Session) -> int:
        return repository.relayed_head(session)

    def cursor_before(self, session: Session, when: datetime) -> int:
        first = repository.first_cursor_since(session, when)
        return self.head(session) if first is None else first - 1

    def visible(
        self, session: Session, audience: Audience, events: Sequence[SourceEvent]
    ) -> list[bool]:
        merge = audience.has("identity:merge")
        if not (merge or audience.has("identity:read")):
            return [False] * len(events)
        if merge and not audience.establishments:
            return [True] * len(events)
        finess = set(audience.establishments or audience.finess)
        if not merge and audience.establishments:
            finess &= set(audience.finess)
        wanted = {int(s.split(":")[1]) for e in events for s in e.subjects}
        held = repository.held_by(session, wanted, finess)
        return [any(int(s.split(":")[1]) in held for s in e.subjects) for e in events]

    def unheard(self, audience: Audience, event_type: str) -> tuple[str, str] | None:
        if audience.has("identity:merge"):
            return None
        if not audience.has("identity:read"):
            return ("event_types", "have neither identity:read nor identity:merge")
        if not audience.finess:
            return (
                "client_name",
                "are tied to no establishment (FINESS) and have no identity:merge: the client "
                "holds no patient",
            )
        outside = sorted(audience.establishments - audience.finess)
        if outside:
            return (
                "establishments",
                f"are not tied to {', '.join(outside)} and have no identity:merge: the client "
                "holds none of its patients",
            )
        return None
