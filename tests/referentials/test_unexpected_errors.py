"""An error nothing expected: a 500 in the API's shape, logged without its message (traits)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from identity.fhir import router as fhir_router
from identity.referential import service
from tests.conftest import Api

# What the failing code carried: a patient's traits, as a careless message would quote them.
TRAITS = ("DUPONT", "1975-12-26")


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(record) for record in self.records)


@pytest.fixture()
def logged() -> Iterator[Everything]:
    """Every record of the process, uvicorn's too (its loggers do not propagate to the root)."""
    handler = Everything()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def _careless(*_args: object, **_kwargs: object) -> None:
    try:
        {}["x"]
    except KeyError as exc:
        raise ValueError(f"cannot handle {TRAITS[0]} born {TRAITS[1]}") from exc


def test_an_unexpected_error_is_answered_in_the_apis_shape_and_logged_without_its_message(
    api: Api, logged: Everything, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "create", _careless)
    body = {"birth_name": "DUPONT", "first_names": ["JEAN"], "sex": "M", "birth_date": TRAITS[1]}
    r = api.post("/api/v1/identities", json=body, key="identity:write")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    answer = r.json()
    assert answer["error"] == "internal_error" and answer["fields"] == {}
    found = re.fullmatch(
        r"an unexpected error; reported as incident ([0-9a-f]{12})", answer["detail"]
    )
    assert found, answer
    text = logged.text()
    assert not any(trait in text for trait in TRAITS), text
    # What the operator needs to find it: the incident, the request, the types and the place.
    (record,) = [r for r in logged.records if found.group(1) in r.getMessage()]
    message = record.getMessage()
    assert record.name == "socle.errors" and record.levelno == logging.ERROR
    assert "on POST /api/v1/identities: ValueError <- KeyError" in message
    assert "test_unexpected_errors.py" in message and "identity/referential/router.py" in message
    # The server goes on serving.
    assert api.get("/health").status_code == 200


def test_under_fhir_it_is_an_operation_outcome(
    api: Api, logged: Everything, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fhir_router.service, "get", _careless)
    r = api.get("/fhir/Patient/1", key="identity:read")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/fhir+json")
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert issue["severity"] == "error" and "reported as incident" in issue["diagnostics"]
    assert not any(trait in logged.text() for trait in TRAITS)
