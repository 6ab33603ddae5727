"""Wiring of INSi: the zeep client adapted to the identity port, and the embedded mock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI

from identity.insi.router import router as insi_router
from identity.insi.waits import InsiWaits
from referentials.core import metrics
from referentials.core.delegate import Delegate
from referentials.core.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from referentials.core.settings import Settings
from soap_clients.insi import InsiClient, InsiClientConfig
from soap_clients.insi.errors import InsiError, InsiFault, InsiTimeout, InsiUnavailable
from soap_clients.insi.mock import MockConfig, create_mock_app, mount_mock
from soap_clients.insi.models import InsiResult, InsiSearchOutcome

MOCK_PREFIX = "/mock/insi"
T = TypeVar("T")


# INS test and demo OIDs: fictitious people; production refuses them (SOCLE_INSI__ACCEPT_TEST_OIDS).
TEST_INS_OIDS = frozenset({"1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"})


class InsiGateway:
    """The identity context's INSi port: the client's errors become the core's Upstream*."""

    def __init__(self, client: InsiClient, *, accept_test_oids: bool = True) -> None:
        self.client = client
        self.accept_test_oids = accept_test_oids

    def _checked(self, result: InsiResult) -> InsiResult:
        # An INS of a test or demo OID would put a fictitious number on a real patient.
        if self.accept_test_oids:
            return result
        oids = {i.oid for i in (result.active, *result.history) if i is not None}
        if oids & TEST_INS_OIDS:
            raise UpstreamError(
                "INSi answered an INS of a test or demo OID; refused, nothing was changed",
                fields={"oid": sorted(oids & TEST_INS_OIDS)},
            )
        return result

    def search_by_traits(
        self,
        birth_name: str,
        given_names: Sequence[str],
        sex: str,
        birth_date: date | str,
        birth_place: str | None = None,
    ) -> InsiSearchOutcome:
        outcome = _counted(
            "traits",
            lambda: self.client.search_by_traits(
                birth_name, given_names, sex, birth_date, birth_place
            ),
        )
        for attempt in outcome.attempts:
            metrics.record_insi("traits", attempt.result.cr_code)
            self._checked(attempt.result)
        return outcome

    def search_by_carte_vitale(
        self,
        matricule13: str,
        key: str,
        birth_name: str | None = None,
        birth_date: date | str | None = None,
        birth_rank: str | None = None,
    ) -> InsiResult:
        result = _counted(
            "carte_vitale",
            lambda: self.client.search_by_carte_vitale(
                matricule13, key, birth_name, birth_date, birth_rank
            ),
        )
        metrics.record_insi("carte_vitale", result.cr_code)
        return self._checked(result)


def _counted(operation: str, call: Callable[[], T]) -> T:
    """A call whose failure is counted by kind (its CR codes are counted by the caller)."""
    try:
        return _translated(call)
    except (UpstreamUnavailable, UpstreamTimeout, UpstreamError) as exc:
        kind = {UpstreamUnavailable: "unavailable", UpstreamTimeout: "timeout"}.get(type(exc))
        fault = "fault" if isinstance(exc.__cause__, InsiFault) else "error"
        metrics.record_insi(operation, kind or fault)
        raise


def _translated(call: Callable[[], T]) -> T:
    try:
        return call()
    except InsiUnavailable as exc:
        raise UpstreamUnavailable(
            f"INSi is unavailable ({exc.error_code or exc.subcode or 'no answer'}); "
            "nothing was changed, retry later",
            fields={"insi": exc.error_code or exc.subcode},
        ) from exc
    except InsiTimeout as exc:
        raise UpstreamTimeout(
            f"INSi did not answer in time after {exc.attempts} attempt(s); nothing was changed",
        ) from exc
    except InsiFault as exc:
        raise UpstreamError(
            f"INSi refused the request: {exc.error_code or exc.subcode} ({exc.reason})",
            fields={"insi": exc.error_code or exc.subcode},
        ) from exc
    except InsiError as exc:
        raise UpstreamError(f"INSi answered something unexpected: {exc.message}") from exc


def insi_endpoint(settings: Settings) -> str:
    """The configured endpoint, or the mock mounted in this very process."""
    return settings.insi.endpoint or f"http://{settings.host}:{settings.port}{MOCK_PREFIX}"


def build_gateway(settings: Settings) -> InsiGateway:
    cfg = settings.insi
    client = InsiClient(
        InsiClientConfig(
            endpoint=insi_endpoint(settings),
            idam=cfg.idam,
            software_name=cfg.software_name,
            software_version=cfg.software_version,
            timeout_seconds=cfg.timeout_seconds,
            client_cert=cfg.client_cert or None,
            client_key=cfg.client_key or None,
            ca_bundle=cfg.ca_bundle or None,
            max_retries=cfg.retries,
            connections=cfg.max_concurrent_calls,
        )
    )
    return InsiGateway(client, accept_test_oids=cfg.accept_test_oids)


def mock_config(settings: Settings) -> MockConfig:
    cfg = settings.insi
    return MockConfig(
        known_idam=cfg.mock_known_idam,
        population_file=Path(cfg.mock_population_file) if cfg.mock_population_file else None,
        unavailable=cfg.mock_unavailable,
        technical_error=cfg.mock_technical_error,
        latency_ms=cfg.mock_latency_ms,
    )


def install_insi_delegate(app: FastAPI, settings: Settings) -> None:
    """Forward the INSi searches to the INSi process, when `socle serve` runs one.

    The routes that make an INSi call (they wait in ``InsiWaits``); the call history is a plain
    read, served here. Added last, so outermost: see referentials/core/delegate.py.
    """
    if not settings.insi.delegate_socket:
        return
    searches = [route for route in insi_router.routes if "POST" in getattr(route, "methods", ())]
    app.add_middleware(Delegate, socket_path=settings.insi.delegate_socket, routes=searches)


def install_insi(app: FastAPI, settings: Settings) -> None:
    """Mount the mock (embedded default) and put the gateway where the routes find it."""
    if settings.insi.mock_enabled:
        mount_mock(app, MOCK_PREFIX, create_mock_app(mock_config(settings)))
    app.state.insi = build_gateway(settings)
    app.state.insi_waits = InsiWaits(settings.insi.max_concurrent_calls)
