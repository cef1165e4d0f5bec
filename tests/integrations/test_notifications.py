"""Notifications against local receivers: a signed generic webhook, Slack and Teams payloads,
SMTP, routing to the owning team only, metadata addresses refused, retries recorded.

CVE-2099-7777 (critical, KEV-listed here) hits flask 3.0.0: web 1.0 (team-a, in prod) and
payments 1.1 (team-b, not deployed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes as _parse
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from meshward.integrations.safety import OutboundRefused
from meshward.services import catalog
from meshward.services import notifications as nt
from meshward.services.advisories import import_advisories
from meshward.services.sboms import store_sbom
from meshward.services.tickets import durable_session
from meshward.store.db import Store
from meshward.store.integration_models import NotificationDelivery
from meshward.store.models import Component, KevEntry
from meshward.store.types import utcnow

from .estate import FIXTURES, sbom, t
from .fakes import FakeSmtp, WebhookReceiver

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def message_from_bytes(data: bytes) -> EmailMessage:
    mail = _parse(data, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


@pytest.fixture
def vulnerable(estate: Store) -> Store:
    with estate.session() as s:
        catalog.add_component_version(s, "payments", "1.1", created_at=t("2024-03-01"))
        store_sbom(s, "payments", "1.1", sbom(["pkg:pypi/flask@3.0.0"]), "d3", None)
        import_advisories(s, [FIXTURES / "osv"])
        s.add(
            KevEntry(
                cve="CVE-2099-7777",
                name="Test framework request smuggling",
                date_added=date(2099, 1, 3),
                catalog_version="2099.01.03",
            )
        )
    return estate


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    fake = WebhookReceiver().start()
    yield fake
    fake.stop()


def run(store: Store, **kw: Any) -> nt.RunReport:
    with durable_session(store) as s:
        return nt.run_notifications(
            s, since=kw.pop("since", SINCE), web_url="https://meshward.acme.example", **kw
        )


def deliveries(store: Store) -> list[NotificationDelivery]:
    with store.session() as s:
        return list(s.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)))


def test_signed_webhook_critical_finding_in_prod_once(
    vulnerable: Store, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret-hmac-key")
    receiver.secret = "s3cret-hmac-key"
    with vulnerable.session() as s:
        nt.add_channel(
            s,
            "hook",
            "webhook",
            url=receiver.url + "/in",
            secret_env="HOOK_SECRET",
            allow_private=True,
        )
        nt.add_rule(s, "crit-prod", "critical_finding", "hook", only_prod=True)
    report = run(vulnerable)
    assert report.sent == 1 and report.errors == []
    assert receiver.verified == [True]
    (req,) = receiver.requests
    assert req.path == "/in" and req.headers["X-Meshward-Event"] == "critical_finding"
    body = req.body
    assert body["title"] == "Critical CVE-2099-7777 in web 1.0"  # payments 1.1 is not in prod
    assert body["url"] == "https://meshward.acme.example/ui/components/web/versions/1.0"
    assert body["data"]["purl"] == "pkg:pypi/flask@3.0.0"
    assert str(body["timestamp"]) == req.headers["X-Meshward-Timestamp"]
    # again: one delivery per event and channel, never two
    assert run(vulnerable).sent == 0
    assert len(receiver.requests) == 1
    (d,) = deliveries(vulnerable)
    assert (d.status, d.response_code, d.attempts, d.recipient) == ("sent", 200, 1, "*")

    # a receiver that refuses the signature: given up, recorded
    receiver.secret = "another-key"
    with vulnerable.session() as s:
        nt.add_rule(s, "crit-any", "critical_finding", "hook")
        nt.add_channel(
            s,
            "hook",
            "webhook",
            url=receiver.url + "/in",
            secret_env="HOOK_SECRET",
            allow_private=True,
        )
    report = run(vulnerable, rule="crit-any")
    assert report.failed == 1
    dead = deliveries(vulnerable)[-1]
    assert (dead.status, dead.response_code) == ("dead", 401)


def test_slack_routes_kev_to_each_owning_team_only(
    vulnerable: Store, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_URL", receiver.url + "/services/T000/B000/XXXX")
    with vulnerable.session() as s:
        nt.add_channel(s, "slack", "slack", url_env="SLACK_URL", allow_private=True)
        nt.add_rule(s, "kev-owners", "kev", "slack", route="owner")
    report = run(vulnerable)
    assert report.sent == 2
    sent = {r.body["channel"]: r.body for r in receiver.requests}
    # web is team-a's (the Group's annotation), payments carries its own annotation
    assert set(sent) == {"#team-a-alerts", "#payments-oncall"}
    web = sent["#team-a-alerts"]
    assert web["text"].startswith("Exploited in the wild: CVE-2099-7777 in web 1.0")
    assert web["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Exploited in the wild: CVE-2099-7777 in web 1.0"},
    }
    assert (
        web["blocks"][-1]["elements"][0]["url"]
        == "https://meshward.acme.example/ui/components/web/versions/1.0"
    )
    assert "payments" not in web["text"]
    assert {d.team for d in deliveries(vulnerable)} == {
        "group:default/team-a",
        "group:default/team-b",
    }


def test_teams_card_and_team_webhooks_on_allowed_hosts(
    vulnerable: Store, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMS_URL", receiver.url + "/webhook/central")
    with vulnerable.session() as s:
        comp = s.scalars(select(Component).where(Component.name == "web")).one()
        comp.annotations = {
            **comp.annotations,
            "meshward.io/teams-webhook": receiver.url + "/webhook/team-a",
        }
        nt.add_channel(
            s,
            "teams",
            "teams",
            url_env="TEAMS_URL",
            allow_private=True,
            settings={"allowed_hosts": ["127.0.0.1"]},
        )
        nt.add_rule(s, "kev-central", "kev", "teams", only_prod=True)
        nt.add_rule(s, "kev-teams", "kev", "teams", route="owner")
    report = run(vulnerable)
    assert report.sent == 2 and report.unroutable == [
        "kev-teams: kev:2 (no address for the owning team)"
    ]
    paths = sorted(r.path for r in receiver.requests)
    assert paths == ["/webhook/central", "/webhook/team-a"]
    card = receiver.requests[0].body
    assert card["type"] == "message"
    (attachment,) = card["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
    assert content["body"][0]["text"] == "Exploited in the wild: CVE-2099-7777 in web 1.0"
    assert {"title": "Vulnerability", "value": "CVE-2099-7777"} in content["body"][2]["facts"]
    assert content["actions"][0]["type"] == "Action.OpenUrl"
    # the team's URL never lands in the records
    assert all(
        "team-a" not in d.recipient or d.recipient.startswith("team-webhook:")
        for d in deliveries(vulnerable)
    )

    # a host the admin did not allow is refused, even from the catalog
    with vulnerable.session() as s:
        comp = s.scalars(select(Component).where(Component.name == "payments")).one()
        comp.annotations = {
            **comp.annotations,
            "meshward.io/teams-webhook": "http://169.254.169.254/latest/meta-data",
        }
    report = run(vulnerable)
    assert report.refused == 1 and "not among the hosts allowed" in report.errors[0]


def test_email_to_the_owning_team_over_smtp(vulnerable: Store) -> None:
    smtp = FakeSmtp().start()
    try:
        with vulnerable.session() as s:
            nt.add_channel(
                s,
                "mail",
                "email",
                allow_private=True,
                settings={
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "sender": "meshward@acme.example",
                },
            )
            nt.add_rule(s, "crit-mail", "critical_finding", "mail", route="owner", latest_only=True)
        report = run(vulnerable)
        assert report.sent == 2
        by_to = {m.recipients[0]: message_from_bytes(m.data) for m in smtp.mails}
        assert set(by_to) == {"team-a@acme.example", "team-b@acme.example"}
        mail = by_to["team-b@acme.example"]
        assert mail["Subject"] == "[meshward] Critical CVE-2099-7777 in payments 1.1"
        assert mail["From"] == "meshward@acme.example"
        assert (
            "https://meshward.acme.example/ui/components/payments/versions/1.1"
            in mail.get_content()
        )
        assert "STARTTLS" not in smtp.commands  # not offered, not tried
        assert smtp.commands[:3] == ["EHLO", "MAIL", "RCPT"]

        # the daily digest: one message per team with something to say
        with durable_session(vulnerable) as s:
            digest = nt.daily_digest(s, "mail", day=utcnow().date(), web_url="https://m.example")
        assert digest.sent == 2
        subjects = sorted(message_from_bytes(m.data)["Subject"] for m in smtp.mails[2:])
        day = utcnow().date().isoformat()
        assert subjects == [
            f"[meshward] Daily digest for group:default/team-a ({day})",
            f"[meshward] Daily digest for group:default/team-b ({day})",
        ]
        body = message_from_bytes(smtp.mails[2].data).get_content()
        assert body.splitlines()[:4] == [
            "New findings: 1 critical",
            "Open findings exploited in the wild (KEV): 1",
            "Controls failing verification: 0",
            "Open control tasks: 3",
        ]
    finally:
        smtp.stop()


def test_metadata_and_link_local_refused_loopback_only_when_allowed(
    vulnerable: Store, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with vulnerable.session() as s:
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data/",
            "http://[fd00:ec2::254]/latest/",
            "http://[fe80::1]/hook",
            "http://[::ffff:169.254.169.254]/",
        ):
            with pytest.raises(OutboundRefused):
                nt.add_channel(s, "bad", "webhook", url=url, allow_private=True)
        with pytest.raises(OutboundRefused, match="loopback"):
            nt.add_channel(s, "bad", "webhook", url=receiver.url)
    # a URL from the environment is checked when sent: metadata never, loopback only when
    # the rule says so
    monkeypatch.setenv("HOOK_URL", "http://169.254.169.254/hook")
    with vulnerable.session() as s:
        nt.add_channel(s, "env-hook", "webhook", url_env="HOOK_URL")
        nt.add_rule(s, "kev", "kev", "env-hook", allow_private=True, only_prod=True)
    report = run(vulnerable)
    assert report.refused == 1 and "metadata" in report.errors[0]
    monkeypatch.setenv("HOOK_URL", receiver.url)
    with vulnerable.session() as s:
        nt.add_channel(s, "loop", "webhook", url_env="HOOK_URL")
        nt.add_rule(s, "crit", "critical_finding", "loop", only_prod=True)
        nt.add_channel(s, "loop-ok", "webhook", url_env="HOOK_URL")
        nt.add_rule(s, "crit-ok", "critical_finding", "loop-ok", only_prod=True, allow_private=True)
    report = run(vulnerable, rule="crit")
    assert report.refused == 1 and "loopback" in report.errors[0]
    assert receiver.requests == []
    assert run(vulnerable, rule="crit-ok").sent == 1
    assert len(receiver.requests) == 1


def test_retries_with_backoff_then_sends_once(vulnerable: Store, receiver: WebhookReceiver) -> None:
    receiver.status = 503
    with vulnerable.session() as s:
        nt.add_channel(s, "hook", "webhook", url=receiver.url, allow_private=True)
        nt.add_rule(s, "kev", "kev", "hook", only_prod=True)
    now = utcnow()
    report = run(vulnerable, now=now)
    assert report.failed == 1 and report.pending == 1
    (d,) = deliveries(vulnerable)
    assert d.status == "pending" and d.attempts == 1 and d.response_code == 503
    assert now + timedelta(seconds=15) <= d.next_attempt_at <= now + timedelta(seconds=30)
    assert run(vulnerable, now=now + timedelta(seconds=1)).failed == 0  # not due yet
    receiver.status = 200
    report = run(vulnerable, now=now + timedelta(minutes=1))
    assert report.sent == 1 and report.pending == 0
    assert len(receiver.requests) == 2
    (d,) = deliveries(vulnerable)
    assert (d.status, d.attempts, d.response_code) == ("sent", 2, 200)


def test_dry_run_plans_and_sends_nothing(vulnerable: Store, receiver: WebhookReceiver) -> None:
    with vulnerable.session() as s:
        nt.add_channel(s, "hook", "webhook", url=receiver.url, allow_private=True)
        nt.add_rule(s, "kev", "kev", "hook")
    report = run(vulnerable, dry_run=True)
    assert [(p["rule"], p["event"], p["recipient"]) for p in report.planned] == [
        ("kev", "kev:1", "*"),
        ("kev", "kev:2", "*"),
    ]
    assert receiver.requests == [] and deliveries(vulnerable) == []


def test_kb_update_that_changes_enough_services(
    vulnerable: Store, receiver: WebhookReceiver, tmp_path: Any
) -> None:
    import shutil

    from meshward.kb.loader import load_kb
    from meshward.services import threat_models as tm

    kb = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", kb)
    (kb / "kb.yaml").write_text(
        'version: "1.1"\nchangelog:\n  - {version: "1.1", date: "2026-11-01", changes: [deps]}\n'
        '  - {version: "1.0", date: "2026-01-01", changes: [first]}\n'
    )
    controls = kb / "controls" / "c.yaml"
    text = controls.read_text()
    start = text.index("- id: C-DEPS")
    desc = text.index("description:", start)
    end = text.index("\n", desc)
    controls.write_text(
        text[:desc] + "description: Track every dependency against advisories." + text[end:]
    )
    with vulnerable.session() as s:
        nt.add_channel(s, "hook", "webhook", url=receiver.url, allow_private=True)
        nt.add_rule(s, "kb-many", "kb_update", "hook", min_services=4)
        nt.add_rule(s, "kb-some", "kb_update", "hook", min_services=2)
        update = tm.install_kb(s, load_kb(kb, overlay=False))
    assert update.services_touched == 2  # web and payments carry C-DEPS
    report = run(vulnerable)
    assert report.sent == 1
    (req,) = receiver.requests
    assert req.body["title"] == f"Knowledge base 1.1 changed {update.services_touched} services"
    assert req.body["key"] == "kb-update:1.1"
