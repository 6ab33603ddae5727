"""What a channel is to the engine: it validates its config, renders, sends and reports.

The engine calls ``render`` for a batch of notifications inside one short read-only session,
closes that session, then calls ``send`` with no transaction open (from worker threads, so a
channel must be thread-safe), and records each ``Outcome`` in a short transaction of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session

# The receiver's answer is kept this long (characters) with the delivery.
ANSWER_LIMIT = 2000

OutcomeKind = Literal["ok", "retry", "permanent"]


@dataclass(frozen=True)
class Notification:
    """One event for one subscription: ids only, never identity traits."""

    # The idempotency key: "<source>-<cursor>", the same on every (re)delivery of the event.
    event_id: str
    source: str
    cursor: int
    type: str
    # Ordering keys ("identity:42"): two notifications sharing one are sent in cursor order.
    subjects: tuple[str, ...]
    at: datetime
    payload: Mapping[str, Any]
    subscription_id: int
    delivery_id: int
    # 1 on the first try, 2 on the first retry...
    attempt: int


@dataclass(frozen=True)
class Target:
    """The subscription as a channel sees it."""

    subscription_id: int
    client_name: str
    # The channel's own config, as returned by its ``validate``.
    config: Mapping[str, Any]
    # Signing secrets: the current one first, then the previous one while a rotation lasts.
    secrets: tuple[str, ...]
    timeout_seconds: float


@dataclass(frozen=True)
class Outcome:
    """How one send went; ``answer`` is the receiver's answer (truncated by the engine)."""

    kind: OutcomeKind
    detail: str = ""
    status_code: int | None = None
    answer: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, *, status_code: int | None = None, answer: str = "", detail: str = "") -> Outcome:
        return cls("ok", detail, status_code, answer)

    @classmethod
    def retry(cls, detail: str, *, status_code: int | None = None, answer: str = "") -> Outcome:
        return cls("retry", detail, status_code, answer)

    @classmethod
    def permanent(cls, detail: str, *, status_code: int | None = None, answer: str = "") -> Outcome:
        return cls("permanent", detail, status_code, answer)


class ChannelConfigError(Exception):
    """A subscription's channel config is wrong: which field (dotted path) and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name, self.message = field_name, message


class Unrenderable(Exception):
    """The event cannot be expressed on this channel (the delivery is dead-lettered)."""


class Channel(Protocol):
    """A way to carry notifications; one instance per process, shared by every subscription."""

    # "webhook", "hl7v2", "fhir": the value of a subscription's ``channel``.
    name: str
    # At most this many sends in flight per subscription (1: one after the other).
    max_concurrency: int

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The normalised config to store; raise ChannelConfigError naming the field."""
        ...

    def supports(self, event_type: str) -> bool:
        """Whether this channel can carry the event type (others are not queued for it)."""
        ...

    def render(self, session: Session, notification: Notification, target: Target) -> Any:
        """Build the message in a short read-only session; raise Unrenderable if it cannot."""
        ...

    def send(self, message: Any, notification: Notification, target: Target) -> Outcome:
        """Send with no database session and report; an exception counts as a retry."""
        ...

    def close(self) -> None:
        """Release connections when the worker stops."""
        ...
