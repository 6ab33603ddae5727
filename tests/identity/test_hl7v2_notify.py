"""The ADT notifications Socle builds from its identity events (IHE PAM France): each message
read back with python-hl7 and with Socle's own PAM France reader, as a receiver would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import hl7
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import merges
from identity.hl7v2 import message as pam_reader
from identity.hl7v2.notify import Notice, Outgoing, UnsupportedEvent, render
from identity.hl7v2.segments import Parties
from identity.referential import links, local_ids, rules, service
from identity.referential.models import Identity, IdentityEvent
from identity.referential.schemas import (
    IdentityCreate,
    IdentityUpdate,
    LocalIdRequest,
    SourceRef,
)
from referentials.core.db import session_scope
from referentials.core.principal import SYSTEM
from tests.factories import give_ins

CHFM, HCL = "690999016", "690781810"
PARTIES = Parties(
    receiving_application="DPI",
    receiving_facility="CHFM",
    authority_oid="1.2.250.1.999.9",
    authorities={"CHFM": CHFM, "1.2.250.1.999.1.1": CHFM},
)
INS_OIDS = rules.INS_OIDS


def _create(session: Session, finess: str, local_id: str, **traits: Any) -> Identity:
    data = {
        "birth_name": "Adrun",
        "first_names": ["Zoé", "Marie"],
        "sex": "F",
        "birth_date": "1975-12-31",
        "birth_place_code": "63220",
        "source": SourceRef(finess=finess, local_id=local_id),
        **traits,
    }
    return service.create(session, SYSTEM, data=IdentityCreate.model_validate(data)).identity


def _last(session: Session, kind: str) -> Notice:
    row = session.scalars(
        select(IdentityEvent).where(IdentityEvent.type == kind).order_by(IdentityEvent.id.desc())
    ).first()
    assert row is not None, kind
    return Notice(row.type, row.identity_id, row.payload, row.at)


def _read(out: Outgoing) -> tuple[hl7.Message, pam_reader.Adt]:
    msg = hl7.parse(out.text)
    return msg, pam_reader.read(out.text, INS_OIDS)


def _pid3(msg: hl7.Message, segment: str = "PID", index: int = 3) -> list[str]:
    return [str(rep) for rep in msg.segment(segment)[index]]


def test_merge_is_an_a40_with_the_survivor_in_pid_and_the_loser_in_mrg(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        survivor = _create(session, CHFM, "IPP-1001", used_name="Martin")
        loser = _create(session, CHFM, "IPP-1002")
        _create(session, HCL, "HCL-7")  # another patient, to check nothing leaks across
        merges.merge(session, SYSTEM, survivor_id=survivor.id, loser_id=loser.id, reason="twin")
        survivor_id, loser_id = survivor.id, loser.id
    with session_scope(session_factory) as session:
        notice = _last(session, "identity.merged")
        [out] = render(session, notice, PARTIES, key="N42")
    assert out.event == "A40" and out.control_id == "N42"
    msg, adt = _read(out)
    msh = msg.segment("MSH")
    assert str(msh[9]) == "ADT^A40^ADT_A39"
    assert str(msh[10]) == "N42" and str(msh[12]) == "2.5^FRA^2.11"
    assert str(msh[5]) == "DPI" and str(msh[6]) == "CHFM"
    assert str(msh[21]) == "2.11^IHE_FRANCE-2.11-PAM"
    assert [s[0][0] for s in msg] == ["MSH", "EVN", "PID", "MRG"]
    # PID-3: Socle's id, then the survivor's own local id under the OID CHFM's software uses.
    assert _pid3(msg) == [
        f"{survivor_id}^^^SOCLE&1.2.250.1.999.9&ISO^PI",
        "IPP-1001^^^CHFM&1.2.250.1.999.1.1&ISO^PI",
    ]
    assert _pid3(msg, "MRG", 1) == [
        f"{loser_id}^^^SOCLE&1.2.250.1.999.9&ISO^PI",
        "IPP-1002^^^CHFM&1.2.250.1.999.1.1&ISO^PI",
    ]
    # A PAM France receiver reads it as a merge of IPP-1002 into IPP-1001.
    assert {c.value for c in adt.local_ids} == {"IPP-1001", str(survivor_id)}
    assert {c.value for c in adt.merged_ids} == {"IPP-1002", str(loser_id)}
    assert adt.birth_name == "ADRUN" and adt.first_names == ["ZOE", "MARIE"]
    assert adt.used_name == "MARTIN" and adt.status_code == "PROV" and adt.ins is None


def test_the_ins_travels_only_for_a_qualified_identity_with_pid32_vali(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        identity = _create(session, HCL, "HCL-1")
        identity_id = identity.id
    give_ins(session_factory, identity_id)  # RECUP: INS known, not qualified
    with session_scope(session_factory) as session:
        service.update(
            session,
            SYSTEM,
            identity_id,
            data=IdentityUpdate(used_first_name="Zoé-Anne"),
            expected_version=None,
        )
    with session_scope(session_factory) as session:
        [recup] = render(session, _last(session, "identity.updated"), PARTIES, key="U1")
        identity = session.get(Identity, identity_id)
        assert identity is not None
        identity.validation_document = "PA"
        identity.status = "QUAL"
        identity.attributes = "HOMA"
    with session_scope(session_factory) as session:
        [qual] = render(session, _last(session, "identity.updated"), PARTIES, key="U2")
    msg, adt = _read(recup)
    assert str(msg.segment("MSH")[9]) == "ADT^A31^ADT_A05"
    assert [s[0][0] for s in msg] == ["MSH", "EVN", "PID", "PV1"]
    assert adt.ins is None and adt.status_code == "PROV"
    assert adt.used_first_name == "ZOE-ANNE" and adt.used_name is None
    # HCL has no authority configured: its FINESS names its ids.
    assert f"HCL-1^^^&{HCL}&N^PI" in _pid3(msg)
    msg, adt = _read(qual)
    assert adt.status_code == "VALI" and adt.attribute_codes == ("HOMA",)
    assert adt.ins is not None and adt.ins.value == "275126322074974"
    assert "275126322074974^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS" in _pid3(msg)
    assert adt.birth_place_code == "63220" and str(msg.segment("PID")[7]) == "19751231"


def test_an_unmerge_gives_back_the_restored_identity_then_the_survivor(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        survivor = _create(session, CHFM, "IPP-1")
        loser = _create(session, CHFM, "IPP-2")
        record = merges.merge(
            session, SYSTEM, survivor_id=survivor.id, loser_id=loser.id, reason="x"
        )
        merge_id, loser_id = record.id, loser.id
    with session_scope(session_factory) as session:
        merges.undo(session, SYSTEM, merge_id, reason="not the same person")
    with session_scope(session_factory) as session:
        first, second = render(session, _last(session, "identity.unmerged"), PARTIES, key="K")
    assert (first.event, first.control_id) == ("A28", "K-1")
    assert (second.event, second.control_id) == ("A31", "K-2")
    _, restored = _read(first)
    _, kept = _read(second)
    assert {c.value for c in restored.local_ids} == {str(loser_id), "IPP-2"}
    assert "IPP-2" not in {c.value for c in kept.local_ids}
    assert "IPP-1" in {c.value for c in kept.local_ids}


def test_a_renumbered_local_id_is_an_a47_and_other_events_are_refused(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        identity = _create(session, CHFM, "IPP-NEW")
        notice = Notice(
            "identity.local_id_changed",
            identity.id,
            {"finess": CHFM, "old": "IPP-OLD", "new": "IPP-NEW"},
            datetime.now(UTC),
        )
        [out] = render(session, notice, PARTIES, key="R1")
        msg, adt = _read(out)
        assert str(msg.segment("MSH")[9]) == "ADT^A47^ADT_A30"
        assert [c.value for c in adt.merged_ids] == ["IPP-OLD"]
        assert "IPP-NEW" in {c.value for c in adt.local_ids}
        other = Notice("directory.updated", identity.id, {}, datetime.now(UTC))
        try:
            render(session, other, PARTIES, key="R2")
        except UnsupportedEvent as exc:
            assert "identity events only" in str(exc)
        else:
            raise AssertionError("a directory event became an HL7 message")


def test_a_subscription_narrowed_to_an_establishment_gets_only_its_local_ids(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        survivor = _create(session, CHFM, "IPP-1")
        loser = _create(session, CHFM, "IPP-2")
        local_ids.attach_by_request(
            session, SYSTEM, survivor.id, data=LocalIdRequest(finess=HCL, local_id="HCL-9")
        )
        merges.merge(session, SYSTEM, survivor_id=survivor.id, loser_id=loser.id, reason="x")
    narrowed = Parties(authorities=PARTIES.authorities, establishments=frozenset({CHFM}))
    with session_scope(session_factory) as session:
        merged = _last(session, "identity.merged")
        [everything] = render(session, merged, PARTIES, key="A")
        [chfm_only] = render(session, merged, narrowed, key="B")
        change = {"finess": HCL, "old": "HCL-1", "new": "HCL-9"}
        renumbered = Notice("identity.local_id_changed", survivor.id, change, datetime.now(UTC))
        assert render(session, renumbered, narrowed, key="C") == []
        assert len(render(session, renumbered, PARTIES, key="D")) == 1
    assert "HCL-9" in everything.text
    assert "HCL-9" not in chfm_only.text
    assert "IPP-1^^^" in chfm_only.text and "IPP-2^^^" in chfm_only.text


def _link(session: Session, finess: str, first: str, second: str, *, undo: bool = False) -> None:
    one, other = links.record_of(session, finess, first), links.record_of(session, finess, second)
    assert one is not None and other is not None
    if undo:
        assert links.unlink(session, SYSTEM, one, other, reason="not the same patient")
    else:
        assert links.link(session, SYSTEM, one, other, control_id="L1", reason="same patient")


def test_a_link_is_an_a24_of_both_patients_and_an_unlink_an_a37(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        first = _create(session, CHFM, "IPP-1").id
        second = _create(session, CHFM, "IPP-2", first_names=["Lea"]).id
        _link(session, CHFM, "IPP-1", "IPP-2")
    with session_scope(session_factory) as session:
        linked = _last(session, "identity.local_ids_linked")
        assert linked.identity_id == first and linked.payload["linked_identity_id"] == second
        [out] = render(session, linked, PARTIES, key="K1")
        other_only = Parties(authorities=PARTIES.authorities, establishments=frozenset({HCL}))
        assert render(session, linked, other_only, key="K2") == []
        _link(session, CHFM, "IPP-1", "IPP-2", undo=True)
    assert out.event == "A24" and out.control_id == "K1"
    msg, adt = _read(out)
    assert str(msg.segment("MSH")[9]) == "ADT^A24^ADT_A24"
    assert [s[0][0] for s in msg] == ["MSH", "EVN", "PID", "PV1", "PID", "PV1"]
    assert [str(s[1]) for s in msg.segments("PID")] == ["1", "2"]
    # A PAM France receiver reads it as the link of IPP-1 with IPP-2, nothing merged.
    assert {c.value for c in adt.local_ids} == {"IPP-1", str(first)}
    assert {c.value for c in adt.linked_ids} == {"IPP-2", str(second)}
    assert adt.merged_ids == [] and adt.first_names == ["ZOE", "MARIE"]
    with session_scope(session_factory) as session:
        [undone] = render(session, _last(session, "identity.local_ids_unlinked"), PARTIES, key="U")
    msg, adt = _read(undone)
    assert str(msg.segment("MSH")[9]) == "ADT^A37^ADT_A37"
    assert {c.value for c in adt.linked_ids} == {"IPP-2", str(second)}


def test_a_link_names_who_holds_its_local_ids_when_it_is_sent(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        _create(session, CHFM, "IPP-1")
        second = _create(session, CHFM, "IPP-2", first_names=["Lea"]).id
        survivor = _create(session, CHFM, "IPP-3", first_names=["Lea"]).id
        _link(session, CHFM, "IPP-1", "IPP-2")
        # IPP-2 moves to the survivor before the link is sent: the A24 names the survivor.
        merges.merge(session, SYSTEM, survivor_id=survivor, loser_id=second, reason="twin")
    with session_scope(session_factory) as session:
        [out] = render(session, _last(session, "identity.local_ids_linked"), PARTIES, key="K")
        _, adt = _read(out)
        assert {c.value for c in adt.linked_ids} == {"IPP-2", "IPP-3", str(survivor)}
        # Two local ids of one identity: every message about it has both in one PID-3.
        _link(session, CHFM, "IPP-2", "IPP-3")
        assert render(session, _last(session, "identity.local_ids_linked"), PARTIES, key="S") == []
