"""The INSi client: zeep over the packaged WSDL, one instance per configuration."""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests
import zeep
from lxml import etree
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError

from soap_clients.insi import contract
from soap_clients.insi.errors import (
    InsiError,
    InsiProtocolError,
    InsiTimeout,
    InsiUnavailable,
)
from soap_clients.insi.models import InsiAttempt, InsiResult, InsiSearchOutcome
from soap_clients.insi.parsing import fault_to_error, to_result
from soap_clients.insi.tolerance import TolerancePlugin
from soap_clients.insi.transport import (
    CapturePlugin,
    StatusTransport,
    environ_ca_bundle,
    http_session,
    wsdl_document,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InsiClientConfig:
    """Where and how to call INSi; every value comes from the caller's settings."""

    endpoint: str
    idam: str
    software_name: str
    software_version: str
    timeout_seconds: float = 10.0
    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None
    emitter: str = "socle"
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    max_retries: int = 2
    retry_base_delay_seconds: float = 0.5
    # Connections kept open to INSi: as many as the calls that may be in flight at once.
    connections: int = 10


class _Retryable(Exception):
    """Wraps an error worth retrying (temporarily unavailable, timeout)."""

    def __init__(self, error: InsiError) -> None:
        super().__init__(error.message)
        self.error = error


def given_name_sequence(given_names: Sequence[str]) -> list[str | None]:
    """Prenom values to try in turn (spec §3): each given name, then the whole list."""
    names = [name.strip() for name in given_names if name and name.strip()]
    if not names:
        return [None]
    sequence: list[str | None] = list(dict.fromkeys(names))
    whole = " ".join(names)
    if whole not in sequence:
        sequence.append(whole)
    return sequence


def _date_text(value: date | str) -> str:
    # Dates travel as YYYY-MM-DD; a str passes through for "lunar" civil dates.
    return value.isoformat() if isinstance(value, date) else value


class InsiClient:
    """Calls the two INSi operations; thread-safe, build one per configuration."""

    def __init__(self, config: InsiClientConfig) -> None:
        self._config = config
        cert: str | tuple[str, str] | None = None
        if config.client_cert:
            cert = (
                (config.client_cert, config.client_key) if config.client_key else config.client_cert
            )
        session = http_session(config.endpoint, config.connections)
        verify = config.ca_bundle or environ_ca_bundle() or True
        self._transport = StatusTransport(session, config.timeout_seconds, verify, cert)
        self._capture = CapturePlugin()
        self._tolerance = TolerancePlugin()
        # Capture first: the stored raw answer is the one received, before any tolerance.
        self._zeep = zeep.Client(
            wsdl=wsdl_document(),
            transport=self._transport,
            plugins=[self._capture, self._tolerance],
        )
        self._service = self._zeep.create_service(contract.BINDING_QNAME, config.endpoint)
        self._lps = self._zeep.get_element(f"{{{contract.NS_CTXLPS}}}ContexteLPS")
        self._bam = self._zeep.get_element(f"{{{contract.NS_CTXBAM}}}ContexteBAM")
        self._context_templates = self._contexts()

    @property
    def config(self) -> InsiClientConfig:
        return self._config

    def search_by_traits(
        self,
        birth_name: str,
        given_names: Sequence[str],
        sex: str,
        birth_date: date | str,
        birth_place: str | None = None,
    ) -> InsiSearchOutcome:
        """Traits search with the given-name retry; traits must already be INS-normalised."""
        attempts: list[InsiAttempt] = []
        for prenom in given_name_sequence(given_names):
            body = {
                "NomNaissance": birth_name,
                "Prenom": [] if prenom is None else [prenom],
                "Sexe": sex,
                "DateNaissance": _date_text(birth_date),
                "LieuNaissance": birth_place,
            }
            result = self._call(contract.OP_TRAITS, body)
            attempts.append(InsiAttempt(given_name_sent=prenom, result=result))
            if result.cr_code != contract.CR_NOT_FOUND:
                break
        last = attempts[-1]
        matched = last.given_name_sent if last.result.cr_code == contract.CR_OK else None
        return InsiSearchOutcome(attempts=tuple(attempts), matched_given_name=matched)

    def search_by_carte_vitale(
        self,
        matricule13: str,
        key: str,
        birth_name: str | None = None,
        birth_date: date | str | None = None,
        birth_rank: str | None = None,
        type_matricule: str | None = None,
        holder_matricule13: str | None = None,
        holder_key: str | None = None,
    ) -> InsiResult:
        """Search by the data of a Carte Vitale (beneficiary matricule, name, date, rank)."""
        holder = None
        if holder_matricule13 and holder_key:
            holder = {"NumIdentifiant": holder_matricule13, "Cle": holder_key}
        body = {
            "MatriculeIndividu": {
                "NumIdentifiant": matricule13,
                "Cle": key,
                "TypeMatricule": type_matricule,
            },
            "MatriculeOD": holder,
            "NomNaissance": birth_name,
            "DateNaissance": None if birth_date is None else _date_text(birth_date),
            "RangNaissance": birth_rank,
        }
        return self._call(contract.OP_VITALE, body)

    def _call(self, operation: str, body: dict[str, Any]) -> InsiResult:
        """One logical call: retries with exponential backoff where a retry can help."""
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._call_once(operation, body)
            except _Retryable as retryable:
                error = retryable.error
                error.attempts = attempt
                logger.warning("INSi %s attempt %d: %s", operation, attempt, type(error).__name__)
                if attempt > self._config.max_retries:
                    raise error from None
                time.sleep(self._config.retry_base_delay_seconds * 2 ** (attempt - 1))
            except InsiError as error:
                error.attempts = attempt
                raise
            else:
                logger.info("INSi %s CR %s (attempt %d)", operation, result.cr_code, attempt)
                return result

    def _call_once(self, operation: str, body: dict[str, Any]) -> InsiResult:
        method: Callable[..., Any] = getattr(self._service, operation)
        self._capture.reset()
        self._tolerance.reset()
        self._transport.reset()
        headers = self._headers(operation)
        message_id = headers[-1].text  # wsa:MessageID: how a call is named in the logs
        try:
            resultat = method(**body, _soapheaders=headers)
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc
        warnings = self._tolerance.warnings
        for warning in warnings:
            # Element names only, and the message id: never a value (they are traits).
            logger.warning("INSi %s %s: protocol warning: %s", operation, message_id, warning)
        return to_result(
            resultat, self._capture.request_xml, self._capture.response_xml, warnings=warnings
        )

    def _translate(self, exc: Exception) -> InsiError | _Retryable | None:
        """Our error for a zeep/requests exception, wrapped in _Retryable when worth it.

        None for anything else (a bug of ours), which then propagates unchanged.
        """
        response_xml = self._capture.response_xml or self._transport.last_body
        status = self._transport.last_status
        if status == 503:
            return _Retryable(InsiUnavailable("HTTP 503", http_status=503))
        if isinstance(exc, requests.exceptions.Timeout):
            return _Retryable(InsiTimeout(f"no answer within {self._config.timeout_seconds}s"))
        if isinstance(exc, requests.exceptions.SSLError):
            return InsiProtocolError(f"TLS failure: {exc}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return InsiUnavailable(f"cannot reach INSi: {type(exc).__name__}")
        if isinstance(exc, Fault) and isinstance(exc.detail, etree._Element | None):
            error = fault_to_error(exc, response_xml)
            return _Retryable(error) if isinstance(error, InsiUnavailable) else error
        if isinstance(exc, Fault | TransportError):
            # Not a SOAP Fault: an error page or a body that is not the contract's.
            return InsiProtocolError(
                f"HTTP {status}: not a SOAP answer", http_status=status, response_xml=response_xml
            )
        if isinstance(exc, ZeepError | etree.LxmlError | requests.exceptions.RequestException):
            return InsiProtocolError(
                f"{type(exc).__name__}: {exc}", http_status=status, response_xml=response_xml
            )
        return None

    def _contexts(self) -> tuple[etree._Element, etree._Element]:
        """ContexteLPS and ContexteBAM rendered once by zeep from the contract's schemas.

        Only their Id and Temps change from call to call: rendering them through zeep's
        type system on every call cost about a fifth of a call's CPU.
        """
        cfg = self._config
        lps = self._lps(
            Id="",
            Temps="",
            Emetteur=cfg.emitter,
            LPS={
                "IDAM": {"_value_1": cfg.idam, "R": contract.IDAM_REFERENTIAL},
                "Version": cfg.software_version,
                "Instance": cfg.instance_id,
                "Nom": cfg.software_name,
            },
            Nature=contract.CTXLPS_NATURE,
            Version=contract.CTXLPS_VERSION,
        )
        bam = self._bam(
            Id="", Temps="", Emetteur=cfg.emitter, COUVERTURE={}, Version=contract.CTXBAM_VERSION
        )
        holder = etree.Element("holder")
        self._lps.render(holder, lps)
        self._bam.render(holder, bam)
        return holder[0], holder[1]

    def _headers(self, operation: str) -> list[Any]:
        """ContexteLPS, ContexteBAM and WS-Addressing headers, fresh for every call."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        headers: list[Any] = []
        for template, namespace in zip(
            self._context_templates, (contract.NS_CTXLPS, contract.NS_CTXBAM), strict=True
        ):
            context = copy.deepcopy(template)
            context.find(f"{{{namespace}}}Id").text = str(uuid.uuid4())  # type: ignore[union-attr]
            context.find(f"{{{namespace}}}Temps").text = now  # type: ignore[union-attr]
            headers.append(context)
        action = etree.Element(f"{{{contract.NS_WSA}}}Action", nsmap={"wsa": contract.NS_WSA})
        action.text = contract.action_for(operation)
        message_id = etree.Element(
            f"{{{contract.NS_WSA}}}MessageID", nsmap={"wsa": contract.NS_WSA}
        )
        message_id.text = f"uuid:{uuid.uuid4()}"
        return [*headers, action, message_id]
