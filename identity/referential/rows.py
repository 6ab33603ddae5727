"""Identities read as plain rows: what an answer shows, without an ORM object behind it.

A match answers with up to fifty identities it only reads: loading them as mapped objects
(identity map, attribute instrumentation, a second query for their local ids) cost more than
scoring them. These rows carry the same attributes the presenter reads of an ``Identity``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from identity.referential.models import attribute_set_of, first_name_list_of


@dataclass(frozen=True, slots=True)
class SourceRow:
    """An establishment's local id (IPP) of an identity."""

    finess: str
    local_id: str


@dataclass(frozen=True, slots=True)
class IdentityRow:
    """An identity's stored columns (but its former matricules), and its local ids in order."""

    id: int
    birth_name: str
    first_names: str
    first_name: str
    sex: str
    birth_date: date
    birth_date_estimated: bool
    birth_place_code: str | None
    used_name: str | None
    used_first_name: str | None
    status: str
    attributes: str
    ins_matricule: str | None
    ins_oid: str | None
    ins_history: list[dict[str, Any]] | None
    ins_retrieved_at: datetime | None
    ins_collection_method: str | None
    validation_document: str | None
    validation_date: date | None
    active: bool
    merged_into_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    sources: list[SourceRow] = field(default_factory=list)

    @property
    def attribute_set(self) -> frozenset[str]:
        return attribute_set_of(self.attributes)

    @property
    def first_name_list(self) -> list[str]:
        return first_name_list_of(self.first_names)
