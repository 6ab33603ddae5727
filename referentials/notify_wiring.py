"""Notification wiring (a composition root): the event sources and channels of the process."""

from __future__ import annotations

from identity.fhir.notify import FhirChannel
from identity.hl7v2.channel import Hl7v2Channel
from referentials.core.notify import registry
from referentials.core.notify.webhook import WebhookChannel


def install() -> None:
    """Register every event source and channel (idempotent: by name)."""
    registry.register_channel(WebhookChannel())
    registry.register_channel(Hl7v2Channel())
    registry.register_channel(FhirChannel())
