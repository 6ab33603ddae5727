"""`socle oauth` and `socle psc`: registering token clients and granting roles, over a file."""

from __future__ import annotations

import json
from pathlib import Path

from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.oauth import service as oauth_service
from referentials.psc import service as psc_service
from tests.cli import socle
from tests.referentials.oauth.conftest import new_key, public_jwks


def test_a_client_is_registered_listed_and_revoked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    created = socle(
        url, "apikey", "create", "--name", "Outil", "--scopes", "identity:read", "--json"
    )
    key_id = json.loads(created.stdout)["id"]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(new_key("EC"))), encoding="utf-8")
    registered = socle(url, "oauth", "register", "--key-id", str(key_id), "--jwks-file", str(jwks))
    assert registered.returncode == 0, registered.stderr
    client_id = registered.stdout.strip()
    assert client_id.startswith("oc_")
    listed = json.loads(socle(url, "oauth", "list", "--json").stdout)
    assert listed == [
        {"client_id": client_id, "api_key_id": key_id, "jwks_url": None, "revoked": False}
    ]
    assert socle(url, "oauth", "revoke", client_id).returncode == 0
    # A private key is refused: only public keys are registered.
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [new_key().as_dict(private=True)]}), encoding="utf-8")
    refused = socle(url, "oauth", "register", "--key-id", str(key_id), "--jwks-file", str(private))
    assert refused.returncode == 2 and "private key" in refused.stderr
    with session_scope(make_session_factory(make_engine(url))) as session:
        assert [c.revoked for c in oauth_service.list_clients(session)] == [True]


def test_roles_are_granted_by_id_and_by_rule(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert socle(url, "psc", "grant", "819990000028", "--roles", "officer,ror").returncode == 0
    rule = socle(url, "psc", "rule-add", "--roles", "officer", "--profession", "60")
    assert rule.returncode == 0, rule.stderr
    bad = socle(url, "psc", "grant", "819990000036", "--roles", "superuser")
    assert bad.returncode == 2 and "roles must be among" in bad.stderr
    empty = socle(url, "psc", "rule-add", "--roles", "officer")
    assert empty.returncode == 2 and "a profession, a FINESS or both" in empty.stderr
    listed = json.loads(socle(url, "psc", "list", "--json").stdout)
    assert listed == [
        {"national_id": "819990000028", "roles": "officer,ror"},
        {"rule": int(rule.stdout), "profession": "60", "finess": None, "roles": "officer"},
    ]
    assert socle(url, "psc", "rule-delete", rule.stdout.strip()).returncode == 0
    assert socle(url, "psc", "revoke", "819990000028").returncode == 0
    with session_scope(make_session_factory(make_engine(url))) as session:
        assert psc_service.list_grants(session) == [] and psc_service.list_rules(session) == []
