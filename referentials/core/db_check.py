"""The configured database, reached once when a command starts: a URL that cannot be opened
is said in one line (its password hidden), not in a page of driver traceback."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from referentials.core.db import make_engine
from referentials.core.settings import Settings

FORMS = "sqlite:///<path> or postgresql+psycopg://<user>@<host>/<database>"


class DatabaseUnavailable(Exception):
    """The configured database cannot be opened."""


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def check_database(settings: Settings) -> None:
    """Connect once to SOCLE_DATABASE_URL; DatabaseUnavailable says why it cannot be."""
    reachable_engine(settings).dispose()


def reachable_engine(settings: Settings) -> Engine:
    """An engine for SOCLE_DATABASE_URL that has connected once; DatabaseUnavailable says why
    it could not."""
    shown = _shown(settings.database_url)
    try:
        engine = make_engine(settings.database_url, schema=settings.database_schema)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as exc:
        raise DatabaseUnavailable(
            f"SOCLE_DATABASE_URL {shown} is not a database Socle can open ({FORMS}): {exc}"
        ) from exc
    except OSError as exc:  # a SQLite file's folder that cannot be made
        raise DatabaseUnavailable(f"the database {shown} cannot be reached: {exc}") from exc
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (DBAPIError, OSError) as exc:
        engine.dispose()
        # The driver's first line says why (refused, unknown host, no such role or file).
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise DatabaseUnavailable(f"the database {shown} cannot be reached: {reason}") from exc
    return engine
