"""The ``fhir`` notification channel: FHIR R4 rest-hook subscriptions (``subscription``) receive
each identity event as a notification Bundle (``notification``), POSTed to their endpoint.

Config (what ``/fhir/Subscription`` stores)::

    {"endpoint": "https://dpi.chu.example/fhir-notify", "payload": "application/fhir+json",
     "headers": ["Authorization: Bearer <the receiver's token>"],
     "criteria": "Patient?event=merged,unmerged", "reason": "..."}

The endpoint is https, or http on a loopback address only (a local interface engine), as for
webhooks (``SOCLE_NOTIFY__ALLOW_PLAIN_HTTP`` lifts it, and production refuses that setting).
Answers, as for webhooks: 2xx delivered; 408, 425, 429 and 5xx (or no answer) retried; any other
status is permanent (the receiver refuses this Bundle).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy.orm import Session

from identity.errors import IdentityNotFound
from identity.fhir import notification
from identity.fhir.subscription import EVENT_TYPES
from identity.fhir.systems import LocalIdSystems
from referentials.core.fhir import FHIR_JSON
from referentials.core.notify import service as notify_service
from referentials.core.notify.channels import (
    ChannelConfigError,
    Notification,
    Outcome,
    Target,
    Unrenderable,
)
from referentials.core.production import is_loopback_host
from referentials.core.settings import Settings, get_settings

KNOWN = ("endpoint", "payload", "headers", "criteria", "reason")
_HEADER = re.compile(r"^([A-Za-z0-9!#$%&'*+.^_`|~-]+):[ \t]*([^\r\n]*)$")
# Socle sets these itself: a subscription may not replace them.
RESERVED = ("content-type", "content-length", "host", "idempotency-key")
RETRIED = (408, 425, 429)


def _endpoint(value: object, *, allow_plain_http: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ChannelConfigError("config.endpoint", "is required: the https URL to POST to")
    url = urlparse(value.strip())
    if url.scheme not in ("https", "http") or not url.hostname:
        raise ChannelConfigError("config.endpoint", "must be an absolute https URL")
    if url.username or url.password:
        raise ChannelConfigError("config.endpoint", "no credentials in the URL: use a header")
    if url.scheme == "http" and not (allow_plain_http or is_loopback_host(url.hostname)):
        raise ChannelConfigError(
            "config.endpoint", "http is allowed on a loopback address only: use https"
        )
    return value.strip()


def _headers(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ChannelConfigError("config.headers", "must be a list of 'Name: value' strings")
    for item in value:
        found = _HEADER.match(item) if isinstance(item, str) else None
        if found is None:
            raise ChannelConfigError("config.headers", f"not a 'Name: value' header: {item!r}")
        if found.group(1).lower() in RESERVED:
            raise ChannelConfigError("config.headers", f"{found.group(1)} is set by Socle")
    return list(value)


class FhirChannel:
    """Notification Bundles POSTed to rest-hook endpoints."""

    name = "fhir"
    max_concurrency = 8

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """endpoint, payload (application/fhir+json), headers; criteria and reason as given."""
        unknown = sorted(set(config) - set(KNOWN))
        if unknown:
            raise ChannelConfigError(f"config.{unknown[0]}", f"unknown; known: {', '.join(KNOWN)}")
        payload = config.get("payload") or ""
        if payload != FHIR_JSON:
            raise ChannelConfigError(
                "config.payload", f"must be {FHIR_JSON} (full resources), not {payload!r}"
            )
        return {
            "endpoint": _endpoint(
                config.get("endpoint"), allow_plain_http=self.settings.notify.allow_plain_http
            ),
            "payload": payload,
            "headers": _headers(config.get("headers")),
            "criteria": str(config.get("criteria") or "Patient?"),
            "reason": str(config.get("reason") or ""),
        }

    def supports(self, event_type: str) -> bool:
        return event_type in EVENT_TYPES

    def render(
        self, session: Session, notification_: Notification, target: Target
    ) -> dict[str, Any]:
        """The notification Bundle, its Patients read now in the engine's read session."""
        settings = self.settings
        identity_id = int(notification_.payload.get("identity_id", 0))
        try:
            return notification.bundle(
                session,
                kind=notification_.type,
                identity_id=identity_id,
                payload=notification_.payload,
                at=notification_.at,
                key=notification_.event_id,
                subscription_id=target.subscription_id,
                cursor=notification_.cursor,
                base=settings.base_url.rstrip("/") + "/fhir",
                local=LocalIdSystems.from_settings(settings),
                # The subscription's FINESS narrowing: only their local ids are shown.
                establishments=frozenset(
                    notify_service.get(session, target.subscription_id).establishments or []
                ),
            )
        except IdentityNotFound as exc:
            raise Unrenderable(str(exc)) from exc
        except (KeyError, ValueError) as exc:
            raise Unrenderable(f"{notification_.type}: payload lacks {exc}") from exc

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                # Redirects are not followed: a moved endpoint is the subscription's to fix.
                self._client = httpx.Client(follow_redirects=False)
            return self._client

    def send(self, message: dict[str, Any], notification_: Notification, target: Target) -> Outcome:
        """POST the Bundle; the HTTP status decides (see the module's docstring)."""
        headers = {"Content-Type": FHIR_JSON, "Idempotency-Key": notification_.event_id}
        for line in target.config.get("headers") or []:
            name, _, value = str(line).partition(":")
            headers[name.strip()] = value.strip()
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            answer = self._http().post(
                str(target.config["endpoint"]),
                content=body,
                headers=headers,
                timeout=target.timeout_seconds,
            )
        except httpx.TimeoutException:
            return Outcome.retry(f"no answer within {target.timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Outcome.retry(f"{type(exc).__name__}: {exc}")
        code, text = answer.status_code, answer.text
        if 200 <= code < 300:
            return Outcome.ok(status_code=code, answer=text)
        if code in RETRIED or code >= 500:
            return Outcome.retry(f"HTTP {code}", status_code=code, answer=text)
        return Outcome.permanent(f"HTTP {code}", status_code=code, answer=text)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
