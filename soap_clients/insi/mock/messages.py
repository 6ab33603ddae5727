"""SOAP 1.2 messages the mock sends: RESULTAT answers and the INSi faults."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from lxml import etree

from soap_clients.insi.contract import (
    CR_LABELS,
    NS_RESULTAT,
    NS_SIRAM,
    NS_SOAP12,
    NS_WSA,
)
from soap_clients.insi.mock.population import InsRecord, Person

_UNAVAILABLE_REASON = (
    "Le service est temporairement inaccessible. Veuillez renouveler votre demande "
    "ultérieurement. Si le problème persiste, contactez l'éditeur du progiciel ou votre "
    "responsable informatique."
)


@dataclass(frozen=True)
class MockFault:
    """A SOAP 1.2 Fault as INSi shapes it: Code, siram Subcode, Reason, siram:Erreur detail."""

    code: str
    subcode: str
    reason: str
    error_code: str
    severity: str
    detail: str

    @property
    def http_status(self) -> int:
        # SOAP 1.2 HTTP binding: Sender faults are 400, every other fault 500.
        return 400 if self.code == "Sender" else 500


UNAVAILABLE = MockFault(
    "Receiver",
    "siram_40",
    _UNAVAILABLE_REASON,
    "desir_1020",
    "fatale",
    "Le service est temporairement indisponible.",
)
TECHNICAL_ERROR = MockFault(
    "Receiver",
    "siram_40",
    _UNAVAILABLE_REASON,
    "insi_102",
    "fatale",
    "L'appel au service de recherche avec les traits d'identité renvoie une erreur technique.",
)
UNKNOWN_IDAM = MockFault(
    "Sender",
    "siram_100",
    "L'accès par ce progiciel au service n'est pas autorisé. Contactez l'éditeur du "
    "progiciel ou votre responsable informatique.",
    "desir_550",
    "erreur",
    "Numéro d'autorisation du logiciel inconnu.",
)
# (U) the subcode of DESIR_560 is not in the public material we read; siram_100 is the
# authorisation family, which is what the error is about.
ACCESS_LEVEL = MockFault(
    "Sender",
    "siram_100",
    "Vous ne disposez pas des droits suffisants pour accéder à ce service.",
    "DESIR_560",
    "erreur",
    "Niveau d'accès insuffisant.",
)


def invalid_request(detail: str) -> MockFault:
    """Sender fault for a request the contract rejects.

    (U) the real codes for a schema violation are not public; clients must rely on the
    Sender code only, so these ones are named for what they mean.
    """
    return MockFault(
        "Sender",
        "siram_10",
        "La requête ne respecte pas le contrat du service.",
        "requete_invalide",
        "erreur",
        detail[:500],
    )


def _envelope(headers: list[etree._Element], body_child: etree._Element) -> bytes:
    nsmap = {"soap": NS_SOAP12, "wsa": NS_WSA}
    envelope = etree.Element(f"{{{NS_SOAP12}}}Envelope", nsmap=nsmap)
    if headers:
        etree.SubElement(envelope, f"{{{NS_SOAP12}}}Header").extend(headers)
    etree.SubElement(envelope, f"{{{NS_SOAP12}}}Body").append(body_child)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def _wsa_headers(action: str, relates_to: str | None) -> list[etree._Element]:
    headers = []
    for name, value in (("Action", action), ("MessageID", f"uuid:{uuid.uuid4()}")):
        element = etree.Element(f"{{{NS_WSA}}}{name}")
        element.text = value
        headers.append(element)
    if relates_to:
        relates = etree.Element(f"{{{NS_WSA}}}RelatesTo")
        relates.text = relates_to
        headers.append(relates)
    return headers


def fault_message(fault: MockFault) -> bytes:
    """The SOAP 1.2 envelope of an INSi fault (Subcode qualified by the envelope prefix)."""
    node = etree.Element(f"{{{NS_SOAP12}}}Fault")
    code = etree.SubElement(node, f"{{{NS_SOAP12}}}Code")
    etree.SubElement(code, f"{{{NS_SOAP12}}}Value").text = f"soap:{fault.code}"
    subcode = etree.SubElement(code, f"{{{NS_SOAP12}}}Subcode")
    etree.SubElement(subcode, f"{{{NS_SOAP12}}}Value").text = f"soap:{fault.subcode}"
    reason = etree.SubElement(node, f"{{{NS_SOAP12}}}Reason")
    text = etree.SubElement(reason, f"{{{NS_SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "fr")
    text.text = fault.reason
    detail = etree.SubElement(node, f"{{{NS_SOAP12}}}Detail")
    erreur = etree.SubElement(
        detail,
        f"{{{NS_SIRAM}}}Erreur",
        nsmap={"siram": NS_SIRAM},
        code=fault.error_code,
        severite=fault.severity,
    )
    erreur.text = fault.detail
    return _envelope([], node)


def _add(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, f"{{{NS_RESULTAT}}}{name}").text = value


def _ins_block(parent: etree._Element, name: str, record: InsRecord) -> None:
    block = etree.SubElement(parent, f"{{{NS_RESULTAT}}}{name}")
    id_individu = etree.SubElement(block, f"{{{NS_RESULTAT}}}IdIndividu")
    _add(id_individu, "NumIdentifiant", record.matricule13)
    _add(id_individu, "Cle", record.key)
    _add(id_individu, "TypeMatricule", record.type_matricule)
    _add(block, "OID", record.oid)
    _add(block, "DateDeb", record.date_deb)
    _add(block, "DateFin", record.date_fin)


def resultat_element(cr_code: str, person: Person | None) -> etree._Element:
    """RESULTAT with its CR and, for CR 00, the INDIVIDU (TIQ without Prenom, as seen live)."""
    # A default namespace, as INSi answers; lxml-stubs do not type the None prefix.
    default_ns: Any = {None: NS_RESULTAT}
    resultat = etree.Element(f"{{{NS_RESULTAT}}}RESULTAT", nsmap=default_ns)
    report = etree.SubElement(resultat, f"{{{NS_RESULTAT}}}CR")
    _add(report, "CodeCR", cr_code)
    _add(report, "LibelleCR", CR_LABELS[cr_code])
    if person is not None:
        individu = etree.SubElement(resultat, f"{{{NS_RESULTAT}}}INDIVIDU")
        _ins_block(individu, "INSACTIF", person.active)
        for record in person.history:
            _ins_block(individu, "INSHISTO", record)
        tiq = etree.SubElement(individu, f"{{{NS_RESULTAT}}}TIQ")
        _add(tiq, "NomNaissance", person.birth_name)
        _add(tiq, "ListePrenom", person.given_names_list)
        _add(tiq, "Sexe", person.sex)
        _add(tiq, "DateNaissance", person.birth_date)
        _add(tiq, "LieuNaissance", person.birth_place)
    return resultat


def resultat_message(
    cr_code: str, person: Person | None, action: str, relates_to: str | None
) -> bytes:
    """The SOAP 1.2 envelope answering a search."""
    return _envelope(_wsa_headers(action, relates_to), resultat_element(cr_code, person))
