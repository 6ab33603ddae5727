"""The ``socle oauth``, ``socle psc`` and ``socle hl7-sender`` commands: token clients,
professionals' roles, and the MLLP senders mapped to API keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from identity.hl7v2 import senders
from referentials.core.db import make_session_factory, session_scope
from referentials.core.errors import AppError
from referentials.core.oauth import service as oauth_service
from referentials.core.principal import SYSTEM
from referentials.core.settings import get_settings
from referentials.core.web import ROLES
from referentials.migrations import open_database
from referentials.psc import service as psc_service

oauth_app = typer.Typer(help="OAuth 2 clients (client credentials, private_key_jwt).")
psc_app = typer.Typer(help="Pro Santé Connect: roles of professionals, by id or by rule.")
hl7_sender_app = typer.Typer(
    help="MLLP senders mapped to API keys: read by the listener on each message (no restart)."
)
console = Console(stderr=True)
ROLES_HELP = f"comma-separated: {','.join(ROLES)}"


@contextmanager
def _session() -> Iterator[Session]:
    """A transaction on the configured database; an AppError ends the command with code 2."""
    try:
        with session_scope(make_session_factory(open_database(get_settings()))) as session:
            yield session
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _roles(raw: str) -> list[str]:
    return [r.strip() for r in raw.split(",") if r.strip()]


def _print(
    rows: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]
) -> None:
    if as_json:
        typer.echo(json.dumps(rows))
    for row in [] if as_json else rows:
        typer.echo(line(row))


@oauth_app.command("register")
def oauth_register(
    key_id: int = typer.Option(..., "--key-id", help="the API key the client acts as"),
    jwks_file: Path = typer.Option(None, "--jwks-file", exists=True, help="its public JWKS"),
    jwks_url: str = typer.Option(None, "--jwks-url", help="where it publishes its JWKS"),
) -> None:
    """Register a client for tokens; prints its client_id (the iss/sub of its assertions)."""
    jwks = json.loads(jwks_file.read_text(encoding="utf-8")) if jwks_file else None
    with _session() as session:
        client = oauth_service.register_client(
            session, api_key_id=key_id, jwks=jwks, jwks_url=jwks_url
        )
        client_id = client.client_id
    typer.echo(client_id)


@oauth_app.command("list")
def oauth_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """The registered clients (client_id, key, where their keys are, revoked)."""
    with _session() as session:
        rows = [
            {
                "client_id": c.client_id,
                "api_key_id": c.api_key_id,
                "jwks_url": c.jwks_url,
                "revoked": c.revoked,
            }
            for c in oauth_service.list_clients(session)
        ]
    _print(
        rows, as_json, lambda r: f"{r['client_id']} key={r['api_key_id']} revoked={r['revoked']}"
    )


@oauth_app.command("revoke")
def oauth_revoke(client_id: str = typer.Argument(...)) -> None:
    """Revoke a client: its tokens are refused from the next request."""
    with _session() as session:
        oauth_service.revoke_client(session, client_id)
    console.print(f"client {client_id} revoked")


@psc_app.command("grant")
def psc_grant(
    national_id: str = typer.Argument(..., help="IDNPS: '8' + RPPS, or the ADELI-based id"),
    roles: str = typer.Option(..., "--roles", help=ROLES_HELP),
) -> None:
    """Give one professional roles (replaces the roles granted before)."""
    with _session() as session:
        psc_service.grant(session, national_id=national_id, roles=_roles(roles))
    console.print(f"{national_id}: {roles}")


@psc_app.command("revoke")
def psc_revoke(national_id: str = typer.Argument(...)) -> None:
    """Take back the roles granted to one professional."""
    with _session() as session:
        psc_service.revoke(session, national_id=national_id)
    console.print(f"{national_id}: roles taken back")


@psc_app.command("rule-add")
def psc_rule_add(
    roles: str = typer.Option(..., "--roles", help=ROLES_HELP),
    profession: str = typer.Option(None, "--profession", help="profession code (TRE_G15)"),
    finess: str = typer.Option(None, "--finess", help="FINESS of a site or legal entity"),
) -> None:
    """Roles for every professional of a profession and/or working at an establishment."""
    with _session() as session:
        rule = psc_service.add_rule(
            session, roles=_roles(roles), profession_code=profession, finess=finess
        )
        rule_id = rule.id
    typer.echo(rule_id)


@psc_app.command("rule-delete")
def psc_rule_delete(rule_id: int = typer.Argument(...)) -> None:
    """Remove a rule."""
    with _session() as session:
        psc_service.delete_rule(session, rule_id)
    console.print(f"rule {rule_id} removed")


@psc_app.command("list")
def psc_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Roles granted by national id, then the rules."""
    with _session() as session:
        rows: list[dict[str, Any]] = [
            {"national_id": g.national_id, "roles": g.roles}
            for g in psc_service.list_grants(session)
        ]
        rows += [
            {"rule": r.id, "profession": r.profession_code, "finess": r.finess, "roles": r.roles}
            for r in psc_service.list_rules(session)
        ]
    _print(rows, as_json, lambda r: " ".join(f"{k}={v}" for k, v in r.items() if v))


@hl7_sender_app.command("add")
def hl7_sender_add(
    key_id: int = typer.Option(..., "--key-id", help="the API key its messages are applied as"),
    facility: str = typer.Option(
        None, "--facility", help="MSH-4 sending facility (plain TCP, loopback listener only)"
    ),
    cert: str = typer.Option(
        None, "--cert", help="client certificate's SHA-256 fingerprint (TLS listener)"
    ),
    cn: str = typer.Option(None, "--cn", help="client certificate's subject common name (TLS)"),
) -> None:
    """Map one sender to a key; prints the sender's id. Its next message is applied as the key."""
    given = [(kind, v) for kind, v in (("facility", facility), ("cert", cert), ("cn", cn)) if v]
    if len(given) != 1:
        console.print("[red]error:[/red] give exactly one of --facility, --cert, --cn")
        raise typer.Exit(2)
    [(kind, value)] = given
    with _session() as session:
        sender_id = senders.add(session, SYSTEM, kind, value, key_id).id
    typer.echo(sender_id)
    console.print(f"MLLP sender {sender_id} ({kind}) is applied as key {key_id}")


@hl7_sender_app.command("list")
def hl7_sender_list(
    as_json: bool = typer.Option(False, "--json", help="print one JSON array"),
) -> None:
    """The senders stored in the database (those of the settings are not listed)."""
    with _session() as session:
        rows = [
            {"id": s.id, "kind": s.kind, "value": s.value, "key_id": s.key_id}
            for s in senders.every(session)
        ]
    _print(rows, as_json, lambda r: f"{r['id']}\t{r['kind']}\t{r['value']}\tkey {r['key_id']}")


@hl7_sender_app.command("remove")
def hl7_sender_remove(
    sender_id: int = typer.Argument(..., help="the sender's id (see `hl7-sender list`)"),
) -> None:
    """Unmap a sender: its next message gets AR."""
    with _session() as session:
        senders.remove(session, SYSTEM, sender_id)
    console.print(f"MLLP sender {sender_id} removed")
