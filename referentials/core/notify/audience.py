"""Who a subscription hears of, checked when it is made or changed, and read back.

What a subscription hears is what its client's valid API keys may read: their scopes and the
establishments (FINESS) they are tied to. One that could hear nothing of what it asks for is
refused, naming the field, rather than accepted to stay silent without an error anywhere; one
that became so since (its client's keys revoked, expired or replaced) says why on read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from referentials.core.errors import ValidationFailed
from referentials.core.notify import registry, repository
from referentials.core.notify.models import Subscription
from referentials.core.notify.sources import Audience
from referentials.core.principal import SYSTEM


def check_skipped(session: Session, names: list[str]) -> list[str]:
    """The clients a subscription skips: each one a key's client, ``system`` (the service's own
    jobs) or ``user:<name>`` (an officer); a misspelt name would silently skip nothing."""
    given = set(names)
    known = repository.key_clients(session, given)
    unknown = sorted(
        n for n in given - known if n != SYSTEM.client_name and not n.startswith("user:")
    )
    if unknown:
        raise ValidationFailed(
            f"no API key belongs to the client {', '.join(map(repr, unknown))}: "
            "skip_changes_by names clients as their keys carry them",
            fields={"skip_changes_by": unknown},
        )
    return sorted(given)


Keys = tuple[frozenset[str], frozenset[str]]  # a client's valid keys: scopes, FINESS


def _unheard(
    keys: Keys, name: str, event_types: list[str], establishments: list[str]
) -> tuple[dict[str, Any], str] | None:
    """Why a subscription of this client would hear nothing of an event type it asks for,
    with the client's valid keys as they are now (their scopes and establishments): the field
    to blame with what it holds, and the reason; None when it may hear of every type."""
    scopes, finess = keys
    if not scopes:
        return {"client_name": name}, (
            f"no valid API key belongs to the client {name!r}: a subscription hears what its "
            "client's keys may read; create the client's key first (socle apikey create --name "
            "<client> --scopes ... --finess ...)"
        )
    audience = Audience(name, scopes, finess, frozenset(establishments))
    sources = registry.sources()
    by_type = registry.event_types()
    for event_type in event_types:
        if event_type not in by_type:  # a source this process does not serve: not judged here
            continue
        problem = sources[by_type[event_type]].unheard(audience, event_type)
        if problem is not None:
            field_name, reason = problem
            held = {"client_name": name, "event_types": event_type}.get(field_name, establishments)
            return {field_name: held}, (
                f"the keys of client {name!r} {reason}, so it would hear no {event_type}"
            )
    return None


def check(session: Session, name: str, event_types: list[str], establishments: list[str]) -> None:
    # Refused rather than accepted to stay silent without an error anywhere.
    keys = repository.clients(session, {name})[name]
    problem = _unheard(keys, name, event_types, establishments)
    if problem is not None:
        fields, message = problem
        raise ValidationFailed(message, fields=fields)


def silences(
    session: Session, subs: list[Subscription], at: datetime | None = None
) -> dict[int, str | None]:
    """For each subscription, why it hears nothing of an event type it asks for, now or at
    ``at`` (its client's keys revoked, expired or replaced since it was made); None when it may
    hear of every type. One read of the clients' keys for them all."""
    keys = repository.clients(session, {s.client_name for s in subs}, at)
    found = {}
    for s in subs:
        problem = _unheard(keys[s.client_name], s.client_name, s.event_types, s.establishments)
        found[s.id] = None if problem is None else problem[1]
    return found
