"""Production mode: start-up refuses settings that are safe on a laptop and unsafe in service.

``SOCLE_ENV=production`` turns the check on; every problem is reported at once, one line each,
naming the setting and what to do. Development (the default) keeps the embedded conveniences:
the mock INSi, demo identities, sample extracts, a random session secret.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlparse

from referentials.core.settings import Settings

MOCK_PATH = "/mock/insi"
MIN_SECRET_CHARS = 32
SAMPLE_SOURCES = {
    "rpps": "SOCLE_SCHEDULER__RPPS_SOURCE",
    "finess": "SOCLE_SCHEDULER__FINESS_SOURCE",
}


class UnsafeSettings(RuntimeError):
    """Production start-up refused; ``problems`` holds one message per unsafe setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"SOCLE_ENV=production refuses {len(problems)} setting(s):\n{lines}")


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (names other than localhost are not resolved)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _insi(settings: Settings) -> list[str]:
    insi, out = settings.insi, []
    if insi.mock_enabled:
        out.append(
            "SOCLE_INSI__MOCK_ENABLED is true: the mock INSi teleservice (fictitious INS) "
            "would be mounted; set it to false"
        )
    endpoint = insi.endpoint.strip()
    if not endpoint:
        out.append(
            "SOCLE_INSI__ENDPOINT is empty: INSi calls would go to the embedded mock; "
            "set the teleservice's https URL"
        )
    elif MOCK_PATH in endpoint or urlparse(endpoint).scheme != "https":
        out.append("SOCLE_INSI__ENDPOINT must be the real teleservice's https URL, not the mock")
    if insi.accept_test_oids:
        out.append(
            "SOCLE_INSI__ACCEPT_TEST_OIDS is true: INS of the test and demo OIDs "
            "(1.2.250.1.213.1.4.10, .4.11) would be accepted; set it to false"
        )
    return out


def _data(settings: Settings) -> list[str]:
    out = []
    if settings.load_demo_data:
        out.append(
            "SOCLE_LOAD_DEMO_DATA is true: demo identities and sample directories would be "
            "loaded into an empty base; set it to false"
        )
    fixtures = settings.fixtures_dir.resolve()
    crons = {"rpps": settings.scheduler.rpps_cron, "finess": settings.scheduler.finess_cron}
    sources = {"rpps": settings.scheduler.rpps_source, "finess": settings.scheduler.finess_source}
    for source, name in SAMPLE_SOURCES.items():
        location = sources[source].strip()
        shipped = not location or (
            "://" not in location and Path(location).resolve().is_relative_to(fixtures)
        )
        if crons[source].strip() and shipped:
            out.append(
                f"{name} is {'empty' if not location else 'a shipped sample'}: the scheduler "
                f"would re-import the sample {source} extract; set the extract's URL or path "
                f"(or an empty SOCLE_SCHEDULER__{source.upper()}_CRON)"
            )
    return out


def _web(settings: Settings) -> list[str]:
    out = []
    if len(settings.session_secret) < MIN_SECRET_CHARS:
        out.append(
            f"SOCLE_SESSION_SECRET is {'empty' if not settings.session_secret else 'too short'}: "
            f"set a random value of at least {MIN_SECRET_CHARS} characters, the same on "
            "every instance (otherwise logins end at each restart)"
        )
    if settings.bootstrap_api_key:
        out.append(
            "SOCLE_BOOTSTRAP_API_KEY is set: create named admin keys (socle apikey create), "
            "revoke the bootstrap key and remove the setting"
        )
    base = urlparse(settings.base_url)
    if base.scheme != "https" or is_loopback_host(base.hostname or "localhost"):
        out.append(
            f"SOCLE_BASE_URL is {settings.base_url!r}: it names published FHIR identifier "
            "systems and links; set the public https URL of the service"
        )
    if settings.notify.allow_plain_http:
        out.append(
            "SOCLE_NOTIFY__ALLOW_PLAIN_HTTP is true: webhooks would carry notifications over "
            "plain HTTP; set it to false (receivers use https)"
        )
    if not settings.secure_cookies:
        out.append(
            "SOCLE_SECURE_COOKIES is false: the session cookie would travel over plain HTTP; "
            "set it to true (serve behind TLS)"
        )
    return out


def problems(settings: Settings) -> list[str]:
    """Every unsafe setting for production, one message each (empty in development)."""
    if settings.env != "production":
        return []
    return [*_insi(settings), *_data(settings), *_web(settings)]


def check(settings: Settings) -> None:
    """Refuse to start in production with any unsafe setting (all of them listed at once)."""
    found = problems(settings)
    if found:
        raise UnsafeSettings(found)
