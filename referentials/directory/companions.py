"""The RPPS+ companion files (savoir-faire, diplomas): staged with the main file, then
replaced wholesale in the same transaction, and only when the file came with the extract."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from referentials.directory import bulk
from referentials.directory.parsers.common import ParseReport
from referentials.directory.parsers.rpps import DIPLOMA_COLUMNS, SKILL_COLUMNS, parse_simple
from referentials.directory.sources import Member

TABLES = {
    "skills": ("dir_professional_skills", SKILL_COLUMNS),
    "diplomas": ("dir_professional_diplomas", DIPLOMA_COLUMNS),
}
BATCH = 20_000


class Companions:
    """Stages and applies the savoir-faire and diploma files of one RPPS+ import."""

    def __init__(self, skills: Member | None, diplomas: Member | None, report: ParseReport):
        self.members = {"skills": skills, "diplomas": diplomas}
        self.report = report
        self.counts: dict[str, int] = {}

    def stage(self, conn: Connection) -> None:
        for kind, member in self.members.items():
            if member is None:
                continue
            _table, columns = TABLES[kind]
            stage = f"stage_{kind}"
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE {stage} ({', '.join(f'{c} TEXT' for c in columns)})"
            )
            local = ParseReport()
            self.counts[kind] = 0
            with member.open() as stream:
                batch: list[Any] = []
                for row in parse_simple(stream, columns, name=member.name, report=local):
                    batch.append(row)
                    if len(batch) >= BATCH:
                        self._flush(conn, stage, columns, batch, kind)
                        batch = []
                self._flush(conn, stage, columns, batch, kind)
            # Their malformed lines are warnings: they do not weigh on the main file's share.
            self.report.warnings.extend(local.problems + local.warnings)

    def _flush(
        self, conn: Connection, stage: str, columns: dict[str, str], batch: list[Any], kind: str
    ) -> None:
        bulk.copy_rows(conn, stage, tuple(columns), batch)
        self.counts[kind] += len(batch)

    def apply(self, conn: Connection) -> dict[str, Any]:
        for kind in self.counts:
            table, columns = TABLES[kind]
            names = ", ".join(columns)
            values = ", ".join(f"NULLIF({c}, '')" for c in columns)
            conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql(f"INSERT INTO {table} ({names}) SELECT {values} FROM stage_{kind}")
            conn.exec_driver_sql(f"DROP TABLE stage_{kind}")
        return {kind: self.counts.get(kind) for kind in TABLES}
