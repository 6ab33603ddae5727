"""The mock over raw HTTP: faults for bad requests, the WSDL under a prefix, the CN check."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest
import zeep
from lxml import etree
from starlette.applications import Starlette

from soap_clients.insi import InsiFault
from soap_clients.insi.contract import NS_SIRAM, NS_SOAP12, NS_WSDL_SOAP12, NS_XSD
from soap_clients.insi.mock import MockConfig, create_mock_app, mount_mock
from tests.soap_clients.conftest import (
    FIXTURES,
    IDAM,
    RunningMock,
    ScopeInjector,
    free_port,
    make_client,
    serve,
)

SOAP_HEADERS = {"Content-Type": "application/soap+xml;charset=utf-8"}
ADRUN_REQUEST = (FIXTURES / "request_traits_adrun.xml").read_bytes()


def _post(url: str, payload: bytes, **headers: str) -> httpx.Response:
    return httpx.post(url, content=payload, headers={**SOAP_HEADERS, **headers}, timeout=5)


def _fault(response: httpx.Response) -> tuple[str, str, str, str]:
    """(Code, Subcode, siram:Erreur code, Reason) of a SOAP 1.2 fault answer."""
    root = etree.fromstring(response.content)
    ns = {"s": NS_SOAP12, "siram": NS_SIRAM}
    erreur = root.find("s:Body/s:Fault/s:Detail/siram:Erreur", ns)
    assert erreur is not None
    return (
        root.findtext("s:Body/s:Fault/s:Code/s:Value", namespaces=ns) or "",
        root.findtext("s:Body/s:Fault/s:Code/s:Subcode/s:Value", namespaces=ns) or "",
        erreur.get("code") or "",
        (erreur.text or "") + " " + (root.findtext(".//s:Reason/s:Text", namespaces=ns) or ""),
    )


def test_the_sample_request_is_answered(mock: RunningMock) -> None:
    response = _post(mock.url, ADRUN_REQUEST)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/soap+xml")
    assert b"<CodeCR>00</CodeCR>" in response.content
    assert b"RelatesTo" in response.content


def test_missing_couverture_is_a_sender_fault(mock: RunningMock) -> None:
    response = _post(mock.url, (FIXTURES / "request_traits_missing_couverture.xml").read_bytes())
    assert response.status_code == 400
    code, subcode, error, text = _fault(response)
    assert (code, subcode, error) == ("soap:Sender", "soap:siram_10", "requete_invalide")
    assert "COUVERTURE" in text


def test_missing_contexte_lps_is_a_sender_fault(mock: RunningMock) -> None:
    root = etree.fromstring(ADRUN_REQUEST)
    header = root.find(f"{{{NS_SOAP12}}}Header")
    assert header is not None
    header.remove(header[0])
    response = _post(mock.url, etree.tostring(root))
    assert response.status_code == 400
    assert "ContexteLPS" in _fault(response)[3]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"<ns0:Sexe>F</ns0:Sexe>", b"<ns0:Sexe>Z</ns0:Sexe>", "Sexe"),
        (b"1975-12-31", b"31/12/1975", "DateNaissance"),
        (b'R="4"', b"", "R"),
        (b"rechercherInsAvecTraitsIdentite</wsa:Action>", b"autre</wsa:Action>", "wsa:Action"),
    ],
)
def test_requests_breaking_the_contract_are_sender_faults(
    mock: RunningMock, old: bytes, new: bytes, reason: str
) -> None:
    assert old in ADRUN_REQUEST
    response = _post(mock.url, ADRUN_REQUEST.replace(old, new))
    assert response.status_code == 400
    code, _, error, text = _fault(response)
    assert (code, error) == ("soap:Sender", "requete_invalide")
    assert reason in text


@pytest.mark.parametrize(
    "payload",
    [b"<soap:Envelope xmlns:soap='x'><unclosed>", b"", b"not xml at all", b"<a/>"],
)
def test_malformed_or_foreign_xml_is_a_sender_fault(mock: RunningMock, payload: bytes) -> None:
    response = _post(mock.url, payload)
    assert response.status_code == 400
    assert _fault(response)[0] == "soap:Sender"


def test_unknown_idam_in_a_raw_request(mock: RunningMock) -> None:
    response = _post(mock.url, ADRUN_REQUEST.replace(IDAM.encode(), b"OTHER"))
    assert response.status_code == 400
    assert _fault(response)[:3] == ("soap:Sender", "soap:siram_100", "desir_550")


def _host_with_mock_under_prefix() -> tuple[Starlette, Starlette]:
    mock_app = create_mock_app(MockConfig(known_idam=[IDAM]))
    host = Starlette()
    mount_mock(host, "/mock/insi", mock_app)
    return host, mock_app


def test_wsdl_served_under_a_prefix_points_back_at_it() -> None:
    host, _ = _host_with_mock_under_prefix()
    with serve(host) as base:
        for endpoint in (f"{base}/mock/insi", f"{base}/mock/insi/"):
            response = httpx.get(f"{endpoint}?wsdl", timeout=5)
            assert response.status_code == 200
            root = etree.fromstring(response.content)
            address = root.find(f".//{{{NS_WSDL_SOAP12}}}address")
            assert address is not None and address.get("location") == endpoint
            locations = [i.get("schemaLocation") or "" for i in root.iter(f"{{{NS_XSD}}}import")]
            assert locations and all(loc.startswith(f"{endpoint}?xsd=") for loc in locations)
            xsd = httpx.get(locations[0], timeout=5)
            assert xsd.status_code == 200 and b"targetNamespace" in xsd.content
        assert httpx.get(f"{base}/mock/insi?xsd=../secret", timeout=5).status_code == 404


def test_zeep_reading_the_served_wsdl_reaches_the_mock() -> None:
    host, _ = _host_with_mock_under_prefix()
    with serve(host) as base:
        endpoint = f"{base}/mock/insi"
        remote = zeep.Client(f"{endpoint}?wsdl")
        assert remote.service._binding_options["address"] == endpoint
        # The prefix itself answers POSTs directly, no redirect to follow.
        direct = httpx.post(endpoint, content=ADRUN_REQUEST, headers=SOAP_HEADERS, timeout=5)
        assert direct.status_code == 200
        client = make_client(endpoint)
        assert client.search_by_traits("CORSE", ["ANTHONY"], "M", "1980-03-02").cr_code == "00"


def test_client_cn_from_a_proxy_header() -> None:
    app = create_mock_app(
        MockConfig(known_idam=[IDAM], require_client_cn=True, client_cn_header="X-SSL-Client-CN")
    )
    with serve(app) as base:
        assert _post(base, ADRUN_REQUEST, **{"X-SSL-Client-CN": "INSI-AUTO"}).status_code == 200
        assert _post(base, ADRUN_REQUEST, **{"X-SSL-Client-CN": "INSI-MANU"}).status_code == 200
        for headers in ({"X-SSL-Client-CN": "Padoa"}, {}):
            response = _post(base, ADRUN_REQUEST, **headers)
            assert _fault(response)[:3] == ("soap:Sender", "soap:siram_100", "DESIR_560")
        with pytest.raises(InsiFault) as caught:
            make_client(base + "/").search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31")
        assert caught.value.error_code == "DESIR_560"


@pytest.mark.parametrize(
    ("distinguished_name", "accepted"),
    [("CN=INSI-MANU,OU=10B0152872,O=CENTRE DE SANTE", True), ("CN=Padoa,O=X", False)],
)
def test_client_cn_from_the_asgi_tls_extension(distinguished_name: str, accepted: bool) -> None:
    mock_app = create_mock_app(MockConfig(known_idam=[IDAM], require_client_cn=True))
    with serve(ScopeInjector(mock_app, {}, distinguished_name)) as base:
        client = make_client(base + "/")
        if accepted:
            assert client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").cr_code == "00"
        else:
            with pytest.raises(InsiFault, match="DESIR_560"):
                client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31")


def test_cn_not_required_by_default(start_mock: Callable[..., RunningMock]) -> None:
    running = start_mock()
    assert _post(running.url, ADRUN_REQUEST, **{"X-SSL-Client-CN": "Padoa"}).status_code == 200


def test_run_mock_serves_from_the_command_line() -> None:
    port = free_port()
    code = (
        "from soap_clients.insi.mock import MockConfig, run_mock;"
        f"run_mock(MockConfig(known_idam=['{IDAM}']), '127.0.0.1', {port})"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/?wsdl", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "run_mock did not start"
                time.sleep(0.1)
        assert response.status_code == 200 and b"ICIR-v1" in response.content
        assert _post(f"http://127.0.0.1:{port}/", ADRUN_REQUEST).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
