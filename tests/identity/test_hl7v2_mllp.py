"""The MLLP listener over a real socket: framing, ACKs, resilience, and round trips to FHIR."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2.mllp import END, START, MllpServer, frame
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.settings import Hl7Settings
from tests.conftest import Api
from tests.identity.fhir_check import fhir_json
from tests.identity.test_fhir_patient import LOCAL_SYSTEM
from tests.identity.test_hl7v2 import sample
from tests.identity.test_pam_france import pam


@pytest.fixture()
def chfm_key(session_factory: sessionmaker[Session]) -> int:
    """The API key of CHFM's interface engine: its FINESS and the write scope."""
    with session_scope(session_factory) as sess:
        key, _ = create_api_key(
            sess, client_name="CHFM engine", scopes=["identity:write"], finess="690999016"
        )
        return key.id


@pytest.fixture()
def listener(session_factory: sessionmaker[Session], chfm_key: int) -> Iterator[MllpServer]:
    settings = Hl7Settings(
        max_message_bytes=20_000, idle_timeout_seconds=10, facility_keys={"CHFM": chfm_key}
    )
    server = MllpServer(session_factory, settings, host="127.0.0.1", port=0).start()
    yield server
    server.stop()


def receive(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(END):
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the ACK"
        data += chunk
    assert data.startswith(START)
    return data[1 : -len(END)].decode("utf-8")


def msa(ack: str) -> list[str]:
    return next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")


def connect(server: MllpServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def test_framed_messages_get_acks_and_bad_ones_do_not_stop_the_listener(
    listener: MllpServer,
) -> None:
    with connect(listener) as sock:
        sock.sendall(frame(sample("a28_create.hl7")))
        assert msa(receive(sock))[1:3] == ["AA", "CHFM-0001"]
        sock.sendall(b"noise before a frame" + frame(b"\x00\xff not hl7"))
        assert msa(receive(sock))[1] == "AR"
        sock.sendall(frame(b"x" * 30_000))
        assert msa(receive(sock))[1] == "AR"
        # Two frames in one write, the second split across writes.
        second = frame(sample("a28_second.hl7"))
        sock.sendall(frame(sample("a31_update.hl7")) + second[:40])
        assert msa(receive(sock))[1:3] == ["AA", "CHFM-0004"]
        sock.sendall(second[40:])
        assert msa(receive(sock))[1:3] == ["AA", "CHFM-0003"]
    with connect(listener) as other:
        other.sendall(frame(sample("a40_merge.hl7")))
        assert msa(receive(other))[1:3] == ["AA", "CHFM-0005"]


def test_closed_half_frame_is_ignored(listener: MllpServer) -> None:
    with connect(listener) as sock:
        sock.sendall(START + sample("a28_create.hl7")[:50])
    with connect(listener) as sock:
        sock.sendall(frame(sample("a28_create.hl7")))
        assert msa(receive(sock))[1] == "AA"


def test_hospital_message_then_fhir_search_and_merge_link(listener: MllpServer, api: Api) -> None:
    with connect(listener) as sock:
        for name in ("a28_create.hl7", "a28_second.hl7"):
            sock.sendall(frame(sample(name)))
            assert msa(receive(sock))[1] == "AA"
    found = fhir_json(
        api.get(
            "/fhir/Patient", key="identity:read", params={"family": "adrun", "gender": "female"}
        )
    )
    assert found["total"] == 2
    ids = {
        i["value"]: e["resource"]["id"]
        for e in found["entry"]
        for i in e["resource"]["identifier"]
        if i["system"] == LOCAL_SYSTEM
    }
    assert set(ids) == {"IPP-1001", "IPP-1002"}
    with connect(listener) as sock:
        sock.sendall(frame(sample("a40_merge.hl7")))
        assert msa(receive(sock))[1] == "AA"
    loser = fhir_json(api.get(f"/fhir/Patient/{ids['IPP-1002']}", key="identity:read"))
    assert loser["active"] is False
    assert loser["link"] == [
        {"other": {"reference": f"Patient/{ids['IPP-1001']}"}, "type": "replaced-by"}
    ]
    survivor = fhir_json(api.get(f"/fhir/Patient/{ids['IPP-1001']}", key="identity:read"))
    assert survivor["link"][0]["type"] == "replaces"
    assert {i["value"] for i in survivor["identifier"]} == {"IPP-1001", "IPP-1002"}


def test_pam_france_story_over_mllp(listener: MllpServer, api: Api) -> None:
    """Admission, discharge, cancellation, update, merge and identifier change on one socket."""
    story = [
        ("a01_admission.hl7", "CHFM-A01-1"),
        ("a03_discharge.hl7", "CHFM-A03-1"),
        ("a13_cancel_discharge.hl7", "CHFM-A13-1"),
        ("a04_outpatient.hl7", "CHFM-A04-1"),
        ("a28_create.hl7", "CHFM-A28-1"),
        ("a31_update.hl7", "CHFM-A31-1"),
        ("a40_merge.hl7", "CHFM-A40-1"),
        ("a47_identifier_change.hl7", "CHFM-A47-1"),
    ]
    with connect(listener) as sock:
        for name, control in story:
            sock.sendall(frame(pam(name)))
            answer = receive(sock)
            assert msa(answer)[1:3] == ["AA", control], (name, answer)
            msh = answer.split("\r")[0].split("|")
            assert (msh[10], msh[11]) == ("D", "2.5^FRA^2.11")
        sock.sendall(frame(pam("a08_update.hl7")))
        assert msa(receive(sock))[1] == "AR"
    found = fhir_json(api.get("/fhir/Patient", key="identity:read", params={"family": "louvel"}))
    locals_ = {
        i["value"]
        for e in found["entry"]
        if e["resource"]["active"]
        for i in e["resource"]["identifier"]
    }
    assert {"IPP-3001", "IPP-3002", "IPP-4001"} <= locals_ and "IPP-3003" not in locals_


def test_movements_of_unknown_patients_refused_for_a_sender_that_sends_a28_first(
    session_factory: sessionmaker[Session], chfm_key: int
) -> None:
    settings = Hl7Settings(
        movements_never_create=["690999016"],
        idle_timeout_seconds=10,
        facility_keys={"CHFM": chfm_key},
    )
    server = MllpServer(session_factory, settings, host="127.0.0.1", port=0).start()
    try:
        with connect(server) as sock:
            sock.sendall(frame(pam("a01_admission.hl7")))
            assert msa(receive(sock))[1] == "AE"
            sock.sendall(frame(pam("a28_create.hl7")))
            assert msa(receive(sock))[1] == "AA"
            sock.sendall(frame(pam("a04_outpatient.hl7", **{"IPP-3002": "IPP-3003"})))
            assert msa(receive(sock))[1] == "AA"
    finally:
        server.stop()
