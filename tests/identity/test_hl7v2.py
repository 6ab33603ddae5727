"""HL7 v2 ADT intake (PAM France): reading, policy, and POST /api/v1/hl7v2 over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import policy
from identity.hl7v2.message import Hl7Problem, decode, read
from identity.referential import rules
from identity.referential.models import Identity
from referentials.core.db import session_scope
from referentials.core.settings import Hl7Settings
from tests.conftest import FIXTURES, Api
from tests.identity.test_fhir_patient import qualified

HL7 = FIXTURES / "hl7v2"
ER7 = {"Content-Type": "x-application/hl7-v2+er7"}


def sample(name: str, **replace: str) -> bytes:
    text = (HL7 / name).read_text("utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode("utf-8")


def post(api: Api, body: bytes, key: str = "identity:write") -> httpx.Response:
    return api.post("/api/v1/hl7v2", key=key, content=body, headers=ER7)


def ack(response: httpx.Response) -> dict[str, list[str]]:
    """Segments of an ACK by name (fields of the last one of each)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("x-application/hl7-v2+er7")
    return {seg.split("|")[0]: seg.split("|") for seg in response.text.split("\r") if seg}


def count(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        return int(session.scalar(select(func.count()).select_from(Identity)) or 0)


def qualified_adrun(api: Api, session_factory: sessionmaker[Session]) -> int:
    """The QUAL identity whose traits and INS the a28_create_ins.hl7 sample carries."""
    return qualified(
        api,
        session_factory,
        birth_name="Adrun",
        first_names=["Zoé"],
        birth_date="1975-12-31",
        birth_place_code="63220",
    )


def test_reading_a_pam_france_message() -> None:
    adt = read(decode(sample("a31_update.hl7")), rules.INS_OIDS)
    assert adt.header.event == "A31" and adt.header.control_id == "CHFM-0004"
    assert [c.value for c in adt.local_ids] == ["IPP-1001"]
    assert (adt.birth_name, adt.first_names, adt.used_name) == ("ADRUN", ["ZOE"], "MARTIN")
    assert adt.birth_place_code == "63220" and adt.sex == "F"
    with_ins = read(decode(sample("a28_create_ins.hl7")), rules.INS_OIDS)
    assert with_ins.ins is not None and with_ins.ins.value == "275126322074974"
    assert policy.ins_verdict(with_ins).matricule == "275126322074974"
    with pytest.raises(Hl7Problem) as refused:
        read(decode(sample("malformed.hl7")), rules.INS_OIDS)
    assert refused.value.ack == "AR"


def test_establishment_mapping_and_ins_trust() -> None:
    adt = read(decode(sample("a28_create.hl7")), rules.INS_OIDS)
    assert policy.local_id(adt, Hl7Settings()) == ("690999016", "IPP-1001")
    mapped = Hl7Settings(authorities={"1.2.250.1.999.1.1": "670999911"})
    assert policy.local_id(adt, mapped) == ("670999911", "IPP-1001")
    unmapped = read(
        decode(sample("a28_create.hl7", **{"CHFM^690999016^M11": "CHFM"})), rules.INS_OIDS
    )
    with pytest.raises(Hl7Problem):
        policy.local_id(unmapped, Hl7Settings())
    corsican = read(
        decode(sample("a28_create.hl7", **{"CHFM^690999016^M11": "CHB^2B0999902^M11"})),
        rules.INS_OIDS,
    )
    assert policy.local_id(corsican, Hl7Settings()) == ("2B0999902", "IPP-1001")
    bad_key = read(decode(sample("a28_create_ins.hl7", **{"074974": "074975"})), rules.INS_OIDS)
    assert policy.ins_verdict(bad_key).matricule is None
    assert "key" in str(policy.ins_verdict(bad_key).warning)
    provisional = read(decode(sample("a28_create_ins.hl7", **{"|VALI": "|PROV"})), rules.INS_OIDS)
    assert policy.ins_verdict(provisional).matricule is None
    # PAM France table 0445 has no QUAL, and the status is the first repetition only.
    rniv = read(decode(sample("a28_create_ins.hl7", **{"|VALI": "|QUAL"})), rules.INS_OIDS)
    assert policy.ins_verdict(rniv).matricule is None
    second = read(decode(sample("a28_create_ins.hl7", **{"|VALI": "|PROV~VALI"})), rules.INS_OIDS)
    assert policy.ins_verdict(second).matricule is None


def test_a28_creates_then_a31_updates(api: Api, session_factory: sessionmaker[Session]) -> None:
    created = ack(post(api, sample("a28_create.hl7")))
    assert created["MSA"][1:3] == ["AA", "CHFM-0001"]
    assert created["MSH"][8] == "ACK^A28^ACK"
    found = api.get(
        "/api/v1/identities", params={"source_finess": "690999016", "local_id": "IPP-1001"}
    ).json()["items"][0]
    assert (found["birth_name"], found["status"], found["birth_place_code"]) == (
        "ADRUN",
        "PROV",
        "63220",
    )
    again = ack(post(api, sample("a28_create.hl7")))
    assert again["MSA"][1] == "AA" and count(session_factory) == 1
    updated = ack(post(api, sample("a31_update.hl7")))
    assert updated["MSA"][1] == "AA"
    after = api.get(f"/api/v1/identities/{found['id']}").json()
    assert after["used_name"] == "MARTIN" and after["version"] == found["version"] + 1


def test_trusted_ins_links_to_the_qualified_identity_without_storing_it(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    qual = qualified_adrun(api, session_factory)
    linked = ack(post(api, sample("a28_create_ins.hl7"), key="all"))
    assert linked["MSA"][1] == "AA" and count(session_factory) == 1
    sources = api.get(f"/api/v1/identities/{qual}").json()["sources"]
    assert {"finess": "690999016", "local_id": "IPP-1003"} in sources
    untrusted = ack(post(api, sample("a28_create_ins.hl7", **{"|VALI": "|PROV", "1003": "1004"})))
    assert untrusted["MSA"][1] == "AA" and untrusted["ERR"][4] == "W"
    new = api.get(
        "/api/v1/identities", params={"source_finess": "690999016", "local_id": "IPP-1004"}
    ).json()["items"][0]
    assert new["id"] != qual and new["status"] == "PROV" and new["ins"] is None


def test_a31_keeps_insi_traits_of_a_qualified_identity(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    qual = qualified(
        api,
        session_factory,
        birth_name="Adrun",
        first_names=["Zoé"],
        birth_date="1975-12-31",
        source={"finess": "690999016", "local_id": "IPP-1001"},
    )
    answer = ack(post(api, sample("a31_update.hl7", **{"ADRUN^ZOE": "ADRUNE^ZOE"})))
    assert answer["MSA"][1] == "AA" and answer["ERR"][4] == "W"
    after = api.get(f"/api/v1/identities/{qual}", key="vigilance").json()
    assert (after["birth_name"], after["status"], after["used_name"]) == ("ADRUN", "QUAL", "MARTIN")


def test_a40_merges_and_a47_renumbers(api: Api, session_factory: sessionmaker[Session]) -> None:
    for name in ("a28_create.hl7", "a28_second.hl7"):
        assert ack(post(api, sample(name)))["MSA"][1] == "AA"
    merged = ack(post(api, sample("a40_merge.hl7")))
    assert merged["MSA"][1] == "AA", merged
    lookup = "/api/v1/identities"
    kept = api.get(lookup, params={"source_finess": "690999016", "local_id": "IPP-1001"}).json()
    gone = api.get(lookup, params={"source_finess": "690999016", "local_id": "IPP-1002"}).json()
    assert kept["items"][0]["id"] == gone["items"][0]["id"]
    assert ack(post(api, sample("a40_merge.hl7")))["MSA"][1] == "AA"  # replayed: nothing to do
    renumbered = ack(post(api, sample("a47_change.hl7")))
    assert renumbered["MSA"][1] == "AA"
    moved = api.get(lookup, params={"source_finess": "690999016", "local_id": "IPP-2001"}).json()
    assert moved["items"][0]["id"] == kept["items"][0]["id"]
    again = ack(post(api, sample("a47_change.hl7")))
    assert again["MSA"][1] == "AE" and again["ERR"][3].startswith("204")


@pytest.mark.parametrize(
    ("body", "code", "error"),
    [
        (b"garbage", "AR", "100"),
        (sample("a28_create.hl7", **{"ADT^A28": "ORU^R01"}), "AR", "200"),
        (sample("a28_create.hl7", **{"ADT^A28": "ADT^A08"}), "AR", "201"),
        (sample("a28_create.hl7", **{"ADT^A28": "ADT^A99"}), "AR", "201"),
        (sample("a28_create.hl7", **{"|19751231|F|": "|19751231|X|"}), "AE", "101"),
        (sample("a28_create.hl7", **{"ADRUN^ZOE": "ADRUN2^ZOE"}), "AE", "102"),
        (sample("a28_create.hl7", **{"19751231": "19751331"}), "AE", "102"),
        (sample("a40_merge.hl7"), "AE", "204"),
        (sample("a28_create.hl7", **{"CHFM^690999016^M11": "CHFM^380999110^M11"}), "AR", "103"),
    ],
)
def test_refused_messages_change_nothing(
    api: Api, session_factory: sessionmaker[Session], body: bytes, code: str, error: str
) -> None:
    answer = ack(post(api, body))
    assert answer["MSA"][1] == code and answer["ERR"][3].split("^")[0] == error
    assert answer["ERR"][4] == "E" and count(session_factory) == 0


def test_route_needs_write_scope_and_an_er7_body(api: Api) -> None:
    message = sample("a28_create.hl7")
    assert post(api, message, key="identity:read").status_code == 403

    def send(media: str) -> httpx.Response:
        headers = {"Content-Type": media}
        return api.post("/api/v1/hl7v2", key="identity:write", content=message, headers=headers)

    assert send("application/json").status_code == 415
    assert ack(send("text/plain"))["MSA"][1] == "AA"


def test_pid32_attributes_are_set_never_lifted_and_refused_combinations_warned(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = post(api, sample("a28_create.hl7", **{"|PROV": "|PROV~HOMA"}))
    assert ack(created)["MSA"][1] == "AA" and "ERR" not in ack(created)
    lookup = {"source_finess": "690999016", "local_id": "IPP-1001"}
    found = api.get("/api/v1/identities", params=lookup).json()["items"][0]
    assert found["attributes"] == ["HOMA"]
    # A31 adds DOUT (DOUT+HOMA is allowed); a message without HOMA does not lift it.
    assert ack(post(api, sample("a31_update.hl7", **{"|PROV": "|PROV~DOUT"})))["MSA"][1] == "AA"
    after = api.get(f"/api/v1/identities/{found['id']}").json()
    assert after["attributes"] == ["DOUT", "HOMA"] and after["status"] == "PROV"
    # FICT combines with nothing: accepted message, attribute refused with a warning.
    refused = post(api, sample("a31_update.hl7", **{"|PROV": "|PROV~FICT~XYZ"}))
    assert ack(refused)["MSA"][1] == "AA" and "FICT not set on identity" in refused.text
    assert "XYZ after the status: not an RNIV attribute" in refused.text
    assert api.get(f"/api/v1/identities/{found['id']}").json()["attributes"] == ["DOUT", "HOMA"]
    history = api.get(f"/api/v1/identities/{found['id']}/history", key="all")
    assert history.status_code == 200
    assert sum(e["action"] == "attribute_add" for e in history.json()) == 2


def test_pid32_doubtful_or_fictitious_identity_ignores_the_ins(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    qual = qualified_adrun(api, session_factory)
    answer = post(api, sample("a28_create_ins.hl7", **{"|VALI": "|VALI~FICT"}), key="all")
    assert ack(answer)["MSA"][1] == "AA" and "INS ignored: PID-32 declares DOUT or FICT" in (
        answer.text
    )
    new = api.get(
        "/api/v1/identities", params={"source_finess": "690999016", "local_id": "IPP-1003"}
    ).json()["items"][0]
    assert new["id"] != qual and new["attributes"] == ["FICT"] and new["ins"] is None
    assert count(session_factory) == 2


def test_a_movement_never_sets_attributes_on_a_known_identity(api: Api) -> None:
    pam = HL7 / "pam"
    assert ack(post(api, (pam / "a28_create.hl7").read_bytes()))["MSA"][1] == "AA"
    admission = (pam / "a01_admission.hl7").read_text("utf-8")
    admission = admission.replace("IPP-3001", "IPP-3003").replace("|VALI", "|PROV~HOMA")
    answer = post(api, admission.encode("utf-8"))
    assert ack(answer)["MSA"][1] == "AA"
    assert "HOMA not set on identity" in answer.text and "A28/A31 only" in answer.text
    lookup = {"source_finess": "690999016", "local_id": "IPP-3003"}
    assert api.get("/api/v1/identities", params=lookup).json()["items"][0]["attributes"] == []
