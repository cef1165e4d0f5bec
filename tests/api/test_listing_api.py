"""Lists cut in SQL and walked by cursor, the endpoints added for the remote CLI, and the
roles on them: over HTTP against the real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server, age_half_the_findings

PAYMENTS = {"checkout", "fraud-detection", "ledger", "payment-gateway"}


@pytest.fixture(scope="module", autouse=True)
def _old_findings(server: Server) -> None:
    age_half_the_findings(server.store)


def _walk(client: httpx.Client, url: str, **params: Any) -> Iterator[Any]:
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        yield from page["items"]
        if not page["next"]:
            return
        response = client.get(page["next"])


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/domains", {}),
        ("/api/v1/components", {}),
        ("/api/v1/apps", {}),
        ("/api/v1/apps/webshop/versions", {}),
        ("/api/v1/components/search/versions", {}),
        ("/api/v1/environments", {}),
        ("/api/v1/deployments", {"history": "true"}),
        ("/api/v1/links", {}),
        ("/api/v1/advisories", {}),
        ("/api/v1/findings", {"include_resolved": "true"}),
        ("/api/v1/findings", {"overdue": "true"}),
        ("/api/v1/findings/events", {}),
        ("/api/v1/audit", {}),
        ("/api/v1/tokens", {}),
    ],
)
def test_small_pages_add_up_to_the_whole_list(
    server: Server, url: str, params: dict[str, str]
) -> None:
    with server.client("admin") as c:
        whole = list(_walk(c, url, **params, limit=500))
        assert len(whole) > 1
        paged = list(_walk(c, url, **params, limit=max(1, len(whole) // 3)))
    assert paged == whole


def test_a_domain_viewer_sees_its_domain_only_in_every_new_list(server: Server) -> None:
    with server.client("payments-viewer") as c:
        deployed = list(_walk(c, "/api/v1/deployments", history="true", limit=3))
        assert deployed and {d["component"] for d in deployed} <= PAYMENTS
        links = list(_walk(c, "/api/v1/links", limit=1))
        assert links and {link["consumer"].rsplit("/", 1)[-1] for link in links} <= PAYMENTS
        events = list(_walk(c, "/api/v1/findings/events", limit=5))
        assert {e["component"] for e in events} <= PAYMENTS
        tree = c.get("/api/v1/catalog/tree").json()
        assert [d["path"] for d in tree["domains"]] == ["acme.payments"]
        assert c.get("/api/v1/catalog/entities/checkout").status_code == 200
        for hidden in ("search", "system:webshop", "domain:acme", "group:payments-team"):
            response = c.get(f"/api/v1/catalog/entities/{hidden}")
            assert response.status_code == 404, hidden
            assert response.headers["content-type"] == "application/problem+json"
        assert c.get("/api/v1/triage/stats").status_code == 403
        assert c.get("/api/v1/components/search/diff?from=4.2.0&to=4.3.1").status_code == 404


def test_triage_rules_list_only_what_the_caller_may_see(server: Server) -> None:
    with server.client("admin") as c:
        body = {"vulnerability": "CVE-2021-44228", "state": "in_triage"}
        made = [
            c.post("/api/v1/triage/rules", json={**body, "scope": s, "target": t}).json()["id"]
            for s, t in (("component", "ledger"), ("component", "search"), ("estate", None))
        ]
        admin_sees = {r["id"] for r in _walk(c, "/api/v1/triage/rules", limit=1)}
    with server.client("payments-viewer") as c:
        viewer_sees = {r["id"] for r in _walk(c, "/api/v1/triage/rules", limit=1)}
    assert set(made) <= admin_sees
    assert made[0] in viewer_sees and made[1] not in viewer_sees and made[2] not in viewer_sees
    with server.client("admin") as c:
        for rule in made:
            assert c.delete(f"/api/v1/triage/rules/{rule}").status_code == 200


def test_changes_need_the_role_on_the_domain(server: Server) -> None:
    with server.client("payments-viewer") as c:
        ended = c.delete("/api/v1/environments/prod/deployments/ledger")
        assert ended.status_code == 403
        sla = c.put("/api/v1/triage/sla/critical", json={"days": 3, "domain": "acme.payments"})
        assert sla.status_code == 403
        carry = c.post(
            "/api/v1/components/ledger/findings/carry",
            json={"from_version": "1.0.3", "to_version": "1.0.4"},
        )
        assert carry.status_code == 403
        assert c.post("/api/v1/risk/snapshot").status_code == 403
        assert c.post("/api/v1/vex", content=b"{}").status_code == 403
    with server.client("commerce-editor") as c:
        assert c.delete("/api/v1/environments/prod/deployments/ledger").status_code == 404
        assert c.delete("/api/v1/tokens/admin").status_code == 403
    with server.client("payments-editor") as c:
        sla = c.put("/api/v1/triage/sla/high", json={"days": 20, "domain": "acme.payments"})
        assert sla.status_code == 200 and sla.json()["days"] == 20
        bad = c.put("/api/v1/triage/sla/high", json={"days": 0})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_a_bad_cursor_is_a_problem(server: Server) -> None:
    with server.client("admin") as c:
        response = c.get("/api/v1/deployments", params={"cursor": "not-ours"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["place"] == "query/cursor"


def test_new_endpoints_are_described(server: Server) -> None:
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    for path, method in [
        ("/api/v1/catalog/tree", "get"),
        ("/api/v1/catalog/entities/{ref}", "get"),
        ("/api/v1/environments/{environment}/deployments/{component}", "delete"),
        ("/api/v1/findings/events", "get"),
        ("/api/v1/components/{component}/findings/carry", "post"),
        ("/api/v1/vex", "post"),
        ("/api/v1/triage/sla/{severity}", "put"),
        ("/api/v1/triage/stats", "get"),
        ("/api/v1/components/{component}/diff", "get"),
        ("/api/v1/apps/{application}/trend", "get"),
        ("/api/v1/domains/{domain}/trend", "get"),
        ("/api/v1/risk/kev", "post"),
        ("/api/v1/risk/epss", "post"),
        ("/api/v1/risk/status", "get"),
        ("/api/v1/risk/snapshot", "post"),
        ("/api/v1/advisories/ecosystems", "get"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens/{name}", "delete"),
    ]:
        operation = spec["paths"][path][method]
        assert operation["summary"], path
        assert operation.get("security"), path
