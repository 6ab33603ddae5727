"""The packaged WSDL/XSD: they parse, carry the contract's names, and zeep's requests fit."""

from __future__ import annotations

import pytest
from lxml import etree

from soap_clients.insi import InsiClient, given_name_sequence
from soap_clients.insi.contract import (
    NS_CTXBAM,
    NS_CTXLPS,
    NS_SOAP12,
    NS_WSA,
    XSD_FILES,
    contract_path,
    contract_schema,
)
from soap_clients.insi.transport import wsdl_document
from tests.soap_clients.conftest import FIXTURES, RunningMock, make_client

WSDL_NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
}


@pytest.mark.parametrize("name", XSD_FILES)
def test_each_xsd_is_a_valid_schema(name: str) -> None:
    etree.XMLSchema(etree.parse(str(contract_path(name))))


def test_wsdl_carries_the_contract_names() -> None:
    root = etree.parse(str(contract_path("ServiceIdentiteCertifiee-v1.wsdl"))).getroot()
    assert root.get("name") == "ServiceIdentiteCertifiee-v1"
    assert root.get("targetNamespace") == "http://www.cnamts.fr/webservice"
    assert root.xpath("wsdl:portType/@name", namespaces=WSDL_NS) == ["ICIRService"]
    assert root.xpath("wsdl:service/@name", namespaces=WSDL_NS) == ["ICIR-v1"]
    binding = root.find("wsdl:binding", WSDL_NS)
    assert binding is not None and binding.get("name") == "ICIRServiceBinding"
    soap_binding = binding.find("soap12:binding", WSDL_NS)
    assert soap_binding is not None and soap_binding.get("style") == "document"
    actions = binding.xpath("wsdl:operation/soap12:operation/@soapAction", namespaces=WSDL_NS)
    assert actions == [
        "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite",
        "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale",
    ]


def test_zeep_reads_the_wsdl_once_per_process(mock: RunningMock) -> None:
    make_client(mock.url)
    make_client(mock.url, idam="OTHER")
    assert wsdl_document() is wsdl_document()
    assert wsdl_document.cache_info().misses == 1


def _validate_request(request_xml: str) -> etree._Element:
    """Validate each header block and the body of a request against our XSD."""
    root = etree.fromstring(request_xml.encode())
    schema = contract_schema()
    header = root.find(f"{{{NS_SOAP12}}}Header")
    body = root.find(f"{{{NS_SOAP12}}}Body")
    assert header is not None and body is not None
    for tag in (f"{{{NS_CTXLPS}}}ContexteLPS", f"{{{NS_CTXBAM}}}ContexteBAM"):
        element = header.find(tag)
        assert element is not None, tag
        schema.assertValid(element)
    schema.assertValid(body[0])
    return root


def test_traits_request_built_by_zeep_fits_the_contract(client: InsiClient) -> None:
    result = client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31", "63220").final
    root = _validate_request(result.request_xml)
    header = root.find(f"{{{NS_SOAP12}}}Header")
    assert header is not None
    lps = header.find(f"{{{NS_CTXLPS}}}ContexteLPS")
    assert lps is not None
    assert (lps.get("Nature"), lps.get("Version")) == ("CTXLPS", "01_00")
    idam = lps.find(f"{{{NS_CTXLPS}}}LPS/{{{NS_CTXLPS}}}IDAM")
    assert idam is not None and (idam.get("R"), idam.text) == ("4", "SOCLE-TEST-IDAM")
    bam = header.find(f"{{{NS_CTXBAM}}}ContexteBAM")
    assert bam is not None and bam.get("Version") == "01_02"
    couverture = bam.find(f"{{{NS_CTXBAM}}}COUVERTURE")
    assert couverture is not None and len(couverture) == 0
    assert header.findtext(f"{{{NS_WSA}}}Action") == (
        "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite"
    )
    assert (header.findtext(f"{{{NS_WSA}}}MessageID") or "").startswith("uuid:")
    assert (lps.findtext(f"{{{NS_CTXLPS}}}Temps") or "").endswith("Z")


def test_vitale_request_built_by_zeep_fits_the_contract(client: InsiClient) -> None:
    result = client.search_by_carte_vitale(
        "180032B020401", "23", "CORSE", "1980-03-02", "1", None, "180032B020401", "23"
    )
    root = _validate_request(result.request_xml)
    assert root.findtext(f".//{{{NS_WSA}}}Action") == (
        "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale"
    )


def test_each_call_gets_fresh_ids(client: InsiClient) -> None:
    first = client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").final
    second = client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").final
    ids = [
        etree.fromstring(r.request_xml.encode()).findtext(f".//{{{NS_WSA}}}MessageID")
        for r in (first, second)
    ]
    assert ids[0] != ids[1]


@pytest.mark.parametrize("name", ["request_traits_adrun.xml", "request_vitale_corse.xml"])
def test_sample_requests_fit_the_contract(name: str) -> None:
    _validate_request((FIXTURES / name).read_text(encoding="utf-8"))


def test_sample_request_without_couverture_does_not_fit() -> None:
    with pytest.raises(etree.DocumentInvalid, match="COUVERTURE"):
        _validate_request(
            (FIXTURES / "request_traits_missing_couverture.xml").read_text(encoding="utf-8")
        )


@pytest.mark.parametrize(
    "name",
    [
        "response_cr00_adrun.xml",
        "response_cr02_de_vinci.xml",
        "response_cr00_corse_with_prenom.xml",
        "fault_siram_40_insi_102.xml",
    ],
)
def test_sample_answers_fit_the_contract(name: str) -> None:
    root = etree.parse(str(FIXTURES / name)).getroot()
    body = root.find(f"{{{NS_SOAP12}}}Body")
    assert body is not None
    payload = body[0]
    if payload.tag == f"{{{NS_SOAP12}}}Fault":
        detail = payload.find(f"{{{NS_SOAP12}}}Detail")
        assert detail is not None
        payload = detail[0]
    contract_schema().assertValid(payload)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["ZOE"], ["ZOE"]),
        (["OLA", "CATARINA"], ["OLA", "CATARINA", "OLA CATARINA"]),
        (["A", " ", "B", "A"], ["A", "B", "A B A"]),
        (["PIERRE PAUL"], ["PIERRE PAUL"]),
        ([], [None]),
    ],
)
def test_given_name_sequence(given: list[str], expected: list[str | None]) -> None:
    assert given_name_sequence(given) == expected
