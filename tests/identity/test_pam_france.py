"""The whole IHE PAM France feed over HTTP: ITI-30 and ITI-31 events, their ACKs, ZFD and PID-32.

The messages under fixtures/hl7v2/pam are written from PAM France 2.11.2 in the shape the
national examples use (MSH-11 D, ``2.5^FRA^2.11``, MSH-21, dates on the INS identifier,
PID-25 on a single birth).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import ack as ack_builder
from identity.hl7v2 import movements
from identity.hl7v2.message import Header, decode, header_of, read
from identity.hl7v2.process import handle
from identity.referential import rules, service
from identity.referential.models import Identity, SourceRecord
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.errors import NotFound
from referentials.core.principal import Principal
from referentials.core.settings import Hl7Settings
from tests.conftest import FIXTURES, Api
from tests.identity.test_hl7v2 import ack, count, post

PAM = FIXTURES / "hl7v2" / "pam"
LOOKUP = "/api/v1/identities"


# The interface engine of the establishment that sends the fixtures (FINESS 690999016).
CHFM_ENGINE = Principal(
    key_id=None, client_name="CHFM engine", finess="690999016", scopes=frozenset({"identity:write"})
)


def pam(name: str, **replace: str) -> bytes:
    text = (PAM / name).read_text("utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode("utf-8")


def found(api: Api, local_id: str) -> dict[str, object]:
    params = {"source_finess": "690999016", "local_id": local_id}
    items = api.get(LOOKUP, params=params, key="vigilance").json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def source(factory: sessionmaker[Session], local_id: str) -> SourceRecord:
    with session_scope(factory) as session:
        record = session.scalars(
            select(SourceRecord).where(SourceRecord.local_id == local_id)
        ).one()
        session.expunge(record)
        return record


def test_reading_tolerates_what_the_national_examples_do() -> None:
    """Dates on the INS identifier (CX-7) and PID-25 on a single birth do not stop reading."""
    adt = read(decode(pam("a01_admission.hl7")), rules.INS_OIDS)
    assert adt.ins is not None and adt.ins.value == "282036912304532"
    assert adt.status_code == "VALI" and adt.header.processing_id == "D"
    assert (adt.birth_name, adt.first_names, adt.used_name) == (
        "LOUVEL",
        ["MARIE", "CLAIRE"],
        "MARTIN",
    )
    assert adt.birth_place_code == "69123" and adt.birth_date == date(1982, 3, 14)
    assert adt.zfd is not None
    assert (adt.zfd.collection_mode, adt.zfd.insi_queried_on) == ("INSI", date(2026, 5, 4))
    assert (adt.zfd.proof, adt.zfd.proof_expiry) == ("CN", date(2031, 1, 1))


def test_admission_acked_in_the_senders_exchange_and_creates_a_prov_identity(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    """Why: every ANS movement got 'AR event not supported'; the ACK turned D into P and
    dropped 2.5^FRA^2.11; ZFD was ignored."""
    answer = ack(post(api, pam("a01_admission.hl7")))
    assert answer["MSA"][1:3] == ["AA", "CHFM-A01-1"]
    msh = answer["MSH"]
    assert msh[8] == "ACK^A01^ACK" and msh[10] == "D"
    assert msh[11] == "2.5^FRA^2.11" and msh[20] == "2.11^IHE_FRANCE-2.11-PAM"
    assert (msh[16], msh[17], msh[18]) == ("FRA", "UNICODE UTF-8", "FR")
    patient = found(api, "IPP-3001")
    # VALI + INS + ZFD 'INSI' are the sender's statements: the identity stays PROV, no INS.
    assert patient["status"] == "PROV" and patient["ins"] is None
    assert (patient["birth_name"], patient["used_name"]) == ("LOUVEL", "MARTIN")
    record = source(session_factory, "IPP-3001")
    assert (record.collection_mode, record.insi_queried_on) == ("INSI", date(2026, 5, 4))
    assert (record.proof, record.proof_expiry) == ("CN", date(2031, 1, 1))
    assert record.provenance_at is not None


def test_discharge_and_cancellations_find_the_identity_and_never_change_it(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    assert ack(post(api, pam("a01_admission.hl7")))["MSA"][1] == "AA"
    before = found(api, "IPP-3001")
    discharge = ack(post(api, pam("a03_discharge.hl7")))  # its PID has another used name
    assert discharge["MSA"][1] == "AA" and discharge["ERR"][4] == "W"
    assert "A31" in discharge["ERR"][8]
    for name in ("a13_cancel_discharge.hl7", "a11_cancel_admission.hl7", "z99_update.hl7"):
        assert ack(post(api, pam(name)))["MSA"][1] == "AA", name
    after = found(api, "IPP-3001")
    assert after["used_name"] == "MARTIN" and after["version"] == before["version"]
    assert count(session_factory) == 1


@pytest.mark.parametrize(
    ("event", "structure"),
    [
        ("A04", "ADT_A01"),
        ("A05", "ADT_A05"),
        ("A12", "ADT_A12"),
        ("A21", "ADT_A21"),
        ("A22", "ADT_A21"),
        ("A52", "ADT_A52"),
        ("A53", "ADT_A52"),
        ("Z99", "ADT_A01"),
    ],
)
def test_every_movement_is_acknowledged(api: Api, event: str, structure: str) -> None:
    body = pam("a01_admission.hl7", **{"ADT^A01^ADT_A01": f"ADT^{event}^{structure}"})
    answer = ack(post(api, body))
    assert answer["MSA"][1] == "AA" and answer["MSH"][8] == f"ACK^{event}^ACK"
    assert found(api, "IPP-3001")["status"] == "PROV"


def test_a28_then_a31_update_and_keep_the_latest_provenance(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = ack(post(api, pam("a28_create.hl7")))
    assert created["MSA"][1] == "AA" and "ERR" not in created
    assert source(session_factory, "IPP-3003").collection_mode == "CV"
    updated = ack(post(api, pam("a31_update.hl7")))
    assert updated["MSA"][1] == "AA"
    patient = found(api, "IPP-3003")
    assert patient["used_name"] == "BERNARD" and patient["status"] == "PROV"
    record = source(session_factory, "IPP-3003")
    assert (record.collection_mode, record.proof, record.insi_queried_on) == ("SM", "PA", None)


def test_a40_merge_and_a47_identifier_change(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    for name in ("a01_admission.hl7", "a04_outpatient.hl7", "a28_create.hl7"):
        assert ack(post(api, pam(name)))["MSA"][1] == "AA", name
    assert count(session_factory) == 3
    merged = ack(post(api, pam("a40_merge.hl7")))
    assert merged["MSA"][1] == "AA"
    assert found(api, "IPP-3002")["id"] == found(api, "IPP-3001")["id"]
    renumbered = ack(post(api, pam("a47_identifier_change.hl7")))
    assert renumbered["MSA"][1] == "AA"
    assert found(api, "IPP-4001")["birth_name"] == "LOUVEL"
    gone = api.get(
        LOOKUP, params={"source_finess": "690999016", "local_id": "IPP-3003"}, key="vigilance"
    )
    assert gone.status_code == 404


def test_a47_on_the_ins_keeps_socles_own_ins(api: Api) -> None:
    assert ack(post(api, pam("a01_admission.hl7")))["MSA"][1] == "AA"
    answer = ack(post(api, pam("a47_ins_removal.hl7")))
    assert answer["MSA"][1] == "AA" and answer["ERR"][4] == "W"
    assert "INSi" in answer["ERR"][8]


def test_ins_without_vali_is_dropped_with_a_warning(api: Api) -> None:
    answer = ack(post(api, pam("a01_admission.hl7", **{"|VALI": "|PROV"})))
    assert answer["MSA"][1] == "AA" and answer["ERR"][4] == "W"
    assert "PID-32" in answer["ERR"][8]
    # PAM France has no QUAL: only VALI in the first repetition declares a qualified identity.
    qual = ack(post(api, pam("a01_admission.hl7", **{"|VALI": "|QUAL", "3001": "3009"})))
    assert "PID-32" in qual["ERR"][8]


def test_zfd_codes_outside_pam_france_are_dropped_with_a_warning(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    body = pam("a01_admission.hl7", **{"|INSI|20260504100500|CN|": "|XX|2026|CN|"})
    response = post(api, body)
    assert ack(response)["MSA"][1] == "AA"
    warnings = [seg.split("|") for seg in response.text.split("\r") if seg.startswith("ERR")]
    assert all(err[4] == "W" for err in warnings)
    assert {err[8].split(":")[0] for err in warnings} >= {"ZFD-5", "ZFD-6"}
    record = source(session_factory, "IPP-3001")
    assert (record.collection_mode, record.insi_queried_on, record.proof) == (None, None, "CN")


@pytest.mark.parametrize(
    ("name", "replace", "code", "error", "said"),
    [
        ("a08_update.hl7", {}, "AR", "201", "A31"),
        ("a01_admission.hl7", {"|CHFM-A01-1|D|": "|CHFM-A01-1|X|"}, "AR", "103", "MSH-11"),
        ("a01_admission.hl7", {"|2.5^FRA^2.11|": "|2.3|"}, "AR", "203", "MSH-12"),
        ("a01_admission.hl7", {"|19820314|F|": "|19820314||"}, "AE", "101", "sex"),
    ],
)
def test_refusals_say_why_and_change_nothing(
    api: Api,
    session_factory: sessionmaker[Session],
    name: str,
    replace: dict[str, str],
    code: str,
    error: str,
    said: str,
) -> None:
    answer = ack(post(api, pam(name, **replace)))
    assert answer["MSA"][1] == code and answer["ERR"][3].split("^")[0] == error
    assert said in answer["MSA"][3]
    assert count(session_factory) == 0


@pytest.mark.parametrize("processing", ["P", "D", "T"])
def test_ack_echoes_processing_id_version_and_profile(processing: str) -> None:
    text = decode(pam("a01_admission.hl7", **{"|CHFM-A01-1|D|": f"|CHFM-A01-1|{processing}|"}))
    built = ack_builder.build(
        header_of(text), "AA", "ok", [], application="SOCLE", facility="SOCLE"
    )
    msh = built.split("\r")[0].split("|")
    assert (msh[10], msh[11], msh[20]) == (processing, "2.5^FRA^2.11", "2.11^IHE_FRANCE-2.11-PAM")
    # Without a readable header, Socle states PAM France 2.11.
    bare = ack_builder.build(Header(), "AR", "x", [], application="S", facility="S")
    assert bare.split("\r")[0].split("|")[11] == "2.5^FRA^2.11"


def test_movement_of_an_unknown_patient_creates_nothing_when_the_sender_sends_a28_first(
    session_factory: sessionmaker[Session],
) -> None:
    strict = Hl7Settings(movements_never_create=["690999016"])
    with session_scope(session_factory) as session:
        outcome = handle(session, CHFM_ENGINE, pam("a01_admission.hl7"), strict)
    assert outcome.code == "AE" and outcome.issues[0].code == "204"
    assert count(session_factory) == 0
    with session_scope(session_factory) as session:
        assert session.scalar(select(Identity.id)) is None


def links(api: Api, local_id: str) -> list[dict[str, object]]:
    answer = api.get(f"{LOOKUP}/{found(api, local_id)['id']}/links", key="vigilance")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_reading_a24_names_the_second_patient() -> None:
    adt = read(decode(pam("a24_link.hl7")), rules.INS_OIDS)
    assert [c.value for c in adt.local_ids] == ["IPP-3003"]
    assert [(c.value, c.type_code) for c in adt.linked_ids] == [("IPP-3002", "PI")]


def test_a24_links_two_local_ids_without_merging_and_a37_unlinks_them(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    for name in ("a04_outpatient.hl7", "a28_create.hl7"):
        assert ack(post(api, pam(name)))["MSA"][1] == "AA", name
    first, second = found(api, "IPP-3003")["id"], found(api, "IPP-3002")["id"]
    linked = ack(post(api, pam("a24_link.hl7")))
    assert linked["MSA"][1] == "AA" and "linked" in linked["MSA"][3]
    assert count(session_factory) == 2  # one patient under two local ids: nothing merged
    again = ack(post(api, pam("a24_link.hl7", **{"CHFM-A24-1": "CHFM-A24-2"})))
    assert again["MSA"][1] == "AA" and "already linked" in again["MSA"][3]
    assert [
        (x["local_id"], x["linked_local_id"], x["linked_identity_id"])
        for x in links(api, "IPP-3003")
    ] == [("IPP-3003", "IPP-3002", second)]
    assert [
        (x["local_id"], x["linked_local_id"], x["linked_identity_id"])
        for x in links(api, "IPP-3002")
    ] == [("IPP-3002", "IPP-3003", first)]
    history = api.get(f"{LOOKUP}/{first}/history", key="vigilance").json()
    assert [h["action"] for h in history].count("local_ids_linked") == 1
    unlinked = ack(post(api, pam("a37_unlink.hl7")))
    assert unlinked["MSA"][1] == "AA" and "ERR" not in unlinked
    assert links(api, "IPP-3003") == [] and links(api, "IPP-3002") == []
    twice = ack(post(api, pam("a37_unlink.hl7", **{"CHFM-A37-1": "CHFM-A37-2"})))
    assert twice["MSA"][1] == "AA" and twice["ERR"][4] == "W" and "not linked" in twice["ERR"][8]
    # One event a change (none for the repeated A24 or A37), in the feed tools read.
    feed = api.get("/api/v1/events", key="vigilance", params={"after": 0, "limit": 100})
    assert feed.status_code == 200, feed.text
    changes = [e for e in feed.json()["items"] if "local_ids" in e["type"]]
    assert [(e["type"], e["identity_id"]) for e in changes] == [
        ("identity.local_ids_linked", first),
        ("identity.local_ids_unlinked", first),
    ]
    assert changes[0]["payload"] == {
        "finess": "690999016",
        "local_id": "IPP-3003",
        "linked_local_id": "IPP-3002",
        "linked_identity_id": second,
    }


def test_a_link_follows_its_local_id_into_a_merge(api: Api) -> None:
    for name in ("a01_admission.hl7", "a04_outpatient.hl7", "a28_create.hl7", "a24_link.hl7"):
        assert ack(post(api, pam(name)))["MSA"][1] == "AA", name
    assert ack(post(api, pam("a40_merge.hl7")))["MSA"][1] == "AA"  # IPP-3002 into IPP-3001
    survivor = found(api, "IPP-3001")["id"]
    assert [(x["local_id"], x["linked_local_id"]) for x in links(api, "IPP-3001")] == [
        ("IPP-3002", "IPP-3003")
    ]
    assert [x["linked_identity_id"] for x in links(api, "IPP-3003")] == [survivor]


@pytest.mark.parametrize(
    ("replace", "error", "location"),
    [
        # The second patient's local id is unknown in the establishment.
        ({"PID|2||IPP-3002": "PID|2||IPP-9999"}, "204", "PID^2^3"),
        # Both PIDs name the same local id.
        ({"PID|2||IPP-3002": "PID|2||IPP-3003"}, "103", "PID^2^3"),
        # No second PID at all.
        ({"PID|2||": "ZZZ|2||"}, "100", "PID^2"),
    ],
)
def test_a_link_that_cannot_be_made_is_refused_and_stores_nothing(
    api: Api, replace: dict[str, str], error: str, location: str
) -> None:
    for name in ("a04_outpatient.hl7", "a28_create.hl7"):
        assert ack(post(api, pam(name)))["MSA"][1] == "AA", name
    answer = ack(post(api, pam("a24_link.hl7", **replace)))
    assert answer["MSA"][1] == "AE" and answer["ERR"][3].split("^")[0] == error
    assert answer["ERR"][2] == location
    assert links(api, "IPP-3003") == []


@pytest.mark.parametrize(
    ("failure", "code", "error"),
    [(NotFound("gone meanwhile"), "AE", "207"), (RuntimeError("disk"), "AE", "207")],
)
def test_a_message_that_fails_after_writing_leaves_nothing_written(
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    code: str,
    error: str,
) -> None:
    """The identity is created, then the ZFD step fails: the creation is rolled back too."""

    def fail(session: Session, *_args: object) -> None:
        assert session.scalar(select(Identity.id)) is not None  # written in the session...
        assert count(session_factory) == 0  # ...not committed
        raise failure

    monkeypatch.setattr(movements, "keep_provenance", fail)
    with session_scope(session_factory) as session:
        outcome = handle(session, CHFM_ENGINE, pam("a28_create.hl7"), Hl7Settings())
        assert session.scalar(select(Identity.id)) is None
    assert (outcome.code, outcome.issues[0].code) == (code, error)
    with session_scope(session_factory) as session:
        assert session.scalar(select(SourceRecord.id)) is None
    assert count(session_factory) == 0
    # The same message, nothing failing, is applied in a new session.
    monkeypatch.undo()
    with session_scope(session_factory) as session:
        assert handle(session, CHFM_ENGINE, pam("a28_create.hl7"), Hl7Settings()).code == "AA"
    assert count(session_factory) == 1


def test_a_message_reads_and_scores_without_holding_the_writers_turn(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a message looks its local id up (and then scores its candidates), another writer
    of the same database commits: on SQLite, the one writers' turn is taken at the message's
    first write, not before its reads."""
    reached, release = threading.Event(), threading.Event()
    find = service.find_by_source

    def slow_find(*args: Any, **kwargs: Any) -> Any:
        found = find(*args, **kwargs)  # the message's first read
        reached.set()
        assert release.wait(10), "the test never released the message"
        return found

    monkeypatch.setattr(service, "find_by_source", slow_find)
    outcomes: list[str] = []

    def apply() -> None:
        with session_scope(session_factory) as session:
            outcomes.append(handle(session, CHFM_ENGINE, pam("a28_create.hl7"), Hl7Settings()).code)

    message = threading.Thread(target=apply)
    message.start()
    try:
        assert reached.wait(10)
        other = threading.Thread(target=lambda: _write_a_key(session_factory))
        other.start()
        other.join(5)
        assert not other.is_alive(), "another writer waited for the message's lookups"
    finally:
        release.set()
        message.join(10)
    assert outcomes == ["AA"] and count(session_factory) == 1


def _write_a_key(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        create_api_key(session, client_name="another writer", scopes=["identity:read"])
