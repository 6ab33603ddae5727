"""The shape of a FINESS number, as every entry point checks it."""

from __future__ import annotations

import pytest

from referentials.core.finess import is_finess


@pytest.mark.parametrize(
    "value",
    ["690999016", "2A0999902", "2B0000020", "970100228", "980500012", "010000024"],
)
def test_finess_numbers_of_every_department_have_the_shape(value: str) -> None:
    assert is_finess(value)


@pytest.mark.parametrize(
    "value",
    [
        "69099901",  # eight characters
        "6909990160",  # ten
        "20A999902",  # the letter is the department's second character
        "2C0999902",  # no such department
        "2a0999902",  # FINESS are written in capitals
        "ABCDEFGHI",
        "690999O16",  # a letter O for a zero
        "69099901\n",
        "",
    ],
)
def test_other_strings_do_not(value: str) -> None:
    assert not is_finess(value)
