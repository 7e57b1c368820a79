"""schemathesis against the server's own OpenAPI schema: no 5xx, and every response matches the schema.

Every operation gets generated requests (valid and not) as the admin, on a hall that exists, so the
fuzzer reaches past authentication and 404s into the services themselves.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from hall_server.app import create_app
from hall_server.settings import Settings
from simulators.city import plan_halls, topology


def _app_with_a_hall() -> tuple[Any, dict[str, str]]:
    """The real app with auth on, one hall and one ticket; the schema is loaded from it at import."""
    work = Path(tempfile.mkdtemp(prefix="hall-fuzz-"))
    app = create_app(
        Settings(
            database_url=f"sqlite:///{work / 'hall.db'}",
            auth="required",
            principals_file=work / "principals.json",
            admin_token_file=work / "admin.token",
            dispatch_round_ms=0,
        )
    )
    admin = {"Authorization": "Bearer " + (work / "admin.token").read_text().strip()}
    client = TestClient(app)
    client.put("/api/topology", json=topology(plan_halls(1, 2)), headers=admin).raise_for_status()
    client.post("/api/halls/cc-city/tickets", json={"matter": "E001"}, headers=admin).raise_for_status()
    return app, admin


APP, ADMIN = _app_with_a_hall()
# The event streams never end (they are tested in tests/web); every other operation is fuzzed.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path_regex=r"/events$")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_no_schema_violation(case: Any) -> None:
    case.call_and_validate(
        headers=ADMIN, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
