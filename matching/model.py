"""Fellegi–Sunter model: m and u per field level, prior, and term-frequency tables (JSON file)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from matching.blocking import candidate_pairs
from matching.calibration import cap_scores
from matching.compare import Levels, compare
from matching.config import MatchConfig
from matching.em import expectation_maximisation, level_frequencies
from matching.fields import FIELD_LEVELS, FIELDS, level_index
from matching.prepared import IntArray, Prepared, given_features, prepare, surname_features
from matching.records import IdentityRecord

FORMAT_VERSION = 1
DEFAULT_DUPLICATE_RATE = 0.5
DEFAULT_REFERENCE_SIZE = 100_000
# Bounds of an estimated duplicate rate: a file is not all duplicates, nor free of them.
RATE_BOUNDS = (0.005, 5.0)


class ModelFileError(ValueError):
    """A model file that cannot be used: unreadable, not JSON, or not a model of this version."""


@dataclass(slots=True)
class MatchModel:
    """m[field][level] = P(level | same person), u[field][level] = P(level | different people).

    prior is the share of candidate pairs that are matches (EM's starting point only);
    duplicate_rate is the expected number of other records of the same person per record, which
    with the referential's size gives the prior of a pair (prior_bits); reference_size is the size
    of the data it was fitted on; tf maps a field to the relative frequency of each (glued,
    normalised) value, for the term-frequency adjustment; capped maps a rule to the probability
    that a pair it keeps out of the match band is one person (calibration.capped_rates).
    """

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float = 0.05
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    description: str = ""
    duplicate_rate: float = DEFAULT_DUPLICATE_RATE
    reference_size: int = DEFAULT_REFERENCE_SIZE
    capped: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in FIELDS:
            size = len(FIELD_LEVELS[name])
            if len(self.m.get(name, ())) != size or len(self.u.get(name, ())) != size:
                raise ValueError(f"model field {name!r} must have {size} levels")

    def prior_bits(self, size: int = 0) -> float:
        """Prior log2-odds that two records of a referential of `size` records are one person.

        Each record has duplicate_rate others of the same person among size - 1: the prior of
        any pair shrinks as the referential grows, while u (from random pairs) and m do not.
        Blocking does not change it: the fields a blocking key agrees on are counted in the
        weights, with their u from random pairs.
        """
        n = max(size or self.reference_size, 2)
        prior = min(self.duplicate_rate / (n - 1), 0.5)
        return math.log2(prior / (1.0 - prior))

    def with_rate(self, rate: float) -> MatchModel:
        """The same model with another duplicate rate (bounded by RATE_BOUNDS)."""
        low, high = RATE_BOUNDS
        return replace(self, duplicate_rate=float(min(max(rate, low), high)))

    def weight_table(self) -> npt.NDArray[np.float64]:
        """log2(m/u) per field (rows) and level (columns); missing levels weigh 0."""
        width = max(len(v) for v in FIELD_LEVELS.values())
        table = np.zeros((len(FIELDS), width))
        for j, name in enumerate(FIELDS):
            m = np.clip(np.asarray(self.m[name]), 1e-9, 1.0)
            u = np.clip(np.asarray(self.u[name]), 1e-9, 1.0)
            table[j, : len(m)] = np.log2(m / u)
            table[j, 0] = 0.0
        return table

    def cap_scores(self) -> npt.NDArray[np.float64]:
        """Per rule (rules.RULES order), the score a pair it caps keeps at most."""
        return cap_scores(self.capped)

    def u_exact(self, name: str) -> float:
        """u of the exact level, the baseline a term frequency is compared with."""
        return self.u[name][level_index(name, "exact")]

    def to_json(self) -> dict[str, object]:
        """Plain JSON-able form, with level names so the file can be read by a person."""
        return {
            "format": FORMAT_VERSION,
            "description": self.description,
            "prior": self.prior,
            "duplicate_rate": self.duplicate_rate,
            "reference_size": self.reference_size,
            "capped": self.capped,
            "fields": {
                name: {
                    level: {"m": round(self.m[name][i], 6), "u": round(self.u[name][i], 8)}
                    for i, level in enumerate(FIELD_LEVELS[name])
                }
                for name in FIELDS
            },
            "tf": self.tf,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> MatchModel:
        """Inverse of to_json; unknown levels are an error, so a stale file fails loudly."""
        fields_data = data["fields"]
        if not isinstance(fields_data, dict):
            raise ValueError("model file: 'fields' must be an object")
        m = {f: [float(fields_data[f][lvl]["m"]) for lvl in FIELD_LEVELS[f]] for f in FIELDS}
        u = {f: [float(fields_data[f][lvl]["u"]) for lvl in FIELD_LEVELS[f]] for f in FIELDS}
        tf_data = data.get("tf") or {}
        if not isinstance(tf_data, dict):
            raise ValueError("model file: 'tf' must be an object")
        tf = {str(k): {str(a): float(b) for a, b in v.items()} for k, v in tf_data.items()}
        prior = data.get("prior", 0.05)
        if not isinstance(prior, int | float):
            raise ValueError("model file: 'prior' must be a number")
        rate = data.get("duplicate_rate", DEFAULT_DUPLICATE_RATE)
        size = data.get("reference_size", DEFAULT_REFERENCE_SIZE)
        if not isinstance(rate, int | float) or not isinstance(size, int | float):
            raise ValueError("model file: 'duplicate_rate' and 'reference_size' must be numbers")
        capped_data = data.get("capped") or {}
        if not isinstance(capped_data, dict):
            raise ValueError("model file: 'capped' must be an object")
        return cls(
            m=m,
            u=u,
            prior=float(prior),
            tf=tf,
            description=str(data.get("description")),
            duplicate_rate=float(rate),
            reference_size=int(size),
            capped={str(k): float(v) for k, v in capped_data.items()},
        )

    def save(self, path: str | Path) -> None:
        """Write the model as JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MatchModel:
        """Read a model written by save(); ModelFileError says what is wrong with another file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot be read ({exc.strerror})") from exc
        except ValueError as exc:  # not UTF-8, or not JSON
            raise ModelFileError(f"{path}: not a JSON file ({exc})") from exc
        try:
            if not isinstance(data, dict):
                raise ValueError("the file is not a JSON object")
            return cls.from_json(data)
        except KeyError as exc:
            raise ModelFileError(
                f"{path}: not a model of this version (no {exc} in it); "
                "write one with `socle matching fit`"
            ) from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"{path}: not a model of this version ({exc})") from exc


def default_model() -> MatchModel:
    """The built-in model shipped as package data (matching/default_model.json)."""
    text = resources.files("matching").joinpath("default_model.json").read_text("utf-8")
    return MatchModel.from_json(json.loads(text))


def sample_u(prep: Prepared, pairs: int = 300_000, seed: int = 7) -> dict[str, list[float]]:
    """u probabilities from uniformly random record pairs (almost all of them non-matches)."""
    rng = np.random.default_rng(seed)
    n = prep.size
    left = rng.integers(0, n, size=pairs)
    right = rng.integers(0, n, size=pairs)
    keep = left != right
    return level_frequencies(compare(prep, left[keep], right[keep]))


def deterministic_prior(levels: Levels) -> float:
    """Share of candidate pairs that rules alone call matches: same INS, or names + date equal."""
    same_ins = levels[:, FIELDS.index("ins")] == level_index("ins", "exact")
    names = (levels[:, FIELDS.index("birth_name")] == level_index("birth_name", "exact")) & (
        levels[:, FIELDS.index("first_names")] == level_index("first_names", "exact")
    )
    date = levels[:, FIELDS.index("birth_date")] == level_index("birth_date", "exact")
    return float(np.clip((same_ins | (names & date)).mean(), 1e-4, 0.9))


def train(
    records: Sequence[IdentityRecord],
    config: MatchConfig | None = None,
    start: MatchModel | None = None,
    u_pairs: int = 300_000,
    iterations: int = 25,
    seed: int = 7,
) -> MatchModel:
    """Fit u by random sampling and m by EM on the candidate pairs; TF tables from the data."""
    cfg = config or MatchConfig()
    base = start or default_model()
    prep = prepare(records)
    u = sample_u(prep, u_pairs, seed)
    pairs, _ = candidate_pairs(records, cfg)
    levels = compare(prep, pairs.left, pairs.right)
    prior = deterministic_prior(levels)
    m, _, prior = expectation_maximisation(levels, base.m, base.u, prior, iterations)
    # EM's share of matches among the candidate pairs, as other records per record.
    rate = 2.0 * prior * len(pairs) / max(len(records), 1)
    model = MatchModel(
        m=m, u=u, prior=prior, tf=term_frequencies(records), description="trained by EM"
    )
    return replace(model.with_rate(rate), reference_size=len(records))


def estimate_duplicate_rate(
    prep: Prepared, left: IntArray, right: IntArray, m: MatchModel
) -> float:
    """Other records of the same person per record, from the candidate pairs of a batch.

    Pairs agreeing exactly on birth name, first given name and birth date are nearly all
    matches; the model's m says which share of the matches agree so (P(rule | match)), so their
    count divided by that share estimates the matches the blocking reaches, without labels.
    """
    c = prep.codes
    same = np.ones(len(left), dtype=bool)
    for column in ("bn", "first_id", "year", "month", "day"):
        same &= (c[column][left] == c[column][right]) & (c[column][left] > 0)
    share = 1.0
    for name in ("birth_name", "first_names", "birth_date"):
        share *= m.m[name][level_index(name, "exact")]
    return 2.0 * float(same.sum()) / max(share, 1e-6) / max(prep.size, 1)


def term_frequencies(
    records: Sequence[IdentityRecord], top: int = 2000, min_count: int = 5
) -> dict[str, dict[str, float]]:
    """Relative frequencies of the frequent birth names and first given names.

    Rare values are left out: the adjustment matters for frequent names, and a model file should
    not carry a list of rare (identifying) names.
    """
    names = Counter(surname_features(r.birth_name)[0] for r in records if r.birth_name)
    firsts = Counter(given_features(r.first_names)[0] for r in records if r.first_names)
    total = max(len(records), 1)
    return {
        field: {k: round(v / total, 7) for k, v in counter.most_common(top) if v >= min_count}
        for field, counter in (("birth_name", names), ("first_names", firsts))
    }
