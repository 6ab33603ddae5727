"""How one kind of directory entity is stored: the description the bulk importer follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SnapshotSpec:
    """How one kind of entity is stored: its table, key, fields and child rows."""

    entity_type: str
    table: str
    key: str
    fields: tuple[str, ...]
    child_table: str | None = None
    child_fields: tuple[str, ...] = ()
    # Columns that are not text, by SQL kind ("date", "float").
    kinds: dict[str, str] = field(default_factory=dict)
    # Stored columns computed from the parsed ones, only for entities that get staged.
    derive: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
    # A first load into an empty table may skip staging (no typed columns to convert).
    direct_load: bool = False
    # Warnings about an entity that is being stored (e.g. a failed check digit).
    check: Callable[[tuple[Any, ...]], list[str]] | None = None

    @property
    def stage(self) -> str:
        return f"stage_{self.entity_type}"

    @property
    def stage_children(self) -> str:
        return f"stage_{self.entity_type}_children"

    @property
    def stage_removed(self) -> str:
        return f"stage_{self.entity_type}_removed"
