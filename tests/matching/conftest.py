"""Builders for matching tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from matching.records import IdentityRecord


def person(**overrides: object) -> IdentityRecord:
    """A complete identity; tests override the traits they are about."""
    base = IdentityRecord(
        id="A",
        birth_name="LEFEBVRE",
        first_names=("JEAN-PIERRE", "MARC"),
        sex="M",
        birth_date="1975-03-11",
        birth_place_code="63113",
        ins="175036311300158",
        address="12 RUE PASTEUR",
        postcode="63000",
        city="CLERMONT-FERRAND",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def base() -> IdentityRecord:
    return person()
