"""Blocking: short indexable keys per record, and candidate pairs as the union of several passes.

Each key is a short deterministic string; the identity service stores (pass, key) rows in an
indexed table and looks a new record up by its keys. The first character of a key is its
namespace: the used-name pass writes into the birth-name namespace on purpose, so that a married
name typed as a birth name meets the other record's birth name.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.config import MatchConfig
from matching.nir import matricule13
from matching.phonetics import fonem
from matching.prepared import IntArray, given_features, split_date, surname_features
from matching.records import IdentityRecord

PASSES: tuple[str, ...] = (
    "ins",
    "birth_name_year",
    "first_name_date",
    "date_place",
    "names",
    "swapped_names",
    "used_name_year",
    "place_year",
    "first_name_place",
    "date_initials",
    "name_prefixes",
    "date_postcode",
)

# Passes whose keys hold no birth date: wide blocks, so a tighter cap and window.
LOOSE_PASSES: tuple[str, ...] = ("names", "name_prefixes", "first_name_place")


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
    return keys


@dataclass(slots=True)
class PassStats:
    """Keys emitted, pairs generated, and pairs no earlier pass had found."""

    keys: int = 0
    pairs: int = 0
    new_pairs: int = 0


@dataclass(slots=True)
class BlockingReport:
    """Per-pass counts and how many over-common blocks fell back to a sorted window."""

    passes: dict[str, PassStats] = field(default_factory=lambda: {p: PassStats() for p in PASSES})
    capped_blocks: int = 0
    capped_records: int = 0
    total_pairs: int = 0


@dataclass(slots=True)
class CandidatePairs:
    """Record positions of each candidate pair, left < right."""

    left: IntArray
    right: IntArray

    def __len__(self) -> int:
        return len(self.left)


def _entries(records: Sequence[IdentityRecord]) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(key hash, record position, pass index, secondary rank) of every distinct key entry.

    Keys are grouped through their 64-bit hash, which is stable within one process: a million
    records emit over ten million keys, and a dict of the key strings alone would cost gigabytes.
    """
    keys = array("q")
    rows = array("q")
    passes = array("q")
    order = {name: i for i, name in enumerate(PASSES)}
    secondary: list[str] = []
    for position, rec in enumerate(records):
        seen: set[str] = set()
        for name, key in blocking_keys(rec):
            if key in seen:
                continue
            seen.add(key)
            keys.append(hash(key))
            rows.append(position)
            passes.append(order[name])
        secondary.append(surname_features(rec.birth_name)[3] + rec.birth_date)
    rank = np.unique(np.array(secondary, dtype=object), return_inverse=True)[1]
    return (
        np.frombuffer(keys, dtype=np.int64).copy(),
        np.frombuffer(rows, dtype=np.int64).copy(),
        np.frombuffer(passes, dtype=np.int64).copy(),
        rank.astype(np.int64).reshape(-1),
    )


def _block_pairs(
    starts: IntArray, sizes: IntArray, caps: IntArray, windows: IntArray
) -> tuple[IntArray, IntArray]:
    """Entry positions (a, b) of pairs: all pairs in small blocks, a sliding window in big ones."""
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    small = (sizes >= 2) & (sizes <= caps)
    for size in np.unique(sizes[small]):
        group_starts = starts[small & (sizes == size)]
        a, b = np.triu_indices(int(size), 1)
        lefts.append((group_starts[:, None] + a[None, :]).ravel())
        rights.append((group_starts[:, None] + b[None, :]).ravel())
    # Over-common key: entries are sorted by a secondary key, each meets its next `window`.
    big = sizes > caps
    if big.any():
        counts = sizes[big]
        ends = np.repeat(starts[big] + counts, counts)
        reach = np.repeat(windows[big], counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        positions = np.repeat(starts[big], counts) + offsets
        for offset in range(1, int(windows.max(initial=0)) + 1):
            keep = (positions + offset < ends) & (offset <= reach)
            lefts.append(positions[keep])
            rights.append(positions[keep] + offset)
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


def _pair_entries(
    records: Sequence[IdentityRecord], cfg: MatchConfig, report: BlockingReport
) -> tuple[IntArray, IntArray, IntArray]:
    """Record positions and pass of every generated pair, before the union."""
    keys, rows, passes, rank = _entries(records)
    for index, name in enumerate(PASSES):
        report.passes[name].keys = int((passes == index).sum())
    order = np.lexsort((rows, rank[rows] if len(rows) else rows, keys))
    keys, rows, passes = keys[order], rows[order], passes[order]
    boundaries = np.flatnonzero(np.diff(keys)) + 1 if len(keys) else np.zeros(0, np.int64)
    starts = np.concatenate(([0], boundaries)).astype(np.int64) if len(keys) else boundaries
    sizes = np.diff(np.append(starts, len(keys))).astype(np.int64)
    loose = np.isin(passes[starts], [PASSES.index(p) for p in LOOSE_PASSES])
    caps = np.where(loose, min(cfg.loose_block_cap, cfg.block_cap), cfg.block_cap)
    windows = np.where(loose, min(cfg.loose_window, cfg.fallback_window), cfg.fallback_window)
    report.capped_blocks = int((sizes > caps).sum())
    report.capped_records = int(sizes[sizes > caps].sum())
    a, b = _block_pairs(starts, sizes, caps, windows)
    del keys, starts, sizes, caps, windows
    left, right = np.minimum(rows[a], rows[b]), np.maximum(rows[a], rows[b])
    # A pair found through a used name and a birth name belongs to the used-name pass.
    pair_pass = np.maximum(passes[a], passes[b]).astype(np.int8)
    keep = left != right
    return left[keep], right[keep], pair_pass[keep]


def candidate_pairs(
    records: Sequence[IdentityRecord], config: MatchConfig | None = None
) -> tuple[CandidatePairs, BlockingReport]:
    """Union of the pairs of every pass, with per-pass counts and a per-key cap."""
    cfg = config or MatchConfig()
    report = BlockingReport()
    left, right, pair_pass = _pair_entries(records, cfg, report)
    n = max(len(records), 1)
    code = left * n + right
    del left, right
    for index, name in enumerate(PASSES):
        report.passes[name].pairs = int((pair_pass == index).sum())
    # Sorted by pass then code, the first occurrence of a code is the earliest pass finding it.
    order = np.lexsort((code, pair_pass))
    code, pair_pass = code[order], pair_pass[order]
    del order
    unique_codes, first = np.unique(code, return_index=True)
    del code
    found_by = pair_pass[first]
    for index, name in enumerate(PASSES):
        report.passes[name].new_pairs = int((found_by == index).sum())
    report.total_pairs = len(unique_codes)
    return CandidatePairs(left=unique_codes // n, right=unique_codes % n), report
