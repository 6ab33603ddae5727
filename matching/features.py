"""Feature tables computed once per distinct value, then spread to records by integer indexing.

A million identities hold about 170k distinct birth names, 200k given-name lists and 35k birth
dates: normalising and encoding each distinct value once, instead of each record, removes most of
the Python work. The largest table is built in a forked process meanwhile (two cores).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar, cast

import numpy as np
import numpy.typing as npt

from matching.normalize import (
    given_name_forms,
    glue,
    name_parts,
    split_given_names,
    surname_core,
)
from matching.phonetics import fonem, phonex
from matching.phonetics_batch import fonem_many, phonex_many
from matching.runtime import fork_available

IntArray = npt.NDArray[np.int64]
H = TypeVar("H", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")
# Below this many distinct values a second process costs more (fork, pickling) than it saves.
PARALLEL_MIN = 20_000


def distinct_codes(values: Sequence[H], index: dict[H, int] | None = None) -> IntArray:
    """Position of each value in `index` (filled in first-seen order; pass one to share it).

    The per-value loops run inside dict and map (C), not as Python bytecode: this is called on
    every column of a million rows.
    """
    table: dict[H, int] = {} if index is None else index
    new = [v for v in dict.fromkeys(values) if v not in table]
    table.update(zip(new, range(len(table), len(table) + len(new)), strict=True))
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


@dataclass(slots=True)
class Factor(Generic[H]):
    """A column as codes into its distinct values: each distinct value is encoded once."""

    codes: IntArray
    values: list[H]


def factorise(values: Sequence[H]) -> Factor[H]:
    """Factor of a list of values (distinct values in first-seen order)."""
    index: dict[H, int] = {}
    return Factor(distinct_codes(values, index), list(index))


@contextmanager
def helper_process(allowed: bool) -> Iterator[ProcessPoolExecutor | None]:
    """One forked helper process for the batch CLI, or None (then everything runs here).

    Forked before the data is loaded, it shares no large heap: a fork taken later would make
    both processes copy every page whose reference counts they touch.
    """
    if not allowed or not fork_available():
        yield None
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(int).result()  # fork now, while this process is small
        yield pool


# The job a forked helper runs. It is inherited through the fork rather than pickled, so a job
# may close over the prepared columns of a million records at no cost.
_INHERITED: list[Callable[[], object]] = []


def _run_inherited() -> object:
    return _INHERITED[0]()


@contextmanager
def in_background(
    job: Callable[[], R], size: int, allowed: bool = True
) -> Iterator[Callable[[], R]]:
    """Start job() in a forked process when allowed and `size` makes it worth it; yield a
    getter of its result. The caller does other work meanwhile, so both cores are busy."""
    if not allowed or size < PARALLEL_MIN or not fork_available():
        yield job
        return
    context = multiprocessing.get_context("fork")
    _INHERITED[:] = [job]
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            future = pool.submit(_run_inherited)
            yield cast(Callable[[], R], future.result)
    finally:
        _INHERITED.clear()


SurnameForms = tuple[str, str, tuple[str, ...]]


def _surname_forms(value: str) -> SurnameForms:
    """(glued, core, parts) of a surname: its features but the phonetic codes."""
    glued = glue(value)
    core = surname_core(value) or glued
    parts = name_parts(value)
    return glued, core, parts if len(parts) > 1 else ()


@lru_cache(maxsize=262_144)
def surname_features(value: str) -> tuple[str, str, tuple[str, ...], str, str]:
    """(glued, core, parts, FONEM of core, Phonex of core) of a surname."""
    glued, core, parts = _surname_forms(value)
    return glued, core, parts, fonem(core), phonex(core)


@lru_cache(maxsize=262_144)
def given_features(names: tuple[str, ...]) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """(first given name glued, its Phonex, whole forms, parts) of a given-name list."""
    normalised = split_given_names(names)
    if not normalised:
        return "", "", (), ()
    wholes, parts = given_name_forms(normalised)
    first = glue(normalised[0])
    return first, phonex(first), tuple(sorted(wholes)), tuple(sorted(parts))


def _plain(value: str) -> bool:
    """Only the letters A-Z: normalised, glued, without particle or part already."""
    return value.isascii() and value.isalpha() and value.isupper()


def _batch_forms(value: str) -> SurnameForms:
    if _plain(value):
        # What _surname_forms gives a plain name, without its rewrites and splits.
        return value, value, ()
    return _surname_forms(value)


def _plain_given(names: tuple[str, ...]) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """given_features of plain names: each name is its own glued form, no hyphenated parts."""
    wholes = set(names)
    wholes.update(map(str.__add__, names, names[1:]))
    return names[0], phonex(names[0]), tuple(sorted(wholes)), ()


def _given_row(
    names: tuple[str, ...],
) -> tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], str]:
    if names and all(map(_plain, names)):
        first_features = _plain_given(names)
    else:
        first_features = given_features.__wrapped__(names)
    first = first_features[0]
    return first_features, fonem(first) if first else ""


def surname_table(
    values: Sequence[str], cached: bool = False
) -> list[tuple[str, str, tuple[str, ...], str, str]]:
    """surname_features of each distinct surname; ``cached`` goes through the process's cache
    (callers that prepare many overlapping batches: a bulk load's chunks share most names).

    Uncached, the phonetic codes of all the cores are computed at once (phonetics_batch).
    """
    if cached:
        return [surname_features(v) for v in values]
    glued, cores, parts = zip(*map(_batch_forms, values), strict=True) if values else ((),) * 3
    return list(zip(glued, cores, parts, fonem_many(cores), phonex_many(cores), strict=True))


_cached_given_row = lru_cache(maxsize=262_144)(_given_row)


def given_table(
    values: Sequence[tuple[str, ...]], cached: bool = False
) -> list[tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], str]]:
    """(given_features, FONEM of the first given name) of each distinct given-name list."""
    row = _cached_given_row if cached else _given_row
    return [row(v) for v in values]


def string_rank(values: Sequence[str]) -> IntArray:
    """Rank of each value in string order (equal strings share a rank)."""
    order = {v: i for i, v in enumerate(sorted(set(values)))}
    return np.fromiter((order[v] for v in values), dtype=np.int64, count=len(values))
