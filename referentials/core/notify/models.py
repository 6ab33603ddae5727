"""Notification tables: subscriptions, their cursors in each source, deliveries, change events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from referentials.core.db import Base, UTCDateTime, utcnow


class Subscription(Base):
    """What a client wants to hear of, and how (a channel and its config)."""

    __tablename__ = "notify_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    establishments: Mapped[list[str]] = mapped_column(JSON)
    # Clients whose changes are not sent: a receiver is not sent back what it sent itself.
    skip_changes_by: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # active | paused (a paused subscription keeps queueing, sends nothing)
    status: Mapped[str] = mapped_column(String(10), default="active")
    # Signing secrets: both are valid while a rotation lasts (until previous_secret_until).
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_attempts: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    # The circuit breaker: consecutive failures; open (nothing sent) until breaker_open_until.
    breaker_failures: Mapped[int] = mapped_column(Integer, default=0)
    breaker_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Monotonic counts for the metrics (read from here by every worker at scrape time).
    delivered_count: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_count: Mapped[int] = mapped_column(BigInteger, default=0)
    dead_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubscriptionCursor(Base):
    """How far the fan-out has read a source for a subscription (moved back by a replay)."""

    __tablename__ = "notify_cursors"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("notify_subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)


class Delivery(Base):
    """One event queued for one subscription, until delivered or dead-lettered."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "source", "cursor"),
        Index("ix_notify_deliveries_queue", "subscription_id", "status", "cursor"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("notify_subscriptions.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(20))
    cursor: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(60))
    # Ordering keys, space-separated ("identity:7 identity:9").
    subjects: Mapped[str] = mapped_column(String(400))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # pending | delivered | dead
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failures that count towards dead-letter (a probe of an open breaker does not).
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_answer: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChangeEvent(Base):
    """The outbox of directory and ROR changes (one event per import run), cursors by relay."""

    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_cursor: Mapped[int | None] = mapped_column(BigInteger, index=True, unique=True)
    type: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
