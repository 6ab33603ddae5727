"""INS of the test and demo OIDs: accepted in development, refused when production says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from referentials.core.errors import UpstreamError
from referentials.core.settings import InsiSettings, Settings
from referentials.insi_gateway import InsiGateway, build_gateway
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.soap_clients.conftest import IDAM, serve

HEADER = "birth_name,given_names,sex,birth_date,birth_place,matricule,key,oid,history\n"
ROW = "TESTOID,ALICE,F,1990-03-04,75056,2900375056123,,1.2.250.1.213.1.4.10,\n"


def gateway(endpoint: str, *, accept: bool) -> InsiGateway:
    insi = InsiSettings(endpoint=endpoint, idam=IDAM, retries=0, accept_test_oids=accept)
    return build_gateway(Settings(insi=insi))


def test_an_answer_with_a_test_oid_is_refused_unless_accepted(tmp_path: Path) -> None:
    population = tmp_path / "population.csv"
    population.write_text(HEADER + ROW, encoding="utf-8")
    app = create_mock_app(MockConfig(known_idam=[IDAM], population_file=population))
    with serve(app) as url:
        endpoint = f"{url}/"
        accepted = gateway(endpoint, accept=True).search_by_traits(
            "TESTOID", ["ALICE"], "F", "1990-03-04"
        )
        assert accepted.final.active is not None
        assert accepted.final.active.oid == "1.2.250.1.213.1.4.10"
        with pytest.raises(UpstreamError, match="test or demo OID"):
            gateway(endpoint, accept=False).search_by_traits(
                "TESTOID", ["ALICE"], "F", "1990-03-04"
            )
