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
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

import identity
import ror_sync
from identity.duplicates import service as duplicates
from identity.duplicates.router import router as duplicates_router
from identity.duplicates.service import DuplicateSettings
from identity.fhir.router import router as patient_fhir_router
from identity.fhir.subscription_router import router as subscription_fhir_router
from identity.hl7v2.router import router as hl7v2_router
from identity.insi.router import router as insi_router
from identity.pages.router import router as pages_router
from identity.referential import cog, feed
from identity.referential.events_router import router as events_router
from identity.referential.router import router as identity_router
from matching.config import MatchConfig
from referentials import bootstrap, fhir_metadata, notify_wiring, scheduler
from referentials.core import production, serving, threads, usage
from referentials.core.access_log import install_path_only_access_log
from referentials.core.audit_router import router as audit_router
from referentials.core.caller import install_matching_threads
from referentials.core.db import make_engine, make_session_factory
from referentials.core.handlers import UnexpectedErrors, install_error_handlers
from referentials.core.limits import BodySizeLimit
from referentials.core.login import install_pages
from referentials.core.login_throttle import LoginThrottle
from referentials.core.notify.pages import router as notify_pages_router
from referentials.core.notify.router import router as subscriptions_router
from referentials.core.notify.worker import ElectedNotifier
from referentials.core.oauth.keys import rate_key as token_rate_key
from referentials.core.oauth.router import router as oauth_router
from referentials.core.openapi import install_error_responses
from referentials.core.ratelimit import Budget, KeyResolver, RateLimit
from referentials.core.settings import Settings, get_settings
from referentials.directory.fhir import router as directory_fhir_router
from referentials.directory.router import imports_router
from referentials.directory.router import router as directory_router
from referentials.insi_gateway import install_insi, install_insi_delegate
from referentials.metrics import install_metrics
from referentials.psc.oidc import RelyingParty
from referentials.psc.router import router as psc_router
from ror_sync.fhir_router import router as ror_fhir_router
from ror_sync.pages import router as ror_pages_router
from ror_sync.router import indicators_router as ror_indicators_router
from ror_sync.router import router as ror_router

log = logging.getLogger("socle")
CORE_DIR = Path(__file__).parent / "core"


def _package_dir(module: ModuleType) -> Path:
    return Path(str(module.__file__)).parent


DESCRIPTION = """
Socle answers two questions for the region's coordination tools and hospitals:
*who is this patient?* (identity referential, INS qualification, duplicates) and
*who and what is out there to care for them?* (RPPS+, FINESS, ROR).

Every route but `/health` and the docs needs `Authorization: Bearer <API key>`, or an OAuth
access token from `POST /oauth/token` (client credentials, `private_key_jwt`) in its place.
Errors are `{"error": code, "detail": message, "fields": {...}}`.
"""


def duplicate_settings(settings: Settings) -> DuplicateSettings:
    """How the identity referential uses the matcher, from the settings."""
    return DuplicateSettings(
        model_path=settings.matching.model_file,
        auto_merge=settings.matching.auto_merge,
        config=MatchConfig(
            match_probability=settings.matching.match_probability,
            review_probability=settings.matching.review_probability,
        ),
    )


def install_limits(app: FastAPI, settings: Settings, factory: sessionmaker[Session]) -> None:
    """Body-size caps and the per-key rate limit; access logs without query strings."""
    limits = settings.limits
    app.add_middleware(
        BodySizeLimit, default=limits.max_body_bytes, per_prefix=limits.path_max_body_bytes
    )
    app.add_middleware(
        RateLimit,
        per_minute=limits.rate_per_minute,
        burst=limits.rate_burst,
        unknown=Budget(limits.unknown_rate_per_minute, limits.unknown_burst),
        resolver=KeyResolver(factory),
        identify=token_rate_key,
    )
    install_path_only_access_log()
    install_error_responses(app)


def install_sign_in(app: FastAPI, settings: Settings) -> None:
    """Pro Santé Connect for the pages, when configured (the routes answer 404 otherwise)."""
    if settings.psc.enabled:
        redirect_uri = settings.base_url.rstrip("/") + "/login/psc/callback"
        app.state.psc = RelyingParty(settings.psc, redirect_uri=redirect_uri)
    app.include_router(psc_router)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is built at import time."""
    settings = settings or get_settings()
    # Before anything is built: production refuses unsafe settings, all listed at once.
    production.check(settings)
    engine = make_engine(
        settings.database_url,
        schema=settings.database_schema,
        max_connections=settings.database_max_connections,
    )
    session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads.bound_request_threads(settings)
        if settings.prepare_on_start:
            bootstrap.prepare_database(engine, session_factory, settings)
        # Embedded default: the scheduled jobs run in the one process the database elects.
        jobs = app.state.scheduler = scheduler.start_background(engine, session_factory, settings)
        relay = feed.Relay(engine).start()
        # Embedded default: notifications are delivered by the one process the database elects.
        notifier = (
            ElectedNotifier(engine, settings.notify).start() if settings.notify.embedded else None
        )
        if settings.freeze_heap_on_start:
            serving.freeze_startup_heap()
        yield
        if notifier is not None:
            notifier.shutdown()
        relay.stop()
        if jobs is not None:
            jobs.shutdown(wait=False)
        usage.flush_all()
        engine.dispose()

    app = FastAPI(
        title="Socle",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    duplicates.configure(duplicate_settings(settings))
    notify_wiring.install(settings)
    cog.configure(settings.insi.cog_moves_file)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    install_error_handlers(app)
    install_insi(app, settings)
    install_matching_threads(app, settings.limits.matching_threads)
    threads.install_outbound_threads(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness and database reachability (503 when the database cannot be reached)."""
        current: Engine = app.state.engine
        with current.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": current.dialect.name}

    install_limits(app, settings, session_factory)
    install_pages(
        app,
        secret=settings.session_secret,
        https_only=settings.secure_cookies,
        throttle=LoginThrottle(
            per_user=settings.limits.login_failures_per_user,
            per_address=settings.limits.login_failures_per_address,
            window_seconds=settings.limits.login_window_seconds,
            lockout_seconds=settings.limits.login_lockout_seconds,
        ),
        template_dirs=[
            _package_dir(identity) / "pages" / "templates",
            _package_dir(ror_sync) / "templates",
        ],
    )
    # Outermost middleware: the time measured is the time the client waits.
    install_metrics(app)
    # Outside even that: a forwarded search is measured where it is served.
    install_insi_delegate(app, settings)
    # Outside everything: an error nothing expected still gets the API's answer.
    app.add_middleware(UnexpectedErrors)
    app.mount("/static", StaticFiles(directory=CORE_DIR / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/ui/", include_in_schema=False)
    def ui_home() -> RedirectResponse:
        return RedirectResponse("/ui/duplicates", status_code=307)

    install_sign_in(app, settings)
    app.include_router(oauth_router)
    app.include_router(audit_router)
    app.include_router(insi_router)
    app.include_router(identity_router)
    app.include_router(events_router)
    app.include_router(subscriptions_router)
    app.include_router(duplicates_router)
    app.include_router(pages_router)
    app.include_router(directory_router)
    app.include_router(imports_router)
    app.include_router(ror_router)
    app.include_router(ror_indicators_router)
    app.include_router(ror_pages_router)
    app.include_router(notify_pages_router)
    # FHIR R4 under /fhir (OperationOutcome errors) and the HL7 v2 ADT intake over HTTPS.
    app.include_router(fhir_metadata.router)
    app.include_router(patient_fhir_router)
    app.include_router(subscription_fhir_router)
    app.include_router(directory_fhir_router)
    app.include_router(ror_fhir_router)
    app.include_router(hl7v2_router)
    return app
