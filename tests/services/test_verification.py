"""Scan results verify or fail controls, on the small test KB (fixtures/threats/kb).

bandit declares CWE-89 and CWE-798; zap CWE-79 and CWE-352; meshward's SCA covers C-DEPS.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.store.scan_models import Scan, ScanResult

from .test_threat_models import estate, t  # noqa: F401  (the fixture)


def sarif(
    tool: str, results: list[dict[str, Any]], rules: list[dict[str, Any]] | None = None
) -> bytes:
    return orjson.dumps(
        {
            "version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [
                {
                    "tool": {"driver": {"name": tool, "rules": rules or []}},
                    "results": results,
                }
            ],
        }
    )


def result(
    rule: str, cwe: str | None, uri: str, line: int, fp: str, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": rule,
        "level": "error",
        "message": {"text": f"{rule} here"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line}}}
        ],
        "partialFingerprints": {"primaryLocationLineHash": fp},
        **extra,
    }
    if cwe:
        out["properties"] = {"tags": [cwe]}
    return out


@pytest.fixture
def modelled(estate: Session) -> Session:  # noqa: F811
    tm.answer_survey(estate, "web", "1.0", {"features": ["sql", "renders_html"], "sessions": True})
    return estate


def states(session: Session, component: str, version: str) -> dict[str, str]:
    cv = catalog.get_component_version(session, component, version)
    return {c: s for (v, c), s in vf.verification_states(session, [cv.id]).items() if v == cv.id}


def test_finding_fails_control_and_clean_rescan_verifies(modelled: Session) -> None:
    report = sarif("Bandit", [result("B608", "CWE-89", "app/db.py", 12, "fp-sqli")])
    up = vf.upload_scan(modelled, "web", "1.0", report, "bandit.sarif")
    assert (up.tool, up.format, up.results, up.new, up.unmapped) == ("bandit", "sarif", 1, 1, 0)
    assert up.failed_controls == ["C-PARAMS"]
    got = states(modelled, "web", "1.0")
    assert got["C-PARAMS"] == "failed"
    # zap never scanned and bandit cannot see XSS or CSRF: not a pass
    assert got["C-ENCODE"] == "unverified"
    assert got["C-CSRF"] == "unverified"
    # the SBOM is meshward's own SCA scan; no open findings: dependency tracking verified
    assert got["C-DEPS"] == "verified"
    evidence = vf.control_evidence(modelled, [up_cv(modelled)])[(up_cv(modelled), "C-PARAMS")]
    assert evidence["evidence"][0]["kind"] == "scan"
    assert evidence["evidence"][0]["tool"] == "bandit"
    assert evidence["evidence"][0]["count"] == 1

    # same file again: nothing changes
    again = vf.upload_scan(modelled, "web", "1.0", report, "bandit.sarif")
    assert again.unchanged and again.scan_id == up.scan_id
    assert modelled.scalar(select(func.count()).select_from(Scan)) == 1

    # version 1.1 is scanned clean: the result is gone, the control verified
    catalog.add_component_version(modelled, "web", "1.1", created_at=t("2024-04-01"))
    clean = vf.upload_scan(modelled, "web", "1.1", sarif("Bandit", []), "bandit-2.sarif")
    assert (clean.new, clean.present, clean.gone) == (0, 0, 1)
    assert states(modelled, "web", "1.1")["C-PARAMS"] == "verified"


def up_cv(session: Session) -> int:
    return catalog.get_component_version(session, "web", "1.0").id


def test_present_and_new_across_versions(modelled: Session) -> None:
    vf.upload_scan(
        modelled,
        "web",
        "1.0",
        sarif(
            "Bandit",
            [
                result("B608", "CWE-89", "a.py", 1, "one"),
                result("B105", "CWE-798", "b.py", 2, "two"),
            ],
        ),
        "r1.sarif",
    )
    catalog.add_component_version(modelled, "web", "1.1", created_at=t("2024-04-01"))
    up = vf.upload_scan(
        modelled,
        "web",
        "1.1",
        sarif(
            "Bandit",
            [
                result("B608", "CWE-89", "a.py", 3, "one"),
                result("B303", "CWE-327", "c.py", 4, "three"),
            ],
        ),
        "r2.sarif",
    )
    assert (up.new, up.present, up.gone) == (1, 1, 1)
    rows = vf.list_scan_results(modelled, "web", "1.1", include_gone=True)
    assert {(r["rule_id"], r["lifecycle"]) for r in rows} == {
        ("B608", "present"),
        ("B303", "new"),
        ("B105", "gone"),
    }


def test_unmapped_results_land_in_review_control(modelled: Session) -> None:
    up = vf.upload_scan(
        modelled,
        "web",
        "1.0",
        sarif("Bandit", [result("B999", "CWE-4242", "x.py", 1, "odd")]),
        "u.sarif",
    )
    assert up.unmapped == 1
    model = tm.threat_model(modelled, "web", "1.0")
    assert "C-REVIEW-UNMAPPED-FINDINGS" in {c["control"] for c in model["controls"] if c["active"]}
    assert states(modelled, "web", "1.0")["C-REVIEW-UNMAPPED-FINDINGS"] == "failed"
    rows = vf.list_scan_results(modelled, "web", "1.0")
    assert rows[0]["controls"] == ["C-REVIEW-UNMAPPED-FINDINGS"]


def test_rule_id_overrides_cwe(modelled: Session) -> None:
    # CWE-89 would say C-PARAMS; the rule id pattern trivy:CVE-* says dependency tracking
    vf.upload_scan(
        modelled,
        "web",
        "1.0",
        sarif("Trivy", [result("CVE-2024-0001", "CWE-89", "req.txt", 1, "cve")]),
        "t.sarif",
    )
    got = states(modelled, "web", "1.0")
    assert got["C-DEPS"] == "failed"
    assert got["C-PARAMS"] == "unverified"


def test_suppressed_results_do_not_fail(modelled: Session) -> None:
    suppressed = result(
        "B608",
        "CWE-89",
        "a.py",
        1,
        "s",
        suppressions=[{"kind": "inSource", "justification": "constant query"}],
    )
    up = vf.upload_scan(modelled, "web", "1.0", sarif("Bandit", [suppressed]), "s.sarif")
    assert up.suppressed == 1
    assert states(modelled, "web", "1.0")["C-PARAMS"] == "verified"
    row = vf.list_scan_results(modelled, "web", "1.0")[0]
    assert row["suppressed"] and row["suppression"]["justification"] == "constant query"


def test_merge_and_replace_policies(modelled: Session) -> None:
    first = sarif("Bandit", [result("B608", "CWE-89", "a.py", 1, "a")])
    second = sarif("Bandit", [result("B105", "CWE-798", "b.py", 1, "b")])
    vf.upload_scan(modelled, "web", "1.0", first, "module-a.sarif")
    vf.upload_scan(modelled, "web", "1.0", second, "module-b.sarif", policy="merge")
    assert {r["rule_id"] for r in vf.list_scan_results(modelled, "web", "1.0")} == {"B608", "B105"}
    vf.upload_scan(modelled, "web", "1.0", sarif("Bandit", []), "full.sarif")  # replace
    assert vf.list_scan_results(modelled, "web", "1.0") == []
    assert states(modelled, "web", "1.0")["C-PARAMS"] == "verified"


def test_manual_tests_count_until_they_expire(modelled: Session) -> None:
    vf.record_manual_test(modelled, "web", "1.0", "C-CSRF", passed=True, notes="tokens checked")
    assert states(modelled, "web", "1.0")["C-CSRF"] == "verified"
    view = vf.record_manual_test(
        modelled, "web", "1.0", "C-CSRF", passed=False, notes="logout lacks token"
    )
    assert view["state"] == "failed"
    with pytest.raises(Exception, match="1 to 3650 days"):
        vf.record_manual_test(
            modelled, "web", "1.0", "C-CSRF", passed=True, notes=None, valid_days=0
        )


def test_reopen_done_task_that_fails(modelled: Session) -> None:
    tm.set_control(modelled, "web", "1.0", "C-PARAMS", status="done")
    up = vf.upload_scan(
        modelled,
        "web",
        "1.0",
        sarif("Bandit", [result("B608", "CWE-89", "a.py", 1, "x")]),
        "r.sarif",
        reopen_failed=True,
    )
    assert up.reopened == ["C-PARAMS"]
    task = next(
        c for c in tm.threat_model(modelled, "web", "1.0")["controls"] if c["control"] == "C-PARAMS"
    )
    assert task["status"] == "todo"
    assert task["reason"].startswith("reopened: verification failed")


def test_bad_reports_change_nothing(modelled: Session) -> None:
    with pytest.raises(InputError):
        vf.upload_scan(modelled, "web", "1.0", b'{"runs": [', "broken.sarif")
    with pytest.raises(InputError):
        vf.upload_scan(
            modelled,
            "web",
            "1.0",
            b"<!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><x>&a;</x>",
            "x.xml",
        )
    assert modelled.scalar(select(func.count()).select_from(ScanResult)) == 0
    assert modelled.scalar(select(func.count()).select_from(Scan)) == 0


def test_done_task_failing_verification_is_flagged(modelled: Session) -> None:
    from meshward.services.threat_views import controls_with_evidence

    tm.set_control(modelled, "web", "1.0", "C-PARAMS", status="done")
    vf.upload_scan(
        modelled,
        "web",
        "1.0",
        sarif("Bandit", [result("B608", "CWE-89", "a.py", 1, "x")]),
        "r.sarif",
    )
    rows = {
        r["control"]: r for r in controls_with_evidence(modelled, component="web", version="1.0")
    }
    assert rows["C-PARAMS"]["status"] == "done"  # not reopened unless asked
    assert rows["C-PARAMS"]["flagged"] is True
    assert rows["C-ENCODE"]["flagged"] is False
