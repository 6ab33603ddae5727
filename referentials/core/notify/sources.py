"""Where events come from: a source reads its ordered, gap-free feed by cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class SourceEvent:
    source: str
    cursor: int
    type: str
    subjects: tuple[str, ...]
    at: datetime
    payload: Mapping[str, Any]
    # The client whose request made the change (None when not recorded).
    origin: str | None = None


@dataclass(frozen=True)
class Audience:
    """Who a subscription delivers to: its client's scopes and establishments."""

    client_name: str
    scopes: frozenset[str]
    # The FINESS of the client's keys: the establishments whose local ids it holds.
    finess: frozenset[str]
    # The subscription's own narrowing (empty: everything the client may see).
    establishments: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


class EventSource(Protocol):
    name: str
    event_types: tuple[str, ...]

    def read(self, session: Session, after: int, limit: int) -> list[SourceEvent]:
        """Events after a cursor, in cursor order (only cursors that will never gain a gap)."""
        ...

    def head(self, session: Session) -> int:
        """The latest cursor (0 when empty)."""
        ...

    def cursor_before(self, session: Session, when: datetime) -> int:
        """The cursor to replay from so that every event at or after ``when`` is read again."""
        ...

    def visible(
        self, session: Session, audience: Audience, events: Sequence[SourceEvent]
    ) -> list[bool]:
        """For each event, whether the audience may see it."""
        ...

    def unheard(self, audience: Audience, event_type: str) -> tuple[str, str] | None:
        """Why the audience can see no event of this type, whatever happens, as the
        subscription field to blame and the reason; None when it may see some."""
        ...
