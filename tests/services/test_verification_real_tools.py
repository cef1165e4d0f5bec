"""Verification with the shipped KB and real tool output: Bandit and Semgrep run on the
deliberately vulnerable order service, their SARIF goes through ``upload_scan``, and exactly
the controls for its four weaknesses fail; the same tools on a fixed copy verify them (as far
as the tools' declared coverage reaches). Then every real report under ../shared/data/scans
is uploaded, and no result is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshward.errors import InputError
from meshward.formats.scans.registry import read_scan
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.services.catalog_import import import_catalog
from meshward.services.scan_state import REVIEW_CONTROL
from meshward.store.scan_models import ScanResult
from tests.formats.scans.test_real_reports import _payload
from tests.formats.scans.test_real_tools import RULES, SERVICE, _run, _tool

CATALOG = Path(__file__).with_name("fixtures") / "threats" / "catalog.yaml"

FAILED = {
    # B608, Semgrep sqli-string-formatting
    "C-PARAMETERISED-QUERIES",
    # B105 x2, Semgrep hardcoded-secret (CWE-798)
    "C-NO-HARDCODED-SECRETS",
    # B301/B403 pickle, B506 yaml.load, Semgrep insecure-deserialisation (CWE-502)
    "C-SAFE-DESERIALIZATION",
    # B324 md5; Semgrep weak-password-hash (CWE-328, CWE-916)
    "C-APPROVED-CRYPTO-ALGORITHMS",
    "C-PASSWORD-HASHING",
}
AFTER_FIX = {
    # Semgrep covers both of its CWEs (502, 915)
    "C-SAFE-DESERIALIZATION": "verified",
    # no tool here declares CWE-564 (Hibernate SQLi): only partly verified
    "C-PARAMETERISED-QUERIES": "partially_verified",
    "C-NO-HARDCODED-SECRETS": "partially_verified",
    "C-APPROVED-CRYPTO-ALGORITHMS": "partially_verified",
    "C-PASSWORD-HASHING": "partially_verified",
}
FIXES = [
    ('DB_PASSWORD = "hunter2-orders-prod"', 'DB_PASSWORD = os.environ["ORDERS_DB_PASSWORD"]'),
    ('API_TOKEN = "sk_live_51HfXmOrdersServiceToken"', 'API_TOKEN = os.environ["ORDERS_TOKEN"]'),
    (
        "query = \"SELECT id, total FROM orders WHERE customer = '%s'\" % customer",
        'query = "SELECT id, total FROM orders WHERE customer = ?"',
    ),
    ("conn.execute(query).fetchall()", "conn.execute(query, (customer,)).fetchall()"),
    (
        "hashlib.md5(password.encode()).hexdigest()",
        'hashlib.scrypt(password.encode(), salt=b"orders", n=2**14, r=8, p=1).hex()',
    ),
    ("pickle.loads(blob)", "json.loads(blob)"),
    ("yaml.load(text, Loader=yaml.Loader)", "yaml.safe_load(text)"),
    ("import pickle\n", "import json\nimport os\n"),
]


def _fixed_copy(target: Path) -> Path:
    source = (SERVICE / "app.py").read_text()
    for old, new in FIXES:
        assert old in source, old
        source = source.replace(old, new)
    target.mkdir()
    (target / "app.py").write_text(source)
    return target / "app.py"


def _sarif_of_both(app: str) -> list[tuple[str, bytes]]:
    bandit = _run([_tool("bandit"), "-q", "-f", "sarif", app])
    semgrep = _run(
        [
            _tool("semgrep"),
            *("scan", "--config", str(RULES), "--metrics=off", "--disable-version-check"),
            *("--quiet", "--sarif", app),
        ]
    )
    return [("bandit.sarif", bandit), ("semgrep.sarif", semgrep)]


@pytest.fixture
def orders(session: Session) -> Session:
    """web 1.0 on the shipped KB, answered as the order service it is."""
    import_catalog(session, [CATALOG])
    catalog.add_component_version(session, "web", "1.0")
    tm.answer_survey(
        session,
        "web",
        "1.0",
        {
            "language": ["python"],
            "exposure": "internet",
            "features": ["sql", "deserializes"],
            "user_auth": "password",
            "data_classes": ["personal", "credentials"],
            "stores_data": True,
            "credentials": "env_static",
        },
    )
    return session


def _states(session: Session, version: str) -> dict[str, str]:
    cv = catalog.get_component_version(session, "web", version)
    return {c: s for (v, c), s in vf.verification_states(session, [cv.id]).items() if v == cv.id}


def test_real_bandit_and_semgrep_fail_exactly_the_controls(orders: Session, tmp_path: Path) -> None:
    reports = _sarif_of_both("app.py")  # skips when a tool is missing
    required = {
        c["control"] for c in tm.threat_model(orders, "web", "1.0")["controls"] if c["active"]
    }
    assert required >= FAILED, FAILED - required  # the survey makes every weakness matter
    failed: set[str] = set()
    for name, data in reports:
        up = vf.upload_scan(orders, "web", "1.0", data, name)
        assert (up.unmapped, up.new) == (0, up.results)
        failed |= set(up.failed_controls)
    assert failed == FAILED
    states = _states(orders, "1.0")
    assert {c for c, s in states.items() if s == "failed"} == FAILED
    # Semgrep's nosemgrep and Bandit's nosec on the sha1 cache key fail nothing
    suppressed = orders.scalars(select(ScanResult).where(ScanResult.suppressed.is_(True))).all()
    assert [(r.tool, r.location["start_line"]) for r in suppressed] == [("semgrep", 31)]

    catalog.add_component_version(orders, "web", "1.1")
    fixed = _fixed_copy(tmp_path / "fixed")
    for name, data in _sarif_of_both(str(fixed)):
        up = vf.upload_scan(orders, "web", "1.1", data, name)
        assert up.failed_controls == []
        assert up.gone > 0 and up.results == up.suppressed  # only the reviewed sha1 is left
    after = _states(orders, "1.1")
    assert {c: after[c] for c in FAILED} == AFTER_FIX
    assert "failed" not in after.values()


def _reports(scans: Path) -> list[tuple[Path, bytes]]:
    out = []
    for path in sorted(scans.rglob("*")):
        if not path.is_file():
            continue
        data = _payload(path)
        try:
            read_scan(data, path.name)
        except InputError:
            continue  # not a scan report (schemas, native inputs, benchmarks, invalid SARIF)
        out.append((path, data))
    return out


@pytest.mark.shared
def test_every_real_report_ingests_and_no_result_is_dropped(
    session: Session, shared_data: Path
) -> None:
    import_catalog(session, [CATALOG])
    reports = _reports(shared_data / "scans")
    assert len(reports) >= 100
    tools = set()
    review = 0
    for number, (path, data) in enumerate(reports):
        version = f"r{number}"
        catalog.add_component_version(session, "web", version)
        report = read_scan(data, path.name)
        up = vf.upload_scan(session, "web", version, data, str(path))
        tools.add(up.tool)
        rows = session.execute(
            select(
                ScanResult.fingerprint,
                ScanResult.controls,
                ScanResult.unmapped,
                ScanResult.suppressed,
            ).where(ScanResult.scan_id == up.scan_id, ScanResult.lifecycle != "gone")
        ).all()
        assert {row.fingerprint for row in rows} == {f.fingerprint[:128] for f in report.results}, (
            path
        )
        assert all(row.controls or row.unmapped for row in rows), path
        assert up.unmapped == sum(1 for row in rows if row.unmapped), path
        if any(row.unmapped and not row.suppressed for row in rows):
            cv = catalog.get_component_version(session, "web", version)
            assert vf.verification_states(session, [cv.id])[(cv.id, REVIEW_CONTROL)] == "failed"
            review += 1
    assert review > 0
    assert {"codeql", "semgrep", "zap", "trivy"} <= tools
