"""Fellegi–Sunter model: m and u per field level, prior, and term-frequency tables (JSON file)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from matching.blocking import candidate_pairs
from matching.compare import Levels, compare
from matching.config import MatchConfig
from matching.em import expectation_maximisation, level_frequencies
from matching.fields import FIELD_LEVELS, FIELDS, level_index
from matching.prepared import Prepared, given_features, prepare, surname_features
from matching.records import IdentityRecord

FORMAT_VERSION = 1


@dataclass(slots=True)
class MatchModel:
    """m[field][level] = P(level | same person), u[field][level] = P(level | different people).

    prior is the share of candidate pairs that are matches; tf maps a field to the relative
    frequency of each (glued, normalised) value, for the term-frequency adjustment.
    """

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float = 0.05
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        for name in FIELDS:
            size = len(FIELD_LEVELS[name])
            if len(self.m.get(name, ())) != size or len(self.u.get(name, ())) != size:
                raise ValueError(f"model field {name!r} must have {size} levels")

    @property
    def prior_weight(self) -> float:
        """Prior log2-odds that a candidate pair is a match."""
        return math.log2(self.prior / (1.0 - self.prior))

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

    def u_exact(self, name: str) -> float:
        """u of the exact level, the baseline a term frequency is compared with."""
        return self.u[name][level_index(name, "exact")]

    def to_json(self) -> dict[str, object]:
        """Plain JSON-able form, with level names so the file can be read by a person."""
        return {
            "format": FORMAT_VERSION,
            "description": self.description,
            "prior": self.prior,
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
        return cls(m=m, u=u, prior=float(prior), tf=tf, description=str(data.get("description")))

    def save(self, path: str | Path) -> None:
        """Write the model as JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MatchModel:
        """Read a model written by save()."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


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
    return MatchModel(
        m=m, u=u, prior=prior, tf=term_frequencies(records), description="trained by EM"
    )


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
