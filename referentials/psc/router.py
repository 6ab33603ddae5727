"""The sign-in pages of Pro Santé Connect: redirect to the provider, and its callback."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from referentials.core import threads
from referentials.core.db import session_scope
from referentials.core.errors import AppError, NotFound
from referentials.core.login import login_options, safe_next
from referentials.core.settings import Settings
from referentials.core.web import render
from referentials.psc import service
from referentials.psc.claims import read_claims
from referentials.psc.oidc import RelyingParty, refused

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "socle_psc_flow"
FLOW_PATH = "/login/psc"
FLOW_MAX_AGE = 600


def _rp(request: Request) -> RelyingParty:
    rp: RelyingParty | None = getattr(request.app.state, "psc", None)
    if rp is None:
        raise NotFound("Pro Santé Connect is not configured on this server")
    return rp


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.session_secret, salt="psc-flow")


@router.get("/login/psc")
async def start(request: Request, next: str | None = None) -> Response:
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
    # The provider's metadata may be read: a call out, in the outbound threads.
    return await threads.outbound(request, _start, request, next)


def _start(request: Request, next: str | None) -> Response:
    rp = _rp(request)
    try:
        flow = rp.start()
    except AppError as exc:
        return _refusal(request, exc)
    response = RedirectResponse(flow.url, status_code=303)
    # Its own cookie, SameSite=Lax: the provider's redirect back is a cross-site navigation,
    # which the strict session cookie does not follow.
    value = _signer(request).dumps([flow.state, flow.nonce, flow.verifier, safe_next(next)])
    settings: Settings = request.app.state.settings
    response.set_cookie(
        FLOW_COOKIE,
        value,
        max_age=FLOW_MAX_AGE,
        path=FLOW_PATH,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )
    return response


def _refusal(request: Request, exc: AppError) -> HTMLResponse:
    response = render(
        request,
        "login.html",
        {"next": "/ui/", "error": f"Connexion refusée : {exc.message}", **login_options(request)},
        status_code=exc.status_code,
    )
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


def _flow(request: Request, state: str | None) -> list[str]:
    raw = request.cookies.get(FLOW_COOKIE, "")
    try:
        flow: list[str] = _signer(request).loads(raw, max_age=FLOW_MAX_AGE)
    except BadSignature as exc:
        raise refused("no sign-in in progress in this browser (or it expired)") from exc
    if not state or state != flow[0]:
        raise refused("state mismatch")
    return flow


@router.get("/login/psc/callback")
async def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    """The provider's answer: verify everything, check the directory and roles, sign in."""
    # The code is exchanged and the user's claims read from the provider: calls out.
    return await threads.outbound(request, _callback, request, code, state, error)


def _callback(request: Request, code: str | None, state: str | None, error: str | None) -> Response:
    try:
        if error:
            raise refused(f"the provider answered '{error}'")
        _state, nonce, verifier, target = _flow(request, state)
        if not code:
            raise refused("no authorisation code")
        # Network calls first, with no database transaction open.
        claims = read_claims(_rp(request).finish(code=code, nonce=nonce, verifier=verifier))
    except AppError as exc:
        return _refusal(request, exc)
    factory = request.app.state.session_factory
    try:
        with session_scope(factory) as session:
            signed = service.sign_in(session, claims)
    except AppError as exc:
        with session_scope(factory) as session:
            service.record_refusal(session, claims, code=exc.code)
        return _refusal(request, exc)
    return _signed_in(request, signed, target)


def _signed_in(request: Request, signed: service.SignedIn, target: str) -> Response:
    settings: Settings = request.app.state.settings
    request.session.clear()
    request.session.update(
        {
            "user_id": signed.user_id,
            "username": signed.display_name or signed.username,
            "profession": signed.profession,
            "logout_url": _rp(request).logout_url(
                post_logout_redirect_uri=settings.base_url.rstrip("/") + "/login"
            ),
        }
    )
    # A page, not a redirect: the navigation that follows starts on this site, so the strict
    # session cookie just set goes with it.
    response = render(request, "redirect.html", {"heading": "Connexion réussie", "target": target})
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response
