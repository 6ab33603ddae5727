"""Server-rendered pages: users with roles, login sessions, CSRF, the shared layout."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from referentials.core.auth import DbSession
from referentials.core.db import Base, UTCDateTime, utcnow
from referentials.core.errors import AppError, Forbidden, ValidationFailed

ROLES = ("officer", "ror", "admin")
CORE_TEMPLATES = Path(__file__).parent / "templates"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class User(Base):
    """A person who logs in to the pages (identity-vigilance officer, ROR team, admin)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]

    def has_role(self, role: str) -> bool:
        return role in self.role_list or "admin" in self.role_list


def hash_password(password: str) -> str:
    """scrypt with a random salt (memory-hard, in the standard library)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.scrypt(
        password.encode(),
        salt=bytes.fromhex(salt_hex),
        **_SCRYPT,
    )
    return hmac.compare_digest(digest.hex(), digest_hex)


def create_user(
    session: Session, *, username: str, password: str, roles: list[str], full_name: str = ""
) -> User:
    """Create a user; refuses unknown roles, short passwords and taken usernames."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValidationFailed(
            f"roles must be among {', '.join(ROLES)}", fields={"roles": unknown or roles}
        )
    if len(password) < 10:
        raise ValidationFailed("a password needs at least 10 characters", fields={"password": ""})
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValidationFailed(f"user {username!r} exists", fields={"username": username})
    user = User(
        username=username,
        full_name=full_name,
        password_hash=hash_password(password),
        roles=",".join(roles),
    )
    session.add(user)
    session.flush()
    return user


def authenticate_user(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        # Same work whether or not the user exists, so timing tells nothing.
        verify_password(password, hash_password("x" * 12))
        return None
    return user if verify_password(password, user.password_hash) else None


class LoginRequired(AppError):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""

    status_code = 401
    code = "login_required"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), submitted):
        raise Forbidden("the form expired or did not come from this site; reload the page")


def current_user(request: Request, session: DbSession) -> User:
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if user_id else None
    if user is None or not user.active:
        raise LoginRequired("please log in")
    return user


def require_user(role: str) -> Callable[..., User]:
    """A page dependency that lets through logged-in users holding ``role`` (or admin)."""

    def dependency(user: User = Depends(current_user)) -> User:
        if not user.has_role(role):
            raise Forbidden(f"this page needs the role '{role}'")
        return user

    return dependency


class Pages:
    """The Jinja2 environment shared by every context's templates."""

    def __init__(self, template_dirs: list[Path]) -> None:
        self.templates = Jinja2Templates(directory=str(CORE_TEMPLATES))
        loaders = [FileSystemLoader(str(d)) for d in [*template_dirs, CORE_TEMPLATES]]
        self.templates.env.loader = ChoiceLoader(loaders)

    def render(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        user_id = request.session.get("user_id")
        base = {"csrf_token": csrf_token(request), "logged_in": bool(user_id)}
        base["username"] = request.session.get("username")
        base["profession"] = request.session.get("profession")
        return self.templates.TemplateResponse(
            request, name, {**base, **context}, status_code=status_code
        )


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a template with the app's shared environment (set up by the app factory)."""
    pages: Pages = request.app.state.pages
    return pages.render(request, name, context, status_code)
