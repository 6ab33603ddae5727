"""`socle dedupe`, `socle identities scan` and `socle import identities`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import SYSTEM
from referentials.core.db import make_session_factory, session_scope
from referentials.core.errors import AppError
from referentials.core.settings import Settings, get_settings
from referentials.migrations import open_database

console = Console(stderr=True)
identities_app = typer.Typer(help="Work on the identity referential.")


# The matcher and the identity services are imported by the commands that use them (see cli).


def check_model_file(settings: Settings) -> None:
    """Exit with what is wrong when the configured matching model cannot be used: a process
    that started anyway would fail every creation and every match."""
    if not settings.matching.model_file:
        return  # the built-in model
    # The matcher's own cached load: the process that then configures the matcher reads the
    # file once.
    from identity.duplicates.matcher import load_model
    from matching.model import ModelFileError

    try:
        load_model(settings.matching.model_file)
    except ModelFileError as exc:
        console.print(f"[red]error:[/red] SOCLE_MATCHING__MODEL_FILE: {exc}")
        raise typer.Exit(2) from exc


def _factory() -> sessionmaker[Session]:
    from identity.duplicates import service as duplicates
    from referentials.app import duplicate_settings

    settings = get_settings()
    check_model_file(settings)
    duplicates.configure(duplicate_settings(settings))
    engine = open_database(settings)
    return make_session_factory(engine)


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def dedupe(
    input_csv: Path = typer.Argument(..., exists=True, dir_okay=False, help="identities CSV"),
    out: Path = typer.Option(..., "--out", help="where to write the pairs CSV"),
    model: Path = typer.Option(None, "--model", exists=True, help="a trained model file"),
) -> None:
    """Find duplicate pairs in an identity CSV and write them (match and review bands)."""
    from matching.config import MatchConfig
    from matching.dedupe_csv import InputError, run_dedupe

    settings = get_settings().matching
    config = MatchConfig(
        match_probability=settings.match_probability,
        review_probability=settings.review_probability,
    )
    with _bar() as bar:
        task = bar.add_task("comparing", total=None)
        try:
            summary = run_dedupe(
                input_csv,
                out,
                model,
                config=config,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except InputError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    for error in summary.skipped_rows:
        console.print(f"[yellow]line {error.line} skipped:[/yellow] {error.message}")
    typer.echo(
        f"{summary.records} records, {summary.candidate_pairs} candidate pairs, "
        f"{summary.matches} matches, {summary.reviews} reviews, {summary.seconds:.1f} s"
    )


@identities_app.command("scan")
def scan(
    row_by_row: bool = typer.Option(
        False, "--row-by-row", help="load identities as objects, queue pair by pair (slower)"
    ),
) -> None:
    """Scan the whole referential for duplicates and queue new pairs (idempotent, atomic)."""
    from identity.duplicates import service as duplicates
    from identity.imports import scan as bulk_scan

    run = duplicates.scan if row_by_row else bulk_scan.scan
    with _bar() as bar:
        task = bar.add_task("scanning", total=None)
        with session_scope(_factory()) as session:
            summary = run(
                session, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    typer.echo(
        f"{summary.identities} identities, {summary.candidate_pairs} likely pairs, "
        f"{summary.queued} queued or refreshed, {summary.already_known} already decided"
    )


def import_identities(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="identities CSV"),
    finess: str = typer.Option(..., "--finess", help="FINESS of the establishment"),
    row_by_row: bool = typer.Option(
        False, "--row-by-row", help="one row per transaction step (same outcome, slower)"
    ),
) -> None:
    """Load an establishment's identity file: create or attach identities, queue duplicates."""
    from identity.imports import bulk, service

    # The bulk load forks a helper process for its normalising: this process is the CLI's.
    load = service.import_file if row_by_row else partial(bulk.import_file, parallel=True)
    with _bar() as bar:
        task = bar.add_task("importing", total=None)
        try:
            summary = load(
                _factory(),
                SYSTEM,
                path,
                finess=finess,
                progress=lambda rows: bar.update(task, completed=rows),
            )
        except AppError as exc:
            console.print(f"[red]error:[/red] {exc.message}")
            raise typer.Exit(2) from exc
    for line, message in summary.errors:
        console.print(f"[yellow]line {line} skipped:[/yellow] {message}")
    typer.echo(
        f"{summary.rows} rows: {summary.created} created, {summary.attached} attached, "
        f"{summary.already_known} already known, {summary.duplicates_queued} possible "
        f"duplicates queued, {len(summary.errors)} rejected"
    )
