"""Threat risk, the compliance view and OTM round trips on the small test KB."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.services.otm import export_otm, import_otm
from meshward.services.threat_risk import (
    application_risk,
    compliance_report,
    component_risk,
    control_credit,
)

from .test_threat_models import estate  # noqa: F401  (the fixture)


@pytest.fixture
def app(estate: Session) -> Session:  # noqa: F811
    catalog.create_app_version(estate, "storefront", {"web": "1.0", "payments": "1.0"}, label="1")
    tm.answer_survey(estate, "web", "1.0", {"features": ["sql"], "exposure": "internet"})
    tm.answer_survey(estate, "payments", "1.0", {"data_classes": ["payment"], "stores_data": True})
    return estate


def test_credit_rules() -> None:
    assert control_credit("done", "verified") == 1.0
    assert control_credit("done", "unverified") == 0.5
    assert control_credit("done", "failed") == 0.0
    assert control_credit("todo", "verified") == 0.0
    assert control_credit("risk_accepted", None) == 0.0


def test_risk_moves_with_decisions_and_verification(app: Session) -> None:
    before = component_risk(app, "web", "1.0")
    sqli = next(t for t in before["by_threat"] if t["threat"] == "T-SQLI")
    assert (sqli["inherent"], sqli["current"], sqli["projected"]) == (20.0, 20.0, 4.0)
    tm.set_control(app, "web", "1.0", "C-PARAMS", status="done")
    sqli = next(
        t for t in component_risk(app, "web", "1.0")["by_threat"] if t["threat"] == "T-SQLI"
    )
    assert sqli["current"] == 12.0  # done, not verified: half credit
    report = orjson.dumps(
        {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "bandit"}}, "results": []}]}
    )
    vf.upload_scan(app, "web", "1.0", report, "clean.sarif")
    sqli = next(
        t for t in component_risk(app, "web", "1.0")["by_threat"] if t["threat"] == "T-SQLI"
    )
    assert sqli["current"] == 4.0  # done and verified by a tool that detects CWE-89
    tm.set_control(app, "web", "1.0", "C-PARAMS", status="risk_accepted", reason="legacy")
    sqli = next(
        t for t in component_risk(app, "web", "1.0")["by_threat"] if t["threat"] == "T-SQLI"
    )
    assert (sqli["current"], sqli["projected"]) == (20.0, 20.0)
    total = application_risk(app, "storefront")
    assert {s["component"] for s in total["services"]} == {
        "component:default/web",
        "component:default/payments",
    }
    assert total["inherent"] >= total["current"] >= total["projected"]


def test_compliance_report_counts_done_and_verified(app: Session) -> None:
    tm.set_control(app, "payments", "1.0", "C-ENCRYPT", status="done")
    report = compliance_report(app, "storefront", "pci-dss")
    rows = {r["requirement"]: r for r in report["requirements"]}
    assert rows["3.5.1"]["controls"] == ["C-ENCRYPT"]
    assert (rows["3.5.1"]["tasks"], rows["3.5.1"]["done"], rows["3.5.1"]["verified"]) == (1, 1, 0)
    assert rows["6.2.4"]["open"] == ["component:default/web:C-PARAMS"]
    assert [r["requirement"] for r in report["requirements"]] == ["3.5.1", "4.2.1", "6.2.4"]
    gdpr = compliance_report(app, "storefront", "gdpr")
    assert [r["requirement"] for r in gdpr["requirements"]] == ["Art. 32"]


def test_otm_export_and_import_round_trip(app: Session) -> None:
    tm.set_control(app, "web", "1.0", "C-PARAMS", status="done")
    doc = export_otm(app, "storefront")
    assert doc["otmVersion"] == "0.2.0"
    names = {c["attributes"]["meshward_component"]: c for c in doc["components"]}
    web = names["component:default/web"]
    sqli = next(t for t in web["threats"] if t["threat"] == "T-SQLI")
    assert sqli["mitigations"] == [{"mitigation": "C-PARAMS", "state": "implemented"}]
    assert sqli["state"] == "mitigated"
    (flow,) = doc["dataflows"]
    assert (flow["source"], flow["destination"]) == (
        web["id"],
        names["component:default/payments"]["id"],
    )
    assert {t["threat"] for t in flow["threats"]} == {"T-LINK-NO-MTLS"}
    assert {t["id"] for t in doc["threats"]} >= {"T-SQLI", "T-PAYMENT-DATA", "T-LINK-NO-MTLS"}
    assert web["parent"]["trustZone"] == "internet"

    # another tool marks encryption implemented and mTLS not applicable; meshward's own
    # decision on C-PARAMS (done) must not be overwritten by a "required" in the file
    pay = names["component:default/payments"]
    for threat in pay["threats"]:
        for mitigation in threat["mitigations"]:
            mitigation["state"] = "implemented"
    sqli["mitigations"][0]["state"] = "rejected"
    pay["threats"].append(
        {
            "threat": "TD-UNKNOWN",
            "state": "exposed",
            "mitigations": [{"mitigation": "M-1", "state": "implemented"}],
        }
    )
    result = import_otm(app, orjson.dumps(doc), "model.otm.json")
    assert result.tasks_updated == [
        "component:default/payments@1.0:C-DEPS -> done",
        "component:default/payments@1.0:C-ENCRYPT -> done",
    ]
    assert result.conflicts == [
        "component:default/web@1.0:C-PARAMS is done here, rejected in the file"
    ]
    assert result.unknown_threats == ["TD-UNKNOWN"]
    assert result.unknown_mitigations == ["M-1"]
    again = import_otm(app, orjson.dumps(doc), "model.otm.json")
    assert again.tasks_updated == []


def test_hostile_otm_refused(app: Session) -> None:
    with pytest.raises(InputError, match="no otmVersion"):
        import_otm(app, b'{"project": {}}', "x.json")
    with pytest.raises(InputError, match="/components/0/name"):
        import_otm(
            app,
            b'{"otmVersion": "0.2.0", "project": {"id": "p", "name": "p"}, '
            b'"components": [{"id": "a"}]}',
            "x.json",
        )
    with pytest.raises(InputError):
        import_otm(app, b"otmVersion: !!python/object/apply:os.system [id]\n", "x.yaml")
