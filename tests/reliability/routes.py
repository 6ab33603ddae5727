"""The application's route table, read from the app itself so that new routes are seen."""

from __future__ import annotations

from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from referentials.app import create_app
from referentials.core.settings import Settings

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def build_app(tmp_db: str) -> Any:
    """An application (not served) whose routes are the ones a real start would have."""
    return create_app(Settings(database_url=f"sqlite:///{tmp_db}", load_demo_data=False))


def route_table(app: Any) -> tuple[set[tuple[str, str]], set[str]]:
    """Every (method, path) served by a route, and the prefixes of the mounted sub-apps."""
    routes: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            mounts.add(context.path)
            continue
        for method in context.methods or ():
            if method not in IGNORED_METHODS:
                routes.add((method, context.path))
    return routes, mounts


def required_scope(app: Any, method: str, path: str) -> str | None:
    """The scope the route's ``require(scope)`` or ``caller(scope)`` dependency asks for (None:
    no API key)."""
    for context in iter_route_contexts(app.routes):
        if context.path != path or method not in (context.methods or ()):
            continue
        dependant = getattr(context.original_route, "dependant", None)
        return _scope_in(dependant) if dependant is not None else None
    return None


def _scope_in(dependant: Any) -> str | None:
    for sub in dependant.dependencies:
        name = getattr(sub.call, "__name__", "")
        kind, _, scope = name.partition("_")
        if kind in ("require", "caller") and scope:
            area, _, action = scope.partition("_")
            return f"{area}:{action}" if action else area
        found = _scope_in(sub)
        if found:
            return found
    return None
