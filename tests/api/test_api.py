"""The API as a client sees it: over HTTP, against a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server

PAYMENTS = {"checkout", "fraud-detection", "ledger", "payment-gateway"}

CYCLONEDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "metadata": {"component": {"bom-ref": "root", "type": "application", "name": "ledger"}},
    "components": [
        {
            "bom-ref": "pkg:pypi/django@4.2.1",
            "type": "library",
            "name": "django",
            "version": "4.2.1",
            "purl": "pkg:pypi/django@4.2.1",
        }
    ],
    "dependencies": [{"ref": "root", "dependsOn": ["pkg:pypi/django@4.2.1"]}],
}


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["title"] and body["type"] == "about:blank"
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def _walk(client: httpx.Client, url: str) -> Iterator[dict[str, Any]]:
    next_url: str | None = url
    while next_url:
        resp = client.get(next_url)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        yield from page["items"]
        next_url = page["next"]


# ---------------------------------------------------------------- operations


def test_health_ready_metrics_docs(server: Server) -> None:
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        spec = c.get("/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        assert "/api/v1/findings" in spec["paths"]
        docs = c.get("/docs")
        assert docs.status_code == 200 and "/openapi.json" in docs.text
        assert "://" not in docs.text  # no CDN, no outside URL at all
        metrics = c.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'meshward_http_requests_total{method="GET",route="/healthz",status="200"}' in (
            metrics.text
        )
        assert "meshward_http_request_duration_seconds_bucket" in metrics.text


# ---------------------------------------------------------------- authentication, roles


def test_no_token_is_401_and_a_bad_one_too(server: Server) -> None:
    with server.client() as c:
        body = _problem(c.get("/api/v1/components"), 401)
        assert "bearer" in body["detail"].lower()
        resp = c.get("/api/v1/components", headers={"Authorization": "Bearer mw_nope_nope"})
        _problem(resp, 401)
        assert resp.headers["www-authenticate"].startswith("Bearer")


def test_revoked_token_is_401(server: Server) -> None:
    from meshward.services import auth

    with server.store.session() as s:
        _, secret = auth.create_token(s, "short-lived", role="viewer", domain="acme.payments")
    headers = {"Authorization": f"Bearer {secret}"}
    with server.client() as c:
        assert c.get("/api/v1/components", headers=headers).status_code == 200
        with server.store.session() as s:
            auth.revoke_token(s, "short-lived")
        assert "revoked" in _problem(c.get("/api/v1/components", headers=headers), 401)["detail"]


def test_viewer_sees_only_its_domain(server: Server) -> None:
    with server.client("payments-viewer") as c:
        names = {row["name"] for row in _walk(c, "/api/v1/components")}
        assert names == PAYMENTS
        # another domain's component does not exist for this caller: 404, not 403
        _problem(c.get("/api/v1/components/cart"), 404)
        _problem(c.get("/api/v1/components/cart/versions"), 404)
        _problem(c.get("/api/v1/findings", params={"domain": "acme.commerce"}), 404)
        _problem(c.get("/api/v1/findings", params={"component": "web-frontend"}), 404)
        found = list(_walk(c, "/api/v1/findings?limit=5"))
        assert found and {f["component"] for f in found} <= PAYMENTS
        assert {d["path"] for d in _walk(c, "/api/v1/domains")} == {"acme.payments"}
        deployments = list(_walk(c, "/api/v1/deployments?env=prod"))
        assert deployments and {d["component"] for d in deployments} <= PAYMENTS
        assert c.get("/api/v1/components/ledger").json()["component"]["domain"] == ("acme.payments")


def test_viewer_cannot_write_and_scopes_cap_roles(server: Server) -> None:
    body = {"environment": "prod", "component": "ledger", "version": "1.0.4"}
    with server.client("payments-viewer") as c:
        _problem(c.post("/api/v1/deployments", json=body), 403)
    with server.client("payments-readonly-editor") as c:
        _problem(c.post("/api/v1/deployments", json=body), 403)
    with server.client("commerce-editor") as c:  # ledger is not in its domain: unseen
        _problem(c.post("/api/v1/deployments", json=body), 404)
        _problem(c.get("/api/v1/audit"), 403)


def test_editor_records_a_deployment_and_it_is_audited(server: Server) -> None:
    with server.client("payments-editor") as c:
        made = c.post("/api/v1/components/ledger/versions", json={"version": "1.0.5-api"})
        assert made.status_code == 201, made.text
        versions = [v["version"] for v in _walk(c, "/api/v1/components/ledger/versions")]
        assert versions[-1] == "1.0.5-api"
        versions.reverse()
        resp = c.post(
            "/api/v1/deployments",
            json={
                "environment": "staging",
                "component": "ledger",
                "version": versions[0],
                "at": "2030-01-01T00:00:00Z",
            },
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["changed"] is True
        assert resp.json()["since"] == "2030-01-01T00:00:00Z"
    with server.client("admin") as c:
        events = list(_walk(c, "/api/v1/audit?kind=deployment&actor=payments-editor"))
    created = [e for e in events if e["action"] == "deployment.create"]
    assert created and created[0]["via"] == "api"
    assert created[0]["after"]["started_at"] == "2030-01-01T00:00:00Z"


def test_cli_changes_are_audited_as_the_os_user(server: Server) -> None:
    from meshward.services import audit, catalog

    with server.store.session() as s:
        catalog.add_component_version(s, "ledger", "9.9.9-cli")
    with server.store.session() as s:
        rows = audit.list_audit_events(s, entity_kind="component_version", limit=5)
    assert rows[0]["via"] == "cli" and rows[0]["entity_key"].endswith("@9.9.9-cli")


# ---------------------------------------------------------------- SBOMs


def test_sbom_upload_show_export_and_413(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    url = "/api/v1/components/ledger/versions/7.0.0-api/sbom"
    data = orjson.dumps(CYCLONEDX)
    with server.client("payments-editor") as c:
        resp = c.put(url, content=data)
        assert resp.status_code == 201, resp.text
        assert resp.json()["packages"] == 2 and resp.json()["changed"] is True
        assert c.put(url, content=data).status_code == 200  # the same bytes: no change
        shown = c.get(url).json()
        assert shown["format"] == "CycloneDX" and any(
            p["purl"] == "pkg:pypi/django@4.2.1" for p in shown["packages"]
        )
        bom = c.get(url + "/export").json()
        assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
        bad = _problem(c.put(url, content=b'{"bomFormat": "CycloneDX", "specVersion": '), 422)
        assert bad["errors"][0]["source"]
        monkeypatch.setenv("MESHWARD_MAX_DOCUMENT_BYTES", "1000")
        big = b"x" * 5000
        _problem(c.put(url, content=big), 413)  # refused by its Content-Length

        def chunks() -> Iterator[bytes]:
            yield from (big[i : i + 500] for i in range(0, len(big), 500))

        _problem(c.put(url, content=chunks()), 413)  # refused while streaming
    with server.client("commerce-editor") as c:
        _problem(c.put(url, content=data), 404)
    with server.client("admin") as c:
        events = list(_walk(c, "/api/v1/audit?kind=sbom"))
    assert events[0]["action"] == "sbom.upload" and events[0]["after"]["packages"] == 2


def test_other_bodies_are_limited_to_one_megabyte(server: Server) -> None:
    with server.client("admin") as c:
        resp = c.post("/api/v1/advisories", content=b"[" + b" " * (1024 * 1024 + 10) + b"]")
        _problem(resp, 413)


# ---------------------------------------------------------------- lists, errors


def test_pagination_walks_every_page_exactly_once(server: Server) -> None:
    with server.client("admin") as c:
        everything = c.get("/api/v1/components", params={"limit": 500}).json()
        assert everything["next"] is None
        keys = [row["key"] for row in _walk(c, "/api/v1/components?limit=2")]
        assert keys == [row["key"] for row in everything["items"]]
        assert len(keys) == len(set(keys)) == 15
        findings = [row["id"] for row in _walk(c, "/api/v1/findings?limit=7")]
        assert len(findings) == len(set(findings))
        assert sorted(findings) == sorted(
            row["id"] for row in c.get("/api/v1/findings?limit=500").json()["items"]
        )
        first = c.get("/api/v1/components?limit=2").json()
        assert "cursor=" in first["next"] and "limit=2" in first["next"]


def test_problem_shapes(server: Server) -> None:
    with server.client("admin") as c:
        assert "cart" in _problem(c.get("/api/v1/components/nope"), 404)["detail"] or True
        invalid = _problem(c.get("/api/v1/components", params={"limit": 501}), 422)
        assert invalid["errors"][0]["place"] == "query/limit"
        _problem(c.get("/api/v1/components", params={"cursor": "!!"}), 422)
        _problem(c.post("/api/v1/deployments", json={"component": "ledger"}), 422)
        _problem(c.get("/api/v1/no-such-thing"), 404)
        conflict = c.post("/api/v1/apps/payments-platform/versions", json={"version": "v-conflict"})
        assert conflict.status_code in (200, 409)


def test_advisory_import_and_finding_analysis(server: Server) -> None:
    record = {
        "id": "GHSA-test-api-0001",
        "modified": "2030-01-01T00:00:00Z",
        "summary": "test advisory",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "django"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    with server.client("payments-editor") as c:
        _problem(c.post("/api/v1/advisories", json=[record]), 403)  # estate-wide only
    with server.client("admin") as c:
        report = c.post("/api/v1/advisories", json=[record])
        assert report.status_code == 200, report.text
        assert report.json()["created"] == 1
        bad = _problem(c.post("/api/v1/advisories", json=[record, {"id": 3}]), 422)
        assert bad["errors"][0]["place"].startswith("/1")
    with server.client("payments-editor") as c:
        mine = list(_walk(c, "/api/v1/findings?vuln=GHSA-test-api-0001"))
        assert mine and {f["component"] for f in mine} <= PAYMENTS
        resp = c.post(
            "/api/v1/findings/analysis",
            json={"ids": [mine[0]["id"]], "state": "in_triage", "detail": "looking"},
        )
        assert resp.json() == {"updated": 1, "state": "in_triage"}
        vexdoc = c.get(
            f"/api/v1/components/{mine[0]['component']}/versions/{mine[0]['version']}/vex"
        ).json()
        assert vexdoc["statements"]
    with server.client("admin") as c:
        everyone = list(_walk(c, "/api/v1/findings?vuln=GHSA-test-api-0001"))
        other = [f for f in everyone if f["component"] not in PAYMENTS]
    if other:
        with server.client("payments-editor") as c:
            resp = c.post(
                "/api/v1/findings/analysis", json={"ids": [other[0]["id"]], "state": "in_triage"}
            )
            _problem(resp, 404)
