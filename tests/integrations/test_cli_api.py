"""The thin shells: ``meshward tickets`` / ``meshward notify`` and the integrations API."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meshward.api.app import create_app
from meshward.cli.main import app
from meshward.errors import MeshwardError
from meshward.services import auth
from meshward.store.db import Store

from .fakes import FakeGitHub, WebhookReceiver


def cli(db_url: str, *args: str) -> tuple[int, str]:
    """Exit code and output; an error a user can act on as ``main()`` prints it."""
    result = CliRunner().invoke(app, ["--db", db_url, *args])
    if isinstance(result.exception, MeshwardError):
        return 1, f"error: {result.exception}"
    return result.exit_code, result.output


def test_tickets_cli_add_list_dry_run_sync(estate: Store, db_url: str, github: FakeGitHub) -> None:
    code, out = cli(
        db_url,
        "tickets",
        "target",
        "add",
        "gh",
        "github",
        github.url,
        "acme/shop",
        "--secret-env",
        "GH_TOKEN",
        "--allow-private",
        "--label",
        "appsec",
    )
    assert code == 0, out
    code, out = cli(db_url, "tickets", "target", "list", "--json")
    (target,) = orjson.loads(out)
    assert target["secret_env"] == "GH_TOKEN" and "ghp-test-token" not in out
    code, out = cli(db_url, "tickets", "sync", "--dry-run", "--json")
    assert code == 0, out
    (report,) = orjson.loads(out)
    assert report["dry_run"] and report["counts"]["create"] == 5
    assert github.open_issues() == []
    code, out = cli(db_url, "tickets", "sync")
    assert code == 0, out
    assert "gh: did 5 created; 0 queued" in out
    assert len(github.open_issues()) == 5
    code, out = cli(db_url, "tickets", "links", "--json")
    assert sorted(r["ticket"] for r in orjson.loads(out)) == ["#2", "#3", "#4", "#5", "#6"]
    code, out = cli(
        db_url,
        "tickets",
        "target",
        "add",
        "bad",
        "github",
        "http://169.254.169.254",
        "a/b",
        "--secret-env",
        "X",
    )
    assert code == 1 and "metadata" in out


def test_notify_cli_channel_rule_run(estate: Store, db_url: str) -> None:
    receiver = WebhookReceiver().start()
    try:
        code, out = cli(
            db_url,
            "notify",
            "channel",
            "add",
            "hook",
            "webhook",
            "--url",
            receiver.url,
            "--allow-private",
        )
        assert code == 0, out
        code, out = cli(db_url, "notify", "rule", "add", "fails", "control_failed", "hook")
        assert code == 0, out
        code, out = cli(db_url, "notify", "rule", "list", "--json")
        assert [r["name"] for r in orjson.loads(out)] == ["fails"]
        code, out = cli(db_url, "notify", "run", "--json")
        assert code == 0, out
        assert orjson.loads(out)["events"] == 0  # nothing failing yet
        code, out = cli(db_url, "notify", "deliveries", "--json")
        assert orjson.loads(out) == []
    finally:
        receiver.stop()


@pytest.fixture
def api(estate: Store, db_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with estate.session() as s:
        _, admin = auth.create_token(s, "admin", role="admin")
        _, viewer = auth.create_token(s, "viewer", role="viewer")
    with TestClient(create_app(db_url)) as client:
        yield client, {"admin": admin, "viewer": viewer}


def test_api_targets_sync_links_and_no_secrets(
    api: tuple[TestClient, dict[str, str]], github: FakeGitHub
) -> None:
    client, tokens = api
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    body = {
        "kind": "github",
        "base_url": github.url,
        "project": "acme/shop",
        "secret_env": "GH_TOKEN",
        "allow_private": True,
    }
    assert (
        client.put("/api/v1/integrations/ticket-targets/gh", json=body, headers=viewer).status_code
        == 403
    )
    answer = client.put("/api/v1/integrations/ticket-targets/gh", json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    bad = {**body, "secret_env": "ghp_not a name"}
    assert (
        client.put("/api/v1/integrations/ticket-targets/x", json=bad, headers=admin).status_code
        == 422
    )
    meta = {**body, "base_url": "http://169.254.169.254"}
    refused = client.put("/api/v1/integrations/ticket-targets/x", json=meta, headers=admin)
    assert refused.status_code >= 400 and "metadata" in refused.text
    assert (
        client.post("/api/v1/integrations/ticket-targets/gh/sync", headers=viewer).status_code
        == 403
    )
    report = client.post("/api/v1/integrations/ticket-targets/gh/sync", headers=admin).json()
    assert report["counts"]["create"] == 5
    links = client.get("/api/v1/integrations/ticket-links?limit=2", headers=viewer).json()
    assert len(links["items"]) == 2 and links["next"]
    listed = client.get("/api/v1/integrations/ticket-targets", headers=admin)
    assert (
        "ghp-test-token" not in listed.text
        and listed.json()["items"][0]["secret_env"] == "GH_TOKEN"
    )


def test_api_channels_rules_run_deliveries(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    receiver = WebhookReceiver().start()
    try:
        channel = {
            "kind": "webhook",
            "url": receiver.url,
            "secret_env": "HOOK_SECRET",
            "allow_private": True,
        }
        assert (
            client.put(
                "/api/v1/integrations/notification-channels/hook", json=channel, headers=admin
            ).status_code
            == 200
        )
        meta = {"kind": "webhook", "url": "http://[fd00:ec2::254]/x", "allow_private": True}
        assert (
            client.put(
                "/api/v1/integrations/notification-channels/m", json=meta, headers=admin
            ).status_code
            >= 400
        )
        rule = {"event": "kev", "channel": "hook"}
        assert (
            client.put(
                "/api/v1/integrations/notification-rules/kev", json=rule, headers=admin
            ).status_code
            == 200
        )
        assert (
            client.get("/api/v1/integrations/notification-rules", headers=admin).json()["items"][0][
                "event"
            ]
            == "kev"
        )
        run = client.post("/api/v1/integrations/notifications/run?dry_run=true", headers=admin)
        assert run.status_code == 200 and run.json()["dry_run"]
        assert client.get("/api/v1/integrations/deliveries", headers=admin).json() == {
            "items": [],
            "next": None,
        }
        viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
        assert client.get("/api/v1/integrations/deliveries", headers=viewer).status_code == 403
    finally:
        receiver.stop()
