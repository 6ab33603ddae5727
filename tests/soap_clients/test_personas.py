"""Every public test persona of the spec (§4), through the real zeep client and the mock."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from soap_clients.insi import InsiClient
from soap_clients.insi.contract import NS_RECSANS
from tests.soap_clients.conftest import RunningMock

NIR = "1.2.250.1.213.1.4.8"
NIA = "1.2.250.1.213.1.4.9"

# birth name, given names sent, sex, birth date, matricule, key, OID, ListePrenom, COG, history
FOUND = [
    ("ADRUN", ["ZOE"], "F", "1975-12-31", "2751263220749", "74", NIR, "ZOE", "63220", []),
    ("ADRTROIS", ["DOMINIQUE"], "F", "1997-02-26", "297022A020778", "78", NIR, "DOMINIQUE",
     "2A020", []),
    ("ADRTROIS", ["TOUSSAINT"], "M", "1960-01-01", "160012B020777", "13", NIR, "TOUSSAINT",
     "2B020", []),
    ("ECETINSI", ["PIERRE-ALAIN"], "M", "2009-07-14", "1090763220834", "89", NIR,
     "PIERRE-ALAIN MURIEL FLORIANT", "63220",
     [("2090763220834", "39", NIR), ("2090663220123", "55", NIR)]),
    ("NESSI", ["MICHELANGELO"], "M", "2010-08-07", "1100863220830", "60", NIR,
     "MICHELANGELO ANTHONY", "63220", []),
    ("CORSE", ["ANTHONY"], "M", "1980-03-02", "180032B020401", "23", NIR, "ANTHONY", "2B020", []),
    ("HERMANN", ["GATIEN"], "M", "1981-03-24", "1810363220456", "60", NIR, "GATIEN", "63220",
     [("2810363220456", "10", NIR)]),
    ("PROVISOIRE", ["MATRICULE"], "M", "2009-07-01", "1090763220888", "35", NIA, "MATRICULE",
     "63220", []),
]  # fmt: skip


def _prenoms_sent(request_xml: str) -> list[str]:
    root = etree.fromstring(request_xml.encode())
    return [p.text or "" for p in root.iter(f"{{{NS_RECSANS}}}Prenom")]


@pytest.mark.parametrize("row", FOUND, ids=[f"{r[0]}-{r[1][0]}" for r in FOUND])
def test_persona_found_with_exact_answer(client: InsiClient, row: tuple) -> None:
    name, given, sex, born, matricule, key, oid, names_list, cog, history = row
    outcome = client.search_by_traits(name, given, sex, date.fromisoformat(born))
    result = outcome.final
    assert (result.cr_code, result.cr_label) == ("00", "OK")
    assert len(outcome.attempts) == 1
    assert outcome.matched_given_name == given[0]
    assert result.active is not None and result.traits is not None
    assert (result.active.matricule13, result.active.key, result.active.oid) == (
        matricule,
        key,
        oid,
    )
    assert result.active.full == matricule + key
    assert [(h.matricule13, h.key, h.oid) for h in result.history] == history
    traits = result.traits
    assert (traits.birth_name, traits.sex, traits.birth_date) == (name, sex, born)
    assert traits.first_names_list == names_list
    assert traits.first_name == names_list.split(" ")[0]
    assert traits.birth_place_code == cog
    assert _prenoms_sent(result.request_xml) == [given[0]]
    assert "<CodeCR>00</CodeCR>" in result.response_xml


def test_tchitchi_found_through_the_given_name_retry(client: InsiClient) -> None:
    outcome = client.search_by_traits("TCHITCHI", ["OLA", "CATARINA"], "F", "1936-06-21")
    sent = [(a.given_name_sent, a.result.cr_code) for a in outcome.attempts]
    assert sent == [("OLA", "01"), ("CATARINA", "00")]
    assert outcome.matched_given_name == "CATARINA"
    assert outcome.attempts[0].result.cr_label == "Aucune identite trouvee"
    assert [_prenoms_sent(a.result.request_xml) for a in outcome.attempts] == [
        ["OLA"],
        ["CATARINA"],
    ]
    final = outcome.final
    assert final.active is not None and final.traits is not None
    assert final.active.full == "236066322083656"
    assert (final.traits.first_names_list, final.traits.birth_place_code) == (
        "CATARINA BELLA",
        "63220",
    )


def test_tchitchi_ola_alone_is_not_found(client: InsiClient) -> None:
    outcome = client.search_by_traits("TCHITCHI", ["OLA"], "F", "1936-06-21")
    assert [(a.given_name_sent, a.result.cr_code) for a in outcome.attempts] == [("OLA", "01")]
    assert outcome.matched_given_name is None
    assert outcome.final.active is None and outcome.final.traits is None


def test_houilles_not_found_for_every_name_nor_the_whole_list(
    client: InsiClient, mock: RunningMock
) -> None:
    before = mock.requests
    outcome = client.search_by_traits("HOUILLES", ["PIERRE", "PAUL", "JACQUES"], "M", "1993-01-27")
    assert [a.given_name_sent for a in outcome.attempts] == [
        "PIERRE",
        "PAUL",
        "JACQUES",
        "PIERRE PAUL JACQUES",
    ]
    assert {a.result.cr_code for a in outcome.attempts} == {"01"}
    assert outcome.cr_code == "01" and outcome.matched_given_name is None
    assert mock.requests - before == 4
    assert _prenoms_sent(outcome.attempts[-1].result.request_xml) == ["PIERRE PAUL JACQUES"]


def test_houilles_whole_list_sent_alone_is_not_found(client: InsiClient) -> None:
    outcome = client.search_by_traits("HOUILLES", ["PIERRE PAUL JACQUES"], "M", "1993-01-27")
    assert [(a.given_name_sent, a.result.cr_code) for a in outcome.attempts] == [
        ("PIERRE PAUL JACQUES", "01")
    ]


def test_de_vinci_is_ambiguous_and_stops_the_retry(client: InsiClient) -> None:
    outcome = client.search_by_traits("DE VINCI", ["LEONARDO", "PIERO"], "M", "2014-02-01")
    assert len(outcome.attempts) == 1
    result = outcome.final
    assert (result.cr_code, result.cr_label) == ("02", "Plusieurs identites trouvees")
    assert result.active is None and result.history == () and result.traits is None
    assert "INDIVIDU" not in result.response_xml
    assert outcome.matched_given_name is None


def test_other_given_name_and_whole_list_both_find_the_person(client: InsiClient) -> None:
    by_second = client.search_by_traits("ECETINSI", ["MURIEL"], "M", "2009-07-14")
    by_list = client.search_by_traits("NESSI", ["MICHELANGELO ANTHONY"], "M", "2010-08-07")
    assert by_second.final.active is not None and by_list.final.active is not None
    assert by_second.final.active.full == "109076322083489"
    assert by_list.final.active.full == "110086322083060"


def test_comparison_uses_ins_normalisation(client: InsiClient) -> None:
    outcome = client.search_by_traits("Adrun", ["Zoé"], "F", "1975-12-31")
    assert outcome.cr_code == "00"
    assert outcome.final.traits is not None
    # Values come back exactly as INSi stores them, not as sent.
    assert outcome.final.traits.birth_name == "ADRUN"
    assert outcome.final.traits.first_name == "ZOE"


def test_birth_place_is_compared_when_sent(client: InsiClient) -> None:
    right = client.search_by_traits("ADRTROIS", ["DOMINIQUE"], "F", "1997-02-26", "2A020")
    wrong = client.search_by_traits("ADRTROIS", ["DOMINIQUE"], "F", "1997-02-26", "2B020")
    assert right.cr_code == "00"
    assert wrong.cr_code == "01"


def test_sex_and_birth_date_are_part_of_the_search(client: InsiClient) -> None:
    assert client.search_by_traits("ADRUN", ["ZOE"], "M", "1975-12-31").cr_code == "01"
    assert client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-30").cr_code == "01"
