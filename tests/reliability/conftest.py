"""Helpers of the reliability tests: extra app instances with their own settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine

from referentials.app import create_app
from referentials.core.settings import Settings
from tests.conftest import ThreadedServer, free_port

ServeApp = Callable[..., AbstractContextManager[ThreadedServer]]


@pytest.fixture()
def serve_app(db_settings: Settings, engine: Engine) -> ServeApp:
    """Serve another instance of the app on the test database, with some settings changed.

    Called as ``serve_app(limits={...}, secure_cookies=True)``: a section's values are merged
    into the test settings, a plain setting replaced. The scheduler is off, so only the test
    drives the instance.
    """

    @contextmanager
    def serve(**changes: Any) -> Iterator[ThreadedServer]:
        port = free_port()
        update: dict[str, Any] = {"host": "127.0.0.1", "port": port}
        for name, value in changes.items():
            current = getattr(db_settings, name)
            is_section = isinstance(value, dict) and not isinstance(current, dict)
            update[name] = current.model_copy(update=value) if is_section else value
        update["scheduler"] = db_settings.scheduler.model_copy(update={"enabled": False})
        settings = db_settings.model_copy(update=update)
        with ThreadedServer(create_app(settings), port=port) as server:
            yield server

    return serve
