"""Triage rules (current and future findings, scope, range, expiry) and SLAs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from meshward.errors import MeshwardError
from meshward.services import catalog, findings, triage
from meshward.services.advisories import import_advisories
from meshward.services.catalog_import import import_catalog
from meshward.services.findings import FindingFilter
from meshward.services.sboms import store_sbom
from meshward.store.models import Finding
from meshward.store.types import utcnow
from tests.services.test_matching import OSV, sbom

DEMO = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo" / "catalog"
DJANGO = ["pkg:pypi/django@3.2.4"]


@pytest.fixture
def estate(session: Session) -> Session:
    import_catalog(session, [DEMO])
    import_advisories(session, [OSV])
    store_sbom(session, "checkout", "1.0", sbom(DJANGO), "a", None)
    store_sbom(session, "cart", "1.0", sbom(DJANGO), "b", None)
    return session


def states(session: Session) -> dict[str, str]:
    triage.apply_rules(session)
    return {
        f.component: f.state
        for f in findings.list_findings(session, FindingFilter(vulnerability="CVE-2099-0001"))
    }


def test_rule_covers_its_scope_now_and_later_and_spares_human_decisions(estate: Session) -> None:
    (cart,) = findings.list_findings(estate, FindingFilter(component="cart"))
    findings.set_analysis(estate, [cart.id], "exploitable", actor="grace")
    rule, applied = triage.create_rule(
        estate,
        scope="domain",
        target="acme.payments",
        vulnerability="GHSA-aaaa-bbbb-cccc",
        state="not_affected",
        justification="vulnerable_code_not_in_execute_path",
        author="ada",
    )
    assert applied == 1
    assert states(estate) == {"checkout": "not_affected", "cart": "exploitable"}
    store_sbom(estate, "ledger", "1.0", sbom(DJANGO), "c", None)  # a future finding in scope
    store_sbom(estate, "search", "1.0", sbom(DJANGO), "d", None)  # out of scope
    assert states(estate) == {
        "checkout": "not_affected",
        "cart": "exploitable",
        "ledger": "not_affected",
        "search": "open",
    }
    (ledger,) = findings.list_findings(estate, FindingFilter(component="ledger"))
    assert ledger.analysed_by == f"rule {rule.id} (ada)"
    listed = {r["id"]: r for r in triage.list_rules(estate)}
    assert listed[rule.id]["findings"] == 2 and listed[rule.id]["live"]


def test_rule_lapses_by_itself_and_can_be_revoked(estate: Session) -> None:
    soon = utcnow() + timedelta(days=30)
    rule, _ = triage.create_rule(
        estate,
        scope="estate",
        target=None,
        vulnerability="CVE-2099-0001",
        state="in_triage",
        author="ada",
        expires_at=soon,
    )
    assert set(states(estate).values()) == {"in_triage"}
    triage.apply_rules(estate, now=soon + timedelta(seconds=1))
    lapsed = findings.list_findings(estate, FindingFilter(vulnerability="CVE-2099-0001"))
    assert {(f.state, f.analysed_by) for f in lapsed} == {("open", None)}
    triage.apply_rules(estate)  # still live today: it applies again
    assert set(states(estate).values()) == {"in_triage"}
    triage.revoke_rule(estate, rule.id)
    assert set(states(estate).values()) == {"open"}
    kinds = {e["kind"] for e in findings.finding_events(estate)}
    assert "rule_lapsed" in kinds


def test_rule_package_and_version_range(estate: Session) -> None:
    store_sbom(estate, "search", "1.0", sbom(["pkg:pypi/django@3.1.0"]), "e", None)
    triage.create_rule(
        estate,
        scope="estate",
        target=None,
        vulnerability="CVE-2099-0001",
        state="false_positive",
        author="ada",
        package="Django",
        version_range=">=3.2,<3.3",
    )
    assert states(estate) == {
        "checkout": "false_positive",
        "cart": "false_positive",
        "search": "open",
    }
    with pytest.raises(MeshwardError, match="version range"):
        triage.create_rule(
            estate,
            scope="estate",
            target=None,
            vulnerability="CVE-2099-0001",
            state="in_triage",
            author="ada",
            version_range="3.2",
        )
    with pytest.raises(MeshwardError, match="justification"):
        triage.create_rule(
            estate,
            scope="estate",
            target=None,
            vulnerability="CVE-2099-0001",
            state="not_affected",
            author="ada",
        )


def test_sla_due_dates_domain_override_overdue_and_deploy_timing(estate: Session) -> None:
    (checkout,) = findings.list_findings(estate, FindingFilter(component="checkout"))
    first = datetime.fromisoformat(checkout.first_appeared.replace("Z", "+00:00"))
    assert checkout.severity == "critical"
    assert checkout.due and datetime.fromisoformat(
        checkout.due.replace("Z", "+00:00")
    ) == first + timedelta(days=15)
    triage.set_sla(estate, "critical", 5, domain="acme.payments")
    (checkout,) = findings.list_findings(estate, FindingFilter(component="checkout"))
    (cart,) = findings.list_findings(estate, FindingFilter(component="cart"))
    assert checkout.due < cart.due  # payments has the stricter SLA, commerce the default
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    estate.execute(update(Finding).values(first_seen=long_ago))
    (cart,) = findings.list_findings(estate, FindingFilter(component="cart"))
    assert cart.overdue
    findings.set_analysis(estate, [cart.id], "not_affected", justification="code_not_present")
    (cart,) = findings.list_findings(estate, FindingFilter(component="cart"))
    assert not cart.overdue  # a settled finding needs no fix
    # the advisory (published 2099) came out after this version was deployed
    catalog.record_deployment(estate, "prod", "cart", "1.0", datetime(2026, 1, 1, tzinfo=UTC))
    (cart,) = findings.list_findings(estate, FindingFilter(component="cart"))
    assert cart.published_after_deploy and not checkout.published_after_deploy


def test_mean_time_to_remediate_across_versions(estate: Session) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    estate.execute(update(Finding).values(first_seen=t0))
    store_sbom(estate, "cart", "1.0", sbom(["pkg:pypi/django@3.2.6"]), "fixed", None)
    estate.execute(
        update(Finding).where(Finding.active.is_(False)).values(resolved_at=t0 + timedelta(days=10))
    )
    stats = triage.remediation_stats(estate)
    assert stats["critical"] == {"remediated": 1, "mean_days_to_remediate": 10.0, "open": 1}
