"""The fan-out: each round, queue every subscription's new events (a short transaction).

Subscriptions read each source from their own cursor (those at one cursor share one read), so
a subscription replaying a year does not hold back the others. Who may see an event, and
whether a subscription's channel can carry it, are decided here, when the event is queued.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from referentials.core.db import utcnow
from referentials.core.notify import registry, repository
from referentials.core.notify import repository_queue as queue
from referentials.core.notify.models import Subscription
from referentials.core.notify.sources import Audience, EventSource, SourceEvent


class CursorMoved(Exception):
    """A replay moved a cursor during the round: the round is rolled back and run again."""


def audience_of(
    sub: Subscription, clients: dict[str, tuple[frozenset[str], frozenset[str]]]
) -> Audience:
    scopes, finess = clients.get(sub.client_name, (frozenset(), frozenset()))
    return Audience(
        client_name=sub.client_name,
        scopes=scopes,
        finess=finess,
        establishments=frozenset(sub.establishments or ()),
    )


def _chosen(
    session: Session,
    source: EventSource,
    sub: Subscription,
    audience: Audience,
    events: list[SourceEvent],
) -> list[SourceEvent]:
    channel = registry.channels()[sub.channel]
    # Changes made by the clients it skips (its receiver's own) are not queued for it.
    skipped = set(sub.skip_changes_by)
    wanted = [
        e
        for e in events
        if e.type in sub.event_types and channel.supports(e.type) and e.origin not in skipped
    ]
    if not wanted:
        return []
    seen = source.visible(session, audience, wanted)
    return [e for e, ok in zip(wanted, seen, strict=True) if ok]


@dataclass
class FanOut:
    """What a round queued per subscription, and whether a source had more to read."""

    queued: dict[int, int] = field(default_factory=dict)
    more: bool = False


def fan_out(session: Session, *, limit: int) -> FanOut:
    """Queue the events after each subscription's cursors.

    Raises CursorMoved when a replay changed a cursor meanwhile (the caller rolls back).
    """
    channels = registry.channels()
    # A subscription whose channel this process does not know waits for one that does.
    subs = [s for s in repository.subscriptions(session) if s.channel in channels]
    if not subs:
        return FanOut()
    clients = repository.clients(session, {s.client_name for s in subs})
    cursors = repository.all_cursors(session)
    now = utcnow()
    queued: dict[int, int] = defaultdict(int)
    more = False
    for source in registry.sources().values():
        groups: dict[int, list[Subscription]] = defaultdict(list)
        for sub in subs:
            after = cursors.get((sub.id, source.name))
            if after is None:  # a source added after the subscription: from now on
                after = source.head(session)
                repository.rewind(session, sub.id, source.name, after)
            groups[after].append(sub)
        for after, members in groups.items():
            events = source.read(session, after, limit)
            if not events:
                continue
            more = more or len(events) >= limit
            for sub in members:
                chosen = _chosen(session, source, sub, audience_of(sub, clients), events)
                queued[sub.id] += queue.queue(session, sub.id, chosen, now)
                if not repository.advance(session, sub.id, source.name, after, events[-1].cursor):
                    raise CursorMoved(f"subscription {sub.id}, source {source.name}")
    return FanOut(dict(queued), more)
