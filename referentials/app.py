"""The composition root: builds the FastAPI application with every context wired in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import identity
import ror_sync
from identity import duplicates
from identity.duplicates import DuplicateSettings
from identity.duplicates_router import router as duplicates_router
from identity.events_router import router as events_router
from identity.router import router as identity_router
from matching.config import MatchConfig
from referentials import bootstrap
from referentials.core.db import make_engine, make_session_factory
from referentials.core.handlers import install_error_handlers
from referentials.core.login import install_pages
from referentials.core.settings import Settings, get_settings

log = logging.getLogger("socle")
CORE_DIR = Path(__file__).parent / "core"


def _package_dir(module: ModuleType) -> Path:
    return Path(str(module.__file__)).parent


DESCRIPTION = """
Socle answers two questions for the region's coordination tools and hospitals:
*who is this patient?* (identity referential, INS qualification, duplicates) and
*who and what is out there to care for them?* (RPPS+, FINESS, ROR).

Every route but `/health` and the docs needs `Authorization: Bearer <API key>`.
Errors are `{"error": code, "detail": message, "fields": {...}}`.
"""


def duplicate_settings(settings: Settings) -> DuplicateSettings:
    """How the identity referential uses the matcher, from the settings."""
    return DuplicateSettings(
        model_path=settings.matching.model_file,
        auto_merge=settings.matching.auto_merge,
        config=MatchConfig(
            match_threshold=settings.matching.match_threshold,
            review_threshold=settings.matching.review_threshold,
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is built at import time."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bootstrap.prepare_database(engine, session_factory, settings)
        yield
        engine.dispose()

    app = FastAPI(
        title="Socle",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    duplicates.configure(duplicate_settings(settings))
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    install_error_handlers(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness and database reachability."""
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": engine.dialect.name}

    install_pages(
        app,
        secret=settings.session_secret,
        https_only=settings.secure_cookies,
        template_dirs=[_package_dir(identity) / "templates", _package_dir(ror_sync) / "templates"],
    )
    app.mount("/static", StaticFiles(directory=CORE_DIR / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    app.include_router(identity_router)
    app.include_router(events_router)
    app.include_router(duplicates_router)
    return app
