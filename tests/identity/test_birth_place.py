"""The birth place in the INSi coherence check, through the history of communes (INSEE COG)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.insi import service as insi
from identity.referential import cog
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import Api
from tests.identity.test_insi import _Answer, _FakePort, _Traits

IDS = "/api/v1/identities"
HEADER = (
    "MOD,DATE_EFF,TYPECOM_AV,COM_AV,TNCC_AV,NCC_AV,NCCENR_AV,LIBELLE_AV,"
    "TYPECOM_AP,COM_AP,TNCC_AP,NCC_AP,NCCENR_AP,LIBELLE_AP"
)


def _qualify(
    api: Api, factory: sessionmaker[Session], local: str, insi_place: str, born: str
) -> insi.QualificationResult:
    body = {
        "birth_name": "Adrun",
        "first_names": ["Zoé"],
        "sex": "F",
        "birth_date": born,
        "birth_place_code": local,
    }
    created = api.post(IDS, json=body)
    assert created.status_code == 201, created.text
    answer = _Answer(_Traits("ADRUN", "ZOE", "ZOE", "F", born, insi_place))
    with session_scope(factory) as session:
        return insi.qualify(session, SYSTEM, created.json()["id"], _FakePort(answer))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("local", "returned", "born", "outcome"),
    [
        ("74010", "74010", "1975-12-31", "applied"),
        # Born in Annecy-le-Vieux (74011) in 1975, typed as today's Annecy (merged 2017).
        ("74010", "74011", "1975-12-31", "applied"),
        ("74011", "74010", "1975-12-31", "applied"),
        # Born in 2018: Annecy-le-Vieux was no longer a commune; the codes differ.
        ("74010", "74011", "2018-03-01", "incoherent"),
        # Lyon 1er arrondissement is Lyon.
        ("69381", "69123", "1975-12-31", "applied"),
        # Ajaccio was 20004 before Corsica's two departments (1976).
        ("2A004", "20004", "1960-06-01", "applied"),
        ("69123", "74010", "1975-12-31", "incoherent"),
        ("99134", "99135", "1975-12-31", "incoherent"),
    ],
)
def test_birth_place_coherence(
    api: Api,
    session_factory: sessionmaker[Session],
    local: str,
    returned: str,
    born: str,
    outcome: str,
) -> None:
    result = _qualify(api, session_factory, local, returned, born)
    assert result.outcome == outcome
    if outcome == "incoherent":
        assert result.differences == ["birth_place_code"]
        assert result.identity is not None and result.identity.birth_place_code == local
    else:
        # INSi's code (the commune at the birth date) is the one stored.
        assert result.identity is not None and result.identity.birth_place_code == returned


def test_the_published_file_is_read_and_chains_are_followed(tmp_path: Path) -> None:
    moves = tmp_path / "v_mvt_commune_2024.csv"
    moves.write_text(
        "\n".join(
            [
                HEADER,
                "31,1973-01-01,COM,01001,0,AAA,Aaa,Aaa,COM,01002,0,BBB,Bbb,Bbb",
                "32,2019-01-01,COM,01002,0,BBB,Bbb,Bbb,COM,01003,0,CCC,Ccc,Ccc",
                "32,2019-01-01,COM,01002,0,BBB,Bbb,Bbb,COMD,01002,0,BBB,Bbb,Bbb",
                "21,2020-01-01,COM,01003,0,CCC,Ccc,Ccc,COM,01004,0,DDD,Ddd,Ddd",
                "10,2021-01-01,COM,01003,0,CCC,Ccc,Ccc,COM,01003,0,CCD,Ccd,Ccd",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    history = cog.CommuneHistory(cog.read_moves(moves))
    assert history.later_codes("01001", date(1960, 1, 1)) == {"01001", "01002", "01003"}
    # Born after the first merger: only the later one counts.
    assert history.later_codes("01001", date(1980, 1, 1)) == {"01001"}
    assert history.later_codes("01002", date(1980, 1, 1)) == {"01002", "01003"}
    # A restoration (21) is not followed: a commune that left is another place.
    assert not history.same_place("01004", "01003", date(1960, 1, 1))
    assert history.same_place("01003", None, date(1960, 1, 1))


def test_a_file_without_the_published_columns_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "moves.csv"
    bad.write_text("code,name\n01001,Aaa\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        cog.read_moves(bad)
