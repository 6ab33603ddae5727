"""The ``socle`` command: serve, apikey, and the other operator commands."""

from __future__ import annotations

import json
import logging

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import SCOPES, create_api_key, parse_scopes
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.errors import AppError
from referentials.core.settings import get_settings
from referentials.core.web import ROLES, create_user
from referentials.migrations import upgrade

app = typer.Typer(help="Socle: the regional identity and directory foundation service.")
apikey_app = typer.Typer(help="Manage API keys.")
app.add_typer(apikey_app, name="apikey")
user_app = typer.Typer(help="Manage the users of the web pages.")
app.add_typer(user_app, name="user")
console = Console(stderr=True)


def _session_factory() -> sessionmaker[Session]:
    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    upgrade(engine)
    return make_session_factory(engine)


@app.command()
def serve(
    host: str = typer.Option(None, help="interface to listen on (default: settings)"),
    port: int = typer.Option(None, help="port (default: settings)"),
) -> None:
    """Run the service (migrations applied at start)."""
    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    uvicorn.run(
        "referentials.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
    )


@apikey_app.command("create")
def apikey_create(
    name: str = typer.Option(..., "--name", help="the client's name"),
    scopes: str = typer.Option(..., "--scopes", help=f"comma-separated: {','.join(SCOPES)}"),
    finess: str = typer.Option(None, "--finess", help="FINESS of the client's establishment"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Create an API key and print it once (it is stored hashed)."""
    try:
        scope_list = parse_scopes(scopes)
        with session_scope(_session_factory()) as session:
            key, secret = create_api_key(
                session, client_name=name, scopes=scope_list, finess=finess
            )
            key_id = key.id
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps({"id": key_id, "key": secret, "scopes": scope_list}))
    else:
        typer.echo(secret)
        console.print(f"key {key_id} for {name} ({', '.join(scope_list)}); it is shown only once")


@user_app.command("create")
def user_create(
    username: str = typer.Argument(..., help="login name"),
    roles: str = typer.Option("officer", "--roles", help=f"comma-separated: {','.join(ROLES)}"),
    full_name: str = typer.Option("", "--full-name"),
    password: str = typer.Option(
        ...,
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="SOCLE_NEW_USER_PASSWORD",
        help="asked for when not given",
    ),
) -> None:
    """Create a user of the pages (identity-vigilance officer, ROR team or admin)."""
    try:
        with session_scope(_session_factory()) as session:
            user = create_user(
                session,
                username=username,
                password=password,
                roles=[r.strip() for r in roles.split(",") if r.strip()],
                full_name=full_name,
            )
            user_id = user.id
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    console.print(f"user {user_id} ({username}) created with roles {roles}")


if __name__ == "__main__":
    app()
