"""Which fields of a JSON feed were present and not read: one warning naming them all.

Paths name object keys with ``.`` and array items with ``[]`` (``pmej[].ege[].engagement``).
A subtree of which nothing is read is named once, at its top.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import IO, Any

import ijson

_BOUNDARY = re.compile(r"\.|\[\]")


def _prefixes(path: str) -> set[str]:
    out = set()
    for match in _BOUNDARY.finditer(path):
        out.add(path[: match.start()])
        if match.group() == "[]":
            out.add(path[: match.end()])
    return out


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True


class UnreadFields:
    """Counts, by path, the non-empty fields met that are outside ``read``."""

    def __init__(self, read: frozenset[str]) -> None:
        self.read = read
        self.parents = set().union(*(_prefixes(p) for p in read)) if read else set()
        self.counts: Counter[str] = Counter()

    def visit(self, value: Any, path: str) -> None:
        """Tally ``value`` (found at ``path``) and, below a read parent, its members."""
        if path in self.read:
            return
        if path in self.parents:
            if isinstance(value, dict):
                for key, member in value.items():
                    self.visit(member, f"{path}.{key}" if path else key)
                return
            if isinstance(value, list):
                for item in value:
                    self.visit(item, f"{path}[]")
                return
        if _present(value):
            self.counts[path] += 1

    def note(self, path: str) -> None:
        """Count a field known to be present without looking at it (a top-level key)."""
        self.counts[path] += 1

    def warning(self, name: str) -> str | None:
        """The warning naming every unread field with how often it held a value."""
        if not self.counts:
            return None
        listed = ", ".join(f"{path} ({n})" for path, n in sorted(self.counts.items()))
        return f"{name}: fields present and not read: {listed}"


def top_level_keys(stream: IO[bytes]) -> list[str]:
    """The keys of a JSON document's top-level object, read without building any value."""
    return [v for prefix, event, v in ijson.parse(stream) if not prefix and event == "map_key"]
