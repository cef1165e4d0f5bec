"""Blast radius, risk, diff and fix plan over HTTP, scoped by the caller's roles."""

from __future__ import annotations

import httpx

from tests.api.conftest import Server
from tests.api.test_api import _problem


def test_blast_radius_for_the_estate_and_for_a_scoped_viewer(server: Server) -> None:
    with server.client("admin") as c:
        full = c.get("/api/v1/blast-radius", params={"q": "CVE-2021-44228"})
        assert full.status_code == 200, full.text
        body = full.json()
        assert [(x["component"], x["version"]) for x in body["components"]] == [("search", "4.2.0")]
        assert {x["component"] for x in body["consumers"]} == {"web-frontend"}
        assert body["environments"][0]["environment"] == "prod"
        _problem(c.get("/api/v1/blast-radius", params={"q": "CVE-1999-0000"}), 404)
    with server.client("payments-viewer") as c:
        scoped = c.get("/api/v1/blast-radius", params={"q": "CVE-2021-44228"}).json()
        assert scoped["components"] == [] and scoped["consumers"] == []
        assert scoped["environments"] == [] and scoped["applications"] == []


def test_risk_diff_and_fix_plan(server: Server) -> None:
    with server.client("payments-viewer") as c:
        risk = c.get("/api/v1/apps/payments-platform/risk")
        assert risk.status_code == 200, risk.text
        assert risk.json()["risk_score"] > 0 and risk.json()["findings"] > 0
        domain = c.get("/api/v1/domains/acme.payments/risk")
        assert domain.status_code == 200, domain.text
        plan = c.get("/api/v1/apps/payments-platform/fix-plan").json()
        assert plan["application"] == "payments-platform" and plan["components"]
        changed = c.get("/api/v1/apps/payments-platform/diff", params={"from": "1", "to": "3"})
        assert changed.status_code == 200, changed.text
        assert {x["component"] for x in changed.json()["components_changed"]} >= {"checkout"}
        _problem(c.get("/api/v1/apps/webshop/risk"), 404)  # another domain: unseen
        _problem(c.get("/api/v1/domains/acme.commerce/risk"), 404)


def test_blast_radius_pages_and_consumer_cap(server: Server) -> None:
    with server.client("admin") as c:
        whole = c.get("/api/v1/blast-radius", params={"q": "log4j-core"}).json()
        assert "page" not in whole and len(whole["components"]) >= 2
        rows: list[dict[str, object]] = []
        params: dict[str, object] = {"q": "log4j-core", "limit": 1, "consumers": 0}
        while True:
            resp = c.get("/api/v1/blast-radius", params=params)
            assert resp.status_code == 200, resp.text
            part = resp.json()
            assert part["summary"] == whole["summary"] and part["consumers"] == []
            assert part["page"]["total"] == len(whole["components"])
            assert len(part["components"]) == 1
            rows += part["components"]
            if part["page"]["next"] is None:
                break
            params["cursor"] = httpx.URL(part["page"]["next"]).params["cursor"]
        assert rows == whole["components"]
        _problem(c.get("/api/v1/blast-radius", params={"q": "log4j-core", "cursor": "x"}), 422)
        _problem(c.get("/api/v1/blast-radius", params={"q": "log4j-core", "limit": 0}), 422)
    with server.client("payments-viewer") as c:
        mine = c.get("/api/v1/blast-radius", params={"q": "log4j-core"}).json()
        page = c.get("/api/v1/blast-radius", params={"q": "log4j-core", "limit": 1}).json()
    # only the payments domain's versions, counted and paged for this caller
    assert mine["components"] and len(mine["components"]) < len(whole["components"])
    assert {x["owner"] for x in mine["components"]} == {"group:default/payments-team"}
    assert page["page"]["total"] == len(mine["components"])
    assert page["components"] == mine["components"][:1]
    assert page["summary"] == mine["summary"]
    assert mine["summary"]["component_versions"] == len(
        {(x["key"], x["version"]) for x in mine["components"]}
    )


def test_blast_radius_lists_can_be_cut(server: Server) -> None:
    with server.client("admin") as c:
        whole = c.get("/api/v1/blast-radius", params={"q": "CVE-2021-44228"}).json()
        cut = c.get(
            "/api/v1/blast-radius",
            params={"q": "CVE-2021-44228", "applications": 1, "environments": 0},
        )
        assert cut.status_code == 200, cut.text
        body = cut.json()
        assert len(whole["applications"]) >= 2
        assert body["applications"] == whole["applications"][:1]
        assert body["environments"] == []
        assert body["summary"] == whole["summary"]  # the counts still cover everything
        _problem(
            c.get("/api/v1/blast-radius", params={"q": "CVE-2021-44228", "applications": -1}),
            422,
        )
