"""Real-time duplicate check, the merge queue, merges and their exact undo, over HTTP."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import service as duplicates
from referentials.core.db import session_scope
from tests.conftest import Api
from tests.factories import give_ins, identity_body

IDS = "/api/v1/identities"


def _create(api: Api, **kw: object) -> dict:
    response = api.post(IDS, json=identity_body(**kw))
    assert response.status_code in (200, 201), response.text
    return response.json()


def _pair(api: Api) -> tuple[dict, dict, dict]:
    """Two identities of one person typed differently by two establishments, and their pair."""
    a = _create(
        api,
        birth_name="Lefebvre",
        first_names=["Marie", "Claire"],
        source={"finess": "690999016", "local_id": "A-1"},
    )
    b = _create(
        api,
        birth_name="Lefèvre",
        first_names=["Marie"],
        source={"finess": "670999911", "local_id": "B-1"},
    )
    assert [d["id"] for d in b["possible_duplicates"]] == [a["id"]]
    pairs = api.get("/api/v1/duplicates", key="vigilance").json()
    assert pairs["total"] == 1
    return a, b, pairs["items"][0]


def test_creation_reports_and_queues_a_likely_duplicate(api: Api) -> None:
    a, b, pair = _pair(api)
    assert {pair["left_id"], pair["right_id"]} == {a["id"], b["id"]}
    assert pair["band"] in ("match", "review") and pair["status"] == "pending"
    assert pair["establishments"] == ["670999911", "690999016"]
    unrelated = _create(
        api, birth_name="Zyzomys", first_names=["Paul"], sex="M", birth_date="1950-02-02"
    )
    assert unrelated["possible_duplicates"] == []


def test_match_ranks_candidates_with_explanation(api: Api) -> None:
    a = _create(
        api,
        birth_name="Dupont",
        first_names=["Jean-Pierre"],
        sex="M",
        birth_date="1971-11-02",
        birth_place_code="75056",
    )
    _create(
        api,
        birth_name="Durand",
        first_names=["Jean-Pierre"],
        sex="M",
        birth_date="1971-11-02",
        birth_place_code="75056",
    )
    response = api.post(
        f"{IDS}/match",
        key="identity:read",
        json={
            "birth_name": "dupond",
            "first_names": ["jean pierre"],
            "sex": "M",
            "birth_date": "1971-11-02",
            "birth_place_code": "75056",
        },
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert found[0]["id"] == a["id"]
    assert found[0]["score"] >= (found[1]["score"] if len(found) > 1 else -1e9)
    fields = {c["field"] for c in found[0]["explanation"]["contributions"]}
    assert {"birth_name", "birth_date"} <= fields


def test_pair_detail_shows_differences_and_proposed_survivor(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    _a, b, pair = _pair(api)
    give_ins(session_factory, b["id"])  # RECUP beats PROV
    detail = api.get(f"/api/v1/duplicates/{pair['id']}", key="vigilance").json()
    assert detail["proposed_survivor_id"] == b["id"]
    diff = {d["field"] for d in detail["differences"]}
    assert {"birth_name", "first_names", "status"} <= diff
    assert detail["explanation"]["contributions"]


def test_claim_keeps_other_officers_off(api: Api) -> None:
    _, _, pair = _pair(api)
    url = f"/api/v1/duplicates/{pair['id']}"
    assert api.post(f"{url}/claim", key="vigilance").status_code == 200
    assert api.post(f"{url}/claim", key="identity:merge").status_code == 409
    taken = api.post(f"{url}/decision", key="identity:merge", json={"decision": "not_duplicate"})
    assert taken.status_code == 409
    assert api.post(f"{url}/release", key="vigilance").status_code == 200
    assert api.post(f"{url}/claim", key="identity:merge").status_code == 200


def test_merge_moves_local_ids_and_deciding_again_is_409(api: Api) -> None:
    a, b, pair = _pair(api)
    url = f"/api/v1/duplicates/{pair['id']}/decision"
    decided = api.post(
        url,
        key="vigilance",
        json={"decision": "merge", "survivor_id": a["id"], "reason": "même patiente"},
    )
    assert decided.status_code == 200, decided.text
    merge_id = decided.json()["merge_id"]
    assert merge_id and decided.json()["pair"]["status"] == "merged"
    loser = api.get(f"{IDS}/{b['id']}").json()
    assert loser["active"] is False and loser["merged_into"] == a["id"]
    moved = api.get(IDS, params={"source_finess": "670999911", "local_id": "B-1"}).json()
    assert moved["items"][0]["id"] == a["id"]
    again = api.post(url, key="identity:merge", json={"decision": "not_duplicate"})
    assert again.status_code == 409
    events = api.get("/api/v1/events").json()["items"]
    merged = [e for e in events if e["type"] == "identity.merged"]
    assert merged[-1]["payload"]["loser_id"] == b["id"]
    assert merged[-1]["payload"]["moved_local_ids"] == [{"finess": "670999911", "local_id": "B-1"}]
    listed = api.get("/api/v1/merges", key="vigilance").json()
    assert listed["items"][0]["id"] == merge_id


def test_undo_restores_the_loser_exactly_and_keeps_survivor_changes(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    a, b, pair = _pair(api)
    give_ins(session_factory, b["id"], matricule="297022A02077878")
    api.post(f"{IDS}/{b['id']}/attributes", json={"code": "HOMA"})
    before = api.get(f"{IDS}/{b['id']}", key="vigilance").json()
    decided = api.post(
        f"/api/v1/duplicates/{pair['id']}/decision",
        key="vigilance",
        json={"decision": "merge", "survivor_id": a["id"]},
    ).json()
    survivor = api.get(f"{IDS}/{a['id']}").json()
    api.patch(
        f"{IDS}/{a['id']}",
        json={"used_name": "Martin"},
        headers={"If-Match": str(survivor["version"])},
    )
    undo = api.post(
        f"/api/v1/merges/{decided['merge_id']}/undo", key="vigilance", json={"reason": "erreur"}
    )
    assert undo.status_code == 200 and undo.json()["undone_by"]
    after = api.get(f"{IDS}/{b['id']}", key="vigilance").json()
    for name in (
        "birth_name",
        "first_names",
        "sex",
        "birth_date",
        "birth_place_code",
        "status",
        "attributes",
        "ins",
        "sources",
        "active",
        "merged_into",
        "validation_document",
    ):
        assert after[name] == before[name], name
    assert api.get(f"{IDS}/{a['id']}").json()["used_name"] == "MARTIN"
    back = api.get(IDS, params={"source_finess": "670999911", "local_id": "B-1"}).json()
    assert back["items"][0]["id"] == b["id"]
    assert (
        api.post(f"/api/v1/merges/{decided['merge_id']}/undo", key="vigilance", json={}).status_code
        == 409
    )
    types = [e["type"] for e in api.get("/api/v1/events").json()["items"]]
    assert types.index("identity.unmerged") > types.index("identity.merged")
    reopened = api.get(f"/api/v1/duplicates/{pair['id']}", key="vigilance").json()
    assert reopened["status"] == "pending"


def test_two_different_valid_ins_are_never_merged(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    a, b, pair = _pair(api)
    give_ins(session_factory, a["id"], matricule="275126322074974")
    give_ins(session_factory, b["id"], matricule="236066322083656")
    refused = api.post(
        f"/api/v1/duplicates/{pair['id']}/decision", key="vigilance", json={"decision": "merge"}
    )
    assert refused.status_code == 409 and "two people" in refused.json()["detail"]
    assert api.get(f"{IDS}/{b['id']}").json()["active"] is True
    assert api.get(f"/api/v1/duplicates/{pair['id']}", key="vigilance").json()["status"] == (
        "pending"
    )


def test_flagged_identity_needs_explicit_confirmation(api: Api) -> None:
    _a, b, pair = _pair(api)
    api.post(f"{IDS}/{b['id']}/attributes", json={"code": "DOUT"})
    url = f"/api/v1/duplicates/{pair['id']}/decision"
    refused = api.post(url, key="vigilance", json={"decision": "merge"})
    assert refused.status_code == 409 and "confirm" in refused.json()["detail"]
    ok = api.post(url, key="vigilance", json={"decision": "merge", "confirm_flagged": True})
    assert ok.status_code == 200


def test_not_duplicate_is_not_proposed_again_until_a_strict_trait_changes(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    _a, b, pair = _pair(api)
    api.post(
        f"/api/v1/duplicates/{pair['id']}/decision",
        key="vigilance",
        json={"decision": "not_duplicate", "reason": "sœurs"},
    )
    with session_scope(session_factory) as session:
        summary = duplicates.scan(session)
    assert summary.queued == 0 and summary.already_known >= 1
    assert api.get("/api/v1/duplicates", key="vigilance").json()["total"] == 0
    current = api.get(f"{IDS}/{b['id']}").json()
    api.patch(
        f"{IDS}/{b['id']}",
        json={"first_names": ["Marie", "Claire"]},
        headers={"If-Match": str(current["version"])},
    )
    pending = api.get("/api/v1/duplicates", key="vigilance").json()
    assert pending["total"] == 1 and pending["items"][0]["id"] == pair["id"]


def test_scan_is_idempotent(api: Api, session_factory: sessionmaker[Session]) -> None:
    _pair(api)
    with session_scope(session_factory) as session:
        first = duplicates.scan(session)
    with session_scope(session_factory) as session:
        second = duplicates.scan(session)
    assert first.candidate_pairs >= 1 and first.candidate_pairs == second.candidate_pairs
    assert api.get("/api/v1/duplicates", key="vigilance").json()["total"] == 1


def test_concurrent_decisions_give_one_success_and_one_409(api: Api) -> None:
    _, _, pair = _pair(api)
    url = f"/api/v1/duplicates/{pair['id']}/decision"
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def decide(key: str, decision: str) -> None:
        barrier.wait()
        statuses.append(api.post(url, key=key, json={"decision": decision}).status_code)

    threads = [
        threading.Thread(target=decide, args=("vigilance", "merge")),
        threading.Thread(target=decide, args=("identity:merge", "not_duplicate")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]


def test_queue_filters_and_sorting(api: Api) -> None:
    _pair(api)
    _create(
        api,
        birth_name="Dupont",
        first_names=["Jean"],
        sex="M",
        birth_date="1971-11-02",
        source={"finess": "690999016", "local_id": "A-2"},
    )
    _create(
        api,
        birth_name="Dupond",
        first_names=["Jean"],
        sex="M",
        birth_date="1971-11-02",
        source={"finess": "690999016", "local_id": "A-3"},
    )
    listed = api.get("/api/v1/duplicates", key="vigilance", params={"sort": "score"}).json()
    scores = [p["score"] for p in listed["items"]]
    assert listed["total"] == 2 and scores == sorted(scores, reverse=True)
    only = api.get("/api/v1/duplicates", key="vigilance", params={"finess": "670999911"}).json()
    assert only["total"] == 1
    assert api.get("/api/v1/duplicates", key="identity:read").status_code == 403


def test_match_with_unknown_traits_sent_as_null(api: Api) -> None:
    a = _create(api, birth_name="Dupont", first_names=["Jean"], sex="M", birth_date="1971-11-02")
    body = {"birth_name": "Dupont", "first_names": None, "sex": None, "birth_date": "1971-11-02"}
    response = api.post(f"{IDS}/match", key="identity:read", json=body)
    assert response.status_code == 200, response.text
    assert [c["id"] for c in response.json()] == [a["id"]]
