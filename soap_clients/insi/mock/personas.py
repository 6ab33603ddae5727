"""The public test personas of the INSi qualification environment (spec §4).

HOUILLES is deliberately absent: the qualification service answers 01 for him whatever
given name is sent, which is exactly what an unknown person gets. The two DE VINCI
persons make his search answer 02; their matricules are ours (valid keys), since the
public environment never returns them.
"""

from __future__ import annotations

from soap_clients.insi.contract import OID_INS_NIA
from soap_clients.insi.mock.population import InsRecord, Person


def _person(
    birth_name: str,
    given_names: str,
    sex: str,
    birth_date: str,
    birth_place: str,
    active: InsRecord,
    history: tuple[InsRecord, ...] = (),
) -> Person:
    return Person(
        birth_name=birth_name,
        given_names=tuple(given_names.split(" ")),
        sex=sex,
        birth_date=birth_date,
        birth_place=birth_place,
        active=active,
        history=history,
    )


PERSONAS: tuple[Person, ...] = (
    _person("ADRUN", "ZOE", "F", "1975-12-31", "63220", InsRecord("2751263220749", "74")),
    _person("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", "2A020", InsRecord("297022A020778", "78")),
    _person("ADRTROIS", "TOUSSAINT", "M", "1960-01-01", "2B020", InsRecord("160012B020777", "13")),
    _person(
        "TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "63220", InsRecord("2360663220836", "56")
    ),
    _person(
        "ECETINSI",
        "PIERRE-ALAIN MURIEL FLORIANT",
        "M",
        "2009-07-14",
        "63220",
        InsRecord("1090763220834", "89"),
        (InsRecord("2090763220834", "39"), InsRecord("2090663220123", "55")),
    ),
    _person(
        "NESSI",
        "MICHELANGELO ANTHONY",
        "M",
        "2010-08-07",
        "63220",
        InsRecord("1100863220830", "60"),
    ),
    _person("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220", InsRecord("1140263220101", "12")),
    _person(
        "DE VINCI", "LEONARDO PIERO", "M", "2014-02-01", "63220", InsRecord("1140263220102", "11")
    ),
    _person("CORSE", "ANTHONY", "M", "1980-03-02", "2B020", InsRecord("180032B020401", "23")),
    # The public fixture returns keys that do not validate (60 and 10): kept as is, so that
    # Socle's validators are exercised on them.
    _person(
        "HERMANN",
        "GATIEN",
        "M",
        "1981-03-24",
        "63220",
        InsRecord("1810363220456", "60"),
        (InsRecord("2810363220456", "10"),),
    ),
    _person(
        "PROVISOIRE",
        "MATRICULE",
        "M",
        "2009-07-01",
        "63220",
        InsRecord("1090763220888", "35", oid=OID_INS_NIA),
    ),
)
