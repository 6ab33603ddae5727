"""SOCLE_ENV=production: start-up refuses every unsafe default, each with its own message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from referentials.app import create_app
from referentials.core.production import UnsafeSettings, is_loopback_host, problems
from referentials.core.settings import InsiSettings, SchedulerSettings, Settings
from tests.conftest import FIXTURES, ROOT

SECRET = "s" * 40


def safe(tmp_path: Path) -> Settings:
    """Settings a production deployment would use (nothing unsafe left)."""
    return Settings(
        env="production",
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        base_url="https://socle.example-region.fr",
        session_secret=SECRET,
        secure_cookies=True,
        load_demo_data=False,
        fixtures_dir=FIXTURES,
        insi=InsiSettings(
            endpoint="https://insi.example/ServiceIdentiteCertifiee",
            mock_enabled=False,
            accept_test_oids=False,
        ),
        scheduler=SchedulerSettings(
            enabled=False,
            rpps_source="https://annuaire.example/extract.zip",
            finess_source="https://finess.example/etalab.csv",
        ),
    )


def test_development_accepts_the_embedded_defaults() -> None:
    assert problems(Settings()) == []


def test_production_lists_every_unsafe_default_at_once() -> None:
    found = problems(Settings(env="production"))
    named = [p.split(" ")[0] for p in found]
    assert named == [
        "SOCLE_INSI__MOCK_ENABLED",
        "SOCLE_INSI__ENDPOINT",
        "SOCLE_INSI__ACCEPT_TEST_OIDS",
        "SOCLE_LOAD_DEMO_DATA",
        "SOCLE_SCHEDULER__RPPS_SOURCE",
        "SOCLE_SCHEDULER__FINESS_SOURCE",
        "SOCLE_SESSION_SECRET",
        "SOCLE_BASE_URL",
        "SOCLE_SECURE_COOKIES",
    ]


def test_a_safe_production_configuration_starts(tmp_path: Path) -> None:
    settings = safe(tmp_path)
    assert problems(settings) == []
    app = create_app(settings)
    assert not any(getattr(r, "path", "").startswith("/mock/insi") for r in app.routes)


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"bootstrap_api_key": "sk_bootstrap_left_in_place"}, "SOCLE_BOOTSTRAP_API_KEY"),
        ({"base_url": "https://127.0.0.1:8443"}, "SOCLE_BASE_URL"),
        ({"base_url": "https://localhost"}, "SOCLE_BASE_URL"),
        ({"base_url": "http://socle.example-region.fr"}, "SOCLE_BASE_URL"),
        ({"session_secret": "short"}, "SOCLE_SESSION_SECRET"),
        ({"secure_cookies": False}, "SOCLE_SECURE_COOKIES"),
        ({"load_demo_data": True}, "SOCLE_LOAD_DEMO_DATA"),
    ],
)
def test_each_unsafe_setting_is_named(
    tmp_path: Path, change: dict[str, object], setting: str
) -> None:
    settings = safe(tmp_path).model_copy(update=change)
    found = problems(settings)
    assert len(found) == 1 and found[0].startswith(setting)
    with pytest.raises(UnsafeSettings) as refused:
        create_app(settings)
    assert refused.value.problems == found


@pytest.mark.parametrize(
    ("insi", "setting"),
    [
        ({"mock_enabled": True}, "SOCLE_INSI__MOCK_ENABLED"),
        ({"endpoint": ""}, "SOCLE_INSI__ENDPOINT"),
        ({"endpoint": "http://127.0.0.1:8000/mock/insi"}, "SOCLE_INSI__ENDPOINT"),
        ({"accept_test_oids": True}, "SOCLE_INSI__ACCEPT_TEST_OIDS"),
    ],
)
def test_each_unsafe_insi_setting_is_named(
    tmp_path: Path, insi: dict[str, object], setting: str
) -> None:
    base = safe(tmp_path)
    settings = base.model_copy(update={"insi": base.insi.model_copy(update=insi)})
    found = problems(settings)
    assert len(found) == 1 and found[0].startswith(setting)


def test_a_scheduled_source_inside_the_shipped_samples_is_refused(tmp_path: Path) -> None:
    base = safe(tmp_path)
    sample = str(FIXTURES / "directory" / "rpps_sample.txt")
    settings = base.model_copy(
        update={"scheduler": base.scheduler.model_copy(update={"rpps_source": sample})}
    )
    assert [p.split(" ")[0] for p in problems(settings)] == ["SOCLE_SCHEDULER__RPPS_SOURCE"]
    # A source whose schedule is turned off is never imported by the scheduler.
    off = settings.scheduler.model_copy(update={"rpps_cron": ""})
    assert problems(settings.model_copy(update={"scheduler": off})) == []


def test_loopback_hosts() -> None:
    assert all(map(is_loopback_host, ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback_host, ["10.0.0.4", "socle.example.fr", "0.0.0.0"]))


def test_socle_serve_refuses_to_start_and_lists_the_problems(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SOCLE_ENV": "production",
        "SOCLE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    result = subprocess.run(
        [sys.executable, "-m", "referentials.cli", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    output = " ".join(result.stderr.split())
    assert "refuses 9 setting(s)" in output
    for name in ("SOCLE_INSI__MOCK_ENABLED", "SOCLE_SESSION_SECRET", "SOCLE_SECURE_COOKIES"):
        assert name in output
    assert not (tmp_path / "x.db").exists()
