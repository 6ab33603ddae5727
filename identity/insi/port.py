"""The port through which the identity referential reaches INSi.

Structural types only: the composition root passes the real zeep client (through a small
adapter that turns its errors into the core's Upstream* errors); tests may pass a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol


class InsNumber(Protocol):
    @property
    def matricule13(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def oid(self) -> str: ...
    @property
    def date_deb(self) -> str | None: ...
    @property
    def date_fin(self) -> str | None: ...
    @property
    def full(self) -> str: ...


class InsTraitsView(Protocol):
    @property
    def birth_name(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def first_names_list(self) -> str: ...
    @property
    def sex(self) -> str: ...
    @property
    def birth_date(self) -> str: ...
    @property
    def birth_place_code(self) -> str: ...


class InsiAnswer(Protocol):
    @property
    def cr_code(self) -> str: ...
    @property
    def cr_label(self) -> str: ...
    @property
    def active(self) -> InsNumber | None: ...
    @property
    def history(self) -> Sequence[InsNumber]: ...
    @property
    def traits(self) -> InsTraitsView | None: ...
    @property
    def request_xml(self) -> str: ...
    @property
    def response_xml(self) -> str: ...
    @property
    def warnings(self) -> Sequence[str]: ...


class InsiTry(Protocol):
    @property
    def given_name_sent(self) -> str | None: ...
    @property
    def result(self) -> InsiAnswer: ...


class TraitsSearch(Protocol):
    @property
    def attempts(self) -> Sequence[InsiTry]: ...
    @property
    def matched_given_name(self) -> str | None: ...
    @property
    def final(self) -> InsiAnswer: ...


class InsiPort(Protocol):
    """INSi's two operations; raises UpstreamUnavailable / UpstreamTimeout / UpstreamError."""

    def search_by_traits(
        self,
        birth_name: str,
        given_names: Sequence[str],
        sex: str,
        birth_date: date | str,
        birth_place: str | None = None,
    ) -> TraitsSearch: ...

    def search_by_carte_vitale(
        self,
        matricule13: str,
        key: str,
        birth_name: str | None = None,
        birth_date: date | str | None = None,
        birth_rank: str | None = None,
    ) -> InsiAnswer: ...
