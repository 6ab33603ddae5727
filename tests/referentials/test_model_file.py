"""A matching model file that cannot be used stops Socle at its start, saying what is wrong.

Started anyway, every creation and every match would answer 500 (the model is read when the
first one is scored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.duplicates import service as duplicates
from matching.model import ModelFileError
from referentials.app import create_app
from referentials.core.settings import MatchingSettings, Settings
from tests.cli import socle
from tests.conftest import FIXTURES, free_port


@pytest.fixture()
def stale_model(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    path.write_text('{"format": 1, "fields": {}}')
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--workers", "1"],
        ["serve", "--workers", "2"],
        ["mllp", "--workers", "2"],
        [
            "import",
            "identities",
            str(FIXTURES / "identity" / "establishment_a.csv"),
            "--finess",
            "1",
        ],
        ["identities", "scan"],
    ],
)
def test_a_command_refuses_a_model_file_it_cannot_use(
    tmp_path: Path, stale_model: Path, command: list[str]
) -> None:
    port = str(free_port())
    env = {
        "SOCLE_MATCHING__MODEL_FILE": str(stale_model),
        "SOCLE_PORT": port,
        "SOCLE_HL7__MLLP_PORT": port,
    }
    result = socle(f"sqlite:///{tmp_path}/x.db", *command, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    output = " ".join(result.stderr.split())
    assert (
        f"error: SOCLE_MATCHING__MODEL_FILE: {stale_model}: not a model of this version "
        "(no 'birth_name' in it); write one with `socle matching fit`"
    ) in output
    # Refused before anything was opened or started.
    assert not (tmp_path / "x.db").exists()
    assert "Traceback" not in result.stderr


def test_an_app_built_on_a_model_file_it_cannot_use_fails_at_once(
    tmp_path: Path, stale_model: Path
) -> None:
    # As when uvicorn builds it directly, without the command's check.
    before = duplicates.current()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/x.db",
        matching=MatchingSettings(model_file=str(stale_model)),
    )
    with pytest.raises(ModelFileError, match="not a model of this version"):
        create_app(settings)
    assert duplicates.current() == before, "the settings in use were replaced all the same"
