"""The mock teleservice's behaviour: one SOAP request in, one SOAP answer out (no I/O)."""

from __future__ import annotations

import logging

from lxml import etree

from soap_clients.insi.contract import (
    BODY_OPERATIONS,
    CR_MULTIPLE,
    CR_NOT_FOUND,
    CR_OK,
    NS_CTXBAM,
    NS_CTXLPS,
    NS_RECSANS,
    NS_RECVIT,
    NS_SOAP12,
    NS_WSA,
    OP_TRAITS,
    action_for,
    contract_schema,
    response_action_for,
)
from soap_clients.insi.mock import messages
from soap_clients.insi.mock.config import ACCEPTED_CLIENT_CNS, MockConfig
from soap_clients.insi.mock.messages import MockFault
from soap_clients.insi.mock.population import Person, Population

logger = logging.getLogger(__name__)

# Requests come from the network: no entity expansion, no DTD or network fetches.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class Rejected(Exception):
    """Raised while handling a request that ends in a SOAP Fault."""

    def __init__(self, fault: MockFault) -> None:
        super().__init__(fault.error_code)
        self.fault = fault


class MockTeleservice:
    """Checks a request the way INSi does and answers from the population."""

    def __init__(self, config: MockConfig, population: Population) -> None:
        self._config = config
        self._population = population
        self._known_idam = frozenset(config.known_idam)

    def handle(self, payload: bytes, client_cn: str | None) -> tuple[int, bytes]:
        """HTTP status and SOAP envelope answering `payload`."""
        try:
            return 200, self._answer(payload, client_cn)
        except Rejected as rejected:
            fault = rejected.fault
            logger.info("mock INSi fault %s/%s", fault.subcode, fault.error_code)
            return fault.http_status, messages.fault_message(fault)

    def _answer(self, payload: bytes, client_cn: str | None) -> bytes:
        if self._config.unavailable:
            raise Rejected(messages.UNAVAILABLE)
        if self._config.require_client_cn and client_cn not in ACCEPTED_CLIENT_CNS:
            raise Rejected(messages.ACCESS_LEVEL)
        header, body = _envelope_parts(payload)
        operation = BODY_OPERATIONS.get(body.tag)
        if operation is None:
            raise Rejected(messages.invalid_request(f"Opération inconnue: {body.tag}"))
        message_id = self._check_headers(header, operation)
        _validate(body)
        if self._config.technical_error:
            raise Rejected(messages.TECHNICAL_ERROR)
        persons = self._search(operation, body)
        cr_code = {0: CR_NOT_FOUND, 1: CR_OK}.get(len(persons), CR_MULTIPLE)
        found = persons[0] if cr_code == CR_OK else None
        logger.info("mock INSi %s CR %s", operation, cr_code)
        return messages.resultat_message(cr_code, found, response_action_for(operation), message_id)

    def _check_headers(self, header: etree._Element | None, operation: str) -> str | None:
        """Validate ContexteLPS, the IDAM, ContexteBAM and wsa:Action; return the MessageID."""
        lps = _header_child(header, f"{{{NS_CTXLPS}}}ContexteLPS")
        _validate(lps)
        idam = lps.findtext(f"{{{NS_CTXLPS}}}LPS/{{{NS_CTXLPS}}}IDAM")
        if idam not in self._known_idam:
            raise Rejected(messages.UNKNOWN_IDAM)
        _validate(_header_child(header, f"{{{NS_CTXBAM}}}ContexteBAM"))
        action = _header_child(header, f"{{{NS_WSA}}}Action").text
        if (action or "").strip() != action_for(operation):
            raise Rejected(messages.invalid_request("wsa:Action ne correspond pas au corps."))
        return None if header is None else header.findtext(f"{{{NS_WSA}}}MessageID")

    def _search(self, operation: str, body: etree._Element) -> list[Person]:
        if operation == OP_TRAITS:
            return self._population.search_traits(
                birth_name=_text(body, NS_RECSANS, "NomNaissance") or "",
                given_names=[p.text or "" for p in body.iterfind(f"{{{NS_RECSANS}}}Prenom")],
                sex=_text(body, NS_RECSANS, "Sexe") or "",
                birth_date=_text(body, NS_RECSANS, "DateNaissance") or "",
                birth_place=_text(body, NS_RECSANS, "LieuNaissance"),
            )
        # MatriculeIndividu is required by the schema, validated before the search.
        matricule = body.find(f"{{{NS_RECVIT}}}MatriculeIndividu")
        if matricule is None:
            raise Rejected(messages.invalid_request("MatriculeIndividu manquant."))
        return self._population.search_vitale(
            matricule13=_text(matricule, NS_RECVIT, "NumIdentifiant") or "",
            key=_text(matricule, NS_RECVIT, "Cle") or "",
            birth_name=_text(body, NS_RECVIT, "NomNaissance"),
            birth_date=_text(body, NS_RECVIT, "DateNaissance"),
        )


def _envelope_parts(payload: bytes) -> tuple[etree._Element | None, etree._Element]:
    try:
        envelope = etree.fromstring(payload, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise Rejected(messages.invalid_request(f"XML mal formé: {exc}")) from exc
    if envelope.tag != f"{{{NS_SOAP12}}}Envelope":
        raise Rejected(messages.invalid_request("Enveloppe SOAP 1.2 attendue."))
    body = envelope.find(f"{{{NS_SOAP12}}}Body")
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise Rejected(messages.invalid_request("Le corps doit contenir un seul élément."))
    return envelope.find(f"{{{NS_SOAP12}}}Header"), children[0]


def _header_child(header: etree._Element | None, tag: str) -> etree._Element:
    child = None if header is None else header.find(tag)
    if child is None:
        local = tag.rsplit("}", 1)[-1]
        raise Rejected(messages.invalid_request(f"En-tête {local} manquant."))
    return child


def _validate(element: etree._Element) -> None:
    try:
        contract_schema().assertValid(element)
    except etree.DocumentInvalid as exc:
        raise Rejected(messages.invalid_request(str(exc))) from exc


def _text(parent: etree._Element, namespace: str, name: str) -> str | None:
    value = parent.findtext(f"{{{namespace}}}{name}")
    return value.strip() if value is not None else None
