"""Settings read from the environment (prefix ``SOCLE_``, nested sections with ``__``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from referentials.core.finess import is_finess


def _cron(value: str) -> str:
    # Checked when read, not when the scheduler starts: a wrong expression there stopped the
    # scheduler's thread while the service went on serving, and no import ever ran again.
    if value.strip():
        from apscheduler.triggers.cron import CronTrigger  # only when one is set

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(
                f"not a cron expression (minute hour day month weekday): {exc}"
            ) from exc
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"not a time zone of the tz database (e.g. Europe/Paris): {value!r}"
        ) from exc
    return value


# A cron expression (empty: the job does not run).
Cron = Annotated[str, AfterValidator(_cron)]


class InsiSettings(BaseModel):
    """Where and how Socle calls the INSi teleservice."""

    # Empty means "the mock mounted in this process at /mock/insi".
    endpoint: str = ""
    idam: str = "SOCLE-IDAM-0001"
    software_name: str = "SOCLE"
    software_version: str = "0.1.0"
    timeout_seconds: float = 10.0
    retries: int = 2
    # INSi calls waiting at once per process, in threads of their own (not the requests' pool);
    # further searches wait for a place without holding a thread or a database connection.
    max_concurrent_calls: int = Field(default=16, ge=1)
    # `socle serve` runs the INSi searches in a process of their own, beside the request
    # workers (referentials/insi_process.py); false: each worker runs those it receives.
    own_process: bool = True
    # Set by `socle serve` for its workers: the Unix socket of that process. Empty: the
    # searches run in the process that receives them.
    delegate_socket: str = ""
    client_cert: str = ""
    client_key: str = ""
    ca_bundle: str = ""
    # INSEE's published file of commune events (v_mvt_commune_AAAA.csv) for the birth-place
    # coherence check of INSi answers; empty: the shipped extract.
    cog_moves_file: str = ""
    # Mock teleservice switches (only used by the embedded mock).
    mock_enabled: bool = True
    mock_population_file: str = ""
    mock_unavailable: bool = False
    mock_technical_error: bool = False
    mock_latency_ms: int = 0
    mock_known_idam: list[str] = Field(default_factory=lambda: ["SOCLE-IDAM-0001"])
    # INS of the test and demo OIDs (1.2.250.1.213.1.4.10, .4.11) in INSi answers; production
    # refuses true (an answer carrying one is then refused and nothing is stored).
    accept_test_oids: bool = True


class MatchingSettings(BaseModel):
    """Duplicate detection (scores are posterior log2-odds; thresholds are probabilities)."""

    # A model trained with the matching library (`socle matching fit`); empty: the built-in one.
    model_file: str = ""
    # Automatic-match and review thresholds, as probabilities that a pair is one person.
    match_probability: float = 0.95
    review_probability: float = 1e-4
    # Automatic merges for one narrow rule: same qualified INS and same strict traits.
    auto_merge: bool = False


class RorTargets(BaseModel):
    """Completeness targets per sector (DGOS e-parcours instruction, annex 3); None: no target."""

    sanitaire: float | None = 0.95
    medico_social: float | None = 0.60
    social: float | None = 0.30
    coordination: float | None = None
    ville: float | None = None


class RorSettings(BaseModel):
    """The ROR sync (national FHIR API), completeness targets and e-parcours indicators."""

    # Empty: no scheduled sync from the API (files can still be imported).
    fhir_base_url: str = ""
    fhir_token: str = ""
    # The four Ror-Profil-Utilisateur-* / Ror-Role-Metier-* headers the national API requires.
    fhir_headers: dict[str, str] = Field(default_factory=dict)
    fhir_page_size: int = 500
    fhir_timeout_seconds: float = 60.0
    # TRE_R30 region code: only this region's resources are fetched (empty: every region).
    region: str = ""
    # Scheduled delta sync from the API (only when fhir_base_url is set).
    sync_cron: Cron = "30 4 * * *"
    targets: RorTargets = Field(default_factory=RorTargets)
    # E-parcours usage targets: health establishments, imaging and laboratories, coordination.
    target_identity_health: float = 0.80
    target_identity_imaging_lab: float = 0.60
    target_identity_coordination: float = 1.0


class DirectorySettings(BaseModel):
    """RPPS+ and FINESS imports: when a file is refused, where downloads go."""

    # A file with more malformed lines than this share is refused and nothing changes.
    max_bad_line_share: float = 0.01
    # A file that would deactivate more than this share of the directory looks truncated.
    max_removed_share: float = 0.5
    download_dir: Path = Path("data/downloads")
    download_retries: int = 3
    download_backoff_seconds: float = 2.0
    download_timeout_seconds: float = 120.0
    lock_ttl_seconds: int = 600
    # A first RPPS+ load of a plain file this large or larger is parsed in worker processes,
    # one per core up to this many (1: parsed in the importing process).
    parse_workers: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 4))
    parallel_min_bytes: int = 64 << 20
    # Embedded default: import the sample extracts of fixtures/directory into an empty base.
    load_fixtures: bool = True


class SchedulerSettings(BaseModel):
    """Scheduled imports (cron expressions; an empty source means the shipped sample)."""

    enabled: bool = True
    timezone: Annotated[str, AfterValidator(_timezone)] = "Europe/Paris"
    rpps_cron: Cron = "30 3 * * *"
    rpps_source: str = ""
    finess_cron: Cron = "0 4 * * *"
    finess_source: str = ""
    # The FINESS+ activities file (path or URL) imported with finess_source; never guessed.
    finess_activities_source: str = ""
    # The elected scheduler renews its lease every third of this; a dead one is replaced after it.
    leader_lease_seconds: float = 15.0


class Hl7Settings(BaseModel):
    """HL7 v2 ADT intake (IHE PAM France) over MLLP and how senders map to establishments."""

    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    # MSH-3/MSH-4 of the ACKs Socle sends back.
    receiving_application: str = "SOCLE"
    receiving_facility: str = "SOCLE"
    # PID-3 assigning authority (namespace id or universal id/OID) or MSH-4 sending facility
    # -> the establishment's FINESS. A value that is itself a FINESS needs no entry.
    authorities: dict[str, str] = Field(default_factory=dict)
    # An ITI-31 movement (A01, A03...) for a local id Socle does not know creates a PROV
    # identity from its PID, except for these establishments (FINESS): they always send A28
    # first, so an unknown id there is an error (AE) rather than a new patient.
    movements_never_create: list[str] = Field(default_factory=list)

    # A frame larger than this is refused (AR) without being parsed.
    max_message_bytes: int = 1_000_000
    # An idle MLLP connection is closed after this many seconds.
    idle_timeout_seconds: float = 300.0
    # TLS: the listener's certificate chain and key (PEM). Set, the listener speaks TLS only
    # and demands a client certificate signed by a CA of tls_client_ca (PEM bundle).
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    # Client certificate -> API key id (the key gives the client, its FINESS and scopes):
    # "sha256:<certificate fingerprint, hex>" or "cn:<subject common name>".
    cert_keys: dict[str, int] = Field(default_factory=dict)
    # Plain TCP, allowed on a loopback address only (a local interface engine):
    # MSH-4 sending facility (namespace id or universal id) -> API key id.
    facility_keys: dict[str, int] = Field(default_factory=dict)
    # Notifications Socle sends (A28/A31/A40/A47): the assigning authority of Socle's own ids
    # in PID-3/MRG-1 (CX-4 namespace, and the region's OID for them when it has one).
    notify_authority: str = "SOCLE"
    notify_authority_oid: str = ""

    @field_validator("authorities")
    @classmethod
    def _finess_values(cls, value: dict[str, str]) -> dict[str, str]:
        # A mistyped FINESS would file that sender's local ids under an establishment that
        # does not exist.
        for key, finess in value.items():
            if not is_finess(finess):
                raise ValueError(f"{key!r} maps to {finess!r}, which is not a FINESS number")
        return value

    @field_validator("movements_never_create")
    @classmethod
    def _finess_items(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not is_finess(v)]
        if bad:
            raise ValueError(f"not FINESS numbers: {', '.join(map(repr, bad))}")
        return value


class LimitsSettings(BaseModel):
    """Request limits: body sizes and a per-key rate limit (token bucket)."""

    # Largest request body accepted anywhere (bytes); 413 above it.
    max_body_bytes: int = 1_048_576
    # Tighter caps for some path prefixes (uploads), e.g. {"/api/v1/hl7v2": 262144}.
    path_max_body_bytes: dict[str, int] = Field(default_factory=lambda: {"/api/v1/hl7v2": 262_144})
    # Matches (REST and FHIR $match) and REST creations one served process runs at once; the
    # others wait for a thread (referentials/core/caller.py).
    matching_threads: int = Field(default=2, ge=1)
    # The other routes' work one served process runs at once (its request threads); the
    # others wait in the event loop. Unset: 8 on SQLite, 24 on PostgreSQL, whose round trips
    # more threads overlap (referentials/core/threads.py).
    request_threads: int | None = Field(default=None, ge=1)
    # Sustained requests per minute allowed to one key; 0 turns the rate limit off.
    rate_per_minute: int = 6000
    # Requests one key may send in a burst above the sustained rate.
    rate_burst: int = 600
    # Requests without a known key (none, unknown or revoked) share one bucket per client
    # address: this sustained rate and burst. A key is known once found among the stored keys.
    unknown_rate_per_minute: int = 60
    unknown_burst: int = 30
    # Pages' sign-in: failures allowed per user name and per client address within the window,
    # then every attempt is refused (even a right password) for the lock-out delay.
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_window_seconds: int = 900
    login_lockout_seconds: int = 300


class AuditSettings(BaseModel):
    """Retention of the access records (who read which identity)."""

    # Access records older than this are purged by the daily job; 0 keeps them forever.
    access_retention_days: int = 365
    # When the daily purge runs (cron, scheduler time zone).
    purge_cron: Cron = "15 2 * * *"


class ApiKeySettings(BaseModel):
    """When the operators hear of API keys that end (referentials/core/key_expiry.py)."""

    # A key expiring within this many days is warned of by the daily check and by
    # `socle apikey list`.
    expiry_warning_days: int = Field(default=14, ge=1)
    # When the daily check runs (cron, scheduler time zone; empty: only when elected).
    expiry_check_cron: Cron = "0 8 * * *"


class PscSettings(BaseModel):
    """Pro Santé Connect (OpenID Connect) sign-in for the pages; off without a discovery_url."""

    # The provider's discovery document, e.g. PSC's
    # https://auth.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration
    discovery_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: str = "openid scope_all"
    # Asked of the provider (PSC: eidas1, the e-CPS / CPS level).
    acr_values: str = "eidas1"
    # When set, an ID token whose acr differs is refused.
    required_acr: str = ""
    # Local password logins beside PSC; false: only PSC signs people in.
    local_login: bool = True
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.discovery_url and self.client_id)


class OAuthSettings(BaseModel):
    """OAuth 2 client credentials (private_key_jwt) for integrators, beside API keys."""

    # Lifetime of the access tokens Socle signs.
    token_ttl_seconds: int = 300
    # A signing key older than this is replaced by a new one (the old stays published a while).
    key_rotation_days: int = 30
    # A client assertion may live this long at most (SMART Backend Services: 5 minutes).
    assertion_max_seconds: int = 300
    # A client's JWKS URL is fetched again after this many seconds.
    jwks_cache_seconds: int = 300
    jwks_timeout_seconds: float = 5.0


class NotifySettings(BaseModel):
    """Notification delivery (subscriptions, webhooks and the other channels)."""

    # Run the delivery worker inside `socle serve` (in the elected leader); production runs
    # `socle notify` instead and turns this off.
    embedded: bool = True
    # Defaults of a new subscription.
    max_attempts: int = 12
    concurrency: int = 8
    timeout_seconds: float = 10.0
    # Exponential backoff of a failed delivery: base * 2^(failures-1), capped, with jitter.
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 600.0
    # The circuit breaker opens after this many consecutive failures, for cooldown seconds.
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 15.0
    # How long the previous secret stays valid after a rotation.
    secret_overlap_hours: float = 24.0
    # How often the worker looks for new events.
    poll_seconds: float = 0.2
    # Deliveries read per fan-out and per send batch.
    batch_size: int = 200
    leader_lease_seconds: float = 15.0
    # Webhooks over plain http to other hosts than this one (production refuses it).
    allow_plain_http: bool = False


class Settings(BaseSettings):
    """Every setting of the service; override with ``SOCLE_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="SOCLE_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    # "production" refuses unsafe settings at start-up (referentials/core/production.py).
    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./data/socle.db"
    # PostgreSQL only: the schema to work in (search_path); empty means the server default.
    database_schema: str = ""
    # Connections one served process opens at most (the requests' thread pool runs 40; beyond
    # this, requests wait for a connection). PostgreSQL keeps them open once opened: size it so
    # that instances x workers x this stays under the server's max_connections (100 by default).
    database_max_connections: int = Field(default=40, ge=2)
    bootstrap_api_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    load_demo_data: bool = True
    fixtures_dir: Path = Path("fixtures")
    log_level: str = "INFO"
    # Signs the pages' session cookie; empty: a random one per process (logins end at restart).
    session_secret: str = ""
    # Send the session cookie over HTTPS only (set it behind TLS).
    secure_cookies: bool = False
    # A bearer token that may read /metrics only (for a scraper); empty: admin keys only.
    metrics_token: str = ""
    # `socle serve` prepares the database once, then tells its worker processes not to.
    prepare_on_start: bool = True
    # `socle serve` sets it: each served process moves what it built at start out of the
    # garbage collector's reach (see referentials/core/serving.py).
    freeze_heap_on_start: bool = False
    insi: InsiSettings = Field(default_factory=InsiSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    ror: RorSettings = Field(default_factory=RorSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)
    hl7: Hl7Settings = Field(default_factory=Hl7Settings)
    psc: PscSettings = Field(default_factory=PscSettings)
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
