"""Threat modelling over the API on the demo organisation with the shipped KB: surveys,
models, risk, control tasks, the KB, platforms, compliance and OTM, with the roles of
tests/api/conftest.py (payments viewer and editor, commerce editor, estate admin); then the
same through the CLI with ``--server``.

checkout (1.5.1) is in acme.payments and its application payments-platform; webshop is in
acme.commerce."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from meshward.cli.common import state
from tests.api.conftest import Server
from tests.api.test_remote_cli import ok, run
from tests.api.test_remote_parity import Run, local, remote
from tests.api.test_scans_api import problem

__all__ = ["local", "remote"]

CHECKOUT = "/api/v1/components/checkout/versions/1.5.1"
APPS = "/api/v1/applications"


def _every(c: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    """A whole list, page by page through the ``next`` links."""
    items: list[dict[str, Any]] = []
    response = c.get(url, params={**params, "limit": 7})
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if not body["next"]:
            return items
        response = c.get(body["next"])


def test_survey_read_answer_and_model(server: Server) -> None:
    with server.client("payments-viewer") as c:
        survey = c.get(f"{CHECKOUT}/survey").json()
        answers = {q["id"]: q["answer"] for q in survey["questions"]}
        assert answers["zone"] == "pci" and "sql" in answers["features"]
        problem(c.put(f"{CHECKOUT}/survey", json={"zone": "core"}), 403)
        model = c.get(f"{CHECKOUT}/threat-model").json()
        assert "T-SQL-INJECTION" in {t["threat"] for t in model["threats"]}
        assert "T-XXE" not in {t["threat"] for t in model["threats"]}
    with server.client("payments-readonly-editor") as c:
        problem(c.put(f"{CHECKOUT}/survey", json={"zone": "core"}), 403)
    with server.client("commerce-editor") as c:
        for path in ("/survey", "/threat-model", "/threat-risk"):
            problem(c.get(CHECKOUT + path), 404)
        problem(c.put(f"{CHECKOUT}/survey", json={"zone": "core"}), 404)
    with httpx.Client(base_url=server.url) as c:
        problem(c.get(f"{CHECKOUT}/survey"), 401)

    with server.client("payments-editor") as c:
        wrong = problem(c.put(f"{CHECKOUT}/survey", json={"features": ["teleport"]}), 422)
        assert wrong["errors"][0]["place"] == "features"
        unknown = problem(c.put(f"{CHECKOUT}/survey", json={"colour": "red"}), 422)
        assert "no such question" in unknown["detail"]
        problem(c.put(f"{CHECKOUT}/survey", json=["features"]), 422)
        features = [*answers["features"], "parses_xml"]
        view = c.put(f"{CHECKOUT}/survey", json={"features": features}).json()
        assert {q["id"]: q["answer"] for q in view["questions"]}["zone"] == "pci"  # merged
        model = c.get(f"{CHECKOUT}/threat-model").json()
        xxe = next(t for t in model["threats"] if t["threat"] == "T-XXE")
        assert any("parses_xml" in why for why in xxe["why"])
        risk = c.get(f"{CHECKOUT}/threat-risk").json()
        assert risk["threats"] == len(model["threats"])
        assert risk["inherent"] >= risk["current"] >= 0
        assert "T-XXE" in {t["threat"] for t in risk["by_threat"]}
        problem(c.get("/api/v1/components/checkout/versions/0.0.0/survey"), 404)


def test_controls_list_pages_filters_and_patch(server: Server) -> None:
    with server.client("payments-viewer") as c:
        rows = _every(c, "/api/v1/controls", component="checkout", version="1.5.1")
        model = c.get(f"{CHECKOUT}/threat-model").json()
        assert sorted(r["control"] for r in rows) == sorted(
            t["control"] for t in model["controls"] if t["active"]
        )
        assert all({"verification", "evidence", "priority", "due_date"} <= set(r) for r in rows)
        seen = {r["component"] for r in _every(c, "/api/v1/controls")}
        payments = {
            x["key"] for x in c.get("/api/v1/components", params={"limit": 500}).json()["items"]
        }
        assert seen and seen <= payments  # nothing of another domain
        task = f"{CHECKOUT}/controls/C-PARAMETERISED-QUERIES"
        problem(c.patch(task, json={"status": "done"}), 403)
    with server.client("commerce-editor") as c:
        problem(c.get("/api/v1/controls", params={"component": "checkout"}), 404)
        problem(c.get("/api/v1/controls", params={"application": "payments-platform"}), 404)
        problem(c.patch(task, json={"status": "done"}), 404)
        mine = {r["component"] for r in _every(c, "/api/v1/controls")}
        assert mine and not mine & payments

    with server.client("payments-editor") as c:
        problem(c.patch(task, json={"status": "risk_accepted"}), 400)
        problem(c.patch(task, json={"status": "finished"}), 422)
        problem(c.patch(task, json={"due_date": "soon"}), 422)
        problem(c.patch(f"{CHECKOUT}/controls/C-NOPE", json={"status": "done"}), 404)
        done = c.patch(
            task, json={"status": "in_progress", "assignee": "ana", "due_date": "2026-12-31"}
        )
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["due_date"]) == ("in_progress", "2026-12-31")
        filtered = _every(c, "/api/v1/controls", component="checkout", status="in_progress")
        assert [(r["control"], r["version"], r["assignee"]) for r in filtered] == [
            ("C-PARAMETERISED-QUERIES", "1.5.1", "ana")
        ]
        cleared = c.patch(task, json={"clear_assignee": True}).json()
        assert (cleared["assignee"], cleared["status"]) == (None, "in_progress")
        problem(c.get("/api/v1/controls", params={"status": "bogus"}), 422)


def test_threats_list_is_scoped_to_what_the_caller_sees(server: Server) -> None:
    with server.client("payments-viewer") as c:
        rows = _every(c, "/api/v1/threats", application="payments-platform")
        assert {r["component"].rsplit("/", 1)[-1] for r in rows} >= {"checkout", "ledger"}
        everything = _every(c, "/api/v1/threats")
        assert {r["component"] for r in everything} == {r["component"] for r in rows}
        problem(c.get("/api/v1/threats", params={"application": "webshop"}), 404)
        only = _every(c, "/api/v1/threats", component="checkout", version="1.5.1")
        assert {r["version"] for r in only} == {"1.5.1"}
    with server.client("admin") as c:
        webshop = _every(c, "/api/v1/threats", application="webshop")
        assert webshop and not {r["component"] for r in webshop} & {r["component"] for r in rows}


def test_the_knowledge_base(server: Server) -> None:
    with server.client("commerce-editor") as c:
        kb = c.get("/api/v1/kb").json()
        assert len(kb["threats"]) >= 40 and len(kb["controls"]) >= 60 and kb["changelog"]
        control = c.get(
            "/api/v1/kb/controls/C-PARAMETERISED-QUERIES", params={"language": "python"}
        ).json()
        assert control["test_plan"] and control["verification"]["cwe"]
        assert control["code_samples"]
        assert {s["language"] for s in control["code_samples"]} == {"python"}
        threat = c.get("/api/v1/kb/threats/T-SQL-INJECTION").json()
        assert 89 in threat["cwe"] and "C-PARAMETERISED-QUERIES" in {
            x["id"] for x in threat["controls"]
        }
        problem(c.get("/api/v1/kb/threats/T-NOPE"), 404)
        problem(c.get("/api/v1/kb/controls/C-NOPE"), 404)
        problem(c.post("/api/v1/kb/reload"), 403)
    with server.client("admin") as c:
        same = c.post("/api/v1/kb/reload")
        assert same.status_code == 200, same.text
        assert same.json()["unchanged"] is True


def test_platforms_are_estate_wide_and_admin_only(server: Server) -> None:
    body = {"capabilities": ["rate_limiting"], "members": ["checkout", "cart"]}
    with server.client("payments-editor") as c:
        problem(c.put("/api/v1/platforms/api-gw", json=body), 403)
        problem(c.delete("/api/v1/platforms/vault"), 403)
    with server.client("admin") as c:
        problem(c.put("/api/v1/platforms/x", json={"capabilities": ["teleport"]}), 400)
        problem(c.put("/api/v1/platforms/x", json={"capabilities": []}), 422)
        made = c.put("/api/v1/platforms/api-gw", json=body)
        assert made.status_code == 200, made.text
        assert len(made.json()["members"]) == 2
        assert {p["name"] for p in _every(c, "/api/v1/platforms")} >= {"api-gw", "vault"}
    with server.client("payments-viewer") as c:
        seen = {p["name"]: p for p in _every(c, "/api/v1/platforms")}
        assert [m.rsplit("/", 1)[-1] for m in seen["api-gw"]["members"]] == ["checkout"]
        assert all("cart" not in m for m in seen["vault"]["members"])
    with server.client("admin") as c:
        gone = c.delete("/api/v1/platforms/api-gw")
        assert gone.status_code == 204
        problem(c.delete("/api/v1/platforms/api-gw"), 404)


def test_application_risk_compliance_and_otm(server: Server) -> None:
    app = f"{APPS}/payments-platform"
    with server.client("payments-viewer") as c:
        risk = c.get(f"{app}/threat-risk").json()
        assert risk["services"] and risk["inherent"] >= risk["projected"]
        report = c.get(f"{app}/compliance", params={"standard": "pci-dss"}).json()
        assert report["title"] == "PCI DSS 4.0" and report["requirements"]
        assert report["tasks"] == sum(r["tasks"] for r in report["requirements"])
        problem(c.get(f"{app}/compliance", params={"standard": "iso-27001"}), 422)
        problem(c.get(f"{app}/compliance"), 422)
        document = c.get(f"{app}/otm").json()
        assert document["otmVersion"] and document["components"] and document["threats"]
        problem(c.post("/api/v1/otm", content=orjson.dumps(document)), 403)
        for path in ("/threat-risk", "/otm", "/compliance?standard=gdpr"):
            problem(c.get(f"{APPS}/webshop{path}"), 404)
    with server.client("admin") as c:
        webshop = c.get(f"{APPS}/webshop/otm").content
    with server.client("payments-editor") as c:
        # meshward's own export read back changes nothing: a platform's "implemented" is not
        # a decision, and every other state is what meshward already holds
        imported = c.post("/api/v1/otm", content=orjson.dumps(document))
        assert imported.status_code == 200, imported.text
        body = imported.json()
        assert body["components_matched"] and not body["unknown_components"]
        assert body["tasks_updated"] == [] and body["conflicts"] == []
        again = c.post("/api/v1/otm", content=orjson.dumps(document)).json()
        assert again["tasks_updated"] == [] and again["conflicts"] == []
        problem(c.post("/api/v1/otm", content=webshop), 404)  # webshop is not theirs
        bad = problem(c.post("/api/v1/otm", content=b'{"otmVersion": "0.2.0"}'), 422)
        assert bad["errors"][0]["place"] == "/project"


def test_the_cli_against_the_server(server: Server, tmp_path: Path) -> None:
    def cli(who: str, *args: str) -> Any:
        return run(server, who, tmp_path, *args)

    answers = tmp_path / "answers.yaml"
    answers.write_text("zone: pci-core\n")
    out = ok(
        cli("payments-editor", "survey", "answer", "checkout", "1.5.1", str(answers), "--json")
    )
    assert {q["id"]: q["answer"] for q in out["survey"]["questions"]}["zone"] == "pci-core"
    assert out["threat_model"]["threats"]
    denied = cli("payments-viewer", "survey", "answer", "checkout", "1.5.1", str(answers))
    assert denied.returncode == 1 and denied.stderr.startswith("error: server answered 403")

    control = "C-PARAMETERISED-QUERIES"
    task = ok(
        cli(
            "payments-editor", "controls", "set", "checkout", "1.5.1", control,
            "--status", "risk_accepted", "--reason", "remote decision", "--due", "2027-01-31",
            "--json",
        )
    )  # fmt: skip
    assert (task["status"], task["reason"], task["due_date"]) == (
        "risk_accepted",
        "remote decision",
        "2027-01-31",
    )
    rows = ok(
        cli("payments-viewer", "controls", "list", "--component", "checkout", "--version", "1.5.1",
            "--status", "risk_accepted", "--json")
    )  # fmt: skip
    assert [(r["control"], r["reason"]) for r in rows] == [(control, "remote decision")]
    table = cli("payments-viewer", "controls", "list", "--app", "payments-platform")
    assert table.returncode == 0 and control in table.stdout

    listing = ok(cli("payments-viewer", "kb", "show", "--json"))
    assert len(listing["controls"]) >= 60
    refused = cli("admin", "kb", "update", str(tmp_path))
    assert refused.returncode == 1 and "does not run against --server" in refused.stderr
    reload = ok(cli("admin", "kb", "update", "--json"))
    assert reload["unchanged"] is True
    assert "vault" in {p["name"] for p in ok(cli("payments-viewer", "platform", "list", "--json"))}


@pytest.fixture
def _forget_the_server() -> Iterator[None]:
    """The CLI keeps ``--server`` in a module global: leave none behind for other tests."""
    yield
    state.server = None
    state.db_url = None


READS: list[tuple[str, ...]] = [
    ("survey", "show", "checkout", "1.5.1"),
    ("threats", "model", "checkout", "1.5.1"),
    ("threats", "list", "--app", "payments-platform"),
    ("threats", "risk", "checkout", "1.5.1"),
    ("threats", "risk", "--app", "payments-platform"),
    ("controls", "list", "--app", "payments-platform"),
    ("controls", "list", "--component", "checkout", "--status", "done"),
    ("controls", "show", "C-PARAMETERISED-QUERIES", "--language", "python"),
    ("kb", "show"),
    ("platform", "list"),
    ("compliance", "report", "payments-platform", "--standard", "pci-dss"),
]


@pytest.mark.usefixtures("_forget_the_server")
@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_reads_print_the_same_locally_and_remotely(
    local: Run, remote: Callable[..., Run], args: tuple[str, ...]
) -> None:
    for extra in ((), ("--json",)):
        here = local(*args, *extra).stdout
        assert remote()(*args, *extra).stdout == here and here.strip()


@pytest.mark.usefixtures("_forget_the_server")
def test_otm_export_is_the_same_document_remotely(local: Run, remote: Callable[..., Run]) -> None:
    document = local("threats", "export-otm", "payments-platform").stdout
    there = remote("payments-viewer")("threats", "export-otm", "payments-platform").stdout
    assert there == document and orjson.loads(document)["components"]


def _no_5xx(operation: Any, headers: dict[str, str]) -> Callable[[], None]:
    from hypothesis import HealthCheck, given, settings

    @given(case=operation.as_strategy())
    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.path, case.body, response.text)

    return check  # type: ignore[no-any-return]


def test_no_server_errors_on_threat_modelling_writes(server: Server) -> None:
    """Bounded schemathesis over this module's write endpoints, as an editor and an admin."""
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(
        path_regex="survey|/controls/|/platforms|/otm$|/kb/reload",
        method=["PUT", "PATCH", "POST", "DELETE"],
    )
    checked = 0
    for who in ("payments-editor", "admin"):
        headers = {"Authorization": f"Bearer {server.tokens[who]}"}
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path == "/api/v1/kb/reload":
                continue  # reloading the same KB again changes nothing; the test below does it
            _no_5xx(operation, headers)()
            checked += 1
    assert checked >= 10


def test_reload_installs_the_servers_overlay(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last: it changes the KB in force for the rest of the module."""
    (tmp_path / "overlay.yaml").write_text(
        'version: "acme.1"\ndisable_threats: [T-CLICKJACKING]\n'
        "control_texts:\n  C-PARAMETERISED-QUERIES: {title: Use the Acme data access layer}\n"
    )
    monkeypatch.setenv("MESHWARD_KB_PATH", str(tmp_path))
    with server.client("admin") as c:
        update = c.post("/api/v1/kb/reload")
        assert update.status_code == 200, update.text
        body = update.json()
        assert body["to_version"].endswith("+acme.1") and not body["unchanged"]
        changes = {(x["key"], x["change"]) for x in body["changes"]}
        assert {("T-CLICKJACKING", "retired"), ("C-PARAMETERISED-QUERIES", "changed")} <= changes
        control = c.get("/api/v1/kb/controls/C-PARAMETERISED-QUERIES").json()
        assert control["title"] == "Use the Acme data access layer"
        assert control["kb_version"] == body["to_version"]
