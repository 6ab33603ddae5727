"""Candidate pairs of a prepared batch: the blocking passes computed on the integer columns.

The passes and their conditions are those of blocking.blocking_keys (the string keys the identity
service stores); here a key is a tuple of interned ids, so a million records need no key string,
no hashing and no second per-record Python pass. Keys are grouped by sorting packed integers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matching.config import MatchConfig
from matching.prepared import IntArray, Prepared

Mask = npt.NDArray[np.bool_]
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
    "address",
)
# Passes whose keys hold no birth date: wide blocks, so a tighter cap and window.
LOOSE_PASSES: tuple[str, ...] = ("names", "name_prefixes", "first_name_place", "address")
# The used-name pass shares the birth-name key space: a married name typed as a birth name meets
# the other record's birth name. Every other pass has its own key space.
NAMESPACE = {name: name for name in PASSES} | {"used_name_year": "birth_name_year"}
SPACES = frozenset(NAMESPACE.values())
PACK_LIMIT = 1 << 62


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


@dataclass(slots=True)
class _Entries:
    """Key entries of one key space: record row, pass index and key (a tuple of id columns)."""

    rows: list[IntArray] = field(default_factory=list)
    passes: list[IntArray] = field(default_factory=list)
    keys: list[list[IntArray]] = field(default_factory=list)


def _dense(values: IntArray) -> IntArray:
    return np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _pack(parts: list[IntArray]) -> IntArray:
    """One int64 per row, equal exactly when every part is equal (parts are >= 0)."""
    key = parts[0].astype(np.int64)
    for part in parts[1:]:
        width = int(part.max(initial=0)) + 1
        if (int(key.max(initial=0)) + 1) * width >= PACK_LIMIT:
            key = _dense(key)
        key = key * width + part
    return key


def _pass_keys(c: dict[str, IntArray]) -> list[tuple[str, Mask, list[IntArray]]]:
    """(pass, records emitting a key, key columns) of every pass but the INS one."""
    year, place, bn, first = c["year"], c["place"], c["bn_fonem"], c["first_id"]
    date = year * 10_000 + c["month"] * 100 + c["day"]
    dated, placed, phx = year > 0, place > 0, c["first_phonex"]
    low_name, high_name = np.minimum(bn, c["first_fonem"]), np.maximum(bn, c["first_fonem"])
    low_initial = np.minimum(c["bn_initial"], c["first_initial"])
    high_initial = np.maximum(c["bn_initial"], c["first_initial"])
    used, prefix, first_prefix = c["used_fonem"], c["bn_prefix"], c["first_prefix"]
    living = np.where(c["city_id"] > 0, c["city_id"], c["postcode"])
    return [
        ("birth_name_year", (bn > 0) & dated, [bn, year]),
        ("first_name_date", (phx > 0) & dated, [phx, date]),
        ("date_place", dated & placed, [date, place]),
        # Only the initial of the first given name: a compound cut or a typo keeps it.
        ("names", (bn > 0) & (first > 0), [bn, c["first_initial"]]),
        ("swapped_names", (low_name > 0) & dated, [low_name, high_name, year]),
        ("used_name_year", (used > 0) & dated & (used != bn), [used, year]),
        ("place_year", placed & dated, [place, year]),
        ("first_name_place", placed & (phx > 0), [phx, place]),
        # Initials in sorted order survive typos, phonetic spellings and a name inversion.
        ("date_initials", dated & ((bn > 0) | (first > 0)), [date, low_initial, high_initial]),
        # No date at all: catches a wrong or replaced birth date together with a name typo.
        ("name_prefixes", (prefix > 0) & (first_prefix > 0), [prefix, first_prefix]),
        ("date_postcode", dated & (c["postcode"] > 0), [date, c["postcode"]]),
        # No name, no date: a record whose names and date were all mistyped keeps its address.
        # Households share one, hence a loose pass (tight cap and window).
        ("address", (c["address_prefix"] > 0) & (living > 0), [living, c["address_prefix"]]),
    ]


def _entries(prep: Prepared, chosen: Collection[str] = SPACES) -> dict[str, _Entries]:
    """Key entries of the chosen key spaces; a record emits a given key at most once."""
    c = prep.codes
    spaces: dict[str, _Entries] = {}
    ins = [c["ins"], *(c[f"hist{i}"] for i in range(2))] if "ins" in chosen else []
    seen: list[IntArray] = []
    for value in ins:
        entries = spaces.setdefault("ins", _Entries())
        fresh = value > 0
        for earlier in seen:
            fresh &= value != earlier
        seen.append(value)
        rows = np.flatnonzero(fresh)
        entries.rows.append(rows)
        entries.passes.append(np.zeros(len(rows), dtype=np.int64))
        entries.keys.append([value[rows]])
    for name, mask, parts in _pass_keys(c):
        if NAMESPACE[name] not in chosen:
            continue
        entries = spaces.setdefault(NAMESPACE[name], _Entries())
        rows = np.flatnonzero(mask)
        entries.rows.append(rows)
        entries.passes.append(np.full(len(rows), PASSES.index(name), dtype=np.int64))
        entries.keys.append([part[rows] for part in parts])
    return spaces


def _sorted_space(entries: _Entries, secondary: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(keys, rows, passes) of one key space sorted by key, then secondary rank, then row."""
    parts = [np.concatenate(column) for column in zip(*entries.keys, strict=True)]
    keys = _dense(_pack(parts))
    rows, passes = np.concatenate(entries.rows), np.concatenate(entries.passes)
    rank = secondary[rows]
    row_bits = int(rows.max(initial=0)).bit_length()
    rank_bits = int(rank.max(initial=0)).bit_length()
    if int(keys.max(initial=0)).bit_length() + rank_bits + row_bits <= 63:
        order = np.argsort((keys << (rank_bits + row_bits)) | (rank << row_bits) | rows)
    else:
        order = np.lexsort((rows, rank, keys))
    return keys[order], rows[order], passes[order]


def _block_pairs(
    starts: IntArray, sizes: IntArray, caps: IntArray, windows: IntArray
) -> tuple[IntArray, IntArray]:
    """Entry positions (a, b) of pairs: all pairs in small blocks, a sliding window in big ones."""
    lefts: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    rights: list[IntArray] = [np.zeros(0, dtype=np.int64)]
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
    return np.concatenate(lefts), np.concatenate(rights)


def _space_pairs(
    entries: _Entries, secondary: IntArray, cfg: MatchConfig, report: BlockingReport
) -> tuple[IntArray, IntArray, IntArray]:
    """(left, right, pass) of the pairs generated inside one key space."""
    keys, rows, passes = _sorted_space(entries, secondary)
    starts = np.flatnonzero(np.diff(keys, prepend=-1)).astype(np.int64)
    sizes = np.diff(np.append(starts, len(keys))).astype(np.int64)
    loose = np.isin(passes[starts], [PASSES.index(p) for p in LOOSE_PASSES])
    caps = np.where(loose, min(cfg.loose_block_cap, cfg.block_cap), cfg.block_cap)
    windows = np.where(loose, min(cfg.loose_window, cfg.fallback_window), cfg.fallback_window)
    prefix = passes[starts] == PASSES.index("name_prefixes")
    windows = np.where(prefix, np.minimum(windows, cfg.prefix_window), windows)
    address = passes[starts] == PASSES.index("address")
    windows = np.where(address, np.minimum(windows, cfg.address_window), windows)
    report.capped_blocks += int((sizes > caps).sum())
    report.capped_records += int(sizes[sizes > caps].sum())
    a, b = _block_pairs(starts, sizes, caps, windows)
    left, right = np.minimum(rows[a], rows[b]), np.maximum(rows[a], rows[b])
    # A pair found through a used name and a birth name belongs to the used-name pass.
    pair_pass = np.maximum(passes[a], passes[b])
    keep = left != right
    return left[keep], right[keep], pair_pass[keep]


def _secondary_rank(prep: Prepared) -> IntArray:
    """Order inside an over-common block: FONEM of the birth name (string order), then date."""
    c = prep.codes
    date = c["year"] * 10_000 + c["month"] * 100 + c["day"]
    return _dense(c["bn_fonem_rank"] * 100_000_000 + date)


@dataclass(slots=True)
class SpacePairs:
    """The pairs some key spaces generate, each packed with its pass (duplicates kept), and
    the counts of those spaces (keys per pass, capped blocks)."""

    codes: IntArray
    report: BlockingReport


def space_pairs(prep: Prepared, cfg: MatchConfig, chosen: Collection[str] = SPACES) -> SpacePairs:
    """Pairs of the chosen key spaces: spaces are independent, so two processes can each
    generate some of them; merge_pairs() gives the same result however they were split."""
    report = BlockingReport()
    secondary = _secondary_rank(prep) if prep.size else np.zeros(0, dtype=np.int64)
    codes: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    n = max(prep.size, 1)
    for entries in _entries(prep, chosen).values():
        for rows, passes in zip(entries.rows, entries.passes, strict=True):
            if len(passes):
                report.passes[PASSES[int(passes[0])]].keys += len(rows)
        left, right, pair_pass = _space_pairs(entries, secondary, cfg, report)
        # Pair code and pass in one int64: sorting it puts each pair's earliest pass first.
        codes.append(((left * n + right) << 4) | pair_pass)
    return SpacePairs(np.concatenate(codes), report)


def merge_pairs(parts: Sequence[SpacePairs], size: int) -> tuple[CandidatePairs, BlockingReport]:
    """Union of the pairs of every part, with per-pass counts (each pair's earliest pass)."""
    report = BlockingReport()
    for part in parts:
        for name, stats in part.report.passes.items():
            report.passes[name].keys += stats.keys
        report.capped_blocks += part.report.capped_blocks
        report.capped_records += part.report.capped_records
    n = max(size, 1)
    packed = np.sort(np.concatenate([part.codes for part in parts]))
    pair_pass, code = packed & 15, packed >> 4
    first = np.flatnonzero(np.diff(code, prepend=-1))
    counts = np.bincount(pair_pass, minlength=len(PASSES))
    found = np.bincount(pair_pass[first], minlength=len(PASSES))
    for index, name in enumerate(PASSES):
        report.passes[name].pairs = int(counts[index])
        report.passes[name].new_pairs = int(found[index])
    unique = code[first]
    report.total_pairs = len(unique)
    return CandidatePairs(left=unique // n, right=unique % n), report


def prepared_candidate_pairs(
    prep: Prepared, cfg: MatchConfig
) -> tuple[CandidatePairs, BlockingReport]:
    """Union of the pairs of every pass, with per-pass counts and a per-key cap."""
    return merge_pairs([space_pairs(prep, cfg)], prep.size)
