"""The ``socle import ror`` and ``socle ror`` commands (composition root for the ROR)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from referentials.core.db import make_session_factory, session_scope
from referentials.core.errors import AppError
from referentials.core.settings import get_settings
from referentials.migrations import open_database
from ror_sync import codes, csv_export, jobs, service

ror_app = typer.Typer(help="ROR: completeness of the offer of care (taux de peuplement).")
console = Console(stderr=True)
FORMATS = ("table", "csv", "json")


def import_ror(
    location: str = typer.Argument(..., help="FHIR Bundle/NDJSON file, folder, or API base URL"),
    full: bool = typer.Option(False, "--full", help="API: fetch everything, not the delta"),
    as_json: bool = typer.Option(False, "--json", help="print the run summary as one JSON object"),
) -> None:
    """Import the ROR (deltas update in place by FHIR id), then snapshot the completeness."""
    settings = get_settings()
    engine = open_database(settings)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} resources"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=as_json) as bar:
            task = bar.add_task("import ror", total=None)
            summary = jobs.run(
                make_session_factory(engine),
                location,
                settings,
                full=full,
                progress=lambda n: bar.update(task, completed=n),
            )
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
    else:
        console.print(summary.as_dict())


def _table(sectors: list[dict[str, Any]]) -> Table:
    table = Table(title="Taux de peuplement du ROR par secteur")
    for name in (
        "Secteur",
        "Périmètre",
        "Finalisés",
        "En cours",
        "À faire",
        "Taux",
        "Cible",
        "Écart",
    ):
        table.add_column(name)
    for s in sectors:
        target = s["target"]
        table.add_row(
            codes.SECTOR_LABELS[s["sector"]],
            str(s["perimeter"]),
            str(s["finalised"]),
            str(s["in_progress"]),
            str(s["to_do"]),
            f"{s['rate'] * 100:.1f} %",
            f"{target * 100:.0f} %" if target is not None else "—",
            str(s["gap_to_target"]) if s["gap_to_target"] is not None else "—",
        )
    return table


@ror_app.command("completeness")
def completeness(
    region: str = typer.Option(None, "--region", help="INSEE region code, e.g. 84"),
    output: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """Completeness per sector (and per sector × champ in csv/json) against the targets."""
    if output not in FORMATS:
        console.print(f"[red]error:[/red] --format takes {', '.join(FORMATS)}")
        raise typer.Exit(2)
    settings = get_settings()
    engine = open_database(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            result = service.get_completeness(
                session,
                settings.ror,
                scope=service.Scope(region=region),
                group_by=["sector", "champ"],
            )
    finally:
        engine.dispose()
    sectors: list[dict[str, Any]] = result["sectors"]  # type: ignore[assignment]
    if output == "json":
        typer.echo(json.dumps(result, ensure_ascii=False))
    elif output == "csv":
        typer.echo(csv_export.render(sectors, ["sector", *csv_export.COUNT_COLUMNS]), nl=False)
    else:
        Console().print(_table(sectors))
