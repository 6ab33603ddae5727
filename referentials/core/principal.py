"""Who is calling: a key's client and scopes (or the system itself for jobs)."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES: tuple[str, ...] = (
    "identity:read",
    "identity:write",
    "identity:merge",
    "directory:read",
    "ror:read",
    "admin",
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its client and what it may do."""

    key_id: int | None
    client_name: str
    finess: str | None
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def label(self) -> str:
        return f"key:{self.key_id}:{self.client_name}" if self.key_id else self.client_name


SYSTEM = Principal(key_id=None, client_name="system", finess=None, scopes=frozenset(SCOPES))
