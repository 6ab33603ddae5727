"""A transaction opened by a savepoint reads, then writes, while another writer commits.

The HL7 v2 listener, the identity service and the duplicate queue wrap their changes in a
savepoint and read before they write; the access writer, the usage flush and the feed relay
commit meanwhile. On SQLite a transaction opened by a savepoint is a deferred one: its first
read took a snapshot, and its first write after another connection's commit used to fail at
once with "database is locked" (no busy timeout helps), which a loaded machine made frequent.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from referentials.core.db import make_engine


def test_a_savepoint_reading_before_it_writes_is_not_refused_by_a_commit_in_between(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'socle.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE moves (origin TEXT)")
    factory = sessionmaker(engine)
    failures: list[BaseException] = []

    def other_writer() -> None:
        try:
            with factory() as other:
                other.execute(text("INSERT INTO moves VALUES ('other')"))
                other.commit()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    with factory() as session:
        with session.begin_nested():
            assert session.execute(text("SELECT count(*) FROM moves")).scalar() == 0
            writer = threading.Thread(target=other_writer)
            writer.start()
            # Long enough for the other writer to commit if nothing holds it back.
            writer.join(timeout=0.5)
            session.execute(text("INSERT INTO moves VALUES ('savepoint')"))
        session.commit()
    writer.join(timeout=10)
    assert not writer.is_alive() and not failures
    with factory() as session:
        origins = session.execute(text("SELECT origin FROM moves ORDER BY rowid")).scalars()
        # The other writer waited for the savepoint's transaction, then wrote.
        assert list(origins) == ["savepoint", "other"]
    engine.dispose()
