"""Hot routes check the caller's key in the thread that does their work (`caller.Caller`).

The key is still looked up on every request (a revoked key is refused at once), a refused
caller gets nothing done (no write, no INSi call), and each answered call is counted once.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from identity.referential.models import Identity, InsiCall
from referentials.core.auth import ApiKey, create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.usage import ApiUsage, flush_all
from tests.conftest import Api
from tests.factories import identity_body
from tests.reliability.world import new_identity

IDS = "/api/v1/identities"
PERSON = identity_body(birth_name="Appelant")


def _count(factory: sessionmaker[Session], model: type[Identity] | type[InsiCall]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_key_revoked_between_two_requests_is_refused_on_the_next(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    ident = new_identity(api)["id"]
    with session_scope(session_factory) as session:
        key, secret = create_api_key(session, client_name="soon-gone", scopes=["identity:read"])
        key_id = key.id
    assert api.get(f"{IDS}/{ident}", key=secret).status_code == 200
    assert api.post(f"{IDS}/match", json=PERSON, key=secret).status_code == 200
    with session_scope(session_factory) as session:
        revoke_api_key(session, key_id)
    assert api.get(f"{IDS}/{ident}", key=secret).status_code == 401
    assert api.post(f"{IDS}/match", json=PERSON, key=secret).status_code == 401


def test_a_refused_caller_gets_no_write_and_no_insi_call(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    ident = new_identity(api)["id"]
    identities, calls = _count(session_factory, Identity), _count(session_factory, InsiCall)
    stored = api.get(f"{IDS}/{ident}").json()
    reader = "identity:read"  # lacks identity:write
    assert api.post(IDS, json=PERSON, key=reader).status_code == 403
    change = {"birth_name": "AUTRE"}
    patch = api.patch(f"{IDS}/{ident}", json=change, key=reader, headers={"If-Match": "1"})
    assert patch.status_code == 403
    assert api.post(f"{IDS}/{ident}/insi-search", key=reader).status_code == 403
    assert api.post(f"{IDS}/insi-create", json=PERSON, key="bad-key").status_code == 401
    assert _count(session_factory, Identity) == identities
    assert _count(session_factory, InsiCall) == calls
    assert api.get(f"{IDS}/{ident}").json() == stored


def test_each_answered_call_is_counted_once(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    ident = new_identity(api)["id"]
    flush_all()
    with session_factory() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.client_name == "client-all"))
        before = session.scalar(
            select(func.coalesce(func.sum(ApiUsage.calls), 0)).where(ApiUsage.key_id == key_id)
        )
    assert api.get(f"{IDS}/{ident}").status_code == 200
    assert api.post(f"{IDS}/match", json=PERSON).status_code == 200
    assert api.post(IDS, json=PERSON).status_code == 201
    flush_all()
    with session_factory() as session:
        after = session.scalar(select(func.sum(ApiUsage.calls)).where(ApiUsage.key_id == key_id))
    assert after == before + 3


def test_the_key_is_checked_in_the_thread_that_does_the_work(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One trip to a worker thread per request: the key's lookup and the read share it."""
    from identity.referential import router
    from referentials.core import caller

    seen: dict[str, int] = {}
    lookup, read = caller.lookup, router._read

    def spy_lookup(*args: object, **kwargs: object) -> object:
        seen["lookup"] = threading.get_ident()
        return lookup(*args, **kwargs)  # type: ignore[arg-type]

    def spy_read(*args: object, **kwargs: object) -> object:
        seen["read"] = threading.get_ident()
        return read(*args, **kwargs)  # type: ignore[arg-type]

    ident = new_identity(api)["id"]
    monkeypatch.setattr(caller, "lookup", spy_lookup)
    monkeypatch.setattr(router, "_read", spy_read)
    assert api.get(f"{IDS}/{ident}").status_code == 200
    assert seen["lookup"] == seen["read"]


def test_no_key_is_refused_before_the_body_is_read_a_wrong_key_after(api: Api) -> None:
    """Without a key: 401 whatever the body. With a wrong key, a malformed body is answered
    422 (the body is checked before the key's lookup), saying nothing the public OpenAPI
    description does not; a well-formed one gets 401."""
    malformed = {"birth_name": ""}
    assert api.post(f"{IDS}/match", json=malformed, key=None).status_code == 401
    assert api.post(f"{IDS}/match", json=malformed, key="sk_wrong").status_code == 422
    assert api.post(f"{IDS}/match", json=PERSON, key="sk_wrong").status_code == 401
