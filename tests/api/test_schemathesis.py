"""A bounded schemathesis run over the read-only endpoints: whatever it sends, no 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import Server

schemathesis = pytest.importorskip("schemathesis")


def test_no_server_errors_on_get_endpoints(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(method="GET")
    headers = {"Authorization": f"Bearer {server.tokens['payments-viewer']}"}
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_5xx(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.path, case.query, response.text)

        no_5xx()
        checked += 1
    assert checked >= 15
