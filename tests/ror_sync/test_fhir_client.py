"""The paged FHIR client against our own FHIR server over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.db import session_scope
from referentials.core.settings import RorSettings, Settings
from ror_sync import jobs
from ror_sync.client import REGION_TAG_SYSTEM
from ror_sync.errors import RorApiError
from ror_sync.models import RorOffer
from tests.conftest import FIXTURES, ThreadedServer
from tests.ror_sync import fhir_builders as b
from tests.ror_sync.fhir_server import FhirStore, make_app

EXAMPLE = FIXTURES / "ror" / "sample" / "ror_bundle_example.json"


@pytest.fixture()
def fhir() -> Iterator[tuple[FhirStore, str]]:
    resources = [e["resource"] for e in json.loads(EXAMPLE.read_text())["entry"]]
    # One resource of another region, to see the region filter at work.
    resources.append(b.location("loc-11", "eg-x", region="11", cog="75056"))
    store = FhirStore(resources)
    with ThreadedServer(make_app(store)) as server:
        yield store, f"{server.url}/fhir"


def _settings(**ror: object) -> Settings:
    return Settings(fixtures_dir=FIXTURES, ror=RorSettings(fhir_page_size=2, **ror))  # type: ignore[arg-type]


def test_full_sync_follows_next_links_of_every_search(
    fhir: tuple[FhirStore, str], session_factory: sessionmaker[Session]
) -> None:
    store, url = fhir
    summary = jobs.run(session_factory, url, _settings(), trigger="test")
    assert summary.rejected == 0
    assert vars(summary.offers)["created"] == 3
    assert vars(summary.organizations)["created"] == 8
    assert vars(summary.locations)["created"] == 3
    pages = [r["kind"][0] for r in store.requests]
    assert pages == (
        ["HealthcareService"] * 2 + ["Organization"] * 4 + ["Location"] * 2 + ["PractitionerRole"]
    )
    first = store.requests[0]
    assert first["_include"] == ["HealthcareService:organization", "HealthcareService:location"]
    assert first["_include:iterate"] == ["Organization:partof"]
    assert "_lastUpdated" not in first


def test_next_sync_asks_only_for_the_delta_and_updates_in_place(
    fhir: tuple[FhirStore, str], session_factory: sessionmaker[Session]
) -> None:
    store, url = fhir
    first = jobs.run(session_factory, url, _settings())
    with session_scope(session_factory) as session:
        started = runs.get_run(session, first.run_id or 0).started_at  # type: ignore[union-attr]
        offer_id = session.scalar(select(RorOffer.id).where(RorOffer.resource_id == "hs-4002"))
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="seconds")
    store.put(
        b.offer(
            "hs-4002",
            "oi-3004",
            care_mode="32",
            ages=(0, 99, "a"),
            location_id="loc-5001",
            updated=later,
        )
    )
    store.requests.clear()
    second = jobs.run(session_factory, url, _settings())
    assert vars(second.offers) == {"created": 0, "updated": 1}
    since = store.requests[0]["_lastUpdated"][0]
    assert since == f"ge{started.isoformat(timespec='seconds')}"
    with session_scope(session_factory) as session:
        offer = session.get(RorOffer, offer_id)
        assert offer is not None and (offer.age_min, offer.age_max) == (0, 99)


def test_region_filter_is_sent_as_a_tag(
    fhir: tuple[FhirStore, str], session_factory: sessionmaker[Session]
) -> None:
    store, url = fhir
    summary = jobs.run(session_factory, url, _settings(region="84"))
    assert all(r["_tag"] == [f"{REGION_TAG_SYSTEM}|84"] for r in store.requests)
    assert vars(summary.locations)["created"] == 2  # loc-11 is in region 11


def test_api_error_fails_the_run(
    fhir: tuple[FhirStore, str], session_factory: sessionmaker[Session]
) -> None:
    store, url = fhir
    store.fail_with = 503
    with pytest.raises(RorApiError, match="HTTP 503"):
        jobs.run(session_factory, url, _settings())
    with session_scope(session_factory) as session:
        found, _ = runs.list_runs(session, source="ror", limit=1, offset=0)
        assert found[0].outcome == runs.FAILED and "HTTP 503" in (found[0].error or "")
