"""zeep plumbing of the INSi client: the WSDL parsed once, raw XML capture, HTTP status."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

import requests
import requests.adapters
import requests.utils
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


def http_session(endpoint: str, connections: int) -> requests.Session:
    """A session that reads the environment once, here, rather than on every call.

    By default requests looks up proxies (walking the whole environment), the netrc file and
    REQUESTS_CA_BUNDLE on every request: about a third of an INSi call's CPU in the client.
    The endpoint is fixed for the session, so its proxy is resolved once; `environ_ca_bundle`
    keeps the environment's CA bundle for a client configured without one.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies = {
        scheme: url
        for scheme, url in requests.utils.get_environ_proxies(endpoint).items()
        if scheme != "no"
    }
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=connections)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def environ_ca_bundle() -> str | None:
    """The CA bundle requests would take from the environment for `verify=True`."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


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
    TLS settings are passed on each POST (the session does not read the environment: see
    `http_session`).
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
        self._templates: dict[str, requests.PreparedRequest] = {}

    def _template(self, address: str) -> requests.PreparedRequest:
        """The POST to ``address`` prepared once: its URL, the session's headers and auth.

        Preparing a request from scratch (parsing and checking the URL, merging the session's
        settings) was about a tenth of an INSi search's CPU; each call copies this one and adds
        its own headers, body and the session's cookies.
        """
        template = self._templates.get(address)
        if template is None:
            prepared: requests.PreparedRequest = self.session.prepare_request(
                requests.Request("POST", address)
            )
            prepared.headers.pop("Cookie", None)  # the cookies of the moment, added per call
            template = self._templates[address] = prepared
        return template

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
        request = self._template(address).copy()
        request.headers.update(headers)
        request.prepare_body(message, None)
        if self.session.cookies:
            request.prepare_cookies(self.session.cookies)
        # The session sends it as `session.post` would (redirects, cookies kept, body read).
        response = self.session.send(
            request,
            timeout=self.operation_timeout,
            verify=self._verify,
            cert=self._cert,
            proxies=self.session.proxies,
        )
        self._last.status = response.status_code
        self._last.body = response.content
        return response
