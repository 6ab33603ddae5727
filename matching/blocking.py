"""Blocking: short indexable keys per record, and candidate pairs as the union of several passes.

Each key is a short deterministic string; the identity service stores (pass, key) rows in an
indexed table and looks a new record up by its keys. The first character of a key is its
namespace: the used-name pass writes into the birth-name namespace on purpose, so that a married
name typed as a birth name meets the other record's birth name.
"""

from __future__ import annotations

from collections.abc import Sequence

from matching.blockpairs import (
    LOOSE_PASSES,
    PASSES,
    BlockingReport,
    CandidatePairs,
    PassStats,
    prepared_candidate_pairs,
)
from matching.config import MatchConfig
from matching.nir import matricule13
from matching.normalize import normalize_free_text
from matching.phonetics import fonem
from matching.prepared import (
    ADDRESS_PREFIX,
    given_features,
    prepare,
    split_date,
    surname_features,
)
from matching.records import IdentityRecord

__all__ = [
    "LOOSE_PASSES",
    "PASSES",
    "BlockingReport",
    "CandidatePairs",
    "PassStats",
    "blocking_keys",
    "candidate_pairs",
]


def blocking_keys(record: IdentityRecord) -> list[tuple[str, str]]:
    """(pass name, key) pairs of one record; a pass with a missing trait emits nothing."""
    _, _, _, bn_code, _ = surname_features(record.birth_name)
    used_code = surname_features(record.used_name)[3]
    first, first_phx, _, _ = given_features(record.first_names)
    first_code = fonem(first) if first else ""
    year, month, day = split_date(record.birth_date)
    date = f"{year:04d}{month:02d}{day:02d}" if year else ""
    place = record.birth_place_code.strip().upper()
    keys: list[tuple[str, str]] = []
    ins_values = {matricule13(v) for v in (record.ins, *record.ins_history)} - {""}
    keys.extend(("ins", "I" + m) for m in sorted(ins_values))
    if bn_code and year:
        keys.append(("birth_name_year", f"N{bn_code}{year}"))
    if first_phx and date:
        keys.append(("first_name_date", f"F{first_phx}{date}"))
    if date and place and place != "99999":
        keys.append(("date_place", f"D{date}{place}"))
    if bn_code and first:
        # Only the initial of the first given name: a compound cut or a typo keeps it.
        keys.append(("names", f"B{bn_code}|{first[0]}"))
    if bn_code and first_code and year:
        low, high = sorted((bn_code, first_code))
        keys.append(("swapped_names", f"S{low}|{high}{year}"))
    if used_code and year and used_code != bn_code:
        keys.append(("used_name_year", f"N{used_code}{year}"))
    return keys + _wide_keys(record, bn_code, first, first_phx, date, place, year)


def _wide_keys(
    record: IdentityRecord,
    bn_code: str,
    first: str,
    first_phx: str,
    date: str,
    place: str,
    year: int,
) -> list[tuple[str, str]]:
    """Passes that tolerate an error in a name, or in the date, at the cost of wider blocks."""
    keys: list[tuple[str, str]] = []
    if place and place != "99999" and year:
        keys.append(("place_year", f"P{place}{year}"))
    if place and place != "99999" and first_phx:
        keys.append(("first_name_place", f"G{first_phx}{place}"))
    if date and (bn_code or first):
        # Initials in sorted order survive typos, phonetic spellings and a name inversion.
        initials = "".join(sorted((bn_code[:1], first[:1])))
        keys.append(("date_initials", f"T{date}{initials}"))
    glued = surname_features(record.birth_name)[0]
    if len(glued) >= 3 and len(first) >= 3:
        # No date at all: catches a wrong or replaced birth date together with a name typo.
        keys.append(("name_prefixes", f"X{glued[:3]}{first[:3]}"))
    postcode = "".join(ch for ch in record.postcode if ch.isalnum())
    if date and postcode:
        keys.append(("date_postcode", f"C{date}{postcode}"))
    address = normalize_free_text(record.address).replace(" ", "")
    living = normalize_free_text(record.city) or postcode
    if len(address) >= ADDRESS_PREFIX and living:
        keys.append(("address", f"A{living}|{address[:ADDRESS_PREFIX]}"))
    return keys


def candidate_pairs(
    records: Sequence[IdentityRecord], config: MatchConfig | None = None
) -> tuple[CandidatePairs, BlockingReport]:
    """Union of the pairs of every pass, with per-pass counts and a per-key cap."""
    return prepared_candidate_pairs(prepare(records), config or MatchConfig())
