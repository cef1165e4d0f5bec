"""``meshward survey``, ``threats``, ``controls``, ``kb``, ``platform`` and ``compliance`` on a
temporary SQLite database: first on the small test KB (tests/services/fixtures/threats), where
every threat and control is known exactly, then on the shipped KB.

web (a website, internet-facing) consumes payments-api of payments; both are in the
application storefront."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from meshward.cli.main import app
from meshward.errors import InputError, MeshwardError
from meshward.services import catalog
from meshward.services.catalog_import import import_catalog
from meshward.store.db import Store
from tests.services.test_threat_models import FIXTURES
from tests.services.test_verification import result, sarif

Run = Callable[..., Any]
KB = FIXTURES / "kb"
WEB_ANSWERS = """\
exposure: internet
features: [sql, renders_html]
sessions: true
service_auth: none
"""


def _runner(db_url: str) -> Run:
    runner = CliRunner()

    def run(*args: str, code: int = 0, input: str | None = None) -> Any:
        out = runner.invoke(app, ["--db", db_url, *args], input=input, catch_exceptions=False)
        assert out.exit_code == code, out.output
        return out

    return run


@pytest.fixture
def cli(db_url: str) -> Run:
    store = Store(db_url)
    with store.session() as session:
        import_catalog(session, [FIXTURES / "catalog.yaml"])
        catalog.add_component_version(session, "web", "1.0")
        catalog.add_component_version(session, "payments", "1.0")
        catalog.create_app_version(session, "storefront", {"web": "1.0", "payments": "1.0"})
    store.dispose()
    run = _runner(db_url)
    assert "-> 1.0" in run("kb", "update", str(KB)).stdout
    return run


def js(out: Any) -> Any:
    return orjson.loads(out.stdout)


def _threats(model: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {(t["threat"], t["role"], t["peer"]) for t in model["threats"]}


def _tasks(model: dict[str, Any]) -> dict[str, str]:
    return {c["control"]: c["effective_status"] for c in model["controls"] if c["active"]}


def test_answers_file_drives_the_exact_model(cli: Run, tmp_path: Path) -> None:
    answers = tmp_path / "web.yaml"
    answers.write_text(WEB_ANSWERS)
    out = js(cli("survey", "answer", "web", "1.0", str(answers), "--json"))
    model = out["threat_model"]
    assert _threats(model) == {
        ("T-SQLI", "service", None),
        ("T-XSS", "service", None),
        ("T-CSRF", "service", None),
        ("T-LINK-NO-MTLS", "consumer", "component:default/payments"),
    }
    assert _tasks(model) == {
        "C-PARAMS": "todo",
        "C-ENCODE": "todo",
        "C-CSRF": "todo",
        "C-MTLS": "todo",
    }
    sources = {q["id"]: q["source"] for q in out["survey"]["questions"]}
    assert sources == {
        "exposure": "answered",
        "data_classes": "default",
        "stores_data": None,
        "features": "answered",
        "sessions": "answered",
        "service_auth": "answered",
        "protocols": "default",
        "zone": None,
    }
    assert out["survey"]["unanswered"] == ["stores_data", "zone"]

    # JSON answers merge into the YAML ones; --replace starts over
    more = tmp_path / "more.json"
    more.write_text('{"zone": "dmz", "sessions": null}')
    text = cli("survey", "answer", "web", "1.0", str(more)).stdout
    assert "threat model: 3 threats, 3 control tasks (3 todo)" in text  # no sessions: no CSRF
    shown = cli("survey", "show", "web", "1.0").stdout
    assert "unanswered: stores_data, sessions" in shown and "graph.internet_facing" in shown
    view = js(cli("survey", "show", "web", "1.0", "--json"))
    assert {q["id"]: q["answer"] for q in view["questions"]}["zone"] == "dmz"
    replaced = js(cli("survey", "answer", "web", "1.0", str(more), "--replace", "--json"))
    assert {q["id"]: q["source"] for q in replaced["survey"]["questions"]}["features"] is None
    assert _threats(replaced["threat_model"]) == {
        ("T-LINK-NO-MTLS", "consumer", "component:default/payments")
    }

    table = cli("threats", "model", "web", "1.0").stdout
    assert "consumer of component:default/payments" in table
    assert "link.mutual_auth equals true (is false)" in table


def test_interactive_answers_recompute_what_is_shown(cli: Run) -> None:
    typed = [
        "",  # exposure: no default, so asked again
        "internet",
        "personal",  # data_classes
        "n",  # stores_data
        "sql,bogus",  # features: refused, asked again
        "sql,renders_html",
        "y",  # sessions: shown only now that the service renders HTML
        "none",  # service_auth
        "",  # protocols: keep the default
        "dmz",  # zone
    ]
    out = cli("survey", "answer", "web", "1.0", "--interactive", input="\n".join(typed) + "\n")
    assert "not an option: bogus" in out.stdout
    assert "Please select one of the available options" in out.stdout
    assert "threat model: 4 threats, 4 control tasks (4 todo)" in out.stdout
    assert "T-CSRF: Forged requests" in out.stdout
    view = js(cli("survey", "show", "web", "1.0", "--json"))
    answers = {q["id"]: (q["answer"], q["source"]) for q in view["questions"]}
    assert answers["exposure"] == ("internet", "answered")
    assert answers["data_classes"] == (["personal"], "answered")
    assert answers["stores_data"] == (False, "answered")
    assert answers["sessions"] == (True, "answered")
    assert answers["protocols"] == (["https"], "answered")
    assert view["unanswered"] == []
    with pytest.raises(MeshwardError, match="answers FILE or --interactive"):
        cli("survey", "answer", "web", "1.0")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("exposure: !!python/object/apply:os.system [id]\n", r"hostile\.yaml: line 1"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n",
            r"hostile\.yaml: line \d+: aliases expand",
        ),
        ("features: " + "[" * 40 + "]" * 40 + "\n", r"hostile\.yaml: line \d+: .*(deep|nest)"),
        ("- exposure\n- internet\n", r"hostile\.yaml: /: expected a mapping"),
        ("exposure: everyone\n", r"hostile\.yaml: exposure: expects one of: internal, internet"),
        ("nope: true\nzone: dmz\n", r"hostile\.yaml: nope: no such question"),
        ('{"exposure": "internet",', r"hostile\.yaml"),
        ("zone: " + "x" * 300_000 + "\n", r"hostile\.yaml: larger than the 262144-byte limit"),
    ],
)
def test_hostile_answers_files_change_nothing(
    cli: Run, tmp_path: Path, content: str, message: str
) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(content)
    with pytest.raises(InputError, match=message):
        cli("survey", "answer", "web", "1.0", str(hostile))
    assert js(cli("survey", "show", "web", "1.0", "--json"))["answered"] == 0


def test_controls_set_list_and_verification_evidence(cli: Run, tmp_path: Path) -> None:
    answers = tmp_path / "web.yaml"
    answers.write_text(WEB_ANSWERS)
    cli("survey", "answer", "web", "1.0", str(answers))
    with pytest.raises(MeshwardError, match="needs a reason"):
        cli("controls", "set", "web", "1.0", "C-PARAMS", "--status", "risk_accepted")
    with pytest.raises(MeshwardError, match="not a date"):
        cli("controls", "set", "web", "1.0", "C-PARAMS", "--due", "tomorrow")
    out = cli(
        "controls", "set", "web", "1.0", "C-PARAMS", "--status", "risk_accepted",
        "--reason", "legacy [batch] job", "--assignee", "ana", "--due", "2026-12-01",
    ).stdout  # fmt: skip
    assert "C-PARAMS: risk_accepted; assignee ana; due 2026-12-01; reason: legacy [batch]" in out
    task = js(cli("controls", "set", "web", "1.0", "C-ENCODE", "--status", "done", "--json"))
    assert (task["status"], task["decided_by"] is not None) == ("done", True)

    report = tmp_path / "bandit.sarif"
    report.write_bytes(sarif("Bandit", [result("B608", "CWE-89", "app/db.py", 12, "sqli")]))
    scan = js(cli("scan", "upload", "web", "1.0", str(report), "--json"))

    rows = js(cli("controls", "list", "--component", "web", "--json"))
    by = {r["control"]: r for r in rows}
    assert set(by) == {"C-PARAMS", "C-ENCODE", "C-CSRF", "C-MTLS"}
    assert (by["C-PARAMS"]["status"], by["C-PARAMS"]["assignee"]) == ("risk_accepted", "ana")
    assert by["C-PARAMS"]["due_date"] == "2026-12-01"
    assert by["C-PARAMS"]["verification"] == "failed"
    (evidence,) = by["C-PARAMS"]["evidence"]
    assert (evidence["kind"], evidence["tool"], evidence["scan_id"]) == (
        "scan",
        "bandit",
        scan["scan_id"],
    )
    assert len(evidence["result_ids"]) == 1 and evidence["at"]
    # bandit covers CWE-89 only: a clean bandit run proves nothing about encoding (CWE-79)
    assert by["C-ENCODE"]["verification"] == "unverified"
    assert [r["control"] for r in js(cli("controls", "list", "--status", "done", "--json"))] == [
        "C-ENCODE"
    ]
    table = cli("controls", "list", "--app", "storefront").stdout
    assert f"bandit scan #{scan['scan_id']}" in table and "C-MTLS" in table

    cleared = js(
        cli(
            "controls", "set", "web", "1.0", "C-PARAMS", "--clear-assignee", "--clear-due", "--json"
        )
    )
    assert (cleared["assignee"], cleared["due_date"], cleared["status"]) == (
        None,
        None,
        "risk_accepted",
    )
    with pytest.raises(MeshwardError, match="--status must be one of"):
        cli("controls", "list", "--status", "finished")
    with pytest.raises(MeshwardError, match="not both"):
        cli("controls", "list", "--app", "storefront", "--component", "web")


def test_kb_update_keeps_decisions_and_retires_a_control(cli: Run, tmp_path: Path) -> None:
    answers = tmp_path / "web.yaml"
    answers.write_text(WEB_ANSWERS)
    cli("survey", "answer", "web", "1.0", str(answers))
    cli("controls", "set", "web", "1.0", "C-PARAMS", "--status", "risk_accepted", "--reason", "ok")
    cli("controls", "set", "web", "1.0", "C-ENCODE", "--status", "in_progress")
    new = tmp_path / "kb"
    shutil.copytree(KB, new)
    (new / "kb.yaml").write_text(
        'version: "1.1"\nchangelog:\n'
        '  - {version: "1.1", date: "2026-02-01", changes: [drop encoding]}\n'
    )
    controls = (new / "controls" / "c.yaml").read_text()
    start, end = controls.index("- id: C-ENCODE"), controls.index("- id: C-CSRF")
    (new / "controls" / "c.yaml").write_text(controls[:start] + controls[end:])
    assert "valid, KB 1.1" in cli("kb", "validate", str(new)).stdout

    update = js(cli("kb", "update", str(new), "--json"))
    assert (update["from_version"], update["to_version"]) == ("1.0", "1.1")
    assert [(c["key"], c["change"], c["services"]) for c in update["changes"]] == [
        ("C-ENCODE", "retired", 1)
    ]
    assert update["tasks_retired"] == 1 and update["decisions_kept"] >= 1
    assert "already installed" in cli("kb", "update", str(new)).stdout
    model = js(cli("threats", "model", "web", "1.0", "--json"))
    tasks = {c["control"]: c for c in model["controls"]}
    assert (tasks["C-PARAMS"]["status"], tasks["C-PARAMS"]["reason"]) == ("risk_accepted", "ok")
    assert (tasks["C-ENCODE"]["active"], tasks["C-ENCODE"]["retired_in"]) == (False, "1.1")
    assert tasks["C-ENCODE"]["status"] == "in_progress"
    retired = js(cli("controls", "list", "--component", "web", "--include-inactive", "--json"))
    assert "C-ENCODE" in {r["control"] for r in retired}
    assert "retired" in cli("threats", "model", "web", "1.0").stdout


def _overlay(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "overlay"
    folder.mkdir(exist_ok=True)
    (folder / "overlay.yaml").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'version: "c1"\nthreats:\n  - id: T-X\n    title: x\n    stride: tampering\n'
            "    description: d\n    applies_when: {fact: survey.exposure, matches: '.*'}\n",
            ["overlay.yaml: overlay (T-X) field threats.0.applies_when", "got ['matches']"],
        ),
        (
            'version: "c1"\nthreats:\n  - id: T-X\n    title: x\n    stride: tampering\n'
            "    description: d\n    applies_when: {fact: survey.no_such_answer, equals: x}\n",
            ["overlay.yaml: threat T-X applies_when", "survey.no_such_answer"],
        ),
        ('version: !!python/name:os.system ""\n', ["overlay.yaml: line 1"]),
        ('version: "c1"\ndisable_threats: [T-NOT-THERE]\n', ["disable_threats T-NOT-THERE"]),
        ('version: "c1"\n# ' + "x" * (5 * 1024 * 1024) + "\n", ["larger than the 4,194,304"]),
    ],
)
def test_kb_validate_refuses_a_hostile_overlay(
    cli: Run, tmp_path: Path, text: str, expected: list[str]
) -> None:
    folder = _overlay(tmp_path, text)
    out = cli("kb", "validate", str(folder), code=1).stdout
    for piece in expected:
        assert piece in out
    assert "problem(s) in" in out


def test_kb_validate_lists_every_problem(cli: Run, tmp_path: Path) -> None:
    folder = _overlay(tmp_path, 'version: "c1"\n')
    (folder / "controls").mkdir()
    (folder / "controls" / "a.yaml").write_text(
        "- id: C-A\n  title: a\n  description: d\n  priority: urgent\n  mitigates: [T-NOPE]\n"
        "  test_plan: [step one]\n"
        "- id: C-B\n  title: b\n  description: d\n  priority: low\n  mitigates: [T-NOPE]\n"
        "  test_plan: [step one]\n  samples: []\n"
    )
    out = cli("kb", "validate", str(folder), code=1).stdout
    assert "a.yaml: entry 1 (C-A) field priority" in out
    assert "a.yaml: entry 2 (C-B) field samples" in out
    assert "2 problem(s)" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "neither a KB directory" in cli("kb", "validate", str(empty), code=1).stdout


def test_platform_satisfies_a_control_and_removal_reopens(cli: Run, tmp_path: Path) -> None:
    answers = tmp_path / "web.yaml"
    answers.write_text(WEB_ANSWERS + "zone: dmz\n")
    cli("survey", "answer", "web", "1.0", str(answers))
    with pytest.raises(MeshwardError, match="unknown capability teleport"):
        cli("platform", "declare", "gw", "--capability", "teleport")
    out = cli("platform", "declare", "gateway", "--capability", "mtls", "--member", "web")
    assert "platform gateway (mtls): satisfies control tasks now" in out.stdout
    (listed,) = js(cli("platform", "list", "--json"))
    assert (listed["name"], listed["members"]) == ("gateway", ["component:default/web"])
    rows = js(cli("controls", "list", "--component", "web", "--status", "done", "--json"))
    assert [(r["control"], r["status"], r["satisfied_by_platform"]) for r in rows] == [
        ("C-MTLS", "todo", "gateway")
    ]
    assert "done (platform gateway)" in cli("controls", "list", "--component", "web").stdout
    cli("platform", "remove", "gateway")
    assert js(cli("platform", "list", "--json")) == []
    assert js(cli("controls", "list", "--component", "web", "--status", "done", "--json")) == []
    with pytest.raises(MeshwardError, match="no platform named"):
        cli("platform", "remove", "gateway")


def test_risk_lists_compliance_and_otm_round_trip(cli: Run, tmp_path: Path) -> None:
    answers = tmp_path / "web.yaml"
    answers.write_text(WEB_ANSWERS)
    cli("survey", "answer", "web", "1.0", str(answers))
    pay = tmp_path / "pay.yaml"
    pay.write_text("data_classes: [payment]\nstores_data: true\n")
    cli("survey", "answer", "payments", "1.0", str(pay))
    cli("controls", "set", "payments", "1.0", "C-ENCRYPT", "--status", "done")

    listed = js(cli("threats", "list", "--app", "storefront", "--json"))
    assert {(r["component"].rsplit("/", 1)[1], r["threat"]) for r in listed} == {
        ("payments", "T-LINK-NO-MTLS"),
        ("payments", "T-PAYMENT-DATA"),
        ("web", "T-CSRF"),
        ("web", "T-LINK-NO-MTLS"),
        ("web", "T-SQLI"),
        ("web", "T-XSS"),
    }
    only = js(cli("threats", "list", "--component", "web", "--version", "1.0", "--json"))
    assert len(only) == 4
    with pytest.raises(MeshwardError, match="--version needs --component"):
        cli("threats", "list", "--version", "1.0")

    risk = js(cli("threats", "risk", "web", "1.0", "--json"))
    sqli = next(t for t in risk["by_threat"] if t["threat"] == "T-SQLI")
    assert (sqli["inherent"], sqli["current"], sqli["projected"]) == (20.0, 20.0, 4.0)
    app_risk = js(cli("threats", "risk", "--app", "storefront", "--json"))
    assert {s["component"].rsplit("/", 1)[1] for s in app_risk["services"]} == {"web", "payments"}
    # payment data: 15 inherent; C-ENCRYPT done but unverified earns half: 15 * (1 - 0.4)
    pay_risk = js(cli("threats", "risk", "payments", "1.0", "--json"))
    data = next(t for t in pay_risk["by_threat"] if t["threat"] == "T-PAYMENT-DATA")
    assert (data["inherent"], data["current"]) == (15.0, 9.0)
    assert "projected" in cli("threats", "risk", "--app", "storefront").stdout
    with pytest.raises(MeshwardError, match="give --app APP or COMPONENT VERSION"):
        cli("threats", "risk", "web")

    pci = js(cli("compliance", "report", "storefront", "--standard", "pci-dss", "--json"))
    assert [(r["requirement"], r["tasks"], r["done"]) for r in pci["requirements"]] == [
        ("3.5.1", 1, 1),
        ("4.2.1", 2, 0),
        ("6.2.4", 2, 0),
    ]
    assert (
        "PCI DSS 4.0" in cli("compliance", "report", "storefront", "--standard", "pci-dss").stdout
    )
    with pytest.raises(MeshwardError, match="unknown standard"):
        cli("compliance", "report", "storefront", "--standard", "iso-27001")

    exported = tmp_path / "storefront.otm.json"
    out = cli("threats", "export-otm", "storefront", "-o", str(exported)).stdout
    assert "2 components, 1 dataflows" in out
    document = orjson.loads(exported.read_bytes())
    assert document["project"]["attributes"]["meshward_application"].endswith("storefront")
    assert js(cli("threats", "export-otm", "storefront")) == document
    # another tool implemented parameterised queries on web: the open task follows
    for component in document["components"]:
        for threat in component["threats"]:
            for mitigation in threat["mitigations"]:
                if mitigation["mitigation"] == "C-PARAMS":
                    mitigation["state"] = "implemented"
    exported.write_bytes(orjson.dumps(document))
    imported = js(cli("threats", "import-otm", str(exported), "--json"))
    assert imported["tasks_updated"] == ["component:default/web@1.0:C-PARAMS -> done"]
    assert sorted(imported["components_matched"]) == [
        "component:default/payments@1.0",
        "component:default/web@1.0",
    ]
    model = js(cli("threats", "model", "web", "1.0", "--json"))
    assert _tasks(model)["C-PARAMS"] == "done"
    broken = tmp_path / "broken.json"
    broken.write_text('{"project": {}}')
    with pytest.raises(InputError, match=r"broken\.json: /: not an Open Threat Model"):
        cli("threats", "import-otm", str(broken))


def test_kb_show_and_controls_show(cli: Run) -> None:
    listing = js(cli("kb", "show", "--json"))
    assert listing["version"] == "1.0" and listing["changelog"][0]["changes"] == ["first"]
    params = next(c for c in listing["controls"] if c["id"] == "C-PARAMS")
    assert params == {
        "id": "C-PARAMS",
        "title": "Parameterised queries",
        "priority": "critical",
        "mitigates": ["T-SQLI"],
        "cwe": ["CWE-89"],
        "asvs": ["v5.0.0-1.2.4"],
        "compliance": {"pci-dss": ["6.2.4"]},
        "platform_capability": None,
    }
    sqli = next(t for t in listing["threats"] if t["id"] == "T-SQLI")
    assert (sqli["stride"], sqli["cwe"], sqli["controls"]) == (
        "tampering",
        ["CWE-89"],
        ["C-PARAMS"],
    )
    text = cli("kb", "show").stdout
    assert "9 threats, 9 controls, 8 survey questions" in text and "1.0 (2026-01-01): first" in text
    shown = cli("controls", "show", "C-PARAMS").stdout
    assert "mitigates: T-SQLI (SQL injection)" in shown and "fails on: CWE-89 bandit:B608" in shown
    assert "1. Send a quote and expect no SQL error" in shown
    with pytest.raises(MeshwardError, match=r"no control C-NOPE in KB 1\.0"):
        cli("controls", "show", "C-NOPE")


# ---------------------------------------------------------------- the shipped KB


def test_shipped_kb_with_a_company_overlay(db_url: str, tmp_path: Path) -> None:
    run = _runner(db_url)
    listing = js(run("kb", "show", "--json"))
    assert len(listing["threats"]) >= 40 and len(listing["controls"]) >= 60
    shipped = listing["version"]
    entry = js(run("controls", "show", "C-PARAMETERISED-QUERIES", "--language", "python", "--json"))
    assert entry["code_samples"] and {s["language"] for s in entry["code_samples"]} == {"python"}
    assert {"python", "java", "go"} <= set(entry["languages"])
    django = js(
        run("controls", "show", "C-PARAMETERISED-QUERIES", "--framework", "django", "--json")
    )
    assert {s["framework"] for s in django["code_samples"]} == {"django"}

    overlay = _overlay(
        tmp_path,
        'version: "acme.1"\n'
        "code_samples:\n"
        "  C-PARAMETERISED-QUERIES:\n"
        "    - {language: python, framework: django, title: Acme DAL, code: 'dal.fetch(q, args)'}\n"
        "disable_threats: [T-CLICKJACKING]\n",
    )
    assert f"valid, KB {shipped}+acme.1" in run("kb", "validate", str(overlay)).stdout
    update = js(run("kb", "update", "--overlay", str(overlay), "--json"))
    assert update["to_version"] == f"{shipped}+acme.1"
    assert ("T-CLICKJACKING", "retired") in {(c["key"], c["change"]) for c in update["changes"]}
    company = js(
        run("controls", "show", "C-PARAMETERISED-QUERIES", "--language", "python", "--json")
    )
    first = company["code_samples"][0]
    assert (first["approved"], first["title"]) == (True, "Acme DAL")
    assert "company-approved" in run("controls", "show", "C-PARAMETERISED-QUERIES").stdout
    assert "T-CLICKJACKING" not in {t["id"] for t in js(run("kb", "show", "--json"))["threats"]}
