"""Accuracy report of a pairs CSV against a truth column: per band, calibration, false matches.

Used by matching_bench.py. The pairs CSV is the one `socle dedupe` writes (left_id, right_id,
score, decision, explanation); the score is the posterior log2-odds of a match.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass

# The comparison pattern of a pair: the levels of the identity fields, as in the explanation.
PATTERN_FIELDS = ("birth_name", "first_names", "sex", "birth_date", "birth_place", "ins")


@dataclass(frozen=True, slots=True)
class Pair:
    """One output row with its truth."""

    left: str
    right: str
    score: float
    band: str
    explanation: str
    correct: bool

    @property
    def probability(self) -> float:
        return 1.0 / (1.0 + math.pow(2.0, -max(min(self.score, 60.0), -60.0)))


def pattern(explanation: str) -> str:
    """Identity-field levels and the rules of an explanation (missing fields left out)."""
    head, _, _ = explanation.partition(" | ")
    levels = dict(token.split("(")[0].split("=", 1) for token in head.split(" ") if "=" in token)
    text = " ".join(f"{f}={levels[f]}" for f in PATTERN_FIELDS if f in levels)
    rules = [part for part in explanation.split(" | ")[1:] if part.startswith("rules:")]
    return text + (" [" + rules[0] + "]" if rules else "")


def per_band(pairs: list[Pair], true_pairs: int) -> dict[str, dict[str, float]]:
    """Pairs, precision and recall of each band, and of match + review together."""
    out: dict[str, dict[str, float]] = {}
    for label, bands in (("match", {"match"}), ("review", {"review"}), ("match+review", None)):
        chosen = [p for p in pairs if bands is None or p.band in bands]
        correct = sum(p.correct for p in chosen)
        precision = correct / len(chosen) if chosen else 1.0
        recall = correct / true_pairs if true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "pairs": len(chosen),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }
    return out


def calibration(pairs: list[Pair], groups: int = 10) -> list[dict[str, float]]:
    """Predicted (mean probability) and observed match rate per score decile of the output."""
    ordered = sorted(pairs, key=lambda p: p.score)
    rows = []
    for g in range(groups):
        part = ordered[len(ordered) * g // groups : len(ordered) * (g + 1) // groups]
        if not part:
            continue
        rows.append(
            {
                "decile": g + 1,
                "pairs": len(part),
                "score_from": round(part[0].score, 1),
                "score_to": round(part[-1].score, 1),
                "predicted": round(sum(p.probability for p in part) / len(part), 4),
                "observed": round(sum(p.correct for p in part) / len(part), 4),
            }
        )
    return rows


# Bounds of the predicted-probability bins: deciles of the output put nine tenths of the pairs
# at a probability of 1, so the review band shows better by probability.
PROBABILITY_BINS = (0.0, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0)


def calibration_by_probability(pairs: list[Pair]) -> list[dict[str, float]]:
    """Predicted (mean probability) and observed match rate per bin of predicted probability."""
    rows = []
    for low, high in itertools.pairwise(PROBABILITY_BINS):
        part = [
            p
            for p in pairs
            if low <= p.probability < high or (high == 1.0 and p.probability == 1.0)
        ]
        if part:
            rows.append(
                {
                    "from": low,
                    "to": high,
                    "pairs": len(part),
                    "predicted": round(sum(p.probability for p in part) / len(part), 4),
                    "observed": round(sum(p.correct for p in part) / len(part), 4),
                }
            )
    return rows


def false_match_patterns(pairs: list[Pair], top: int = 8) -> list[tuple[int, str]]:
    """The most frequent comparison patterns among the wrong pairs of the match band."""
    wrong = Counter(pattern(p.explanation) for p in pairs if p.band == "match" and not p.correct)
    return [(count, text) for text, count in wrong.most_common(top)]


def review_true_patterns(pairs: list[Pair], top: int = 8) -> list[tuple[int, str]]:
    """The most frequent patterns among the true pairs left in review (match recall lost)."""
    kept = Counter(pattern(p.explanation) for p in pairs if p.band == "review" and p.correct)
    return [(count, text) for text, count in kept.most_common(top)]


def print_report(result: dict[str, object]) -> None:
    """Human-readable report of what report() computed."""
    bands = result["bands"]
    assert isinstance(bands, dict)
    for label, values in bands.items():
        print(f"  {label:13s} " + "  ".join(f"{k} {v}" for k, v in values.items()))
    print("  calibration (output pairs by score decile): predicted vs observed")
    for row in result["calibration"]:  # type: ignore[attr-defined]
        print(
            f"    {row['decile']:2d} [{row['score_from']:6.1f},{row['score_to']:6.1f}]"
            f" n={row['pairs']:7d} predicted {row['predicted']:.4f} observed {row['observed']:.4f}"
        )
    print("  calibration by predicted probability: predicted vs observed")
    for row in result["calibration_by_probability"]:  # type: ignore[attr-defined]
        print(
            f"    [{row['from']:<5}, {row['to']:<5}) n={row['pairs']:7d}"
            f" predicted {row['predicted']:.4f} observed {row['observed']:.4f}"
        )
    for key, title in (
        ("false_match_patterns", "false matches by comparison pattern"),
        ("review_true_patterns", "true pairs left in review, by pattern"),
    ):
        print(f"  {title}:")
        for count, text in result[key]:  # type: ignore[attr-defined]
            print(f"    {count:6d}  {text}")


def report(pairs: list[Pair], true_pairs: int) -> dict[str, object]:
    """Everything the benchmark prints about accuracy, as JSON-able data."""
    return {
        "true_pairs": true_pairs,
        "bands": per_band(pairs, true_pairs),
        "calibration": calibration(pairs),
        "calibration_by_probability": calibration_by_probability(pairs),
        "false_match_patterns": false_match_patterns(pairs),
        "review_true_patterns": review_true_patterns(pairs),
    }
