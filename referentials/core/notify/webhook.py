"""The webhook channel: one signed HTTP POST per notification, its answer recorded.

Headers: ``Socle-Event-Id`` and ``Idempotency-Key`` (the same on every redelivery of an event),
``Socle-Event-Type``, ``Socle-Delivery-Attempt``, ``Socle-Signature`` (signing.py). A 2xx
answer is a delivery; 408, 429 and 5xx (and no answer) are retried; any other answer is a
permanent refusal (redirects are not followed: a moved endpoint is a configuration change).
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3
from sqlalchemy.orm import Session

from referentials.core.notify import signing
from referentials.core.notify.channels import (
    ANSWER_LIMIT,
    ChannelConfigError,
    Notification,
    Outcome,
    Target,
)

RETRIED_STATUSES = frozenset({408, 425, 429})
_RESERVED_HEADERS = {"content-type", "host", "content-length"}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def body_of(notification: Notification) -> dict[str, Any]:
    """The JSON document POSTed for a notification: the same bytes on every redelivery."""
    return {
        "id": notification.event_id,
        "type": notification.type,
        "source": notification.source,
        "cursor": notification.cursor,
        "subjects": list(notification.subjects),
        "occurred_at": notification.at.isoformat(),
        "subscription_id": notification.subscription_id,
        "data": dict(notification.payload),
    }


class WebhookChannel:
    name = "webhook"
    max_concurrency = 32

    def __init__(self, *, allow_plain_http: bool = False) -> None:
        # Plain HTTP only to this machine (tests, a local relay) unless allowed by settings.
        self.allow_plain_http = allow_plain_http
        self._pools: dict[int, tuple[float, urllib3.PoolManager]] = {}
        self._lock = threading.Lock()

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(config) - {"url", "headers"})
        if unknown:
            raise ChannelConfigError(f"config.{unknown[0]}", "unknown field (url, headers)")
        url = config.get("url")
        if not isinstance(url, str) or not url:
            raise ChannelConfigError("config.url", "is required (an https:// URL)")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ChannelConfigError("config.url", "must be an absolute https:// URL")
        if parts.scheme == "http" and not (self.allow_plain_http or _loopback(parts.hostname)):
            raise ChannelConfigError("config.url", "must use https (plain http only to loopback)")
        headers = config.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ChannelConfigError("config.headers", "must map header names to strings")
        bad = [
            k for k in headers if k.lower() in _RESERVED_HEADERS or k.lower().startswith("socle-")
        ]
        if bad:
            raise ChannelConfigError("config.headers", f"reserved header: {bad[0]}")
        return {"url": url, "headers": dict(headers)}

    def supports(self, event_type: str) -> bool:
        return True

    def render(self, session: Session, notification: Notification, target: Target) -> bytes:
        # Everything is in the notification: the session is not used.
        return json.dumps(body_of(notification), separators=(",", ":")).encode("utf-8")

    def headers(self, body: bytes, notification: Notification, target: Target) -> dict[str, str]:
        return {
            **dict(target.config.get("headers") or {}),
            "Content-Type": "application/json",
            "User-Agent": "Socle-Webhooks/1",
            "Socle-Event-Id": notification.event_id,
            "Idempotency-Key": notification.event_id,
            "Socle-Event-Type": notification.type,
            "Socle-Delivery-Attempt": str(notification.attempt),
            signing.HEADER: signing.sign(target.secrets, body),
        }

    def send(self, message: Any, notification: Notification, target: Target) -> Outcome:
        body: bytes = message
        pool = self._pool(target)
        try:
            answer = pool.request(
                "POST",
                str(target.config["url"]),
                body=body,
                headers=self.headers(body, notification, target),
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError, in urllib3
            return Outcome.retry(f"ConnectError: {_reason(exc)}"[:300])
        except urllib3.exceptions.TimeoutError:
            return Outcome.retry(f"no answer within {target.timeout_seconds:g}s")
        except urllib3.exceptions.HTTPError as exc:
            return Outcome.retry(f"{type(exc).__name__}: {_reason(exc)}"[:300])
        try:
            # The answer is recorded truncated: never read more than that of it.
            text = answer.read(ANSWER_LIMIT * 4, decode_content=True).decode("utf-8", "replace")
        except urllib3.exceptions.HTTPError:
            text = ""
        finally:
            answer.drain_conn()
            answer.release_conn()
        text, code = text[:ANSWER_LIMIT], answer.status
        if 200 <= code < 300:
            return Outcome.ok(status_code=code, answer=text)
        if code in RETRIED_STATUSES or code >= 500:
            return Outcome.retry(f"HTTP {code}", status_code=code, answer=text)
        return Outcome.permanent(f"HTTP {code}", status_code=code, answer=text)

    def _pool(self, target: Target) -> urllib3.PoolManager:
        # One keep-alive pool per subscription; rebuilt when its timeout changes. urllib3, not
        # httpx, here: a quarter of the CPU per request, which bounds a burst's throughput.
        with self._lock:
            found = self._pools.get(target.subscription_id)
            if found is not None and found[0] == target.timeout_seconds:
                return found[1]
            pool = urllib3.PoolManager(
                num_pools=4,
                maxsize=self.max_concurrency,
                timeout=urllib3.Timeout(total=target.timeout_seconds),
                retries=False,
            )
            self._pools[target.subscription_id] = (target.timeout_seconds, pool)
        if found is not None:
            found[1].clear()
        return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for _, pool in pools:
            pool.clear()


def _reason(exc: Exception) -> str:
    # urllib3 wraps the cause (connection refused, reset...): name that, not the wrapper.
    reason = getattr(exc, "reason", None)
    return str(reason or exc)
