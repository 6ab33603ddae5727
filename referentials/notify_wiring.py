"""Notification wiring (a composition root): the event sources and channels of the process."""

from __future__ import annotations

from identity.fhir.notify import FhirChannel
from identity.hl7v2.channel import Hl7v2Channel
from identity.referential.notify_source import IdentitySource
from referentials.core.notify import registry
from referentials.core.notify.outbox import ChangeSource
from referentials.core.notify.webhook import WebhookChannel
from referentials.core.settings import Settings


def install(settings: Settings) -> None:
    """Register every event source and channel (idempotent: by name)."""
    registry.register_source(IdentitySource())
    registry.register_source(ChangeSource())
    registry.register_channel(WebhookChannel(allow_plain_http=settings.notify.allow_plain_http))
    registry.register_channel(Hl7v2Channel(settings))
    registry.register_channel(FhirChannel(settings))
