"""Advisories x SBOMs: findings appear, fold aliases, follow advisory changes, keep analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.services import catalog, findings
from meshward.services.advisories import find_advisory, import_advisories
from meshward.services.findings import FindingFilter
from meshward.services.sboms import store_sbom
from meshward.store.models import FindingEvent

OSV = Path(__file__).with_name("fixtures") / "osv"

PURLS = [
    "pkg:pypi/django@3.2.4",
    "pkg:golang/github.com/gorilla/websocket@v1.4.0",
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
    "pkg:deb/debian/openssl@3.0.9-1?distro=debian-12",
    "pkg:deb/debian/openssl@3.0.9-1?distro=debian-11",
    "pkg:npm/left-pad@1.3.0",
    "pkg:pypi/requests@2.31.0",
]


def sbom(purls: list[str]) -> SbomDocument:
    root = SbomPackage(ref="root", name="svc", version="1")
    packages = [SbomPackage(ref=p, name=p.split("/")[-1], purl=p) for p in purls]
    return SbomDocument(
        format="CycloneDX",
        spec_version="1.6",
        encoding="json",
        packages=[root, *packages],
        dependencies=[("root", p) for p in purls],
        root_refs=["root"],
    )


@pytest.fixture
def estate(session: Session) -> Session:
    catalog.create_component(session, "api")
    catalog.create_component(session, "worker")
    store_sbom(session, "api", "1.0", sbom(PURLS), "d1", None)
    store_sbom(session, "worker", "7", sbom(PURLS[:1]), "d2", None)
    return session


def active(session: Session, **kw: object) -> set[tuple[str, str, str]]:
    return {
        (f.component, f.vulnerability, f.purl)
        for f in findings.list_findings(session, FindingFilter(**kw))  # type: ignore[arg-type]
    }


def test_import_then_match_folds_aliases_and_respects_ecosystems(estate: Session) -> None:
    report = import_advisories(estate, [OSV])
    assert (report.read, report.created, report.withdrawn) == (6, 6, 1)
    assert active(estate, component="api") == {
        ("api", "CVE-2099-0001", "pkg:pypi/django@3.2.4"),
        ("api", "CVE-2099-0002", "pkg:golang/github.com/gorilla/websocket@v1.4.0"),
        ("api", "CVE-2099-0003", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
        ("api", "CVE-2099-0004", "pkg:deb/debian/openssl@3.0.9-1?distro=debian-12"),
    }
    (django,) = findings.list_findings(
        estate, FindingFilter(component="api", vulnerability="GHSA-aaaa-bbbb-cccc")
    )
    # two records of one vulnerability: one finding, the fix that clears both, worst severity
    assert django.fixed_version == "3.2.6"
    assert django.severity == "critical" and django.score == 9.8
    assert set(django.aliases) == {"CVE-2099-0001", "GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1"}
    assert active(estate, component="worker") == {
        ("worker", "CVE-2099-0001", "pkg:pypi/django@3.2.4")
    }
    assert find_advisory(estate, "cve-2099-0003").osv_id == "TEST-2099-0003"
    assert len(findings.finding_events(estate)) == 5


def test_same_import_twice_changes_nothing(estate: Session) -> None:
    import_advisories(estate, [OSV])
    events = estate.scalars(select(FindingEvent.id)).all()
    again = import_advisories(estate, [OSV])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    assert estate.scalars(select(FindingEvent.id)).all() == events


def test_sbom_upload_matches_against_stored_advisories(session: Session) -> None:
    import_advisories(session, [OSV])
    catalog.create_component(session, "late")
    result = store_sbom(session, "late", "1", sbom(PURLS[:2]), "d3", None)
    assert result.findings == 2
    replaced = store_sbom(session, "late", "1", sbom(["pkg:pypi/django@3.2.6"]), "d4", None)
    assert replaced.findings == 0 and replaced.replaced_document
    assert active(session, component="late") == set()


def test_narrowed_and_withdrawn_advisories_close_findings_and_analysis_survives(
    estate: Session, tmp_path: Path
) -> None:
    import_advisories(estate, [OSV])
    (go,) = findings.list_findings(
        estate, FindingFilter(component="api", vulnerability="GO-2099-0002")
    )
    findings.set_analysis(estate, [go.id], "exploitable", detail="public endpoint", actor="ada")
    record = json.loads((OSV / "GO-2099-0002.json").read_text())
    record["modified"] = "2099-06-01T00:00:00Z"
    record["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}, {"fixed": "1.3.0"}]
    (tmp_path / "narrowed.json").write_text(json.dumps(record))
    report = import_advisories(estate, [tmp_path / "narrowed.json"])
    assert report.updated == 1 and report.matching.resolved == 1
    assert ("api", "CVE-2099-0002", "pkg:golang/github.com/gorilla/websocket@v1.4.0") not in active(
        estate
    )
    record["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}]
    record["modified"] = "2099-07-01T00:00:00Z"
    (tmp_path / "narrowed.json").write_text(json.dumps(record))
    report = import_advisories(estate, [tmp_path / "narrowed.json"])
    assert report.matching.reopened == 1
    (again,) = findings.list_findings(
        estate, FindingFilter(component="api", vulnerability="CVE-2099-0002")
    )
    assert again.id == go.id and again.state == "exploitable" and again.analysed_by == "ada"
    assert again.fixed_version is None  # no fix recorded any more
    record["withdrawn"] = "2099-07-02T00:00:00Z"
    record["modified"] = "2099-07-02T00:00:00Z"
    (tmp_path / "narrowed.json").write_text(json.dumps(record))
    import_advisories(estate, [tmp_path / "narrowed.json"])
    assert not findings.list_findings(estate, FindingFilter(vulnerability="CVE-2099-0002"))
    kinds = [e["kind"] for e in findings.finding_events(estate) if e["finding"] == go.id]
    assert kinds == ["withdrawn", "reopened", "resolved", "analysis", "new"]


def test_analysis_rules_and_carry_to_next_version(estate: Session) -> None:
    import_advisories(estate, [OSV])
    (dj,) = findings.list_findings(
        estate, FindingFilter(component="api", vulnerability="CVE-2099-0001")
    )
    with pytest.raises(Exception, match="justification"):
        findings.set_analysis(estate, [dj.id], "not_affected")
    findings.set_analysis(
        estate, [dj.id], "not_affected", justification="code_not_reachable", actor="grace"
    )
    store_sbom(estate, "api", "1.1", sbom(PURLS[:1]), "d5", None)
    assert findings.carry_analysis(estate, "api", "1.0", "1.1") == 1
    (carried,) = findings.list_findings(estate, FindingFilter(component="api", version="1.1"))
    assert carried.state == "not_affected" and carried.justification == "code_not_reachable"
    assert (
        findings.list_findings(estate, FindingFilter(state=["not_affected"], component="worker"))
        == []
    )
    assert findings.count_by_severity(estate, FindingFilter(component="api", version="1.0")) == {
        "critical": 2,
        "medium": 1,
        "unknown": 1,
    }
