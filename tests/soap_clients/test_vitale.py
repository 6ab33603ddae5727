"""rechercherInsAvecCarteVitale (RECVITALE) through the real client and the mock."""

from __future__ import annotations

from datetime import date

import pytest

from soap_clients.insi import InsiClient


@pytest.mark.parametrize(
    ("matricule", "key", "oid", "names"),
    [
        ("2751263220749", "74", "1.2.250.1.213.1.4.8", "ZOE"),
        ("180032B020401", "23", "1.2.250.1.213.1.4.8", "ANTHONY"),
        ("1090763220888", "35", "1.2.250.1.213.1.4.9", "MATRICULE"),
    ],
)
def test_found_by_matricule_and_key(
    client: InsiClient, matricule: str, key: str, oid: str, names: str
) -> None:
    result = client.search_by_carte_vitale(matricule, key)
    assert (result.cr_code, result.cr_label) == ("00", "OK")
    assert result.active is not None and result.traits is not None
    assert (result.active.matricule13, result.active.key, result.active.oid) == (
        matricule,
        key,
        oid,
    )
    assert result.traits.first_names_list == names
    assert "RECVITALE" in result.request_xml


def test_historical_matricule_leads_to_the_active_one(client: InsiClient) -> None:
    result = client.search_by_carte_vitale("2090763220834", "39", "ECETINSI", "2009-07-14")
    assert result.active is not None
    assert result.active.full == "109076322083489"
    assert len(result.history) == 2


def test_wrong_key_is_not_found(client: InsiClient) -> None:
    result = client.search_by_carte_vitale("2751263220749", "75")
    assert (result.cr_code, result.cr_label) == ("01", "Aucune identite trouvee")
    assert result.active is None


def test_child_on_a_parent_card_is_found_by_birth_name_and_date(client: InsiClient) -> None:
    # The card carries the holder's matricule; the child is found by name + birth date.
    result = client.search_by_carte_vitale(
        "2751263220749",
        "74",
        birth_name="NESSI",
        birth_date=date(2010, 8, 7),
        birth_rank="1",
        holder_matricule13="2751263220749",
        holder_key="74",
    )
    assert result.cr_code == "00"
    assert result.active is not None and result.active.full == "110086322083060"


def test_two_persons_with_the_same_name_and_date_are_ambiguous(client: InsiClient) -> None:
    result = client.search_by_carte_vitale("1999999999999", "01", "DE VINCI", "2014-02-01")
    assert (result.cr_code, result.cr_label) == ("02", "Plusieurs identites trouvees")
    assert result.traits is None


def test_persons_of_the_population_file_answer_too(client: InsiClient) -> None:
    result = client.search_by_carte_vitale("2880469123456", "22")
    assert result.traits is not None and result.traits.birth_name == "MARTINEZ"
