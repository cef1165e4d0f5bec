"""Ticket sync against faithful fakes of Jira (v2, v3) and GitHub on 127.0.0.1.

The estate has five control tasks: web C-DEPS, C-MTLS, C-PARAMS (critical, Python/Flask);
payments C-DEPS, C-MTLS. The fakes page two issues at a time, so every listing pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from meshward.integrations.safety import OutboundRefused
from meshward.services import threat_models as tm
from meshward.services import tickets
from meshward.services import verification as vf
from meshward.store.auth_models import AuditEvent
from meshward.store.db import Store
from meshward.store.integration_models import TicketLink, TicketOutbox, TicketTarget
from meshward.store.threat_models import ControlTask

from .conftest import NOW
from .fakes import FakeGitHub, FakeJira

KEYS = {
    ("web", "C-DEPS"),
    ("web", "C-MTLS"),
    ("web", "C-PARAMS"),
    ("payments", "C-DEPS"),
    ("payments", "C-MTLS"),
}


def add_jira(store: Store, fake: FakeJira, version: str = "3", **extra: Any) -> None:
    with store.session() as s:
        tickets.add_target(
            s,
            "acme-jira",
            "jira",
            fake.url,
            "SEC",
            secret_env="JIRA_TOKEN",
            auth_kind=extra.pop("auth_kind", "basic"),
            auth_user=extra.pop("auth_user", "bot@acme.example"),
            api_version=version,
            labels=["security"],
            web_url="https://meshward.acme.example",
            allow_private=True,
            **extra,
        )


def add_github(store: Store, fake: FakeGitHub, **extra: Any) -> None:
    with store.session() as s:
        tickets.add_target(
            s,
            "gh",
            "github",
            fake.url,
            "acme/shop",
            secret_env="GH_TOKEN",
            web_url="https://meshward.acme.example",
            allow_private=True,
            **extra,
        )


def sync(store: Store, name: str, **kw: Any) -> tickets.SyncReport:
    with tickets.durable_session(store) as s:
        return tickets.sync_tickets(s, tickets.get_target(s, name), now=kw.pop("now", NOW), **kw)


def task(store: Store, component: str, control: str) -> ControlTask:
    with store.session() as s:
        rows = tm.list_controls(s, component=component)
        row = next(r for r in rows if r["control"] == control)
        found = s.scalars(
            select(ControlTask)
            .where(ControlTask.control_key == control)
            .order_by(ControlTask.id.desc())
        ).all()
        assert row
        return next(t for t in found if t.status == row["status"])


def adf_text(node: Any) -> str:
    if isinstance(node, dict):
        return (node.get("text") or "") + " ".join(adf_text(c) for c in node.get("content", []))
    return ""


def test_jira_cloud_v3_one_ticket_per_control_per_service(estate: Store, jira: FakeJira) -> None:
    add_jira(estate, jira)
    report = sync(estate, "acme-jira")
    assert report.errors == []
    assert report.count("create") == 5 and report.pending == 0
    # every request authenticated as the Cloud account, with basic auth
    assert {r.headers["Authorization"] for r in jira.requests} == {jira.authorization}
    # first the one paged listing of everything we manage (it shows none exists yet), then
    # per ticket: create and the entity property holding our key
    first = jira.requests[0]
    assert (first.method, first.path) == ("GET", "/rest/api/3/search/jql")
    assert first.query["jql"] == 'project = "SEC" AND labels = "meshward" ORDER BY key ASC'
    creates = [r for r in jira.requests if r.method == "POST"]
    assert [r.path for r in creates] == ["/rest/api/3/issue"] * 5
    assert [(r.method, r.path) for r in jira.requests[1:3]] == [
        ("POST", "/rest/api/3/issue"),
        ("PUT", "/rest/api/3/issue/SEC-1/properties/meshward"),
    ]
    props = [r for r in jira.requests if r.method == "PUT"]
    assert [r.path for r in props] == [
        f"/rest/api/3/issue/SEC-{n}/properties/meshward" for n in range(1, 6)
    ]
    titles = {r.body["fields"]["summary"] for r in creates}
    assert "Parameterised queries (web)" in titles and "Mutual TLS (payments)" in titles
    params = next(
        r.body["fields"] for r in creates if r.body["fields"]["summary"].startswith("Param")
    )
    key = next(label for label in params["labels"] if label.startswith("meshward:"))
    assert params["labels"] == ["security", "meshward", key]
    assert params["issuetype"] == {"name": "Task"} and params["project"] == {"key": "SEC"}
    doc = params["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    code = [n for n in doc["content"] if n["type"] == "codeBlock"]
    assert code == [
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [
                {
                    "type": "text",
                    "text": 'cur.execute("SELECT * FROM orders WHERE id = %s", (order_id,))',
                }
            ],
        }
    ]  # the Flask sample for a Flask service, not the Spring one
    text = adf_text(doc)
    assert "Send a quote and expect no SQL error" in text  # the test plan
    hrefs = [
        m["attrs"]["href"]
        for n in doc["content"]
        for c in n.get("content", [])
        for m in c.get("marks", [])
    ]
    assert hrefs == [
        "https://meshward.acme.example/ui/components/web/versions/1.0",
        "https://meshward.acme.example/ui/kb/controls/C-PARAMS",
        "https://meshward.acme.example/api/v1/components/web/versions/1.0/verification",
    ]
    assert jira.properties["SEC-1"]["meshward"]["key"].startswith("meshward:")

    # the same again: nothing new, only the (paged) listing
    jira.requests.clear()
    again = sync(estate, "acme-jira")
    assert again.actions == []
    assert [(r.method, r.path, r.query.get("nextPageToken")) for r in jira.requests] == [
        ("GET", "/rest/api/3/search/jql", None),
        ("GET", "/rest/api/3/search/jql", "2"),
        ("GET", "/rest/api/3/search/jql", "4"),
    ]
    with estate.session() as s:
        links = s.scalars(select(TicketLink)).all()
        assert {link.subject.split()[1] for link in links} == {c for _, c in KEYS}
        assert s.scalar(select(func.count()).select_from(TicketOutbox)) == 0


def test_jira_data_center_v2_wiki_markup_bearer_and_start_at_paging(
    estate: Store, jira: FakeJira
) -> None:
    jira.authorization = "Bearer jira-api-token"
    add_jira(estate, jira, version="2", auth_kind="bearer", auth_user=None)
    sync(estate, "acme-jira")
    create = next(
        r for r in jira.requests if r.method == "POST" and "Param" in r.body["fields"]["summary"]
    )
    wiki = create.body["fields"]["description"]
    assert isinstance(wiki, str)
    assert (
        '{code:python}\ncur.execute("SELECT * FROM orders WHERE id = %s", (order_id,))\n{code}'
        in wiki
    )
    assert "h3. Test plan\n\n* Send a quote and expect no SQL error" in wiki
    assert (
        "[meshward: web 1.0|https://meshward.acme.example/ui/components/web/versions/1.0]" in wiki
    )
    jira.requests.clear()
    sync(estate, "acme-jira")
    assert [(r.path, r.query["startAt"], r.query["maxResults"]) for r in jira.requests] == [
        ("/rest/api/2/search", "0", "100"),
        ("/rest/api/2/search", "2", "100"),
        ("/rest/api/2/search", "4", "100"),
    ]


def test_jira_closed_ticket_marks_task_done_and_failure_reopens(
    estate: Store, jira: FakeJira
) -> None:
    add_jira(estate, jira)
    sync(estate, "acme-jira")
    params = next(k for k, i in jira.issues.items() if i["fields"]["summary"].startswith("Param"))
    jira.close(params)
    report = sync(estate, "acme-jira")
    assert [a["action"] for a in report.actions] == ["task_done"]
    done = task(estate, "web", "C-PARAMS")
    assert (done.status, done.decided_by, done.reason) == (
        "done",
        "jira:acme-jira",
        f"closed in {params}",
    )
    with estate.session() as s:  # audited like any change, and the sync itself summarised
        changes = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "control_task.update")
        ).all()
        assert [
            (e.before["status"], e.after["status"], e.after["decided_by"]) for e in changes
        ] == [("todo", "done", "jira:acme-jira")]
        syncs = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket_target.sync")).all()
        assert syncs[-1].after["task_done"] == 1 and syncs[0].after["create"] == 5

    # bandit finds SQL injection in web 1.0: the ticket reopens with the evidence
    sarif = json.dumps(
        {
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {"name": "Bandit", "rules": []}},
                    "results": [
                        {
                            "ruleId": "B608",
                            "level": "error",
                            "message": {"text": "SQL built from strings"},
                            "locations": [
                                {
                                    "physicalLocation": {
                                        "artifactLocation": {"uri": "app/db.py"},
                                        "region": {"startLine": 7},
                                    }
                                }
                            ],
                            "properties": {"tags": ["CWE-89"]},
                        }
                    ],
                }
            ],
        }
    ).encode()
    with estate.session() as s:
        vf.upload_scan(s, "web", "1.0", sarif, "bandit.sarif")
    jira.issues[params]["fields"]["labels"].append("triaged-by-team")  # a person's label
    jira.requests.clear()
    report = sync(estate, "acme-jira")
    actions = [a["action"] for a in report.actions]
    assert actions == ["task_reopened", "comment", "reopen", "update"]
    put = next(r for r in jira.requests if r.method == "PUT")
    assert set(put.body) == {"fields", "update"} and set(put.body["fields"]) == {
        "summary",
        "description",
    }
    assert "triaged-by-team" in jira.issues[params]["fields"]["labels"]  # kept
    assert jira.state(params) == "new"
    comment = adf_text(jira.comments[params][-1])
    assert "Verification failed" in comment and "bandit scan #1" in comment
    reopened = task(estate, "web", "C-PARAMS")
    assert reopened.status == "todo" and reopened.reason.startswith("reopened: verification failed")
    posts = [(r.method, r.path, r.body) for r in jira.requests if r.method == "POST"]
    assert posts[-1] == (
        "POST",
        f"/rest/api/3/issue/{params}/transitions",
        {"transition": {"id": "11"}},
    )
    # one failure comments once
    report = sync(estate, "acme-jira")
    assert report.actions == []


def test_github_issues_both_ways(estate: Store, github: FakeGitHub) -> None:
    add_github(estate, github)
    report = sync(estate, "gh")
    assert report.count("create") == 5 and report.errors == []
    first = github.requests[0]
    assert (first.method, first.path, first.query) == (
        "GET",
        "/repos/acme/shop/issues",
        {"labels": "meshward", "state": "all", "per_page": "100"},
    )
    assert first.headers["Accept"] == "application/vnd.github+json"
    assert first.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert first.headers["Authorization"] == "Bearer ghp-test-token"
    issues = github.open_issues()
    assert len(issues) == 5
    body = next(i["body"] for i in issues if i["title"].startswith("Param"))
    assert '```python\ncur.execute("SELECT * FROM orders WHERE id = %s", (order_id,))\n```' in body
    assert (
        "[meshward: web 1.0](https://meshward.acme.example/ui/components/web/versions/1.0)" in body
    )

    # listing pages by Link header (the pull request #1 is skipped)
    github.requests.clear()
    assert sync(estate, "gh").actions == []
    assert [r.query.get("page") for r in github.requests] == [None, "2", "3"]

    # a person closes one: the task is done; reopens it: the task is todo again
    mtls = next(i["number"] for i in issues if i["title"] == "Mutual TLS (payments)")
    github.close(mtls)
    assert [a["action"] for a in sync(estate, "gh").actions] == ["task_done"]
    assert task(estate, "payments", "C-MTLS").status == "done"
    github.reopen(mtls)
    assert [a["action"] for a in sync(estate, "gh").actions] == ["task_reopened"]
    assert task(estate, "payments", "C-MTLS").status == "todo"

    # meshward side: risk accepted closes the issue, with a comment saying why
    with estate.session() as s:
        tm.set_control(
            s, "payments", "1.0", "C-MTLS", status="risk_accepted", reason="internal only"
        )
    github.requests.clear()
    report = sync(estate, "gh")
    assert [a["action"] for a in report.actions] == ["comment", "close"]
    assert github.issues[mtls]["state"] == "closed"
    patch = next(r for r in github.requests if r.method == "PATCH")
    assert patch.body == {"state": "closed", "state_reason": "completed"}
    assert "risk_accepted" in github.comments[mtls][-1]


def test_killed_mid_sync_loses_and_doubles_nothing(
    estate: Store, github: FakeGitHub, db_url: str
) -> None:
    add_github(estate, github)
    # the listing (1), then a create per ticket: the 3rd request is the second create: the
    # issue is made, the answer never comes, the tracker is gone
    github.die_after = 3
    report = sync(estate, "gh")
    assert report.count("create") == 1
    assert report.errors and "unreachable" in report.errors[0]
    assert len(github.open_issues()) == 2  # one recorded, one made but unrecorded
    with estate.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketLink)) == 1
        pending = s.scalars(select(TicketOutbox)).all()
        assert len(pending) == 4
        failed = next(p for p in pending if p.attempts == 1)
        assert failed.next_attempt_at > NOW and "unreachable" in (failed.last_error or "")

    # still down: nothing is lost, the queue waits
    report = sync(estate, "gh", now=NOW + timedelta(hours=1))
    assert report.pending == 4 and report.errors

    # meshward restarts (a new store on the same database), the tracker comes back
    github.die_after = None
    github.start()
    restarted = Store(db_url)
    report = sync(restarted, "gh", now=NOW + timedelta(hours=7))
    assert report.errors == [] and report.pending == 0
    assert [a["action"] for a in report.actions].count("adopt") == 1
    assert len(github.open_issues()) == 5  # nothing doubled
    assert len({i["title"] for i in github.open_issues()}) == 5
    with restarted.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketLink)) == 5
        assert s.scalar(select(func.count()).select_from(TicketOutbox)) == 0
    restarted.dispose()


def test_rate_limits_are_honoured(estate: Store, jira: FakeJira, github: FakeGitHub) -> None:
    add_jira(estate, jira)
    jira.rate_limited = {1}  # the listing: 429, Retry-After 30
    report = sync(estate, "acme-jira")
    assert report.errors[0].startswith(
        "remote state not read: jira GET /rest/api/3/search/jql: rate limited (429)"
    )
    assert [r.method for r in jira.requests] == ["GET"]  # nothing else tried
    assert report.pending == 5
    with estate.session() as s:  # the whole queue waits as told
        assert set(s.scalars(select(TicketOutbox.next_attempt_at))) == {NOW + timedelta(seconds=30)}
    assert sync(estate, "acme-jira", now=NOW + timedelta(seconds=10)).actions == []
    assert len(jira.requests) == 2  # the listing again; the queue is not due
    # during the drain: the first ticket's create is limited; it and the rest wait
    jira.rate_limited = {4}
    report = sync(estate, "acme-jira", now=NOW + timedelta(seconds=31))
    assert "rate limited (429)" in report.errors[-1] and report.count("create") == 0
    with estate.session() as s:
        times = set(s.scalars(select(TicketOutbox.next_attempt_at)))
    assert times == {NOW + timedelta(seconds=61)}
    seen = len(jira.requests)
    assert sync(estate, "acme-jira", now=NOW + timedelta(seconds=61)).count("create") == 5
    # the ticket whose try failed is searched for by its key before it is created
    search, create = jira.requests[seen + 1], jira.requests[seen + 2]
    assert search.path == "/rest/api/3/search/jql" and '"meshward:' in search.query["jql"]
    assert create.method == "POST"

    # GitHub: a secondary rate limit (403 + Retry-After) pauses; a spent primary limit waits
    # for X-RateLimit-Reset
    add_github(estate, github)
    github.secondary_next = 1
    report = sync(estate, "gh")
    assert "rate limited (403)" in report.errors[0] and report.pending == 5
    github.remaining = 0
    github.reset = int((NOW + timedelta(minutes=10)).timestamp())
    report = sync(estate, "gh", now=NOW + timedelta(minutes=2))
    assert "rate limited (403)" in report.errors[-1]
    with estate.session() as s:
        gh = tickets.get_target(s, "gh")
        waits = set(
            s.scalars(select(TicketOutbox.next_attempt_at).where(TicketOutbox.target_id == gh.id))
        )
    assert min(waits) >= NOW + timedelta(minutes=2)


def test_dry_run_changes_nothing(estate: Store, github: FakeGitHub) -> None:
    add_github(estate, github)
    report = sync(estate, "gh", dry_run=True)
    assert report.dry_run and report.count("create") == 5 and report.pending == 5
    assert [r.method for r in github.requests] == ["GET"]
    with estate.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketOutbox)) == 0
        assert s.scalar(select(func.count()).select_from(TicketLink)) == 0


def test_targets_refuse_metadata_and_never_hold_secrets(estate: Store) -> None:
    with estate.session() as s:
        for url in (
            "http://169.254.169.254",
            "http://metadata.google.internal",
            "http://[fd00:ec2::254]",
        ):
            with pytest.raises(OutboundRefused):
                tickets.add_target(s, "x", "github", url, "a/b", secret_env="GH_TOKEN")
        with pytest.raises(OutboundRefused, match="loopback"):
            tickets.add_target(s, "x", "github", "http://127.0.0.1:9", "a/b", secret_env="GH_TOKEN")
        with pytest.raises(Exception, match="NAME of an environment variable"):
            tickets.add_target(
                s,
                "x",
                "github",
                "http://127.0.0.1:9",
                "a/b",
                secret_env="ghp_abc-123",
                allow_private=True,
            )
        view = tickets.add_target(
            s, "x", "github", "http://127.0.0.1:9", "a/b", secret_env="GH_TOKEN", allow_private=True
        )
        assert view["secret_env"] == "GH_TOKEN"
        assert s.scalar(select(func.count()).select_from(TicketTarget)) == 1


def test_vulnerability_per_application(estate: Store, github: FakeGitHub) -> None:
    from meshward.services import catalog
    from meshward.services.advisories import import_advisories

    from .estate import FIXTURES

    with estate.session() as s:
        catalog.create_app_version(s, "storefront", {"web": "1.0", "payments": "1.0"})
        import_advisories(s, [FIXTURES / "osv"])
    add_github(estate, github, grouping="vulnerability_application")
    report = sync(estate, "gh")
    assert report.count("create") == 1
    (issue,) = github.open_issues()
    assert issue["title"] == "CVE-2099-7777 in storefront (critical)"
    assert "web 1.0: pkg:pypi/flask@3.0.0 (fixed in 3.1.0)" in issue["body"]
    # a person closes it: it stays closed while nothing changes
    github.close(issue["number"])
    assert sync(estate, "gh").actions == []
    assert sync(estate, "gh").actions == []
    assert issue["state"] == "closed"


def test_refusals_are_recorded_and_given_up(estate: Store, jira: FakeJira) -> None:
    add_jira(estate, jira)
    with estate.session() as s:  # a project the tracker does not have
        s.scalars(select(TicketTarget)).one().project = "OPS"
    report = sync(estate, "acme-jira")
    assert len(report.errors) == 5 and report.pending == 5  # each tried, none stops the rest
    assert "jira POST /rest/api/3/issue: 400 project: valid project is required" in report.errors[0]
    now = NOW
    for _ in range(tickets.MAX_ATTEMPTS - 1):
        now += timedelta(hours=7)
        report = sync(estate, "acme-jira", now=now)
    assert report.dead == 5 and report.pending == 0
    with estate.session() as s:
        ops = s.scalars(select(TicketOutbox)).all()
        assert {(o.status, o.attempts) for o in ops} == {("dead", tickets.MAX_ATTEMPTS)}
    assert jira.issues == {}


def test_backoff_grows_with_jitter() -> None:
    import random

    rng = random.Random(7)
    waits = [tickets.backoff_seconds(n, rng) for n in range(1, 12)]
    assert 15 <= waits[0] <= 30 and 30 <= waits[1] <= 60 and 60 <= waits[2] <= 120
    assert all(tickets.BACKOFF_CAP / 2 <= w <= tickets.BACKOFF_CAP for w in waits[-2:])
