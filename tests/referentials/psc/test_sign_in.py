"""Pro Santé Connect sign-in over HTTP: the checks on tokens, the directory and the roles."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlalchemy import select

from referentials.core.audit import AuditEntry
from referentials.core.db import session_scope
from referentials.core.errors import ValidationFailed
from referentials.core.web import authenticate_user
from referentials.psc import service as psc_service
from tests.browser import csrf_of
from tests.referentials.psc.conftest import (
    GASPARD,
    LEONIE,
    NOEMIE,
    UNKNOWN,
    World,
    remove_from_directory,
)
from tests.referentials.psc.flow import sign_in


def _audit(world: World, action: str) -> list[AuditEntry]:
    with session_scope(world.factory) as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        session.expunge_all()
        return rows


def test_an_officer_signs_in_and_the_header_shows_the_directory(world: World) -> None:
    client, answer = sign_in(world)
    assert answer.status_code == 200, answer.text
    assert 'http-equiv="refresh" content="0;url=/ui/duplicates"' in answer.text
    queue = client.get("/ui/duplicates")
    assert queue.status_code == 200
    # Name and profession come from the RPPS+ directory, not from the provider's claims.
    assert "Léonie EXEMPLE-MARCOUX" in queue.text and "Médecin" in queue.text
    (entry,) = _audit(world, "sign_in")
    assert entry.actor == f"user:psc:{LEONIE}"
    assert entry.after == {"national_id": LEONIE, "roles": ["officer"], "acr": "eidas1"}
    assert "socle_psc_flow" not in client.cookies
    # The account made for the professional has no password that could open it locally.
    with session_scope(world.factory) as session:
        assert authenticate_user(session, f"psc:{LEONIE}", "!no-password") is None


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("bad_signature", "bad signature"),
        ("wrong_audience", "wrong audience"),
        ("expired", "expired"),
        ("low_acr", "authentication level is not eidas1"),
    ],
)
def test_a_wrong_id_token_is_refused(world: World, tamper: str, reason: str) -> None:
    world.provider.tamper = tamper
    client, answer = sign_in(world)
    assert answer.status_code == 401
    assert reason in answer.text
    assert client.get("/ui/duplicates").status_code == 303


def test_a_replayed_id_token_is_refused_by_its_nonce(world: World) -> None:
    _first, answer = sign_in(world)
    assert answer.status_code == 200
    world.provider.tamper = "replay"
    _, replayed = sign_in(world)
    assert replayed.status_code == 401
    assert "nonce mismatch" in replayed.text


def test_a_new_provider_key_is_fetched_when_a_token_names_it(world: World) -> None:
    assert sign_in(world)[1].status_code == 200
    world.provider.rotate("psc-2")
    try:
        assert sign_in(world)[1].status_code == 200
    finally:
        world.provider.rotate("psc-1")


def test_a_callback_with_another_state_is_refused(world: World) -> None:
    client = httpx.Client(base_url=world.app.url, timeout=30)
    assert client.get("/login/psc").status_code == 303
    answer = client.get("/login/psc/callback", params={"code": "x", "state": "forged"})
    assert answer.status_code == 401 and "state mismatch" in answer.text


def test_an_unknown_national_id_is_refused_and_audited(world: World) -> None:
    world.sign_in_as(UNKNOWN, "INCONNU", "Alex", "10")
    _client, answer = sign_in(world)
    assert answer.status_code == 403
    assert f"{UNKNOWN} is not in the RPPS+ directory" in answer.text
    (entry,) = _audit(world, "sign_in_refused")
    assert entry.after == {"national_id": UNKNOWN, "reason": "unknown_professional"}


def test_a_professional_removed_from_rpps_loses_access(world: World) -> None:
    before, answer = sign_in(world)
    assert answer.status_code == 200
    remove_from_directory(world.factory, LEONIE)
    _, again = sign_in(world)
    assert again.status_code == 403 and "removed from the RPPS+ directory" in again.text
    # The session opened before the removal no longer opens the pages either.
    assert before.get("/ui/duplicates").status_code == 303


def test_a_professional_without_a_role_is_refused(world: World) -> None:
    world.sign_in_as(GASPARD, "MODELE", "Gaspard", "21")
    _, answer = sign_in(world)
    assert answer.status_code == 403 and "has no role" in answer.text


def test_a_rule_by_profession_and_establishment_gives_the_role(world: World) -> None:
    world.sign_in_as(NOEMIE, "SPECIMEN", "Noémie", "60")
    _, refused = sign_in(world)
    assert refused.status_code == 403
    with session_scope(world.factory) as session:
        psc_service.add_rule(session, roles=["officer"], profession_code="60", finess="380999110")
        # A rule for another establishment gives nothing to her.
        psc_service.add_rule(session, roles=["admin"], profession_code="60", finess="690999016")
        # A FINESS mistyped would match no one: refused.
        with pytest.raises(ValidationFailed, match="'38099911' is not a FINESS number"):
            psc_service.add_rule(session, roles=["admin"], profession_code="60", finess="38099911")
    client, answer = sign_in(world)
    assert answer.status_code == 200
    assert "Infirmier" in client.get("/ui/duplicates").text
    assert client.get("/ui/ror").status_code == 403


def test_local_logins_are_off_and_the_page_offers_psc(world: World) -> None:
    client = httpx.Client(base_url=world.app.url, timeout=30)
    page = client.get("/login")
    assert "Se connecter avec Pro Santé Connect" in page.text
    assert 'name="password"' not in page.text
    # A posted password is turned away before anything is checked.
    form = {"username": "alice", "password": "x" * 12, "csrf": "any"}
    refused = client.post("/login", data=form)
    assert refused.status_code == 403 and "local logins are turned off" in refused.text


def test_sign_out_ends_the_session_at_the_provider(world: World) -> None:
    client, answer = sign_in(world)
    assert answer.status_code == 200
    token = csrf_of(client.get("/ui/duplicates").text)
    out = client.post("/logout", data={"csrf": token})
    assert out.status_code == 200
    found = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', out.text)
    assert found
    target = httpx.URL(html.unescape(found.group(1)))
    assert str(target).startswith(f"{world.provider.url}/logout?")
    assert target.params["client_id"] == "socle-test"
    assert target.params["post_logout_redirect_uri"] == f"{world.app.url}/login"
    assert client.get("/ui/duplicates").status_code == 303
