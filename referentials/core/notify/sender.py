"""One subscription's send round: pick in a short read, render, send with nothing open, record.

The circuit breaker: after ``breaker_threshold`` consecutive failed sends the subscription is
left alone for ``breaker_cooldown_seconds``; then one delivery probes it. A failed probe does
not count towards its delivery's dead-letter (a subscriber down for a day loses nothing); a
successful one closes the breaker and makes every waiting retry due at once.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.db import session_scope, utcnow
from referentials.core.notify import registry, service
from referentials.core.notify import repository_queue as queue
from referentials.core.notify.channels import (
    ANSWER_LIMIT,
    Channel,
    Notification,
    Outcome,
    Target,
    Unrenderable,
)
from referentials.core.notify.models import Delivery, Subscription
from referentials.core.settings import NotifySettings

log = logging.getLogger("socle.notify")


@dataclass(frozen=True)
class Round:
    """What a round did: deliveries sent, and how long to wait before the next one."""

    sent: int
    wait: float


def backoff(failures: int, settings: NotifySettings) -> float:
    """Seconds before the next try: doubling from the base, capped, with ±20 % jitter."""
    base = settings.backoff_base_seconds * 2 ** max(failures - 1, 0)
    return min(base, settings.backoff_max_seconds) * random.uniform(0.8, 1.2)


def notification_of(d: Delivery) -> Notification:
    return Notification(
        event_id=f"{d.source}-{d.cursor}",
        source=d.source,
        cursor=d.cursor,
        type=d.event_type,
        subjects=tuple(d.subjects.split()),
        at=d.event_at,
        payload=d.payload,
        subscription_id=d.subscription_id,
        delivery_id=d.id,
        attempt=d.attempts + 1,
    )


def target_of(sub: Subscription, now: datetime) -> Target:
    return Target(
        subscription_id=sub.id,
        client_name=sub.client_name,
        config=sub.config,
        secrets=service.secrets_of(sub, now),
        timeout_seconds=sub.timeout_seconds,
    )


class Sender:
    """Runs send rounds for subscriptions, each with its own pool of sending threads."""

    def __init__(self, factory: sessionmaker[Session], settings: NotifySettings) -> None:
        self.factory, self.settings = factory, settings
        self.pools: dict[int, tuple[int, ThreadPoolExecutor]] = {}

    def close(self) -> None:
        for _, pool in self.pools.values():
            pool.shutdown(wait=True)
        self.pools.clear()

    def _pool(self, sub_id: int, size: int) -> ThreadPoolExecutor:
        found = self.pools.get(sub_id)
        if found is None or found[0] != size:
            if found is not None:
                found[1].shutdown(wait=False)
            found = (size, ThreadPoolExecutor(size, thread_name_prefix=f"notify-{sub_id}"))
            self.pools[sub_id] = found
        return found[1]

    def run(self, sub_id: int) -> Round | None:
        """One round for a subscription (None: it no longer exists)."""
        now = utcnow()
        with self.factory() as session:
            sub = session.get(Subscription, sub_id)
            if sub is None:
                return None
            channel = registry.channels().get(sub.channel)
            if sub.status != "active" or channel is None:
                return Round(0, 1.0)
            probe = sub.breaker_failures >= self.settings.breaker_threshold
            if probe and sub.breaker_open_until and sub.breaker_open_until > now:
                return Round(0, min((sub.breaker_open_until - now).total_seconds(), 1.0))
            size = max(1, min(sub.concurrency, channel.max_concurrency))
            # A round sends a few pools' worth: its fixed cost (pick, record) is shared.
            limit = 1 if probe else max(size, min(self.settings.batch_size, size * 4))
            picked = queue.pick(session, sub_id, now, limit, any_time=probe)
            if not picked:
                return Round(0, 1.0)
            target = target_of(sub, now)
            notes = [notification_of(d) for d in picked]
            failures = [d.failures for d in picked]
            max_attempts = sub.max_attempts
        messages = self._render(channel, notes, target)
        outcomes = self._send(channel, notes, messages, target, size)
        with session_scope(self.factory) as session:
            record(
                session,
                sub_id,
                list(zip(notes, outcomes, failures, strict=True)),
                probe=probe,
                max_attempts=max_attempts,
                settings=self.settings,
            )
        return Round(len(notes), 0.0)

    def _render(
        self, channel: Channel, notes: list[Notification], target: Target
    ) -> list[object | Outcome]:
        # One short read-only session for the batch, closed before any send.
        rendered: list[object | Outcome] = []
        with self.factory() as session:
            for note in notes:
                try:
                    rendered.append(channel.render(session, note, target))
                except Unrenderable as exc:
                    rendered.append(Outcome.permanent(f"unrenderable: {exc}"))
                except Exception as exc:  # a bug or the database away: try again later
                    log.warning("notify render of %s failed", note.event_id, exc_info=True)
                    rendered.append(Outcome.retry(f"render failed: {type(exc).__name__}"))
            session.rollback()
        return rendered

    def _send(
        self,
        channel: Channel,
        notes: list[Notification],
        messages: list[object | Outcome],
        target: Target,
        size: int,
    ) -> list[Outcome]:
        def one(i: int) -> Outcome:
            message = messages[i]
            if isinstance(message, Outcome):
                return message
            try:
                return channel.send(message, notes[i], target)
            except Exception as exc:
                return Outcome.retry(f"{type(exc).__name__}: {exc}"[:300])

        if len(notes) == 1:
            return [one(0)]
        return list(self._pool(target.subscription_id, size).map(one, range(len(notes))))


_RECORD = (
    update(Delivery)
    .where(Delivery.id == bindparam("b_id"), Delivery.status == "pending")
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        failures=bindparam("b_failures"),
        next_attempt_at=bindparam("b_next"),
        last_attempt_at=bindparam("b_now"),
        last_status_code=bindparam("b_code"),
        last_answer=bindparam("b_answer"),
        last_error=bindparam("b_error"),
        delivered_at=bindparam("b_delivered"),
    )
)


def record(
    session: Session,
    sub_id: int,
    results: list[tuple[Notification, Outcome, int]],
    *,
    probe: bool,
    max_attempts: int,
    settings: NotifySettings,
) -> None:
    """Write a round's outcomes (one statement, many rows: a row changed meanwhile by an
    operator is left alone) and the subscription's breaker state, in one transaction.

    ``results``: each notification, its outcome and its delivery's failures before the send.
    """
    now = utcnow()
    ok = failed = dead = 0
    last_error: str | None = None
    rows: list[dict[str, Any]] = []
    for note, outcome, failures in results:
        row: dict[str, Any] = {
            "b_id": note.delivery_id, "b_attempts": note.attempt, "b_now": now,
            "b_code": outcome.status_code, "b_answer": outcome.answer[:ANSWER_LIMIT] or None,
            "b_next": now, "b_failures": failures, "b_delivered": None, "b_error": None,
        }  # fmt: skip
        if outcome.kind == "ok":
            ok += 1
            row.update(b_status="delivered", b_delivered=now)
            rows.append(row)
            continue
        failed += 1
        row["b_error"] = last_error = (outcome.detail or outcome.kind)[:500]
        if not probe and outcome.kind == "retry":
            row["b_failures"] = failures = failures + 1
        if outcome.kind == "permanent" or failures >= max_attempts:
            dead += 1
            row["b_status"] = "dead"
            log.warning("notify delivery %s dead: %s", note.delivery_id, last_error)
        else:
            row["b_status"] = "pending"
            row["b_next"] = now + timedelta(seconds=backoff(max(failures, 1), settings))
        rows.append(row)
    if rows:
        session.connection().execute(_RECORD, rows)
    _record_breaker(
        session, sub_id, now, ok=ok, failed=failed, dead=dead, last_error=last_error,
        probe=probe, settings=settings,
    )  # fmt: skip


def _record_breaker(
    session: Session,
    sub_id: int,
    now: datetime,
    *,
    ok: int,
    failed: int,
    dead: int,
    last_error: str | None,
    probe: bool,
    settings: NotifySettings,
) -> None:
    values: dict[str, object] = {
        "delivered_count": Subscription.delivered_count + ok,
        "failed_count": Subscription.failed_count + failed,
        "dead_count": Subscription.dead_count + dead,
    }
    if ok:
        values.update(breaker_failures=0, breaker_open_until=None, last_delivered_at=now)
        if probe:
            queue.make_all_due(session, sub_id, now)
            log.info("notify subscription %s answers again: breaker closed", sub_id)
    elif failed:
        sub = session.get(Subscription, sub_id)
        streak = (sub.breaker_failures if sub else 0) + failed
        values["breaker_failures"] = streak
        if streak >= settings.breaker_threshold:
            values["breaker_open_until"] = now + timedelta(
                seconds=settings.breaker_cooldown_seconds
            )
            if not probe:
                log.warning("notify subscription %s failing: breaker open", sub_id)
    if last_error is not None:
        values["last_error"] = last_error
    session.execute(update(Subscription).where(Subscription.id == sub_id).values(**values))
