"""Property-based fuzzing of every API operation (schemathesis) against the live app over HTTP.

The OpenAPI document is read from the application itself, so new routes are fuzzed as soon as
they exist. Each operation is called with a key holding exactly the scope it needs; every answer
must be below 500 and conform to the documented status codes, content types and schemas.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ThreadedServer
from tests.reliability.routes import build_app, required_scope

MAX_EXAMPLES = 12
# Starts a real background import of the configured source: covered by the import tests.
NOT_FUZZED = [("POST", "/api/v1/imports/{source}/run")]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Built when the module is collected (the schema is read from it), so removed at exit rather
# than by a fixture.
_FOLDER = tempfile.mkdtemp(prefix="socle-fuzz-")
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
_APP = build_app(str(Path(_FOLDER) / "schema.db"))
schema = schemathesis.openapi.from_dict(_APP.openapi()).include(path_regex=r"^/(api/v1|fhir)/")
for _method, _path in NOT_FUZZED:
    schema = schema.exclude(method=_method, path=_path)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_api_answers_within_its_contract(
    case: schemathesis.Case, live_app: ThreadedServer, fuzz_keys: dict[str, str]
) -> None:
    scope = required_scope(_APP, case.method.upper(), case.path) or "all"
    case.call_and_validate(
        base_url=live_app.url,
        headers={"Authorization": f"Bearer {fuzz_keys[scope]}"},
        checks=CHECKS,
        timeout=30,
    )


@pytest.fixture(scope="module")
def fuzz_keys(live_app: ThreadedServer, engine: object) -> dict[str, str]:
    """One key per scope for the whole module (the database is not emptied between examples)."""
    from referentials.core.auth import SCOPES, create_api_key
    from referentials.core.db import make_session_factory, session_scope

    factory = make_session_factory(live_app.app.state.engine)
    out: dict[str, str] = {}
    with session_scope(factory) as sess:
        for scope in [*SCOPES, "all"]:
            granted = list(SCOPES) if scope == "all" else [scope]
            _, out[scope] = create_api_key(sess, client_name=f"fuzz-{scope}", scopes=granted)
    return out
