"""The ``hl7v2`` notification channel: identity events as IHE PAM France ADT messages over MLLP
(``notify`` builds them, ``mllp_client`` sends them and reads the ACK).

Config of a subscription (``channel: "hl7v2"``)::

    {"host": "127.0.0.1", "port": 2575,                # plain TCP: loopback only
     "tls": true, "cert_file": "/etc/socle/notify.pem", "key_file": "/etc/socle/notify.key",
     "ca_file": "/etc/socle/receivers-ca.pem", "server_name": "mllp.chu.example",
     "receiving_application": "DPI", "receiving_facility": "CHU", "processing_id": "P"}

One message after another per subscription (``max_concurrency`` 1): a PAM receiver applies an
identity's messages in the order they are sent. The connection stays open between deliveries
(``mllp_client.Connections``) and is closed when the worker stops.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from identity.errors import IdentityNotFound
from identity.hl7v2 import mllp_client, notify
from identity.hl7v2.mllp_client import MllpTarget, TargetRefused
from identity.hl7v2.notify import Notice, Outgoing, UnsupportedEvent
from identity.hl7v2.segments import Parties
from referentials.core.notify import service as notify_service
from referentials.core.notify.channels import (
    ChannelConfigError,
    Notification,
    Outcome,
    Target,
    Unrenderable,
)
from referentials.core.settings import Settings, get_settings

_TEXT = ("ca_file", "cert_file", "key_file", "server_name")
_NAMES = ("receiving_application", "receiving_facility")
KNOWN = ("host", "port", "tls", "processing_id", *_TEXT, *_NAMES)


def _text(config: Mapping[str, Any], name: str, default: str = "") -> str:
    value = config.get(name, default)
    if not isinstance(value, str):
        raise ChannelConfigError(f"config.{name}", "must be a string")
    return value.strip()


def _port(config: Mapping[str, Any]) -> int:
    port = config.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ChannelConfigError("config.port", "is required: an integer from 1 to 65535")
    return port


def _files(out: dict[str, Any]) -> None:
    for name in ("ca_file", "cert_file", "key_file"):
        if out[name] and not os.access(out[name], os.R_OK):
            raise ChannelConfigError(f"config.{name}", f"cannot read {out[name]}")


def establishments_of(session: Session, target: Target) -> list[str]:
    """The subscription's FINESS narrowing (read in the engine's render session)."""
    return list(notify_service.get(session, target.subscription_id).establishments or [])


def target_of(config: Mapping[str, Any], timeout: float) -> MllpTarget:
    return MllpTarget(
        host=config["host"],
        port=config["port"],
        tls=config["tls"],
        ca_file=config["ca_file"],
        cert_file=config["cert_file"],
        key_file=config["key_file"],
        server_name=config["server_name"],
        timeout_seconds=timeout,
    )


class Hl7v2Channel:
    """Identity events to a PAM France receiver over MLLP, the ACK awaited for each message."""

    name = "hl7v2"
    max_concurrency = 1

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._connections = mllp_client.Connections()

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """host, port, tls and its files, MSH-5/6 and MSH-11 of the messages sent."""
        unknown = sorted(set(config) - set(KNOWN))
        if unknown:
            raise ChannelConfigError(f"config.{unknown[0]}", f"unknown; known: {', '.join(KNOWN)}")
        tls = config.get("tls", False)
        if not isinstance(tls, bool):
            raise ChannelConfigError("config.tls", "must be true or false")
        out: dict[str, Any] = {"host": _text(config, "host"), "port": _port(config), "tls": tls}
        for name in (*_TEXT, *_NAMES):
            out[name] = _text(config, name)
        out["processing_id"] = _text(config, "processing_id", "P")
        if out["processing_id"] not in ("P", "D", "T"):
            raise ChannelConfigError("config.processing_id", "must be P, D or T (HL7 table 0103)")
        if not out["host"]:
            raise ChannelConfigError("config.host", "is required")
        try:
            mllp_client.check_target(target_of(out, 1.0))
        except TargetRefused as exc:
            field = "config.tls" if "plain TCP" in str(exc) else "config.cert_file"
            raise ChannelConfigError(field, str(exc)) from exc
        _files(out)
        return out

    def supports(self, event_type: str) -> bool:
        return event_type in notify.SUPPORTED_EVENTS

    def parties(self, config: Mapping[str, Any], establishments: Iterable[str] = ()) -> Parties:
        hl7 = self.settings.hl7
        return Parties(
            sending_application=hl7.receiving_application,
            sending_facility=hl7.receiving_facility,
            receiving_application=str(config.get("receiving_application", "")),
            receiving_facility=str(config.get("receiving_facility", "")),
            processing_id=str(config.get("processing_id", "P")),
            authority=hl7.notify_authority,
            authority_oid=hl7.notify_authority_oid,
            authorities=dict(hl7.authorities),
            establishments=frozenset(establishments),
        )

    def render(
        self, session: Session, notification: Notification, target: Target
    ) -> list[Outgoing]:
        """The ADT message(s) of the event, read from the identity as Socle holds it now."""
        identity_id = int(notification.payload.get("identity_id", 0))
        notice = Notice(notification.type, identity_id, notification.payload, notification.at)
        try:
            parties = self.parties(target.config, establishments_of(session, target))
            return notify.render(session, notice, parties, key=notification.event_id)
        except (UnsupportedEvent, IdentityNotFound) as exc:
            raise Unrenderable(str(exc)) from exc
        except (KeyError, ValueError) as exc:
            raise Unrenderable(f"{notification.type}: payload lacks {exc}") from exc

    def send(self, message: list[Outgoing], notification: Notification, target: Target) -> Outcome:
        """Send the message(s) in order on one connection; the ACK decides (``mllp_client``)."""
        if not message:
            return Outcome.ok(detail="nothing concerns this receiver")
        destination = target_of(target.config, target.timeout_seconds)
        result = mllp_client.send(destination, message, self._connections)
        detail = " ".join(p for p in (result.code, result.error_code, result.text) if p)
        if result.ok:
            return Outcome.ok(answer=result.ack, detail=detail)
        if result.retryable:
            return Outcome.retry(detail or "no ACK", answer=result.ack)
        return Outcome.permanent(detail, answer=result.ack)

    def close(self) -> None:
        self._connections.close()
