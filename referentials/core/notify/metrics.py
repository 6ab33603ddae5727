"""Notification figures for /metrics, read from the database at scrape time.

The worker may run in another process (``socle notify``) than the one scraped: the counts kept
on each subscription, and the queue itself, give every process the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy.orm import Session

from referentials.core.notify import audience, repository_views

LABELS = ["subscription", "client", "channel"]


def families(session: Session) -> Iterable[Any]:
    """Delivered and failed sends (counters), pending, dead letters, lag and silence
    (gauges)."""
    delivered = CounterMetricFamily(
        "socle_notify_delivered", "Notifications delivered, per subscription.", labels=LABELS
    )
    failed = CounterMetricFamily(
        "socle_notify_failed", "Failed delivery attempts, per subscription.", labels=LABELS
    )
    pending = GaugeMetricFamily(
        "socle_notify_pending", "Notifications waiting to be delivered.", labels=LABELS
    )
    dead = GaugeMetricFamily(
        "socle_notify_dead_letters", "Notifications given up on (to redeliver).", labels=LABELS
    )
    lag = GaugeMetricFamily(
        "socle_notify_lag_seconds",
        "Age of the oldest notification not delivered yet (0 when up to date).",
        labels=LABELS,
    )
    silent = GaugeMetricFamily(
        "socle_notify_silent",
        "1 when the subscription hears nothing now of an event type it asks for (its client's "
        "keys revoked, expired or replaced: see its 'silent' field), else 0.",
        labels=LABELS,
    )
    figures = repository_views.figures(session)
    silences = audience.silences(session, [f.subscription for f in figures])
    for f in figures:
        s = f.subscription
        labels = [str(s.id), s.client_name, s.channel]
        delivered.add_metric(labels, s.delivered_count)
        failed.add_metric(labels, s.failed_count)
        pending.add_metric(labels, f.pending)
        dead.add_metric(labels, f.dead)
        lag.add_metric(labels, round(f.lag_seconds, 3))
        silent.add_metric(labels, 0 if silences[s.id] is None else 1)
    return [delivered, failed, pending, dead, lag, silent]
