"""API keys that end: said to the operators before their client is refused, not after.

A key with an expiry stops working at that instant, and its client learns it from a 401, and
its subscriptions may fall silent. So the operators hear of it first:
- the elected scheduler checks once when elected, then daily (`SOCLE_API_KEYS__EXPIRY_CHECK_CRON`),
  and logs a warning on `socle.keys` for each key not revoked that expires within
  `SOCLE_API_KEYS__EXPIRY_WARNING_DAYS` or has expired, with the subscriptions of its client
  that hear nothing of some of what they ask for once it has ended, the MLLP senders applied
  as it and the OAuth clients acting as it;
- `/metrics` has `socle_api_key_expires_in_seconds` for each key not revoked that has an expiry;
- `socle apikey list` marks the keys that have ended or end soon.
`socle apikey replace ID` gives the client a new key and moves to it what acted as the old
one; once the old key is revoked it is no longer warned of.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from referentials.core.auth import ApiKey
from referentials.core.db import utcnow
from referentials.core.notify import audience
from referentials.core.notify import service as notify_service
from referentials.core.oauth import service as oauth_service

log = logging.getLogger("socle.keys")


@dataclass(frozen=True)
class Ending:
    """A key not revoked that has ended, or ends within the warning's reach."""

    key_id: int
    client_name: str
    expires_at: datetime
    # Subscriptions of the client that hear nothing of some of what they ask for once the key
    # has ended (id -> why).
    silenced: dict[int, str]
    # The machine senders (MLLP) applied as this key, refused once it has ended.
    senders: list[str]
    # The token clients (OAuth) acting as this key, refused once it has ended.
    oauth_clients: list[str]

    def ended(self, now: datetime) -> bool:
        return self.expires_at <= now


def time_left(left: timedelta) -> str:
    """``left`` as an operator reads it: days to the nearest (a key made for 3 days is "3
    days" away, not 2 and 23 hours), hours under a day."""
    if left >= timedelta(days=1):
        return f"{round(left / timedelta(days=1))} day(s)"
    return f"{max(1, round(left / timedelta(hours=1)))} hour(s)"


def with_expiry(session: Session) -> list[tuple[int, str, datetime]]:
    """Id, client and expiry of every key not revoked that has an expiry, soonest first."""
    rows = session.execute(
        select(ApiKey.id, ApiKey.client_name, ApiKey.expires_at)
        .where(ApiKey.revoked.is_(False), ApiKey.expires_at.is_not(None))
        .order_by(ApiKey.expires_at, ApiKey.id)
    )
    # The filter leaves no key without an expiry.
    return [(key_id, client, expires_at) for key_id, client, expires_at in rows if expires_at]


def ending(
    session: Session,
    *,
    within: timedelta,
    now: datetime | None = None,
    senders: Mapping[int, list[str]] | None = None,
) -> list[Ending]:
    """The keys not revoked that have ended or end before ``now + within``; ``senders``: the
    machine senders applied as each key (by key id)."""
    now = now or utcnow()
    senders = senders or {}
    token_clients = oauth_service.clients_by_key(session)
    found = []
    for key_id, client, expires_at in with_expiry(session):
        if expires_at > now + within:
            break
        # Judged at the key's end (or now, once ended): the client's other keys still valid
        # then may keep its subscriptions hearing.
        subs = notify_service.list_(session, client_name=client)
        at = max(expires_at, now)
        silent = {sid: why for sid, why in audience.silences(session, subs, at).items() if why}
        found.append(
            Ending(
                key_id,
                client,
                expires_at,
                silent,
                senders.get(key_id, []),
                token_clients.get(key_id, []),
            )
        )
    return found


def warn(
    session: Session, *, within: timedelta, senders: Mapping[int, list[str]] | None = None
) -> list[Ending]:
    """Log a warning for each key that has ended or ends soon (ids, client and sender names)."""
    now = utcnow()
    keys = ending(session, within=within, now=now, senders=senders)
    for key in keys:
        when = key.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        if key.ended(now):
            log.warning(
                "API key %s of client %r expired on %s: its requests are refused (401); "
                "give the client a new key (socle apikey replace %s), then revoke this one",
                key.key_id,
                key.client_name,
                when,
                key.key_id,
            )
        else:
            log.warning(
                "API key %s of client %r expires on %s, in %s: give the client a new key "
                "before then (socle apikey replace %s), then revoke this one",
                key.key_id,
                key.client_name,
                when,
                time_left(key.expires_at - now),
                key.key_id,
            )
        if key.silenced:
            log.warning(
                "once API key %s has ended, subscription(s) %s of client %r hear nothing of "
                "some of what they ask for: no other valid key of the client reads it",
                key.key_id,
                ", ".join(map(str, sorted(key.silenced))),
                key.client_name,
            )
        if key.senders:
            log.warning(
                "once API key %s has ended, the messages of MLLP sender(s) %s are refused (AR), "
                "unless applied as the client's new key (socle apikey replace moves the stored "
                "ones; the settings named are yours to change)",
                key.key_id,
                "; ".join(key.senders),
            )
        if key.oauth_clients:
            log.warning(
                "once API key %s has ended, OAuth client(s) %s are refused, unless tied to the "
                "client's new key (socle apikey replace moves them)",
                key.key_id,
                ", ".join(key.oauth_clients),
            )
    return keys
