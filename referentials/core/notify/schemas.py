"""Subscription and delivery schemas of the notification API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["active", "paused"]
# A client's name as its keys carry it (``user:<name>`` for an officer, ``system`` for jobs).
ClientName = Annotated[str, Field(min_length=1, max_length=200)]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_name: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=20)
    config: dict[str, Any] = Field(default_factory=dict)
    event_types: list[str] = Field(min_length=1)
    establishments: list[str] = Field(default_factory=list)
    skip_changes_by: list[ClientName] = Field(
        default_factory=list,
        max_length=50,
        description="clients whose changes are not sent (the receiver's own: no echo)",
    )
    description: str = Field("", max_length=200)
    status: Status = "active"
    max_attempts: int | None = Field(None, ge=1, le=100)
    concurrency: int | None = Field(None, ge=1, le=64)
    timeout_seconds: float | None = Field(None, gt=0, le=120)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = None
    event_types: list[str] | None = Field(None, min_length=1)
    establishments: list[str] | None = None
    skip_changes_by: list[ClientName] | None = Field(None, max_length=50)
    description: str | None = Field(None, max_length=200)
    status: Status | None = None
    max_attempts: int | None = Field(None, ge=1, le=100)
    concurrency: int | None = Field(None, ge=1, le=64)
    timeout_seconds: float | None = Field(None, gt=0, le=120)


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_name: str
    channel: str
    config: dict[str, Any]
    event_types: list[str]
    establishments: list[str]
    skip_changes_by: list[str]
    description: str
    status: str
    max_attempts: int
    concurrency: int
    timeout_seconds: float
    secret_rotating_until: datetime | None = None
    breaker_open_until: datetime | None
    delivered_count: int
    failed_count: int
    dead_count: int
    last_delivered_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    # Why it hears nothing of an event type it asks for, with its client's keys as they are
    # now (revoked, expired or replaced since it was made); null: it may hear of every type.
    silent: str | None = None


class SubscriptionCreated(SubscriptionRead):
    # Shown once: the receiver verifies signatures with it.
    secret: str


class SecretRotated(BaseModel):
    secret: str
    previous_valid_until: datetime


class DeliveryRead(BaseModel):
    id: int
    event_id: str
    event_type: str
    cursor: int
    subjects: list[str]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    last_answer: str | None
    event_at: datetime
    queued_at: datetime
    delivered_at: datetime | None
    # Seconds from the event to its delivery (or to now while pending).
    lag_seconds: float


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    pending: int
    dead: int
    # Seconds since the oldest event still pending (0 when none).
    lag_seconds: float
    next_before: int | None


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_cursor: int | None = Field(None, ge=0, description="replay events after this cursor")
    from_date: datetime | None = Field(None, description="replay events recorded at/after this")
    source: str = "identity"


class ReplayResult(BaseModel):
    source: str
    cursor: int
