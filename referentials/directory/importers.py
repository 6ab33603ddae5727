"""The two importers: RPPS+ (professionals, with their companion files) and FINESS."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from referentials.core import runs
from referentials.core.settings import DirectorySettings
from referentials.directory import companions, repository
from referentials.directory.limits import Counts, Limits
from referentials.directory.parallel import SpannedFile
from referentials.directory.parsers.common import Entity, ParseReport
from referentials.directory.parsers.finess_activities import (
    ACTIVITY_FIELDS as STRUCTURE_ACTIVITY_FIELDS,
)
from referentials.directory.parsers.finess_activities import Authorisations, read_activities
from referentials.directory.parsers.finess_csv import (
    STRUCTURE_FIELDS,
    STRUCTURE_KINDS,
    parse_etalab,
)
from referentials.directory.parsers.finess_json import parse_finess_json
from referentials.directory.parsers.rpps import (
    ACTIVITY_FIELDS,
    PERSON_FIELDS,
    derive_person,
    parse_personne_activite,
    person_warnings,
    spans,
)
from referentials.directory.snapshot import import_snapshot
from referentials.directory.sources import Member, finess_files, rpps_files, unpacked
from referentials.directory.spec import SnapshotSpec

Progress = Callable[[ParseReport], None]
PROFESSIONALS = SnapshotSpec(
    "professional",
    "dir_professionals",
    "idnps",
    PERSON_FIELDS,
    "dir_activities",
    ACTIVITY_FIELDS,
    derive=derive_person,
    check=person_warnings,
    direct_load=True,
)
STRUCTURES = SnapshotSpec(
    "structure",
    "dir_structures",
    "finess",
    STRUCTURE_FIELDS,
    "dir_structure_activities",
    STRUCTURE_ACTIVITY_FIELDS,
    kinds=STRUCTURE_KINDS,
)


def _finisher(
    run_id: int,
    summary: dict[str, Any],
    report: ParseReport,
    noun: str,
    started: float,
    extra: Callable[[Connection], dict[str, Any]] | None = None,
) -> Callable[[Connection, Counts], None]:
    """Fill the summary and record the run's success in the transaction applying the diff."""

    def finish(conn: Connection, counts: Counts) -> None:
        if extra is not None:
            summary.update(extra(conn))
        summary.update(
            rows=report.rows,
            added=counts.added,
            updated=counts.updated,
            removed=counts.removed,
            unchanged=counts.unchanged,
            bad_lines=report.bad_lines,
            warnings=len(report.warnings) + len(report.problems),
        )
        summary[noun] = counts.entities
        summary["seconds"] = round(time.monotonic() - started, 2)
        runs.finish_run(
            conn,
            run_id,
            outcome=runs.SUCCEEDED,
            counts=dict(summary),
            warnings=report.problems + report.warnings,
            file_name=summary["file"],
            checksum=summary["checksum"],
        )

    return finish


def rpps(
    engine: Engine,
    run_id: int,
    path: Path,
    summary: dict[str, Any],
    settings: DirectorySettings,
    beat: Progress,
    started: float,
    _activities: Path | None,
) -> None:
    previous = summary.pop("previous_seen")
    main, skills, diplomas = rpps_files(path)
    report = ParseReport()
    side = companions.Companions(skills, diplomas, report)

    def source(rep: ParseReport) -> Iterator[Entity]:
        with main.open() as stream:
            yield from parse_personne_activite(stream, name=main.name, report=rep)

    with contextlib.ExitStack() as stack:
        import_snapshot(
            engine,
            PROFESSIONALS,
            source,
            run_id=run_id,
            limits=_limits(settings),
            report=report,
            progress=beat,
            prepare=side.stage,
            previous_seen=previous,
            finish=_finisher(run_id, summary, report, "professionals", started, side.apply),
            spanned=_spanned(main, settings, engine, stack),
        )


def _spanned(
    main: Member, settings: DirectorySettings, engine: Engine, stack: contextlib.ExitStack
) -> SpannedFile | None:
    """How a first load is parsed in worker processes; None: in this one."""
    if settings.parse_workers < 2 or (main.size or 0) < settings.parallel_min_bytes:
        return None
    path = main.path
    if path is None:
        with Session(engine) as session:
            if repository.professional_count(session):
                return None  # a diff: parsed here, the member streamed
        # A zip member cannot be read by parts: written out once (seconds) to be.
        path = stack.enter_context(unpacked(main, settings.download_dir))
    return SpannedFile(path, main.name, parse_personne_activite, spans, settings.parse_workers)


def finess(
    engine: Engine,
    run_id: int,
    path: Path,
    summary: dict[str, Any],
    settings: DirectorySettings,
    beat: Progress,
    started: float,
    activities: Path | None,
) -> None:
    previous = summary.pop("previous_seen")
    kind, structures, activity_file = finess_files(path, activities)
    report = ParseReport()
    authorisations = Authorisations()
    if activity_file is not None:
        authorisations = read_activities(activity_file.open, name=activity_file.name)
        report.warnings.extend(authorisations.warnings)
    elif kind == "json":
        report.warnings.append(
            f"{structures.name}: no activities file given: no activity or authorisation read "
            "(sanitary sites then count for no champ of the ROR completeness)"
        )

    def source(rep: ParseReport) -> Iterator[Entity]:
        with structures.open() as stream:
            if kind == "json":
                yield from parse_finess_json(
                    stream, name=structures.name, report=rep, authorisations=authorisations
                )
            else:
                yield from parse_etalab(stream, name=structures.name, report=rep)

    summary["activities_file"] = activity_file.name if activity_file else None
    summary["authorisations_without_site"] = authorisations.without_site
    import_snapshot(
        engine,
        STRUCTURES,
        source,
        run_id=run_id,
        limits=_limits(settings),
        report=report,
        progress=beat,
        previous_seen=previous,
        finish=_finisher(run_id, summary, report, "structures", started),
    )


def _limits(settings: DirectorySettings) -> Limits:
    return Limits(settings.max_bad_line_share, settings.max_removed_share)
