"""The authorisation matrix: every route × (no key, bad key, revoked, expired, each scope, admin).

The table below lists every route of the application; a route that is served but missing from
the table (or listed but no longer served) fails ``test_the_table_lists_every_route``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import SCOPES, create_api_key
from referentials.core.db import session_scope, utcnow
from tests.conftest import FIXTURES, Api
from tests.factories import identity_body
from tests.reliability.routes import build_app, required_scope, route_table
from tests.reliability.world import Call, new_identity, new_merge, new_pair

PUBLIC, PAGE = "public", "page"
Build = Callable[[Api], Call]


@dataclass(frozen=True)
class Entry:
    """Who may call a route, and the status a caller who may gets with ``build``'s request."""

    scope: str
    ok: int
    build: Build


def fixed(path: str, **kw: object) -> Build:
    return lambda _api: Call(path, **kw)  # type: ignore[arg-type]


def on_identity(
    suffix: str = "", *, homa: bool = False, prefix: str = "/api/v1/identities", **kw: object
) -> Build:
    def build(api: Api) -> Call:
        ident = new_identity(api)["id"]
        if homa:
            api.post(f"/api/v1/identities/{ident}/attributes", json={"code": "HOMA"})
        return Call(f"{prefix}/{ident}{suffix}", **kw)  # type: ignore[arg-type]

    return build


def attach_local_id(api: Api) -> Call:
    # A fresh local id each time: an attachment that succeeded once answers 200 afterwards.
    ident = new_identity(api)["id"]
    local = {"finess": "690999016", "local_id": f"M-{ident}"}
    return Call(f"/api/v1/identities/{ident}/local-ids", json=local)


def on_pair(suffix: str = "", *, prefix: str = "/api/v1", **kw: object) -> Build:
    def build(api: Api) -> Call:
        return Call(f"{prefix}/duplicates/{new_pair(api)[0]}{suffix}", **kw)  # type: ignore[arg-type]

    return build


def on_merge(suffix: str = "", *, prefix: str = "/api/v1", **kw: object) -> Build:
    def build(api: Api) -> Call:
        return Call(f"{prefix}/merges/{new_merge(api)}{suffix}", **kw)  # type: ignore[arg-type]

    return build


IDS = "/api/v1/identities"
R, W, M = "identity:read", "identity:write", "identity:merge"
PATIENT = identity_body(birth_name="Inconnuz")
FHIR = "application/fhir+json"
MATCH = json.dumps(
    {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "resource",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"use": "official", "family": "Inconnuz", "given": ["Ana"]}],
                    "gender": "female",
                    "birthDate": "1980-05-17",
                },
            }
        ],
    }
).encode()
PIX = "urn:oid:1.2.250.1.999.1.1|IPP-NONE"
SUBS = "/api/v1/subscriptions"
SUB = SUBS + "/{subscription_id}"
WEBHOOK = {
    "client_name": "client-all",
    "channel": "webhook",
    "config": {"url": "http://127.0.0.1:9/hook"},
    "event_types": ["identity.merged"],
}
SUBSCRIPTION = json.dumps(
    {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "auth matrix",
        "criteria": "Patient?event=merged",
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://dpi.example/notify",
            "payload": "application/fhir+json",
        },
    }
).encode()
TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": "eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJvY19ub2JvZHkifQ.c2ln",
}
A28 = (FIXTURES / "hl7v2/a28_create.hl7").read_bytes()
ROUTES: dict[tuple[str, str], Entry] = {
    ("GET", "/health"): Entry(PUBLIC, 200, fixed("/health")),
    ("GET", "/health/ready"): Entry(PUBLIC, 200, fixed("/health/ready")),
    ("GET", "/metrics"): Entry("admin", 200, fixed("/metrics")),
    ("GET", "/openapi.json"): Entry(PUBLIC, 200, fixed("/openapi.json")),
    ("GET", "/docs"): Entry(PUBLIC, 200, fixed("/docs")),
    ("GET", "/docs/oauth2-redirect"): Entry(PUBLIC, 200, fixed("/docs/oauth2-redirect")),
    ("GET", "/redoc"): Entry(PUBLIC, 200, fixed("/redoc")),
    ("GET", "/mock/insi"): Entry(PUBLIC, 200, fixed("/mock/insi", params={"wsdl": ""})),
    ("POST", "/mock/insi"): Entry(PUBLIC, 400, fixed("/mock/insi", json={})),
    ("GET", "/"): Entry(PUBLIC, 307, fixed("/")),
    ("GET", "/ui/"): Entry(PUBLIC, 307, fixed("/ui/")),
    ("GET", "/login"): Entry(PUBLIC, 200, fixed("/login")),
    ("POST", "/login"): Entry(
        PUBLIC, 403, fixed("/login", data={"username": "u", "password": "p", "csrf": "forged"})
    ),
    ("POST", "/logout"): Entry(PUBLIC, 403, fixed("/logout")),
    # Pro Santé Connect is not configured on the test server: nothing to start; a callback
    # without a flow in progress is refused.
    ("GET", "/login/psc"): Entry(PUBLIC, 404, fixed("/login/psc")),
    ("GET", "/login/psc/callback"): Entry(
        PUBLIC, 401, fixed("/login/psc/callback", params={"code": "c", "state": "s"})
    ),
    # OAuth: the token endpoint authenticates the client by its assertion, never by a key.
    ("POST", "/oauth/token"): Entry(PUBLIC, 401, fixed("/oauth/token", data=TOKEN_FORM)),
    ("GET", "/.well-known/jwks.json"): Entry(PUBLIC, 200, fixed("/.well-known/jwks.json")),
    ("GET", "/.well-known/smart-configuration"): Entry(
        PUBLIC, 200, fixed("/.well-known/smart-configuration")
    ),
    # Pages take a login session, never an API key: without one they send to the login page.
    ("GET", "/ui/duplicates"): Entry(PAGE, 303, fixed("/ui/duplicates")),
    ("GET", "/ui/duplicates/{pair_id}"): Entry(PAGE, 303, fixed("/ui/duplicates/1")),
    ("POST", "/ui/duplicates/{pair_id}/claim"): Entry(PAGE, 303, fixed("/ui/duplicates/1/claim")),
    ("POST", "/ui/duplicates/{pair_id}/release"): Entry(
        PAGE, 303, fixed("/ui/duplicates/1/release")
    ),
    ("POST", "/ui/duplicates/{pair_id}/comments"): Entry(
        PAGE, 303, fixed("/ui/duplicates/1/comments")
    ),
    ("POST", "/ui/duplicates/{pair_id}/decision"): Entry(
        PAGE, 303, fixed("/ui/duplicates/1/decision")
    ),
    ("GET", "/ui/identities/{identity_id}"): Entry(PAGE, 303, fixed("/ui/identities/1")),
    ("GET", "/ui/merges"): Entry(PAGE, 303, fixed("/ui/merges")),
    ("POST", "/ui/merges/{merge_id}/undo"): Entry(PAGE, 303, fixed("/ui/merges/1/undo")),
    ("GET", "/ui/indicators"): Entry(PAGE, 303, fixed("/ui/indicators")),
    ("GET", "/ui/ror"): Entry(PAGE, 303, fixed("/ui/ror")),
    ("GET", "/ui/e-parcours"): Entry(PAGE, 303, fixed("/ui/e-parcours")),
    ("GET", "/ui/e-parcours.csv"): Entry(PAGE, 303, fixed("/ui/e-parcours.csv")),
    # The identity referential.
    ("POST", IDS): Entry(W, 201, lambda _a: Call(IDS, json=identity_body(birth_name="Neuf"))),
    ("GET", IDS): Entry(R, 200, fixed(IDS, params={"birth_name": "X"})),
    ("POST", f"{IDS}/match"): Entry(R, 200, fixed(f"{IDS}/match", json={"birth_name": "X"})),
    ("GET", f"{IDS}/{{identity_id}}"): Entry(R, 200, on_identity()),
    ("PATCH", f"{IDS}/{{identity_id}}"): Entry(
        W, 200, on_identity(json={"used_name": "Autre"}, headers={"If-Match": "1"})
    ),
    ("POST", f"{IDS}/{{identity_id}}/validation"): Entry(
        W, 200, on_identity("/validation", json={"document_type": "PA"})
    ),
    ("POST", f"{IDS}/{{identity_id}}/attributes"): Entry(
        W, 200, on_identity("/attributes", json={"code": "HOMA"})
    ),
    ("POST", f"{IDS}/{{identity_id}}/local-ids"): Entry(W, 201, attach_local_id),
    ("DELETE", f"{IDS}/{{identity_id}}/attributes/{{code}}"): Entry(
        W, 200, on_identity("/attributes/HOMA", homa=True)
    ),
    ("GET", f"{IDS}/{{identity_id}}/history"): Entry(R, 200, on_identity("/history")),
    ("GET", f"{IDS}/{{identity_id}}/links"): Entry(R, 200, on_identity("/links")),
    ("POST", f"{IDS}/insi-create"): Entry(W, 200, fixed(f"{IDS}/insi-create", json=PATIENT)),
    ("POST", f"{IDS}/{{identity_id}}/insi-search"): Entry(W, 200, on_identity("/insi-search")),
    ("POST", f"{IDS}/{{identity_id}}/insi-vitale"): Entry(
        W, 200, on_identity("/insi-vitale", json={"matricule": "180057512345678"})
    ),
    ("GET", f"{IDS}/{{identity_id}}/insi-calls"): Entry(R, 200, on_identity("/insi-calls")),
    ("GET", "/api/v1/events"): Entry(R, 200, fixed("/api/v1/events")),
    # The merge queue and merges.
    ("GET", "/api/v1/duplicates"): Entry(M, 200, fixed("/api/v1/duplicates")),
    ("GET", "/api/v1/duplicates/{pair_id}"): Entry(M, 200, on_pair()),
    ("POST", "/api/v1/duplicates/{pair_id}/claim"): Entry(M, 200, on_pair("/claim")),
    ("POST", "/api/v1/duplicates/{pair_id}/release"): Entry(M, 200, on_pair("/release")),
    ("POST", "/api/v1/duplicates/{pair_id}/decision"): Entry(
        M, 200, on_pair("/decision", json={"decision": "defer"})
    ),
    ("GET", "/api/v1/duplicates/{pair_id}/comments"): Entry(M, 200, on_pair("/comments")),
    ("POST", "/api/v1/duplicates/{pair_id}/comments"): Entry(
        M, 201, on_pair("/comments", json={"text": "vu"})
    ),
    ("GET", "/api/v1/merges"): Entry(M, 200, fixed("/api/v1/merges")),
    ("GET", "/api/v1/merges/{merge_id}"): Entry(M, 200, on_merge()),
    ("POST", "/api/v1/merges/{merge_id}/undo"): Entry(M, 200, on_merge("/undo", json={})),
    # The directory (empty here: a lookup passes the key check and finds nothing).
    ("GET", "/api/v1/directory/professionals"): Entry(
        "directory:read", 200, fixed("/api/v1/directory/professionals")
    ),
    ("GET", "/api/v1/directory/professionals/{identifier}"): Entry(
        "directory:read", 404, fixed("/api/v1/directory/professionals/10000000000")
    ),
    ("GET", "/api/v1/directory/structures"): Entry(
        "directory:read", 200, fixed("/api/v1/directory/structures")
    ),
    ("GET", "/api/v1/directory/structures/{finess}"): Entry(
        "directory:read", 404, fixed("/api/v1/directory/structures/690000000")
    ),
    ("GET", "/api/v1/imports"): Entry("admin", 200, fixed("/api/v1/imports")),
    # An unknown source: the key check passes and no import is started by the matrix.
    ("POST", "/api/v1/imports/{source}/run"): Entry(
        "admin", 422, fixed("/api/v1/imports/nosuch/run")
    ),
    # The ROR and the e-parcours indicators.
    ("GET", "/api/v1/ror/completeness"): Entry("ror:read", 200, fixed("/api/v1/ror/completeness")),
    ("GET", "/api/v1/ror/completeness/structures"): Entry(
        "ror:read", 200, fixed("/api/v1/ror/completeness/structures")
    ),
    ("GET", "/api/v1/ror/completeness/trend"): Entry(
        "ror:read", 200, fixed("/api/v1/ror/completeness/trend")
    ),
    # No commune is known in an empty base: the key check passes, the commune is not found.
    ("GET", "/api/v1/ror/offers"): Entry(
        "ror:read", 404, fixed("/api/v1/ror/offers", params={"commune": "69123"})
    ),
    ("GET", "/api/v1/indicators/e-parcours"): Entry(
        "ror:read", 200, fixed("/api/v1/indicators/e-parcours", params={"quarter": "2026-Q4"})
    ),
    # FHIR: Patient (identity:read), the directory's resources (directory:read).
    ("GET", "/fhir/metadata"): Entry(PUBLIC, 200, fixed("/fhir/metadata")),
    ("GET", "/fhir/Patient"): Entry(R, 200, fixed("/fhir/Patient", params={"family": "Xyz"})),
    ("GET", "/fhir/Patient/{patient_id}"): Entry(R, 200, on_identity(prefix="/fhir/Patient")),
    ("POST", "/fhir/Patient/$match"): Entry(
        R, 200, fixed("/fhir/Patient/$match", content=MATCH, headers={"Content-Type": FHIR})
    ),
    # An identifier system no establishment uses: the key check passes, the system is refused.
    ("GET", "/fhir/Patient/$ihe-pix"): Entry(
        R, 400, fixed("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": PIX})
    ),
    # FHIR Subscription (rest-hook notifications): admin only, like the subscriptions API.
    ("POST", "/fhir/Subscription"): Entry(
        "admin",
        201,
        fixed("/fhir/Subscription", content=SUBSCRIPTION, headers={"Content-Type": FHIR}),
    ),
    ("GET", "/fhir/Subscription"): Entry("admin", 200, fixed("/fhir/Subscription")),
    ("GET", "/fhir/Subscription/{subscription_id}"): Entry(
        "admin", 404, fixed("/fhir/Subscription/999999")
    ),
    ("PUT", "/fhir/Subscription/{subscription_id}"): Entry(
        "admin",
        404,
        fixed(
            "/fhir/Subscription/999999",
            content=json.dumps({**json.loads(SUBSCRIPTION), "id": "999999"}),
            headers={"Content-Type": FHIR},
        ),
    ),
    ("DELETE", "/fhir/Subscription/{subscription_id}"): Entry(
        "admin", 404, fixed("/fhir/Subscription/999999")
    ),
    ("GET", "/fhir/Practitioner"): Entry("directory:read", 200, fixed("/fhir/Practitioner")),
    ("GET", "/fhir/Practitioner/{practitioner_id}"): Entry(
        "directory:read", 404, fixed("/fhir/Practitioner/810000000000")
    ),
    # A search without any parameter is refused (400) once the key check has passed.
    ("GET", "/fhir/PractitionerRole"): Entry(
        "directory:read", 400, fixed("/fhir/PractitionerRole")
    ),
    ("GET", "/fhir/PractitionerRole/{role_id}"): Entry(
        "directory:read", 404, fixed("/fhir/PractitionerRole/nosuch")
    ),
    ("GET", "/fhir/ror/metadata"): Entry(PUBLIC, 200, fixed("/fhir/ror/metadata")),
    ("GET", "/fhir/ror/Organization"): Entry("ror:read", 200, fixed("/fhir/ror/Organization")),
    ("GET", "/fhir/ror/Organization/{resource_id}"): Entry(
        "ror:read", 404, fixed("/fhir/ror/Organization/nosuch")
    ),
    ("GET", "/fhir/ror/HealthcareService"): Entry(
        "ror:read",
        200,
        fixed("/fhir/ror/HealthcareService", params={"near": "45.76|4.83|30|km"}),
    ),
    ("GET", "/fhir/ror/HealthcareService/{resource_id}"): Entry(
        "ror:read", 404, fixed("/fhir/ror/HealthcareService/nosuch")
    ),
    ("GET", "/fhir/ror/Location"): Entry("ror:read", 200, fixed("/fhir/ror/Location")),
    ("GET", "/fhir/ror/Location/{resource_id}"): Entry(
        "ror:read", 404, fixed("/fhir/ror/Location/nosuch")
    ),
    ("GET", "/fhir/ror/PractitionerRole"): Entry(
        "ror:read", 200, fixed("/fhir/ror/PractitionerRole")
    ),
    ("GET", "/fhir/ror/PractitionerRole/{resource_id}"): Entry(
        "ror:read", 404, fixed("/fhir/ror/PractitionerRole/nosuch")
    ),
    ("GET", "/fhir/Organization"): Entry("directory:read", 200, fixed("/fhir/Organization")),
    ("GET", "/fhir/Organization/{organization_id}"): Entry(
        "directory:read", 404, fixed("/fhir/Organization/690000000")
    ),
    # HL7 v2 over HTTPS (the ACK is always HTTP 200).
    ("POST", "/api/v1/hl7v2"): Entry(
        W, 200, fixed("/api/v1/hl7v2", content=A28, headers={"Content-Type": "text/plain"})
    ),
    # The audit trail (admin only, read-only).
    ("GET", "/api/v1/audit"): Entry("admin", 200, fixed("/api/v1/audit")),
    # Notification subscriptions (admin only) and their page.
    ("POST", SUBS): Entry("admin", 201, fixed(SUBS, json=WEBHOOK)),
    ("GET", SUBS): Entry("admin", 200, fixed(SUBS)),
    ("GET", SUB): Entry("admin", 404, fixed(f"{SUBS}/999999")),
    ("PATCH", SUB): Entry("admin", 404, fixed(f"{SUBS}/999999", json={"status": "paused"})),
    ("DELETE", SUB): Entry("admin", 404, fixed(f"{SUBS}/999999")),
    ("POST", f"{SUB}/rotate-secret"): Entry("admin", 404, fixed(f"{SUBS}/999999/rotate-secret")),
    ("GET", f"{SUB}/deliveries"): Entry("admin", 404, fixed(f"{SUBS}/999999/deliveries")),
    ("POST", f"{SUB}/replay"): Entry(
        "admin", 404, fixed(f"{SUBS}/999999/replay", json={"from_cursor": 0})
    ),
    ("POST", f"{SUB}/deliveries/{{delivery_id}}/redeliver"): Entry(
        "admin", 404, fixed(f"{SUBS}/999999/deliveries/1/redeliver")
    ),
    ("GET", "/ui/notifications"): Entry(PAGE, 303, fixed("/ui/notifications")),
    ("POST", "/ui/notifications/deliveries/{delivery_id}/redeliver"): Entry(
        PAGE, 303, fixed("/ui/notifications/deliveries/1/redeliver")
    ),
}
# Sub-applications mounted whole: static files and the mock INSi teleservice (public).
MOUNTS = {"/static", "/mock/insi"}
CALLERS = ["none", "bad", "revoked", "expired", *SCOPES]


def expected(entry: Entry, caller: str) -> int:
    """The status one caller gets on one route: the matrix, cell by cell."""
    if entry.scope in (PUBLIC, PAGE):
        return entry.ok
    if caller in ("none", "bad", "revoked", "expired"):
        return 401
    return entry.ok if caller in (entry.scope, "admin") else 403


def test_the_table_lists_every_route(tmp_path: Path) -> None:
    app = build_app(str(tmp_path / "routes.db"))
    served, mounts = route_table(app)
    assert sorted(served - set(ROUTES)) == [], "routes without an entry in the matrix"
    assert sorted(set(ROUTES) - served) == [], "entries of routes that are no longer served"
    assert mounts == MOUNTS
    for (method, path), entry in ROUTES.items():
        declared = required_scope(app, method, path)
        listed = entry.scope if entry.scope not in (PUBLIC, PAGE) else None
        assert declared == listed, (method, path, declared)


@pytest.fixture()
def callers(keys: dict[str, str], session_factory: sessionmaker[Session]) -> dict[str, str]:
    """The key each caller presents; 'none' presents no key."""
    with session_scope(session_factory) as sess:
        key, revoked = create_api_key(sess, client_name="gone", scopes=list(SCOPES))
        key.revoked = True
        _, expired = create_api_key(
            sess,
            client_name="old",
            scopes=list(SCOPES),
            expires_at=utcnow() - timedelta(seconds=1),
        )
    return {**keys, "bad": "sk_not_a_key", "revoked": revoked, "expired": expired}


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES), ids=lambda v: str(v))
def test_matrix(api: Api, callers: dict[str, str], method: str, path: str) -> None:
    entry = ROUTES[(method, path)]
    denied_call = entry.build(api)
    got: dict[str, int] = {}
    for caller in CALLERS:
        allowed = expected(entry, caller) == entry.ok
        call = entry.build(api) if allowed and entry.scope not in (PUBLIC, PAGE) else denied_call
        key = None if caller == "none" else callers[caller]
        got[caller] = call.send(api, method, key)
    want = {caller: expected(entry, caller) for caller in CALLERS}
    assert got == want


def test_health_and_docs_are_public(api: Api) -> None:
    assert api.get("/health", key=None).json()["status"] == "ok"
    assert api.get("/docs", key=None).status_code == 200
    spec = api.get("/openapi.json", key=None).json()
    assert "/api/v1/identities" in spec["paths"]


def test_error_shape_for_missing_key(api: Api) -> None:
    body = api.get("/api/v1/identities/1", key=None).json()
    assert body["error"] == "unauthorized" and "Bearer" in body["detail"]
