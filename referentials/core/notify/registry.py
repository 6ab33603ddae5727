"""The process-wide registry of channels and event sources, filled by the composition root."""

from __future__ import annotations

import threading

from referentials.core.errors import ValidationFailed
from referentials.core.notify.channels import Channel
from referentials.core.notify.sources import EventSource

_lock = threading.Lock()
_channels: dict[str, Channel] = {}
_sources: dict[str, EventSource] = {}


def register_channel(channel: Channel) -> None:
    """Add (or replace, by name) a channel."""
    with _lock:
        _channels[channel.name] = channel


def register_source(source: EventSource) -> None:
    """Add (or replace, by name) an event source."""
    with _lock:
        _sources[source.name] = source


def channel(name: str) -> Channel:
    """The channel of that name; an unknown name is a validation error naming the known ones."""
    found = _channels.get(name)
    if found is None:
        known = ", ".join(sorted(_channels)) or "none"
        raise ValidationFailed(
            f"unknown channel {name!r}; known: {known}", fields={"channel": name}
        )
    return found


def channels() -> dict[str, Channel]:
    return dict(_channels)


def sources() -> dict[str, EventSource]:
    return dict(_sources)


def event_types() -> dict[str, str]:
    """Every event type a subscription may ask for, with the source that emits it."""
    return {t: s.name for s in _sources.values() for t in s.event_types}
