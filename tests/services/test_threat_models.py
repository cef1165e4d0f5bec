"""Threat models end to end on a small KB written for the tests (fixtures/threats/kb).

web (a Flask website, internet-facing) consumes payments-api of payments (which stores
payment data). The KB's answers are exact, so every assertion names the threats and controls.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshward.errors import InputError, MeshwardError
from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.kb.loader import load_kb
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services.catalog_import import import_catalog
from meshward.services.sboms import store_sbom
from meshward.store.threat_models import ControlTask

FIXTURES = Path(__file__).with_name("fixtures") / "threats"


def sbom(purls: list[str]) -> SbomDocument:
    root = SbomPackage(ref="root", name="root", version="1")
    packages = [SbomPackage(ref=p, name=p.rsplit("/", 1)[-1], purl=p) for p in purls]
    return SbomDocument(
        format="CycloneDX",
        spec_version="1.6",
        encoding="json",
        packages=[root, *packages],
        dependencies=[("root", p) for p in purls],
        root_refs=["root"],
    )


def t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def estate(session: Session) -> Session:
    import_catalog(session, [FIXTURES / "catalog.yaml"])
    tm.install_kb(session, load_kb(FIXTURES / "kb", overlay=False))
    catalog.add_component_version(session, "web", "1.0", created_at=t("2024-01-01"))
    catalog.add_component_version(session, "payments", "1.0", created_at=t("2024-01-01"))
    store_sbom(
        session, "web", "1.0", sbom(["pkg:pypi/flask@3.0.0", "pkg:pypi/lxml@5.0.0"]), "d1", None
    )
    store_sbom(session, "payments", "1.0", sbom(["pkg:pypi/psycopg@3.1.0"]), "d2", None)
    catalog.record_deployment(session, "prod", "web", "1.0", t("2024-02-01"))
    catalog.record_deployment(session, "prod", "payments", "1.0", t("2024-02-01"))
    session.flush()
    return session


def _threats(model: dict[str, object]) -> set[tuple[str, str, str | None]]:
    return {(x["threat"], x["role"], x["peer"]) for x in model["threats"]}  # type: ignore[index, union-attr]


def _controls(model: dict[str, object]) -> dict[str, str]:
    return {c["control"]: c["effective_status"] for c in model["controls"] if c["active"]}  # type: ignore[index, union-attr]


def test_survey_prefills_from_sbom_and_answers_drive_exact_threats(estate: Session) -> None:
    survey = tm.survey_view(estate, "web", "1.0")
    answers = {q["id"]: (q["answer"], q["source"]) for q in survey["questions"]}
    assert answers["features"] == (["parses_xml"], "implied")  # lxml in the SBOM
    assert answers["data_classes"] == (["public"], "default")
    assert "sessions" not in answers  # shown only when the service renders HTML
    assert survey["facts"]["sbom.frameworks"] == ["flask"]

    tm.answer_survey(
        estate,
        "web",
        "1.0",
        {
            "exposure": "internet",
            "features": ["renders_html", "sql"],
            "sessions": True,
            "service_auth": "none",
        },
    )
    tm.answer_survey(
        estate,
        "payments",
        "1.0",
        {
            "exposure": "internal",
            "data_classes": ["payment"],
            "service_auth": "none",
            "zone": "pci",
        },
    )

    web = tm.threat_model(estate, "web", "1.0")
    assert _threats(web) == {
        ("T-SQLI", "service", None),
        ("T-XSS", "service", None),
        ("T-CSRF", "service", None),
        ("T-LINK-NO-MTLS", "consumer", "component:default/payments"),
        ("T-DEPS", "service", None),
    }
    assert _controls(web) == {
        "C-DEPS": "todo",
        "C-PARAMS": "todo",
        "C-ENCODE": "todo",
        "C-CSRF": "todo",
        "C-MTLS": "todo",
    }
    why = next(x for x in web["threats"] if x["threat"] == "T-CSRF")["why"]
    assert why == [
        "survey.features contains renders_html (is [renders_html, sql])",
        "survey.sessions equals true (is true)",
    ]

    payments = tm.threat_model(estate, "payments", "1.0")
    assert _threats(payments) == {
        ("T-PAYMENT-DATA", "service", None),
        ("T-LINK-NO-MTLS", "provider", "component:default/web"),
        ("T-DEPS", "service", None),
    }
    assert set(_controls(payments)) == {"C-ENCRYPT", "C-MTLS", "C-DEPS"}
    # stores_data was prefilled true from psycopg: the payment-data threat needs it
    survey = tm.survey_view(estate, "payments", "1.0")
    assert {q["id"]: q["source"] for q in survey["questions"]}["stores_data"] == "prefilled"


def test_zone_crossing_link_threat(estate: Session) -> None:
    tm.answer_survey(estate, "web", "1.0", {"zone": "dmz"})
    tm.answer_survey(estate, "payments", "1.0", {"zone": "pci"})
    web = tm.threat_model(estate, "web", "1.0")
    assert ("T-LINK-ZONE", "consumer", "component:default/payments") in _threats(web)
    tm.answer_survey(estate, "web", "1.0", {"zone": "PCI"})
    assert ("T-LINK-ZONE", "consumer", "component:default/payments") not in _threats(
        tm.threat_model(estate, "web", "1.0")
    )


def test_wrong_answers_are_refused_and_change_nothing(estate: Session) -> None:
    with pytest.raises(InputError, match="exposure: expects one of: internal, internet"):
        tm.answer_survey(estate, "web", "1.0", {"exposure": "everyone", "zone": "dmz"})
    with pytest.raises(InputError, match="nope: no such question"):
        tm.answer_survey(estate, "web", "1.0", {"nope": True})
    assert tm.survey_view(estate, "web", "1.0")["answered"] == 0


def test_decisions_need_reason_and_author(estate: Session) -> None:
    tm.answer_survey(estate, "web", "1.0", {"features": ["sql"]})
    with pytest.raises(MeshwardError, match="needs a reason"):
        tm.set_control(estate, "web", "1.0", "C-PARAMS", status="risk_accepted")
    view = tm.set_control(
        estate,
        "web",
        "1.0",
        "C-PARAMS",
        status="risk_accepted",
        reason="legacy, replaced in Q3",
        assignee="ana",
    )
    assert view["status"] == "risk_accepted"
    assert view["decided_by"]
    assert view["reason"] == "legacy, replaced in Q3"
    with pytest.raises(MeshwardError, match="not in the threat model"):
        tm.set_control(estate, "web", "1.0", "C-CSRF", status="done")


def test_new_version_starts_from_predecessor(estate: Session) -> None:
    tm.answer_survey(estate, "web", "1.0", {"features": ["sql", "renders_html"]})
    tm.set_control(estate, "web", "1.0", "C-PARAMS", status="done")
    tm.set_control(estate, "web", "1.0", "C-ENCODE", status="not_applicable", reason="JSON only")
    catalog.add_component_version(estate, "web", "1.1", created_at=t("2024-03-01"))
    model = tm.threat_model(estate, "web", "1.1")
    assert _controls(model)["C-PARAMS"] == "done"
    assert _controls(model)["C-ENCODE"] == "not_applicable"
    survey = tm.survey_view(estate, "web", "1.1")
    assert {q["id"]: q["source"] for q in survey["questions"]}["features"] == "inherited"
    tm.answer_survey(estate, "web", "1.1", {"features": ["sql"]})
    survey = tm.survey_view(estate, "web", "1.1")
    assert {q["id"]: q["source"] for q in survey["questions"]}["features"] == "answered"


def test_kb_update_keeps_decisions_and_retires_removed_control(
    estate: Session, tmp_path: Path
) -> None:
    tm.answer_survey(estate, "web", "1.0", {"features": ["sql", "renders_html"]})
    tm.set_control(
        estate, "web", "1.0", "C-PARAMS", status="risk_accepted", reason="accepted by CISO"
    )
    tm.set_control(estate, "web", "1.0", "C-ENCODE", status="in_progress", assignee="bo")
    new = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb", new)
    (new / "kb.yaml").write_text(
        'version: "1.1"\nchangelog:\n'
        '  - {version: "1.1", date: "2026-02-01", changes: [drop encoding]}\n'
    )
    controls = (new / "controls" / "c.yaml").read_text()
    start = controls.index("- id: C-ENCODE")
    end = controls.index("- id: C-CSRF")
    controls = controls[:start] + controls[end:]
    controls = controls.replace("title: Parameterised queries", "title: Parameterised queries only")
    controls += (
        "- id: C-WAF\n  title: WAF rules\n  description: Block probes.\n  priority: low\n"
        "  mitigates: [T-SQLI]\n  test_plan: [Send a probe]\n"
    )
    (new / "controls" / "c.yaml").write_text(controls)

    report = tm.install_kb(estate, load_kb(new, overlay=False))
    changes = {(c.key, c.change): c.services for c in report.changes}
    assert changes == {
        ("C-ENCODE", "retired"): 1,
        ("C-PARAMS", "changed"): 1,
        ("C-WAF", "added"): 1,
    }
    model = tm.threat_model(estate, "web", "1.0")
    tasks = {c["control"]: c for c in model["controls"]}
    assert tasks["C-PARAMS"]["status"] == "risk_accepted"
    assert tasks["C-PARAMS"]["reason"] == "accepted by CISO"
    assert tasks["C-PARAMS"]["title"] == "Parameterised queries only"
    assert tasks["C-ENCODE"]["active"] is False
    assert tasks["C-ENCODE"]["retired_in"] == "1.1"
    assert tasks["C-ENCODE"]["status"] == "in_progress"  # the decision is kept, never deleted
    assert tasks["C-WAF"]["status"] == "todo"
    assert tm.install_kb(estate, load_kb(new, overlay=False)).unchanged


def test_platform_satisfies_mtls_and_removal_reopens(estate: Session) -> None:
    tm.threat_model(estate, "web", "1.0")
    tm.set_control(estate, "payments", "1.0", "C-MTLS", status="todo")
    tm.declare_platform(estate, "mesh", ["mtls"], environment="prod")
    model = tm.threat_model(estate, "payments", "1.0")
    task = next(c for c in model["controls"] if c["control"] == "C-MTLS")
    # the mesh's mTLS makes the link authenticated: the threat is gone, and so is the task
    assert task["active"] is False
    assert ("T-LINK-NO-MTLS", "provider", "component:default/web") not in _threats(model)
    tm.remove_platform(estate, "mesh")
    model = tm.threat_model(estate, "payments", "1.0")
    assert _controls(model)["C-MTLS"] == "todo"


def test_platform_marks_control_done_when_threat_stays(estate: Session) -> None:
    tm.answer_survey(estate, "payments", "1.0", {"zone": "pci"})
    tm.answer_survey(estate, "web", "1.0", {"zone": "dmz"})
    tm.declare_platform(estate, "gateway", ["mtls"], members=["web"])
    web = tm.threat_model(estate, "web", "1.0")
    # web is on the platform, but the link's provider (payments) is not: the threat stays,
    # and web's own half of the mTLS control is satisfied by the platform
    task = next(c for c in web["controls"] if c["control"] == "C-MTLS")
    assert task["effective_status"] == "done"
    assert task["satisfied_by_platform"] == "gateway"
    assert task["status"] == "todo"


def test_refresh_is_idempotent_and_set_based(estate: Session) -> None:
    first = tm.refresh(estate)
    assert first.threats_added > 0
    again = tm.refresh(estate)
    assert (again.threats_added, again.threats_removed, again.tasks_added, again.tasks_retired) == (
        0,
        0,
        0,
        0,
    )
    assert estate.scalars(select(ControlTask)).all()


def test_freshness_is_kept_across_transactions_until_a_commit_changes_data(
    db_url: str,
) -> None:
    """A second read at the same data revision gathers nothing; a change committed by another
    process (another Store) is seen by the next read, which re-evaluates the model."""
    from meshward.store.db import Store

    reader, writer = Store(db_url), Store(db_url)
    try:
        with reader.session() as s:
            import_catalog(s, [FIXTURES / "catalog.yaml"])
            tm.install_kb(s, load_kb(FIXTURES / "kb", overlay=False))
            catalog.add_component_version(s, "web", "0.9", created_at=t("2023-12-01"))
            catalog.add_component_version(s, "web", "1.0", created_at=t("2024-01-01"))
            catalog.add_component_version(s, "payments", "1.0", created_at=t("2024-01-01"))
        with reader.session() as s:
            assert tm.refresh(s, [_cv(s, "web")]).gathered is not None  # evaluates, writes
        with reader.session() as s:  # the model's own writes are not among its inputs
            kept = tm.refresh(s, [_cv(s, "web")])
            assert kept.gathered is None and kept.versions == 1  # known fresh: no gather
            before = _threats(tm.threat_model(s, "web", "1.0"))
        with writer.session() as s:  # what is not an input leaves the model known fresh
            s.execute(update(ControlTask).values(status="in_progress"))
            # nor does an SBOM of a version outside web 1.0's neighbourhood
            store_sbom(s, "web", "0.9", sbom(["pkg:pypi/flask@2.0.0"]), "d0", None)
        with reader.session() as s:
            assert tm.refresh(s, [_cv(s, "web")]).gathered is None
        with writer.session() as s:  # a new SBOM of its link partner is an input
            store_sbom(s, "payments", "1.0", sbom(["pkg:pypi/psycopg@3.1.0"]), "d2", None)
        with reader.session() as s:
            assert tm.refresh(s, [_cv(s, "web")]).gathered is not None
        with reader.session() as s:
            assert tm.refresh(s, [_cv(s, "web")]).gathered is None
        with writer.session() as s:
            tm.answer_survey(s, "web", "1.0", {"features": ["renders_html"], "sessions": True})
        with reader.session() as s:
            again = tm.refresh(s, [_cv(s, "web")])
            assert again.gathered is not None
            after = _threats(tm.threat_model(s, "web", "1.0"))
        assert ("T-CSRF", "service", None) in after - before
        with pytest.raises(RuntimeError), reader.session() as s:
            tm.refresh(s, [_cv(s, "payments")])
            raise RuntimeError("rolled back: nothing may be kept")
        with reader.session() as s:
            assert tm.refresh(s, [_cv(s, "payments")]).gathered is not None
    finally:
        reader.dispose()
        writer.dispose()


def _cv(session: Session, component: str, version: str = "1.0") -> int:
    return catalog.get_component_version(session, component, version).id
