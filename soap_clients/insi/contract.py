"""Names of the INSi contract (spec/ins-insi.md §3) shared by the client and the mock."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from lxml import etree

WSDL_FILE = "ServiceIdentiteCertifiee-v1.wsdl"
XSD_FILES = (
    "INSiRecSans.xsd",
    "INSiRecVit.xsd",
    "INSiResultat.xsd",
    "CTXLPS.xsd",
    "CTXBAM.xsd",
    "siram.xsd",
)

NS_WEBSERVICE = "http://www.cnamts.fr/webservice"
NS_RECSANS = "http://www.cnamts.fr/INSiRecSans"
NS_RECVIT = "http://www.cnamts.fr/INSiRecVit"
NS_RESULTAT = "http://www.cnamts.fr/INSiResultat"
NS_CTXLPS = "urn:siram:lps:ctxlps"
NS_CTXBAM = "urn:siram:bam:ctxbam"
NS_SIRAM = "urn:siram"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
NS_XSD = "http://www.w3.org/2001/XMLSchema"

BINDING_QNAME = f"{{{NS_WEBSERVICE}}}ICIRServiceBinding"
SERVICE_NAME = "ICIR-v1"

OP_TRAITS = "rechercherInsAvecTraitsIdentite"
OP_VITALE = "rechercherInsAvecCarteVitale"
ACTION_PREFIX = "urn:ServiceIdentiteCertifiee:1.0.0:"
RESPONSE_SUFFIX = "Response"

# Body element (Clark notation) -> operation name; the mock dispatches on it.
BODY_OPERATIONS = {
    f"{{{NS_RECSANS}}}RECSANSVITALE": OP_TRAITS,
    f"{{{NS_RECVIT}}}RECVITALE": OP_VITALE,
}

CR_OK = "00"
CR_NOT_FOUND = "01"
CR_MULTIPLE = "02"
CR_LABELS = {
    CR_OK: "OK",
    CR_NOT_FOUND: "Aucune identite trouvee",
    CR_MULTIPLE: "Plusieurs identites trouvees",
}

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"

IDAM_REFERENTIAL = "4"
CTXLPS_NATURE = "CTXLPS"
CTXLPS_VERSION = "01_00"
CTXBAM_VERSION = "01_02"

SOAP12_CONTENT_TYPE = "application/soap+xml;charset=utf-8"


def action_for(operation: str) -> str:
    """The wsa:Action of a request to `operation`."""
    return f"{ACTION_PREFIX}{operation}"


def response_action_for(operation: str) -> str:
    """The wsa:Action of the answer to `operation`."""
    return f"{ACTION_PREFIX}{operation}{RESPONSE_SUFFIX}"


def contract_path(name: str) -> Path:
    """Filesystem path of a packaged contract file (zeep resolves imports relative to it)."""
    return Path(str(resources.files(__package__).joinpath(name)))


def read_contract_file(name: str) -> bytes:
    """Bytes of a packaged contract file; only the known names are served."""
    if name != WSDL_FILE and name not in XSD_FILES:
        raise KeyError(name)
    return contract_path(name).read_bytes()


@lru_cache(maxsize=1)
def contract_schema() -> etree.XMLSchema:
    """One XMLSchema holding every namespace of the contract, built once per process."""
    root = etree.Element(f"{{{NS_XSD}}}schema", nsmap={"xs": NS_XSD})
    for name in XSD_FILES:
        path = contract_path(name)
        target = etree.parse(str(path)).getroot().get("targetNamespace") or ""
        etree.SubElement(
            root, f"{{{NS_XSD}}}import", namespace=target, schemaLocation=path.as_uri()
        )
    return etree.XMLSchema(etree.ElementTree(root))
