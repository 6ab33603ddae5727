"""Login and logout pages, and the wiring of sessions and security headers for the pages."""

from __future__ import annotations

import math
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referentials.core.auth import DbSession
from referentials.core.errors import Forbidden
from referentials.core.login_throttle import LoginThrottle
from referentials.core.settings import Settings
from referentials.core.web import LoginRequired, Pages, authenticate_user, check_csrf, render

router = APIRouter(include_in_schema=False)

# Pages have no inline script; styles come from our own stylesheet and inline SVG attributes.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (anything else: the home page)."""
    # Only local paths: an open redirect would let a link log officers into another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/ui/"


def local_login_allowed(settings: Settings) -> bool:
    """Passwords are accepted unless Pro Santé Connect is on and local logins are turned off."""
    return settings.psc.local_login or not settings.psc.enabled


def login_options(request: Request) -> dict[str, Any]:
    """Which ways of signing in the login page offers."""
    settings: Settings = request.app.state.settings
    return {"psc": settings.psc.enabled, "local": local_login_allowed(settings)}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    context = {"next": safe_next(next), "error": None, **login_options(request)}
    return render(request, "login.html", context)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    *,
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    csrf: str = Form(""),
    next: str = Form("/ui/"),
    session: DbSession,
) -> Response:
    if not local_login_allowed(request.app.state.settings):
        raise Forbidden("local logins are turned off: sign in with Pro Santé Connect")
    check_csrf(request, csrf)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "?"
    wait = math.ceil(throttle.retry_after(username, address))
    if wait > 0:
        # Locked out: not even checked, so a right password tells nothing either.
        refused = render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "error": f"Trop d'essais : réessayez dans {wait} s.",
                **login_options(request),
            },
            status_code=429,
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    user = authenticate_user(session, username, password)
    if user is None:
        throttle.failed(username, address)
        return render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "error": "Identifiant ou mot de passe incorrect.",
                **login_options(request),
            },
            status_code=401,
        )
    throttle.succeeded(username)
    request.session.clear()
    request.session.update({"user_id": user.id, "username": user.username})
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    provider_logout = request.session.get("logout_url")
    request.session.clear()
    if provider_logout:
        # Signed in through a provider: end the session there too (RP-initiated logout). A
        # page rather than a redirect, since the pages' CSP (form-action) forbids a form's
        # redirect to another origin.
        return render(
            request, "redirect.html", {"heading": "Déconnexion", "target": provider_logout}
        )
    return RedirectResponse("/login", status_code=303)


class SecurityHeaders:
    """Adds the security headers to every HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                ctype = dict(headers).get(b"content-type", b"")
                if ctype.startswith(b"text/html") and not scope["path"].startswith("/docs"):
                    headers.append((b"content-security-policy", CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_pages(
    app: FastAPI,
    *,
    secret: str,
    https_only: bool,
    template_dirs: list[Path],
    throttle: LoginThrottle | None = None,
) -> None:
    """Sessions (signed cookie), security headers, the login redirect and shared templates."""
    app.state.pages = Pages(template_dirs)
    app.state.login_throttle = throttle or LoginThrottle()
    secret = secret or secrets.token_urlsafe(32)
    app.state.session_secret = secret
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="socle_session",
        same_site="strict",
        https_only=https_only,
        max_age=8 * 3600,
    )

    @app.exception_handler(LoginRequired)
    def _to_login(request: Request, _exc: LoginRequired) -> Response:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)

    app.include_router(router)
