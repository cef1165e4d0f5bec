"""The demo estate's threat models: every service has one, applications show link threats,
platforms satisfy controls, and loading twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshward.demo.load import load_demo
from meshward.services import threat_models as tm
from meshward.store.models import ComponentVersion
from meshward.store.threat_models import ControlTask, ModelThreat


def test_demo_threat_models(session: Session) -> None:
    load_demo(session)
    versions = session.scalar(select(func.count()).select_from(ComponentVersion))
    modelled = session.scalar(
        select(func.count(func.distinct(ModelThreat.component_version_id))).where(
            ModelThreat.active.is_(True)
        )
    )
    assert modelled == versions
    web = tm.threat_model(session, "web-frontend", "3.2.0")
    kinds = {t["threat"] for t in web["threats"]}
    assert {"T-XSS", "T-CSRF", "T-MISSING-MFA"} <= kinds
    links = {(t["threat"], t["peer"]) for t in web["threats"] if t["role"] == "consumer"}
    assert ("T-LINK-PLAINTEXT", "component:default/product-catalog") in links
    # inventory and product-catalog share a catalog Resource across domains
    inventory = tm.threat_model(session, "inventory", "0.8.0")
    shared = next(t for t in inventory["threats"] if t["threat"] == "T-SHARED-DATASTORE")
    assert "graph.shares_datastore_across_domains equals true (is true)" in shared["why"]
    # the prod mesh gives mTLS: the control is done by the platform where it applies
    checkout = tm.threat_model(session, "checkout", "1.5.1")
    mtls = [c for c in checkout["controls"] if c["control"] == "C-MTLS-SERVICE-TO-SERVICE"]
    assert mtls and mtls[0]["satisfied_by_platform"] == "istio-mesh-prod"
    # the answers were given for the first build; later builds inherit them
    survey = tm.survey_view(session, "web-frontend", "3.2.0")
    assert {q["id"]: q["source"] for q in survey["questions"]}["zone"] == "inherited"

    tasks = session.scalar(select(func.count()).select_from(ControlTask))
    again = load_demo(session)
    assert "0 surveys answered" in again
    assert session.scalar(select(func.count()).select_from(ControlTask)) == tasks
