"""zeep plumbing of the INSi client: the WSDL parsed once, raw XML capture, HTTP status."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import requests
from lxml import etree
from zeep.plugins import Plugin
from zeep.transports import Transport
from zeep.wsdl import Document

from soap_clients.insi import contract


@lru_cache(maxsize=1)
def wsdl_document() -> Document:
    """The packaged WSDL parsed once per process (it never changes at run time)."""
    # zeep annotates `transport` as a class although it wants an instance.
    transport: Any = Transport()
    return Document(str(contract.contract_path(contract.WSDL_FILE)), transport)


class CapturePlugin(Plugin):
    """Keeps the raw request and response envelopes of the current thread's call."""

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        self._local.request = ""
        self._local.response = ""

    @property
    def request_xml(self) -> str:
        return str(getattr(self._local, "request", ""))

    @property
    def response_xml(self) -> str:
        return str(getattr(self._local, "response", ""))

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        self._local.request = etree.tostring(envelope, encoding="unicode")
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self._local.response = etree.tostring(envelope, encoding="unicode")
        return envelope, http_headers


class StatusTransport(Transport):
    """Remembers the HTTP status and body of the current thread's last POST.

    zeep turns any well-formed non-SOAP error page (a proxy's 503) into a bare Fault, which
    loses the status; the status is what tells "unavailable" from "broken".
    TLS settings are passed on each POST: requests lets REQUESTS_CA_BUNDLE override a
    session's `verify`, which would silently drop the configured CA bundle.
    """

    def __init__(
        self,
        session: requests.Session,
        timeout: float,
        verify: str | bool,
        cert: str | tuple[str, str] | None,
    ) -> None:
        super().__init__(session=session, timeout=timeout, operation_timeout=timeout)
        self._verify = verify
        self._cert = cert
        self._last = threading.local()

    def reset(self) -> None:
        self._last.status = None
        self._last.body = b""

    @property
    def last_status(self) -> int | None:
        status = getattr(self._last, "status", None)
        return int(status) if status is not None else None

    @property
    def last_body(self) -> str:
        return bytes(getattr(self._last, "body", b"")).decode("utf-8", "replace")

    def post(self, address: str, message: Any, headers: Any) -> requests.Response:
        response = self.session.post(
            address,
            data=message,
            headers=headers,
            timeout=self.operation_timeout,
            verify=self._verify,
            cert=self._cert,
        )
        self._last.status = response.status_code
        self._last.body = response.content
        return response
