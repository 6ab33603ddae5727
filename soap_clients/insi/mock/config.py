"""Configuration of the mock INSi teleservice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The CNs of the organisation certificates INSi accepts (spec §3, transport).
ACCEPTED_CLIENT_CNS = frozenset({"INSI-AUTO", "INSI-MANU"})


@dataclass(frozen=True)
class MockConfig:
    """How the mock behaves.

    known_idam: accepted software authorisation numbers (ContexteLPS/LPS/IDAM).
    population_file: optional JSON or CSV of generated persons served besides the personas
        (format: soap_clients.insi.mock.population_file).
    unavailable / technical_error: answer every call with that Receiver fault.
    latency_ms: delay before answering a POST.
    require_client_cn: demand a client certificate CN of INSI-AUTO or INSI-MANU, read from
        the ASGI TLS extension or, behind a TLS-terminating proxy, from client_cn_header.
    """

    known_idam: Sequence[str] = field(default_factory=tuple)
    population_file: Path | str | None = None
    unavailable: bool = False
    technical_error: bool = False
    latency_ms: int = 0
    require_client_cn: bool = False
    client_cn_header: str | None = None

    def __post_init__(self) -> None:
        # Accept any iterable (a list from the CLI) but keep the dataclass hashable.
        object.__setattr__(self, "known_idam", tuple(self.known_idam))
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
