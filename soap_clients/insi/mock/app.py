"""The mock INSi teleservice as an ASGI app: WSDL on GET ?wsdl, SOAP 1.2 on POST."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from soap_clients.insi.contract import (
    NS_WSDL_SOAP12,
    NS_XSD,
    SOAP12_CONTENT_TYPE,
    WSDL_FILE,
    XSD_FILES,
    read_contract_file,
)
from soap_clients.insi.mock.config import MockConfig
from soap_clients.insi.mock.personas import PERSONAS
from soap_clients.insi.mock.population import Population
from soap_clients.insi.mock.population_file import load_population_file
from soap_clients.insi.mock.service import MockTeleservice

logger = logging.getLogger(__name__)


class MockStats:
    """Counts the SOAP requests received, so tests can observe the client's retries."""

    def __init__(self) -> None:
        self.requests = 0


def build_population(config: MockConfig) -> Population:
    """The personas of the spec, then the persons of the optional population file."""
    persons = list(PERSONAS)
    if config.population_file is not None:
        persons.extend(load_population_file(config.population_file))
    return Population(persons)


def create_mock_app(config: MockConfig) -> Starlette:
    """Build the mock teleservice; mount it under any prefix, it answers on every path."""
    teleservice = MockTeleservice(config, build_population(config))
    stats = MockStats()

    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            return _contract_document(request)
        stats.requests += 1
        payload = await request.body()
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        status, body = teleservice.handle(payload, _client_cn(request, config))
        return Response(body, status_code=status, media_type=SOAP12_CONTENT_TYPE)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])
    app.state.stats = stats
    app.state.config = config
    return app


def mount_mock(host_app: Starlette, prefix: str, mock_app: ASGIApp) -> None:
    """Serve the mock at `prefix` exactly and below it.

    A bare Mount would answer `prefix` (no trailing slash) with a redirect, which a SOAP
    client would follow on every call; the extra Route answers it directly.
    """
    host_app.router.routes.append(Route(prefix, mock_app, methods=["GET", "POST"]))
    host_app.router.routes.append(Mount(prefix, app=mock_app))


def _endpoint_url(request: Request) -> str:
    # The URL this request reached, so that a WSDL read through a prefix or a proxy points
    # back at the same place.
    return str(request.url.replace(query=None, fragment=None))


def _contract_document(request: Request) -> Response:
    query = {key.lower(): value for key, value in request.query_params.items()}
    base = _endpoint_url(request)
    if "wsdl" in query:
        return Response(served_wsdl(base), media_type="text/xml;charset=utf-8")
    if query.get("xsd") in XSD_FILES:
        return Response(read_contract_file(query["xsd"]), media_type="text/xml;charset=utf-8")
    return PlainTextResponse("INSi mock teleservice: GET ?wsdl, POST SOAP 1.2.", 404)


def served_wsdl(base_url: str) -> bytes:
    """The packaged WSDL with its address and schema locations pointing at `base_url`."""
    root = etree.fromstring(read_contract_file(WSDL_FILE))
    for address in root.iter(f"{{{NS_WSDL_SOAP12}}}address"):
        address.set("location", base_url)
    for schema_import in root.iter(f"{{{NS_XSD}}}import"):
        location = schema_import.get("schemaLocation")
        if location in XSD_FILES:
            schema_import.set("schemaLocation", f"{base_url}?xsd={location}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _client_cn(request: Request, config: MockConfig) -> str | None:
    """CN of the client certificate: proxy header if configured, else ASGI TLS extension."""
    if config.client_cn_header:
        value = request.headers.get(config.client_cn_header)
        if value:
            return value.strip()
    tls: dict[str, Any] = request.scope.get("extensions", {}).get("tls") or {}
    return cn_from_distinguished_name(tls.get("client_cert_name"))


def cn_from_distinguished_name(name: str | None) -> str | None:
    """The CN of an RFC 4514 distinguished name ("CN=INSI-AUTO,O=...")."""
    if not name:
        return None
    for part in name.split(","):
        attribute, _, value = part.strip().partition("=")
        if attribute.strip().upper() == "CN":
            return value.strip()
    return None
