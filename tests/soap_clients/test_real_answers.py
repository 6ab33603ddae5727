"""INSi as it really answers: the shapes the qualification harness sends, over real HTTP.

Each answer is served as-is by a small HTTP server and read by the real zeep client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soap_clients.insi import InsiProtocolError
from tests.soap_clients.conftest import FIXTURES, make_client, serve

ECETINSI = ("ECETINSI", ["PIERRE-ALAIN"], "M", "2009-07-14")
ADRUN = ("ADRUN", ["ZOE"], "F", "1975-12-31")
SOAP = "application/soap+xml"


def _server(body: bytes) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=SOAP)

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


@pytest.fixture
def answering() -> Iterator[Callable[[bytes], str]]:
    """Start a server answering every POST with the given body; its URL."""
    with ExitStack() as stack:
        yield lambda body: stack.enter_context(serve(_server(body))) + "/"


def test_history_with_dates_before_the_identifier_is_read(
    answering: Callable[[bytes], str], caplog: pytest.LogCaptureFixture
) -> None:
    """Why: the harness's INSHISTO (DateDeb/DateFin before IdIndividu) was a protocol error."""
    raw = (FIXTURES / "response_cr00_harness_histo_dates_first.xml").read_bytes()
    url = answering(raw)
    with caplog.at_level(logging.WARNING, logger="soap_clients.insi.client"):
        result = make_client(url).search_by_traits(*ECETINSI).final
    assert result.found and result.active is not None and result.traits is not None
    assert result.active.full == "109076322083489"
    assert [(h.full, h.date_deb, h.date_fin) for h in result.history] == [
        ("209076322083439", "2009-07-14", "2010-01-31"),
        ("209066322012355", "2009-06-01", "2009-07-13"),
    ]
    assert result.traits.first_names_list == "PIERRE-ALAIN MURIEL FLORIANT"
    assert len(result.warnings) == 2
    assert all("INSHISTO" in w and "out of contract order" in w for w in result.warnings)
    assert "RESULTAT/INDIVIDU[1]/INSHISTO[2]" in result.warnings[1]
    # The stored raw answer is the one received, not the reordered one.
    histo = result.response_xml[result.response_xml.index("<INSHISTO>") :]
    assert histo.index("<DateDeb>") < histo.index("<IdIndividu>")
    # Logged by message id and element names: no trait, no matricule.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "protocol warning" in logged and "uuid:" in logged
    for value in ("ECETINSI", "PIERRE", "2090763220834", "2009-07-14"):
        assert value not in logged


def test_unknown_elements_are_ignored_and_reported(answering: Callable[[bytes], str]) -> None:
    """Why: an element the contract does not declare made a good answer a protocol error."""
    url = answering((FIXTURES / "response_cr00_harness_unknown_elements.xml").read_bytes())
    result = make_client(url).search_by_traits(*ADRUN).final
    assert result.found and result.traits is not None and result.active is not None
    assert (result.traits.birth_name, result.traits.sex) == ("ADRUN", "F")
    assert result.active.full == "275126322074974"
    assert sorted(result.warnings) == [
        "RESULTAT/INDIVIDU[1]/TIQ[1]: elements out of contract order (Sexe, NomNaissance, "
        "ListePrenom, DateNaissance, LieuNaissance; contract: NomNaissance, Prenom, "
        "ListePrenom, Sexe, DateNaissance, LieuNaissance)",
        "RESULTAT/INDIVIDU[1]/TIQ[1]: unknown element Provenance ignored",
        "RESULTAT/INDIVIDU[1]: unknown element IndicateurMiseAJour ignored",
    ]
    # No value of the answer travels in a warning.
    assert not any(v in w for w in result.warnings for v in ("QUALIF", "ADRUN", "N ignored"))


def test_an_answer_in_contract_order_has_no_warning(answering: Callable[[bytes], str]) -> None:
    url = answering((FIXTURES / "response_cr00_corse_with_prenom.xml").read_bytes())
    result = make_client(url).search_by_traits("CORSE", ["ANTHONY"], "M", "1980-03-02").final
    assert result.found and result.warnings == ()


def test_an_answer_without_cr_is_still_refused(answering: Callable[[bytes], str]) -> None:
    url = answering((FIXTURES / "response_harness_without_cr.xml").read_bytes())
    with pytest.raises(InsiProtocolError):
        make_client(url).search_by_traits(*ADRUN)


def test_an_unknown_cr_is_still_refused_in_any_order(answering: Callable[[bytes], str]) -> None:
    raw = (FIXTURES / "response_cr00_harness_histo_dates_first.xml").read_bytes()
    url = answering(raw.replace(b"<CodeCR>00</CodeCR>", b"<CodeCR>07</CodeCR>"))
    with pytest.raises(InsiProtocolError, match="07"):
        make_client(url).search_by_traits(*ECETINSI)


def test_a_cr_in_another_namespace_is_not_a_cr(answering: Callable[[bytes], str]) -> None:
    raw = (FIXTURES / "response_cr00_adrun.xml").read_bytes()
    raw = raw.replace(b"<CR>", b'<CR xmlns="urn:example:other">')
    url = answering(raw)
    with pytest.raises(InsiProtocolError):
        make_client(url).search_by_traits(*ADRUN)


def test_a_missing_required_element_is_still_refused(answering: Callable[[bytes], str]) -> None:
    raw = (FIXTURES / "response_cr00_harness_histo_dates_first.xml").read_bytes()
    url = answering(raw.replace(b"<Sexe>M</Sexe>", b""))
    with pytest.raises(InsiProtocolError):
        make_client(url).search_by_traits(*ECETINSI)
