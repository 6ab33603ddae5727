"""The delivery worker: fans events out to subscriptions and sends them (skeleton)."""

from __future__ import annotations

from sqlalchemy import Engine

from referentials.core.settings import NotifySettings


class NotifyWorker:
    """Background delivery: one fan-out thread and one sender per subscription."""

    def __init__(self, engine: Engine, settings: NotifySettings) -> None:
        self.engine, self.settings = engine, settings

    def start(self) -> NotifyWorker:
        raise NotImplementedError("the delivery worker lands in the next commit")

    def stop(self) -> None:
        raise NotImplementedError("the delivery worker lands in the next commit")


def drain(engine: Engine, settings: NotifySettings, *, timeout: float = 10.0) -> None:
    """Fan out and send until nothing is due (or the timeout passes)."""
    raise NotImplementedError("the delivery worker lands in the next commit")
