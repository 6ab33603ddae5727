"""ZFD, the PAM France segment that says where the sender got an identity from (§6.18).

Socle keeps it as the sender's provenance of the local id: collection mode (ZFD-5), INSi query
date (ZFD-6), identity proof (ZFD-7) and its expiry (ZFD-8). It is a statement of the sender,
so it never raises a status: only Socle's own INSi call and document check do (RNIV).
A value outside the PAM France tables is dropped with a warning naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# ZFD-5 (PAM France 2.10+): manual entry, Vitale card, INSi teleservice, barcode, RFID.
COLLECTION_MODES = ("SM", "CV", "INSI", "CB", "RFID")
# ZFD-7: AN CC CE CM CN CS LE PA PC (2.10), TC (2.10.x), AV (2.11.1), DC AC IE (2.11.2).
PROOFS = ("AN", "CC", "CE", "CM", "CN", "CS", "LE", "PA", "PC", "TC", "AV", "DC", "AC", "IE")


@dataclass(frozen=True)
class Zfd:
    """The provenance fields of one ZFD segment; None when absent or dropped."""

    birth_date_corrected: bool | None = None
    collection_mode: str | None = None
    insi_queried_on: date | None = None
    proof: str | None = None
    proof_expiry: date | None = None

    @property
    def empty(self) -> bool:
        return self == Zfd()


def _ts_date(value: str, field: str, warnings: list[str]) -> date | None:
    """The day of an HL7 TS (YYYYMMDD[HHMM[SS]][+ZZZZ]); None with a warning when not a date."""
    if not value:
        return None
    digits = value[:8]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        warnings.append(f"{field}: not a date: ignored")
        return None


def _coded(value: str, table: tuple[str, ...], field: str, warnings: list[str]) -> str | None:
    code = value.strip().upper()
    if not code:
        return None
    if code not in table:
        warnings.append(f"{field}: '{code}' is not a PAM France code: ignored")
        return None
    return code


def read_zfd(fields: list[str]) -> tuple[Zfd | None, list[str]]:
    """ZFD from its fields 1..8 (first components, unescaped); the warnings it raised."""
    values = (fields + [""] * 8)[:8]
    warnings: list[str] = []
    corrected = values[3].strip().upper()
    zfd = Zfd(
        birth_date_corrected={"Y": True, "N": False}.get(corrected),
        collection_mode=_coded(values[4], COLLECTION_MODES, "ZFD-5", warnings),
        insi_queried_on=_ts_date(values[5].strip(), "ZFD-6", warnings),
        proof=_coded(values[6], PROOFS, "ZFD-7", warnings),
        proof_expiry=_ts_date(values[7].strip(), "ZFD-8", warnings),
    )
    return (None if zfd.empty else zfd), warnings
