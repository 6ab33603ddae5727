"""The webhook channel: a signed HTTPS POST per notification (skeleton)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from referentials.core.notify.channels import Notification, Outcome, Target


class WebhookChannel:
    name = "webhook"
    max_concurrency = 32

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return dict(config)

    def supports(self, event_type: str) -> bool:
        return True

    def render(self, session: Session, notification: Notification, target: Target) -> Any:
        return None

    def send(self, message: Any, notification: Notification, target: Target) -> Outcome:
        return Outcome.retry("not implemented yet")

    def close(self) -> None:
        return None
