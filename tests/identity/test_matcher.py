"""The real-time candidate search: over-common keys are skipped, not sliced."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import matcher
from identity.referential.schemas import IdentityCreate
from identity.referential.service import create
from matching.records import IdentityRecord
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope


def _add(session: Session, first: str, day: str) -> int:
    body = IdentityCreate(
        birth_name="MARTIN",
        first_names=[first],
        sex="M",
        birth_date=f"1980-{day}",
        birth_place_code="75056",
    )  # type: ignore[arg-type]
    return create(session, SYSTEM, data=body).identity.id


def test_over_common_key_is_skipped_and_selective_keys_still_find(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matcher, "PER_KEY_CAP", 3)
    with session_scope(session_factory) as session:
        others = [
            _add(session, name, day)
            for name, day in [
                ("PAUL", "01-02"),
                ("LUC", "03-04"),
                ("MARC", "05-06"),
                ("ERIC", "07-08"),
            ]
        ]
        target = _add(session, "JEAN", "09-10")
    query = IdentityRecord(
        id="q",
        birth_name="MARTIN",
        first_names=("JEAN",),
        sex="M",
        birth_date="1980-09-10",
        birth_place_code="75056",
    )
    with session_scope(session_factory) as session:
        found = matcher.candidate_ids(session, query, exclude=None)
    # "MARTIN born 1980" is shared by 5 identities (> cap): no arbitrary slice of it is read;
    # the full-date keys bring the true match alone.
    assert found == {target}
    assert not found & set(others)


def test_when_every_key_is_over_common_the_smallest_block_is_used(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matcher, "PER_KEY_CAP", 1)
    with session_scope(session_factory) as session:
        ids = {_add(session, name, "01-02") for name in ("PAUL", "LUC")}
    sparse = IdentityRecord(id="q", birth_name="MARTIN", sex="M", birth_date="1980-01-02")
    with session_scope(session_factory) as session:
        found = matcher.candidate_ids(session, sparse, exclude=None)
    assert found == ids
