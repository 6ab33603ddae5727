"""The ``socle`` command: serve, apikey, and the other operator commands."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from datetime import datetime, timedelta
from secrets import token_hex

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from referentials import cli_access, cli_identity, cli_matching, cli_notify, cli_ror
from referentials.core import production, serving, settings_errors
from referentials.core.auth import (
    SCOPES,
    create_api_key,
    list_api_keys,
    parse_scopes,
    replace_api_key,
    revoke_api_key,
)
from referentials.core.db import make_session_factory, session_scope, utcnow
from referentials.core.db_check import DatabaseUnavailable, check_database, reachable_engine
from referentials.core.errors import AppError
from referentials.core.key_expiry import time_left
from referentials.core.settings import Settings, get_settings
from referentials.core.web import ROLES, create_user
from referentials.directory import imports as directory_imports
from referentials.insi_process import InsiProcess, serve_searches
from referentials.migrations import open_database

# Commands that need the web application, the matcher or the scheduler import them when they
# run: an import or a key creation starts in a second rather than three.

app = typer.Typer(help="Socle: the regional identity and directory foundation service.")
apikey_app = typer.Typer(help="Manage API keys.")
app.add_typer(apikey_app, name="apikey")
user_app = typer.Typer(help="Manage the users of the web pages.")
app.add_typer(user_app, name="user")
import_app = typer.Typer(help="Import the actor directories (RPPS+, FINESS) from a file or URL.")
app.add_typer(import_app, name="import")
console = Console(stderr=True)


def _production_check(settings: Settings) -> None:
    """Exit with every unsafe setting listed when SOCLE_ENV=production refuses them."""
    try:
        production.check(settings)
    except production.UnsafeSettings as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _session_factory() -> sessionmaker[Session]:
    settings = get_settings()
    engine = open_database(settings)
    return make_session_factory(engine)


@app.command()
def serve(
    host: str = typer.Option(None, help="interface to listen on (default: settings)"),
    port: int = typer.Option(None, help="port (default: settings)"),
    workers: int = typer.Option(
        0, min=0, help="worker processes (default: one per core); 1 serves in this process"
    ),
) -> None:
    """Run the service (migrations applied once at start, then the workers start)."""
    from referentials import bootstrap

    # The app reads its address from the settings too (the embedded INSi mock's URL).
    for name, value in (("SOCLE_HOST", host), ("SOCLE_PORT", port)):
        if value:
            os.environ[name] = str(value)
    # Each served process freezes its start-up heap (referentials/core/serving.py).
    os.environ.setdefault("SOCLE_FREEZE_HEAP_ON_START", "true")
    get_settings.cache_clear()
    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    _production_check(settings)
    cli_identity.check_model_file(settings)
    # Reached here, before any worker starts, rather than failing in each of them.
    engine = reachable_engine(settings)
    count = workers or os.cpu_count() or 1
    own_process = settings.insi.own_process
    if count > 1 or own_process:
        # Once, here, rather than racing in every served process.
        bootstrap.prepare_database(engine, make_session_factory(engine), settings)
        os.environ["SOCLE_PREPARE_ON_START"] = "false"
        # The pages' login cookie must verify in whichever worker gets the next request.
        os.environ.setdefault("SOCLE_SESSION_SECRET", settings.session_secret or token_hex(32))
    engine.dispose()
    # A stop by SIGTERM (systemd's, docker's) must clean up too, as a Ctrl-C does.
    signal.signal(signal.SIGTERM, _terminated)
    searches = metrics = None
    stopped_by_signal = False
    try:
        # Before any served process starts (and before this one imports prometheus-client).
        metrics = serving.shared_metrics_directory(os.environ, count + int(own_process))
        searches = InsiProcess().start() if own_process else None
        if searches is not None:
            # Read by the workers' settings: they forward the INSi routes to that process.
            os.environ["SOCLE_INSI__DELEGATE_SOCKET"] = searches.socket_path
            get_settings.cache_clear()
        _run_workers(settings, count)
    except _Terminated:
        stopped_by_signal = True
    finally:
        # A second SIGTERM (an impatient supervisor, a repeated `kill`) must not cut the
        # clean-up short: the INSi process and the metrics directory would outlive the server.
        # SIGKILL still ends it at once.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if searches is not None:
            searches.stop()
        if metrics is not None:
            shutil.rmtree(metrics, ignore_errors=True)
    if stopped_by_signal:
        # Ended by the signal, as uvicorn ends a server it stopped on one.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


class _Terminated(Exception):
    """SIGTERM reached the server outside uvicorn's own handling of it."""


def _terminated(_signum: int, _frame: object) -> None:
    # uvicorn handles SIGTERM while it serves (a graceful shutdown). Serving in this process
    # (one worker), it then raises the signal again with the handler found at its start,
    # which is this one: without it, the process would end there, its INSi process and its
    # metrics directory left behind.
    raise _Terminated


def _run_workers(settings: Settings, count: int) -> None:
    import uvicorn

    uvicorn.run(
        "referentials.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=count if count > 1 else None,
        # A worker imports the whole service and builds the app before it answers the
        # supervisor: on a busy machine that takes longer than uvicorn's 5 s default.
        timeout_worker_healthcheck=60,
        # The workers share one listening socket: each takes one connection per turn, so a
        # pool of connections opening at once is spread over them (see the module).
        loop="referentials.core.serving:FairAcceptLoop",
        # SOCLE_LOG_LEVEL governs uvicorn's loggers too: its access log (one INFO line per
        # request, paths only) is written at INFO and below, not at WARNING and above.
        log_level=_uvicorn_level(settings.log_level),
        log_config=serving.log_config(settings.log_level),
    )


def _uvicorn_level(level: str) -> str | None:
    import uvicorn.config

    name = level.lower()
    return name if name in uvicorn.config.LOG_LEVELS else None


@app.command("insi-process", hidden=True)
def insi_process(
    socket: str = typer.Option(..., help="the Unix socket to serve on"),
    parent: int = typer.Option(..., help="the server's process id: stop when it is gone"),
) -> None:
    """The INSi searches of a `socle serve`, which starts this process itself."""
    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    serve_searches(socket, parent, _uvicorn_level(settings.log_level))


@app.command("mock-insi")
def mock_insi(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8089, help="port"),
) -> None:
    """Run the mock INSi teleservice alone (WSDL at /?wsdl); SOCLE_INSI__MOCK_* settings.

    SOCLE_LOG_LEVEL governs its access log, as it does `serve`'s.
    """
    from referentials.insi_gateway import mock_config
    from soap_clients.insi.mock import run_mock

    settings = get_settings()
    run_mock(
        mock_config(settings), host=host, port=port, log_level=_uvicorn_level(settings.log_level)
    )


@apikey_app.command("create")
def apikey_create(
    name: str = typer.Option(..., "--name", help="the client's name"),
    scopes: str = typer.Option(..., "--scopes", help=f"comma-separated: {','.join(SCOPES)}"),
    finess: str = typer.Option(None, "--finess", help="FINESS of the client's establishment"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    expires_days: int = typer.Option(None, "--expires-days", min=1, help="valid this many days"),
) -> None:
    """Create an API key and print it once (it is stored hashed)."""
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    try:
        scope_list = parse_scopes(scopes)
        with session_scope(_session_factory()) as session:
            key, secret = create_api_key(
                session, client_name=name, scopes=scope_list, finess=finess, expires_at=expires_at
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


@apikey_app.command("list")
def apikey_list(
    as_json: bool = typer.Option(False, "--json", help="print one JSON array"),
) -> None:
    """List the keys: id, client, scopes, hint, the last day used, expiry (those ended or ending
    soon marked), revoked (never the secret)."""
    from referentials.core.usage import last_used

    now = utcnow()
    soon = timedelta(days=get_settings().api_keys.expiry_warning_days)
    with session_scope(_session_factory()) as session:
        keys = list_api_keys(session)
        used = last_used(session)
    if as_json:
        rows = [
            {
                "id": k.id,
                "client": k.client_name,
                "finess": k.finess,
                "scopes": k.scope_list,
                "hint": k.key_hint,
                "created_at": k.created_at.isoformat(),
                "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                "expired": k.expires_at is not None and k.expires_at <= now,
                "revoked": k.revoked,
                "last_used": used[k.id].isoformat() if k.id in used else None,
            }
            for k in keys
        ]
        typer.echo(json.dumps(rows))
        return
    for k in keys:
        state = _key_state(k.revoked, k.expires_at, now, soon)
        last = f"used {used[k.id].isoformat()}" if k.id in used else "never used"
        typer.echo(f"{k.id}\t{k.client_name}\t{k.scopes}\t{k.key_hint}…\t{last}\t{state}")


def _key_state(revoked: bool, expires_at: datetime | None, now: datetime, soon: timedelta) -> str:
    if revoked:
        return "revoked"
    if expires_at is None:
        return "expires never"
    left = expires_at - now
    if left <= timedelta(0):
        return f"EXPIRED {expires_at.isoformat()} (refused: give the client a new key)"
    if left <= soon:
        return f"expires {expires_at.isoformat()} (in {time_left(left)}: give a new key)"
    return f"expires {expires_at.isoformat()}"


@apikey_app.command("replace")
def apikey_replace(
    key_id: int = typer.Argument(..., help="the key's id (see `apikey list`)"),
    expires_days: int = typer.Option(
        None, "--expires-days", min=1, help="valid this many days (default: as the old key)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Give a key's client a new key (same FINESS and scopes) and print it once; the OAuth
    clients and stored MLLP senders of the old key act as the new one from now on. The old key
    stays valid until revoked (its client switches at its pace)."""
    from identity.hl7v2 import senders as hl7_senders
    from referentials.core.oauth import service as oauth_service
    from referentials.core.principal import SYSTEM

    settings = get_settings()
    lifetime = timedelta(days=expires_days) if expires_days else None
    try:
        # One transaction: the new key and everything moved to it, or nothing.
        with session_scope(_session_factory()) as session:
            old, new, secret = replace_api_key(session, key_id, lifetime=lifetime)
            tokens = oauth_service.move_clients(session, old.id, new.id)
            stored = hl7_senders.move(session, SYSTEM, old.id, new.id)
            configured = hl7_senders.configured(settings.hl7).get(old.id, [])
            new_id, client, scopes = new.id, new.client_name, new.scope_list
            expires_at = new.expires_at.isoformat() if new.expires_at else None
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    if as_json:
        body = {"id": new_id, "key": secret, "scopes": scopes, "expires_at": expires_at}
        moved = {"replaces": key_id, "oauth_clients": tokens, "mllp_senders": stored}
        typer.echo(json.dumps(body | moved))
    else:
        typer.echo(secret)
    say = (
        f"key {new_id} for {escape(client)} ({', '.join(scopes)}, expires {expires_at or 'never'})"
    )
    console.print(f"{say} replaces key {key_id}; it is shown only once", highlight=False)
    if tokens:
        console.print(f"OAuth client(s) {', '.join(tokens)} now act as key {new_id}")
    if stored:
        console.print(f"MLLP sender(s) {escape('; '.join(stored))} now applied as key {new_id}")
    for sender in configured:
        _warn(
            f"MLLP sender {escape(sender)} is still applied as key {key_id}: set it to {new_id} "
            "in the settings, then restart `socle mllp`"
        )
    console.print(
        f"key {key_id} stays valid until revoked: `socle apikey revoke {key_id}` once the client "
        "uses the new key",
        highlight=False,
    )


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: int = typer.Argument(..., help="the key's id (see `apikey list`)"),
) -> None:
    """Revoke a key: refused from its next request on."""
    from identity.hl7v2 import senders as hl7_senders
    from referentials import notify_wiring
    from referentials.core.notify import audience
    from referentials.core.notify import service as notify_service
    from referentials.core.oauth import service as oauth_service

    settings = get_settings()
    notify_wiring.install(settings)  # the event sources judge who hears what
    try:
        with session_scope(_session_factory()) as session:
            key = revoke_api_key(session, key_id)
            client = key.client_name
            # What a subscription hears is what its client's keys may read.
            silent = audience.silences(session, notify_service.list_(session, client_name=client))
            senders = hl7_senders.by_key(session, settings.hl7).get(key_id, [])
            tokens = oauth_service.clients_by_key(session).get(key_id, [])
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    console.print(f"key {key_id} of {client} revoked")
    for sub_id, why in silent.items():
        if why:
            _warn(f"subscription {sub_id} hears nothing of some of what it asks for: {escape(why)}")
    if senders:
        _warn(
            f"the messages of MLLP sender(s) {escape('; '.join(senders))} are refused (AR) from "
            "now on: map them to another key (socle hl7-sender add, or the settings named)"
        )
    if tokens:
        _warn(
            f"OAuth client(s) {', '.join(tokens)} act as this key: they are refused from now on "
            "(`socle apikey replace` before revoking moves them)"
        )


def _warn(message: str) -> None:
    # On one line however long (tests and log scrapers read it whole), the markup as written.
    console.print(f"[yellow]warning:[/yellow] {message}", soft_wrap=True, highlight=False)


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


def _run_import(source: str, location: str, as_json: bool, activities: str | None) -> None:
    settings = get_settings()
    engine = open_database(settings)
    factory = make_session_factory(engine)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=as_json) as bar:
            task = bar.add_task(f"import {source}", total=None)
            summary = directory_imports.run(
                engine,
                factory,
                source=source,
                location=location,
                trigger="cli",
                settings=settings.directory,
                activities=activities,
                progress=lambda report: bar.update(task, completed=report.rows),
            )
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(summary)


@import_app.command("rpps")
def import_rpps(
    location: str = typer.Argument(..., help="PS_LibreAcces zip, Personne_activite file, or URL"),
    as_json: bool = typer.Option(False, "--json", help="print the run summary as one JSON object"),
) -> None:
    """Import an RPPS+ extract (diff against the stored directory, applied atomically)."""
    _run_import("rpps", location, as_json, None)


@import_app.command("finess")
def import_finess(
    location: str = typer.Argument(..., help="FINESS+ .json(.gz), etalab .csv, or URL"),
    activities: str = typer.Option(
        None, help="FINESS+ activities file or URL (never guessed: without it, none is read)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the run summary as one JSON object"),
) -> None:
    """Import a FINESS extract (diff against the stored structures, applied atomically)."""
    _run_import("finess", location, as_json, activities)


app.command("dedupe")(cli_identity.dedupe)
app.command("notify")(cli_notify.run_notify)
app.add_typer(cli_identity.identities_app, name="identities")
import_app.command("identities")(cli_identity.import_identities)
import_app.command("ror")(cli_ror.import_ror)
app.add_typer(cli_ror.ror_app, name="ror")
app.add_typer(cli_access.oauth_app, name="oauth")
app.add_typer(cli_access.psc_app, name="psc")
app.add_typer(cli_access.hl7_sender_app, name="hl7-sender")
app.add_typer(cli_matching.matching_app, name="matching")


@app.command("mllp")
def mllp(
    host: str = typer.Option(None, help="interface to listen on (default: SOCLE_HL7__MLLP_HOST)"),
    port: int = typer.Option(None, help="port (default: SOCLE_HL7__MLLP_PORT)"),
    workers: int = typer.Option(
        0,
        min=0,
        help="processes that apply the messages (default: one per core); 1 applies them in "
        "the listener's own process",
    ),
) -> None:
    """Listen for HL7 v2 ADT messages (IHE PAM France) over MLLP; every message gets an ACK."""
    from identity.duplicates import service as duplicates
    from identity.hl7v2.mllp import MllpServer
    from identity.hl7v2.mllp_auth import ListenerRefused
    from referentials import mllp_workers
    from referentials.app import duplicate_settings

    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    _production_check(settings)
    cli_identity.check_model_file(settings)
    check_database(settings)  # before any worker starts, each to fail the same way
    count = workers or os.cpu_count() or 1
    if count == 1:
        # The same matching settings as `socle serve`: new identities are checked for
        # duplicates (worker processes build their own: referentials/mllp_workers.py).
        duplicates.configure(duplicate_settings(settings))
    factory = _session_factory()  # the schema brought up to date here, once, before the workers
    try:
        processes = mllp_workers.Workers(count) if count > 1 else None
    except mllp_workers.NotStarted as exc:
        # Those already started end with this process (daemonic, their pipes closed).
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    try:
        server = MllpServer(factory, settings.hl7, host=host, port=port, workers=processes)
    except ListenerRefused as exc:
        if processes is not None:
            processes.close()
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    where = f"{host or settings.hl7.mllp_host}:{server.port}"
    console.print(f"MLLP listening on {where}, messages applied by {count} process(es)")
    # A stop by SIGTERM (systemd's, docker's) closes the socket and stops the workers, as a
    # Ctrl-C does.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        server.server_close()


@app.command("scheduler")
def run_scheduler() -> None:
    """Run the scheduled imports in this process (production: beside `socle serve`)."""
    from referentials import scheduler

    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    _production_check(settings)
    engine = open_database(settings)
    scheduler.run_blocking(engine, make_session_factory(engine), settings)


def main() -> None:
    """The ``socle`` command. Settings that cannot be read (one line per variable) or a
    database that cannot be reached (one line) stop any command when it starts, without a
    traceback."""
    try:
        app()
    except DatabaseUnavailable as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from exc
    except (ValidationError, SettingsError) as exc:
        if isinstance(exc, ValidationError) and exc.title != Settings.__name__:
            raise
        say = "[red]error:[/red] the settings cannot be read (environment or .env):"
        console.print(say, soft_wrap=True)
        for line in settings_errors.problems(exc):
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
