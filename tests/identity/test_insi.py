"""INS qualification through the real zeep client and the mock teleservice, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from identity.insi import service as insi
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from referentials.core.settings import InsiSettings
from referentials.insi_gateway import build_gateway
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.conftest import Api, ThreadedServer, closed_port

IDS = "/api/v1/identities"
INSI_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "insi"


def _create(
    api: Api,
    birth_name: str,
    first_names: list[str],
    sex: str,
    birth_date: str,
    place: str = "63220",
) -> dict[str, Any]:
    body = {
        "birth_name": birth_name,
        "first_names": first_names,
        "sex": sex,
        "birth_date": birth_date,
        "birth_place_code": place,
    }
    response = api.post(IDS, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_adrun_zoe_becomes_recup_then_qual(api: Api) -> None:
    created = _create(api, "Adrun", ["Zoé"], "F", "1975-12-31")
    response = api.post(f"{IDS}/{created['id']}/insi-search", key="identity:write")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cr_code"] == "00" and body["outcome"] == "applied"
    assert body["status_change"] == {
        "before": "PROV",
        "after": "RECUP",
        "reason": "INS retrieved from INSi (INSI)",
    }
    staff = api.get(f"{IDS}/{created['id']}", key="vigilance").json()
    assert staff["status"] == "RECUP"
    assert staff["ins"]["matricule"] == "275126322074974"
    assert staff["ins"]["oid"] == "1.2.250.1.213.1.4.8"
    assert staff["ins"]["collection_method"] == "INSI"
    qual = api.post(f"{IDS}/{created['id']}/validation", json={"document_type": "PA"}).json()
    assert qual["status"] == "QUAL" and qual["ins"]["matricule"] == "275126322074974"
    history = [h["action"] for h in api.get(f"{IDS}/{created['id']}/history").json()]
    assert history == ["create", "insi_qualification", "validate"]


def test_tchitchi_is_found_through_the_given_name_retry(api: Api) -> None:
    created = _create(api, "Tchitchi", ["Ola", "Catarina"], "F", "1936-06-21")
    body = api.post(f"{IDS}/{created['id']}/insi-search").json()
    assert body["outcome"] == "applied" and body["matched_given_name"] == "CATARINA"
    assert [c["cr_code"] for c in body["calls"]] == ["01", "00"]
    # Strict traits are replaced by INSi's, verbatim.
    assert body["identity"]["first_names"] == ["CATARINA", "BELLA"]
    assert body["identity"]["status"] == "RECUP"


def test_de_vinci_gives_cr_02_and_stays_prov(api: Api) -> None:
    created = _create(api, "De Vinci", ["Leonardo"], "M", "2014-02-01")
    body = api.post(f"{IDS}/{created['id']}/insi-search").json()
    assert body["cr_code"] == "02" and body["cr_label"] == "Plusieurs identites trouvees"
    assert body["outcome"] == "several" and body["identity"]["status"] == "PROV"
    assert body["identity"]["version"] == created["version"]


def test_houilles_is_not_found_after_every_given_name(api: Api) -> None:
    created = _create(api, "Houilles", ["Pierre", "Paul", "Jacques"], "M", "1993-01-27")
    body = api.post(f"{IDS}/{created['id']}/insi-search").json()
    assert body["outcome"] == "not_found"
    assert [c["given_name_sent"] for c in body["calls"]] == [
        "PIERRE",
        "PAUL",
        "JACQUES",
        "PIERRE PAUL JACQUES",
    ]
    calls = api.get(f"{IDS}/{created['id']}/insi-calls", key="identity:read").json()
    assert len(calls) == 4 and calls[0]["request_xml"] is None
    staff = api.get(f"{IDS}/{created['id']}/insi-calls", key="vigilance").json()
    assert "RECSANSVITALE" in staff[0]["request_xml"] and "RESULTAT" in staff[0]["response_xml"]


def test_vali_becomes_qual_and_nia_keeps_its_oid(api: Api) -> None:
    created = _create(api, "Provisoire", ["Matricule"], "M", "2009-07-01")
    api.post(f"{IDS}/{created['id']}/validation", json={"document_type": "CN"})
    body = api.post(f"{IDS}/{created['id']}/insi-search").json()
    assert body["status_change"]["before"] == "VALI" and body["identity"]["status"] == "QUAL"
    assert body["identity"]["ins"]["oid"] == "1.2.250.1.213.1.4.9"


def test_history_entries_are_kept(api: Api) -> None:
    created = _create(api, "Ecetinsi", ["Pierre-Alain"], "M", "2009-07-14")
    api.post(f"{IDS}/{created['id']}/insi-search")
    ins = api.get(f"{IDS}/{created['id']}", key="vigilance").json()["ins"]
    assert ins["matricule"] == "109076322083489"
    assert [h["matricule"] for h in ins["history"]] == ["209076322083439", "209066322012355"]


def test_dout_identity_gets_409_and_no_call(api: Api) -> None:
    created = _create(api, "Adrun", ["Zoé"], "F", "1975-12-31")
    api.post(f"{IDS}/{created['id']}/attributes", json={"code": "DOUT"})
    response = api.post(f"{IDS}/{created['id']}/insi-search")
    assert response.status_code == 409 and "never sent to INSi" in response.json()["detail"]
    assert api.get(f"{IDS}/{created['id']}/insi-calls").json() == []


def test_unknown_or_merged_identity_is_refused_before_any_call(api: Api) -> None:
    unknown = api.post(f"{IDS}/999999/insi-search")
    assert unknown.status_code == 404 and unknown.json()["error"] == "identity_not_found"
    assert unknown.json()["fields"] == {"id": 999999}
    kept = _create(api, "Fusionne", ["Maëlle", "Rose"], "F", "1981-04-05")
    gone = _create(api, "Fusionne", ["Maëlle"], "F", "1981-04-05")
    pairs = api.get("/api/v1/duplicates", key="vigilance").json()["items"]
    pair = next(p for p in pairs if {p["left_id"], p["right_id"]} == {kept["id"], gone["id"]})
    decided = api.post(
        f"/api/v1/duplicates/{pair['id']}/decision",
        key="vigilance",
        json={"decision": "merge", "survivor_id": kept["id"], "reason": "même patiente"},
    )
    assert decided.status_code == 200, decided.text
    merged = api.post(f"{IDS}/{gone['id']}/insi-search")
    assert merged.status_code == 409 and merged.json()["fields"] == {"merged_into": kept["id"]}
    assert api.get(f"{IDS}/{gone['id']}/insi-calls").json() == []


def test_insi_create_makes_a_recup_identity_once(api: Api) -> None:
    body = {
        "birth_name": "corse",
        "first_names": ["anthony"],
        "sex": "M",
        "birth_date": "1980-03-02",
        "source": {"finess": "690999016", "local_id": "C-9"},
    }
    first = api.post(f"{IDS}/insi-create", json=body)
    assert first.status_code == 201, first.text
    made = first.json()["identity"]
    assert made["status"] == "RECUP" and made["birth_place_code"] == "2B020"
    assert made["sources"] == [{"finess": "690999016", "local_id": "C-9"}]
    again = api.post(f"{IDS}/insi-create", json={**body, "source": None})
    assert again.status_code == 200 and again.json()["outcome"] == "existing"
    assert again.json()["identity"]["id"] == made["id"]
    unknown = api.post(f"{IDS}/insi-create", json={**body, "birth_name": "Inconnu", "source": None})
    assert unknown.json()["outcome"] == "not_found" and unknown.json()["identity"] is None


def test_carte_vitale_search(api: Api) -> None:
    created = _create(api, "Nessi", ["Michelangelo"], "M", "2010-08-07")
    body = api.post(
        f"{IDS}/{created['id']}/insi-vitale", json={"matricule": "110086322083060"}
    ).json()
    assert body["cr_code"] == "00" and body["identity"]["status"] == "RECUP"
    assert api.get(f"{IDS}/{created['id']}/insi-calls").json()[0]["operation"] == "carte_vitale"


@pytest.fixture()
def switched_mock(live_app: ThreadedServer) -> Iterator[Any]:
    """Point the app at a separate mock whose switches a test sets."""
    original = live_app.app.state.insi
    servers: list[ThreadedServer] = []

    def use(config: MockConfig | None, timeout: float = 2.0) -> None:
        if config is None:  # nothing listens on that port
            endpoint = f"http://127.0.0.1:{closed_port()}/"
        else:
            server = ThreadedServer(create_mock_app(config)).__enter__()
            servers.append(server)
            endpoint = f"{server.url}/"
        insi_cfg = InsiSettings(endpoint=endpoint, timeout_seconds=timeout, retries=1)
        live_app.app.state.insi = build_gateway(
            live_app.app.state.settings.model_copy(update={"insi": insi_cfg})
        )

    yield use
    live_app.app.state.insi = original
    for server in servers:
        server.__exit__()


@pytest.mark.parametrize(
    ("config", "status"),
    [
        (MockConfig(known_idam=("SOCLE-IDAM-0001",), unavailable=True), 503),
        (None, 503),
        (MockConfig(known_idam=("SOCLE-IDAM-0001",), technical_error=True), 502),
        (MockConfig(known_idam=("OTHER",)), 502),
        (MockConfig(known_idam=("SOCLE-IDAM-0001",), latency_ms=1500), 504),
    ],
    ids=["unavailable", "stopped", "technical_error", "unknown_idam", "timeout"],
)
def test_insi_failures_change_nothing(
    api: Api, switched_mock: Any, config: MockConfig | None, status: int
) -> None:
    created = _create(api, "Adrun", ["Zoé"], "F", "1975-12-31")
    switched_mock(config, timeout=0.5)
    response = api.post(f"{IDS}/{created['id']}/insi-search")
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    after = api.get(f"{IDS}/{created['id']}", key="vigilance").json()
    assert after["status"] == "PROV" and after["ins"] is None
    assert after["version"] == created["version"]
    assert api.get(f"{IDS}/{created['id']}/insi-calls").json() == []


def _answering(body: bytes) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="application/soap+xml")

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


@pytest.fixture()
def harness_answer(live_app: ThreadedServer) -> Iterator[Any]:
    """Point the app at a server answering one raw INSi response, as the harness sends it."""
    original = live_app.app.state.insi
    servers: list[ThreadedServer] = []

    def use(body: bytes) -> None:
        server = ThreadedServer(_answering(body)).__enter__()
        servers.append(server)
        insi_cfg = InsiSettings(endpoint=f"{server.url}/", timeout_seconds=2.0, retries=0)
        live_app.app.state.insi = build_gateway(
            live_app.app.state.settings.model_copy(update={"insi": insi_cfg})
        )

    yield use
    live_app.app.state.insi = original
    for server in servers:
        server.__exit__()


def test_harness_history_order_qualifies_and_keeps_the_warnings(
    api: Api, harness_answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Why: INSHISTO with DateDeb/DateFin before IdIndividu left the identity unqualified."""
    created = _create(api, "Ecetinsi", ["Pierre-Alain"], "M", "2009-07-14")
    harness_answer((INSI_FIXTURES / "response_cr00_harness_histo_dates_first.xml").read_bytes())
    response = api.post(f"{IDS}/{created['id']}/insi-search")
    assert response.status_code == 200, response.text
    assert response.json()["identity"]["status"] == "RECUP"
    ins = api.get(f"{IDS}/{created['id']}", key="vigilance").json()["ins"]
    assert [h["matricule"] for h in ins["history"]] == ["209076322083439", "209066322012355"]
    calls = api.get(f"{IDS}/{created['id']}/insi-calls").json()
    assert len(calls) == 1 and len(calls[0]["protocol_warnings"]) == 2
    assert all("INSHISTO" in w for w in calls[0]["protocol_warnings"])
    logged = [r.getMessage() for r in caplog.records if "protocol warning" in r.getMessage()]
    assert any(f"INSi call {calls[0]['id']} (identity {created['id']})" in m for m in logged)
    assert not any("ECETINSI" in m or "2090763220834" in m for m in logged)


def test_an_answer_in_contract_order_records_no_warning(api: Api) -> None:
    created = _create(api, "Adrun", ["Zoé"], "F", "1975-12-31")
    api.post(f"{IDS}/{created['id']}/insi-search")
    assert api.get(f"{IDS}/{created['id']}/insi-calls").json()[0]["protocol_warnings"] == []


# --- Incoherent traits: a fake port returns traits that contradict the local ones. ---


@dataclass(frozen=True)
class _Num:
    matricule13: str
    key: str
    oid: str = "1.2.250.1.213.1.4.8"
    date_deb: str | None = None
    date_fin: str | None = None

    @property
    def full(self) -> str:
        return self.matricule13 + self.key


@dataclass(frozen=True)
class _Traits:
    birth_name: str
    first_name: str
    first_names_list: str
    sex: str
    birth_date: str
    birth_place_code: str


@dataclass(frozen=True)
class _Answer:
    traits: _Traits
    cr_code: str = "00"
    cr_label: str = "OK"
    active: _Num | None = _Num("2751263220749", "74")
    history: tuple[_Num, ...] = ()
    request_xml: str = "<req/>"
    response_xml: str = "<resp/>"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Try:
    result: _Answer
    given_name_sent: str | None = "ZOE"


@dataclass
class _FakePort:
    answer: _Answer
    calls: list[str] = field(default_factory=list)

    def search_by_traits(self, *args: Any, **kw: Any) -> Any:
        self.calls.append("traits")

        @dataclass(frozen=True)
        class _Search:
            attempts: tuple[_Try, ...]
            matched_given_name: str | None = "ZOE"

            @property
            def final(self) -> _Answer:
                return self.attempts[-1].result

        return _Search((_Try(self.answer),))

    def search_by_carte_vitale(self, *args: Any, **kw: Any) -> Any:
        return self.answer


def test_incoherent_traits_change_nothing_and_say_which(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = _create(api, "Adrun", ["Zoé"], "F", "1975-12-31")
    port = _FakePort(_Answer(_Traits("ADRUM", "ZOE", "ZOE", "F", "1975-12-13", "63220")))
    with session_scope(session_factory) as session:
        result = insi.qualify(session, SYSTEM, created["id"], port)
        assert result.outcome == "incoherent"
        assert result.differences == ["birth_date", "birth_name"]
    after = api.get(f"{IDS}/{created['id']}", key="vigilance").json()
    assert after["status"] == "PROV" and after["ins"] is None and after["birth_name"] == "ADRUN"
    calls = api.get(f"{IDS}/{created['id']}/insi-calls").json()
    assert [c["outcome"] for c in calls] == ["incoherent"]
