"""The mock's population: normalisation, NIR keys, population files, search rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from soap_clients.insi import InsiClient
from soap_clients.insi.mock import (
    PERSONAS,
    Population,
    PopulationFileError,
    load_population_file,
    nir_key,
    normalise,
)
from tests.soap_clients.conftest import POPULATION_CSV, POPULATION_JSON, RunningMock, make_client


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Zoé", "ZOE"), ("  le   goff ", "LE GOFF"), ("Œdipe", "OEDIPE"), ("Ç'est", "C'EST")],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("matricule", "key"),
    [
        ("297022A020778", "78"),
        ("160012B020777", "13"),
        ("2751263220749", "74"),
        ("1090763220834", "89"),
    ],
)
def test_nir_key_matches_the_spec_examples(matricule: str, key: str) -> None:
    assert nir_key(matricule) == key


def test_every_persona_key_validates_except_hermann() -> None:
    bad = {
        (record.matricule13, record.key)
        for person in PERSONAS
        for record in (person.active, *person.history)
        if nir_key(record.matricule13) != record.key
    }
    assert bad == {("1810363220456", "60"), ("2810363220456", "10")}


def test_json_population_file_is_read_with_defaults() -> None:
    persons = {p.birth_name: p for p in load_population_file(POPULATION_JSON)}
    assert set(persons) == {"MARTINEZ", "N'DIAYE", "LE GOFF--KERVELLA"}
    martinez = persons["MARTINEZ"]
    assert martinez.given_names == ("ELOISE", "MARIE-ANNE")
    assert martinez.history[0].key == nir_key("2880469123999")
    assert (martinez.history[0].date_deb, martinez.history[0].date_fin) == (
        "1988-04-17",
        "2019-06-30",
    )
    assert persons["LE GOFF--KERVELLA"].active.key == nir_key("1010229019321")
    assert persons["N'DIAYE"].active.oid == "1.2.250.1.213.1.4.9"


def test_csv_population_file_is_read() -> None:
    persons = {p.birth_name: p for p in load_population_file(POPULATION_CSV)}
    assert persons["DUBOIS"].given_names == ("CAMILLE", "JEANNE")
    assert persons["DUBOIS"].active.key == nir_key("2950975056123")
    rossi = persons["ROSSI"]
    assert [(h.matricule13, h.key) for h in rossi.history] == [
        ("1640599380001", nir_key("1640599380001")),
        ("164052A004001", "01"),
    ]


def test_persons_object_form_is_accepted(tmp_path: Path) -> None:
    data = {"persons": json.loads(POPULATION_JSON.read_text(encoding="utf-8"))}
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert len(load_population_file(path)) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [({"sex": "X"}, "sex"), ({"matricule": "123"}, "13"), ({"given_names": []}, "given_names")],
)
def test_bad_rows_are_reported_by_row_number(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    rows = json.loads(POPULATION_JSON.read_text(encoding="utf-8"))
    rows[1].update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(PopulationFileError, match=f"row 2.*{message}"):
        load_population_file(path)


def test_search_rule_given_name_among_the_names_or_whole_list() -> None:
    population = Population(PERSONAS)
    tchitchi = ("TCHITCHI", "F", "1936-06-21")
    for sent, found in [
        (["BELLA"], 1),
        (["CATARINA BELLA"], 1),
        (["OLA"], 0),
        (["OLA", "BELLA"], 1),
        ([], 1),
        (["BELLA CATARINA"], 0),
    ]:
        name, sex, born = tchitchi
        assert len(population.search_traits(name, sent, sex, born)) == found, sent


def test_population_file_persons_are_qualified_over_http(client: InsiClient) -> None:
    outcome = client.search_by_traits("Martinez", ["Éloïse"], "F", "1988-04-17")
    result = outcome.final
    assert result.active is not None and result.traits is not None
    assert result.active.full == "288046912345622"
    assert result.traits.first_names_list == "ELOISE MARIE-ANNE"
    assert [(h.date_deb, h.date_fin) for h in result.history] == [("1988-04-17", "2019-06-30")]
    nia = client.search_by_traits("N'DIAYE", ["MOUSSA"], "M", "1972-11-03").final
    assert nia.active is not None
    assert (nia.active.oid, nia.active.type_matricule) == ("1.2.250.1.213.1.4.9", "NIA")


def test_csv_population_served_by_a_mock(start_mock: Callable[..., RunningMock]) -> None:
    running = start_mock(population_file=str(POPULATION_CSV))
    client = make_client(running.url)
    result = client.search_by_traits("ROSSI", ["LUCA"], "M", "1964-05-20", "2A004").final
    assert result.active is not None and result.active.full == "164052A004077" + nir_key(
        "164052A004077"
    )
    assert client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").cr_code == "00"
