"""The pairs CSV of the batch deduplication, written from the scored columns.

A million records keep about a million pairs: building a ScoredPair (ten contributions) per pair
and formatting it field by field cost more than the scoring itself. Here each distinct
(field, level, weight) token is formatted once and the explanations are concatenated column-wise;
the text is the one scoring.explain() gives for the same pair.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import numpy.typing as npt

from matching.batch import ScoredArrays
from matching.evidence import evidence_names
from matching.features import in_background
from matching.fields import FIELD_LEVELS, FIELDS
from matching.prepared import IntArray
from matching.rules import rule_names
from matching.scoring import BANDS, EVIDENCE_SHIFT

ObjArray = npt.NDArray[np.object_]
OUTPUT_HEADER = ("left_id", "right_id", "score", "decision", "explanation")


def _field_tokens(
    name: str, levels: npt.NDArray[np.int8], weights: npt.NDArray[np.float64]
) -> ObjArray:
    """The " field=level(+w.w)" text per pair; "" where the level is missing, as in explain()."""
    out = np.full(len(levels), "", dtype=object)
    for level in np.unique(levels).tolist():
        if level == 0:
            continue
        rows = np.flatnonzero(levels == level)
        values, inverse = np.unique(weights[rows], return_inverse=True)
        label = f" {name}={FIELD_LEVELS[name][level]}("
        # Python's round() then format, as ScoredPair and explain() do.
        texts = np.array([f"{label}{round(w, 3):+.1f})" for w in values.tolist()], dtype=object)
        out[rows] = texts[inverse.reshape(-1)]
    return out


def _csv_field(value: str) -> str:
    """A field as csv.writer (excel dialect, minimal quoting) writes it."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def explanations(arrays: ScoredArrays, scores: list[float]) -> list[str]:
    """scoring.explain() of every kept pair as a CSV field, from the columns.

    Field tokens hold no comma or quote; only a list of several rules does, so the quoting a
    CSV writer would add is decided per rule set instead of scanning every text.
    """
    prior = f" prior({round(arrays.prior, 3):+.1f}) "
    heads = [
        f"{s:.1f} {BANDS[b]}:{prior}" for s, b in zip(scores, arrays.bands.tolist(), strict=True)
    ]
    tokens = [
        _field_tokens(name, arrays.levels[:, j], arrays.weights[:, j])
        for j, name in enumerate(FIELDS)
    ]
    # explain() puts the first present field right after the prior, the others after a space.
    first = np.ones(len(arrays.levels), dtype=bool)
    for column in tokens:
        present = column != ""
        column[present & first] = np.array([t[1:] for t in column[present & first]], dtype=object)
        first &= ~present
    tails = {int(f): _tail(int(f)) for f in np.unique(arrays.flags).tolist()}
    flags = arrays.flags.tolist()
    opening = ['"' if "," in tails[f] else "" for f in flags]
    closing = [tails[f] + ('"' if "," in tails[f] else "") for f in flags]
    columns = [opening, heads, *(t.tolist() for t in tokens), closing]
    return list(map("".join, zip(*columns, strict=True)))


def _tail(flags: int) -> str:
    """The " | rules: ..." and " | evidence: ..." ends of explain() for one flags value."""
    rules, evidence = rule_names(flags), evidence_names(flags >> EVIDENCE_SHIFT)
    text = " | rules: " + ",".join(rules) if rules else ""
    return text + (" | evidence: " + ",".join(evidence) if evidence else "")


def write_pairs(path: str | Path, ids: list[str], arrays: ScoredArrays, workers: int = 1) -> None:
    """Pairs CSV sorted by score (best first), then by the two ids; the bytes csv.writer writes.

    With several workers a forked process formats and writes the first half of the rows
    meanwhile.
    """
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    rounded = np.array([round(s, 3) for s in arrays.scores.tolist()])
    order = np.lexsort((id_rank[arrays.right], id_rank[arrays.left], -rounded))
    joined = "".join(ids)
    fields = list(map(_csv_field, ids)) if any(c in joined for c in ',"\r\n') else ids

    def lines(rows: IntArray) -> str:
        part = _rows(arrays, rows)
        scores = rounded[rows].tolist()
        pick = fields.__getitem__
        return "".join(
            map(
                "{},{},{},{},{}\r\n".format,
                map(pick, part.left.tolist()),
                map(pick, part.right.tolist()),
                map("{:.3f}".format, scores),
                map(BANDS.__getitem__, part.bands.tolist()),
                explanations(part, scores),
            )
        )

    def write_head() -> None:
        text = lines(order[:half])
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(OUTPUT_HEADER)
            handle.write(text)

    # The forked process writes the header and the first half itself: the text it formats
    # never crosses the pipe (pickled, copied and written again here).
    half = len(order) // 2 if workers > 1 else len(order)
    with in_background(write_head, half, workers > 1) as head:
        rest = lines(order[half:])
        head()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        handle.write(rest)


def _rows(arrays: ScoredArrays, rows: IntArray) -> ScoredArrays:
    """The kept pairs at ``rows``, in that order."""
    return ScoredArrays(
        left=arrays.left[rows],
        right=arrays.right[rows],
        scores=arrays.scores[rows],
        bands=arrays.bands[rows],
        levels=arrays.levels[rows],
        weights=arrays.weights[rows],
        flags=arrays.flags[rows],
        prior=arrays.prior,
    )
