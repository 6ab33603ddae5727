"""Model file round trip, the built-in model and training."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from matching.fields import FIELD_LEVELS, level_index
from matching.model import MatchModel, ModelFileError, default_model, train
from matching.records import IdentityRecord
from tests.matching.conftest import person


def test_default_model_is_sane() -> None:
    model = default_model()
    table = model.weight_table()
    for j, field in enumerate(FIELD_LEVELS):
        assert table[j, 0] == 0.0  # missing carries no evidence
        assert table[j, level_index(field, "exact") if "exact" in FIELD_LEVELS[field] else 1] > 0
        assert table[j, FIELD_LEVELS[field].index("different")] < 0
    assert 0 < model.prior < 1
    assert model.tf["birth_name"]["MARTIN"] > model.u_exact("birth_name")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = default_model()
    path = tmp_path / "model.json"
    model.save(path)
    loaded = MatchModel.load(path)
    assert loaded.weight_table() == pytest.approx(model.weight_table(), abs=1e-3)
    assert loaded.prior == pytest.approx(model.prior)
    data = json.loads(path.read_text())
    assert set(data["fields"]["birth_date"]) == set(FIELD_LEVELS["birth_date"])


def test_a_stale_model_file_fails_loudly(tmp_path: Path) -> None:
    data = default_model().to_json()
    del data["fields"]["sex"]["different"]  # type: ignore[index]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError) as refused:
        MatchModel.load(path)
    assert str(refused.value) == (
        f"{path}: not a model of this version (no 'different' in it); "
        "write one with `socle matching fit`"
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot be read (No such file or directory)"),
        (b"{ fields", "not a JSON file (Expecting property name"),
        (b"\xff\xfe", "not a JSON file ('utf-8' codec can't decode"),
        (b"[1, 2]", "not a model of this version (the file is not a JSON object)"),
        (b'{"fields": {}}', "not a model of this version (no 'birth_name' in it)"),
        (b'{"fields": []}', "not a model of this version (model file: 'fields' must be an object)"),
    ],
)
def test_a_file_that_is_not_a_model_says_what_is_wrong_with_it(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError) as refused:
        MatchModel.load(path)
    assert str(refused.value).startswith(f"{path}: {says}")


def population(size: int, seed: int) -> list[IdentityRecord]:
    """Distinct people plus one slightly altered copy of every third one."""
    rng = random.Random(seed)
    syllables = ["MAR", "BER", "DU", "LA", "TIN", "NARD", "BOIS", "ROUX", "VAL", "GIR", "FON"]
    firsts = ["JEAN", "MARIE", "PAUL", "ANNE", "LUC", "SOPHIE", "LOUIS", "CLAIRE", "HUGO"]
    out: list[IdentityRecord] = []
    for i in range(size):
        name = "".join(rng.choice(syllables) for _ in range(3))
        date = f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(10, 28)}"
        rec = person(
            id=f"P{i}",
            birth_name=name,
            first_names=(rng.choice(firsts),),
            birth_date=date,
            birth_place_code=f"{rng.randint(10, 90)}{rng.randint(100, 400)}",
            ins="",
            address="",
            phone="",
            postcode="",
            city="",
        )
        out.append(rec)
        if i % 3 == 0:
            out.append(replace(rec, id=f"D{i}", birth_place_code=""))
    return out


def test_train_learns_that_agreement_means_match() -> None:
    model = train(population(900, 5), u_pairs=20_000, iterations=15)
    table = model.weight_table()
    date = list(FIELD_LEVELS).index("birth_date")
    assert table[date, level_index("birth_date", "exact")] > 5
    assert table[date, level_index("birth_date", "different")] < 0
    assert 0 < model.prior < 1
    assert model.description == "trained by EM"
