"""The threat-model pages through the ASGI app: the component version's model and survey, the
controls board and its bulk form, the knowledge-base browser, link threats on the application
graph, and the roles and CSRF rules on every new form."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshward.kb.loader import KnowledgeBase
from meshward.services import board, catalog, threat_risk, verification, views
from meshward.services import threat_models as tm
from meshward.store.auth_models import AuditEvent
from meshward.store.db import Store
from meshward.store.threat_models import ControlTask
from meshward.web.threats import survey_changes
from tests.web.conftest import csrf_of, sign_in

SEARCH = "/ui/components/search/versions/4.2.0"


def _in_store(url: str, fn: Any) -> Any:
    store = Store(url)
    try:
        with store.session() as s:
            return fn(s)
    finally:
        store.dispose()


def _task_ids(html: str) -> list[int]:
    form = html.split('action="/ui/controls/tasks"', 1)[1].split("</form>", 1)[0]
    return [int(v) for v in re.findall(r'name="ids" value="(\d+)"', form)]


def _task(url: str, tid: int) -> tuple[str, str | None, str | None, str | None, str | None]:
    def read(s: Any) -> Any:
        t = s.get(ControlTask, tid)
        return (t.status, t.reason, t.decided_by, t.assignee, str(t.due_date or "") or None)

    return _in_store(url, read)  # type: ignore[no-any-return]


def _open_tasks(url: str, component: str, version: str) -> list[int]:
    """Tasks still to do (no decision, no platform covering them), in id order."""

    def read(s: Any) -> list[int]:
        cv = catalog.get_component_version(s, component, version)
        return list(
            s.scalars(
                select(ControlTask.id)
                .where(
                    ControlTask.component_version_id == cv.id,
                    ControlTask.active.is_(True),
                    ControlTask.status == "todo",
                    ControlTask.platform_id.is_(None),
                )
                .order_by(ControlTask.id)
            )
        )

    return _in_store(url, read)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the component version


def test_component_version_shows_its_threat_model(admin: TestClient, app_url: str) -> None:
    html = admin.get("/ui/components/cart/versions/2.1.0").text
    model = _in_store(app_url, lambda s: tm.threat_model(s, "cart", "2.1.0"))
    assert model["threats"] and model["controls"]
    section = html.split('id="threats-h"', 1)[1].split('id="survey-h"', 1)[0]
    for threat in model["threats"]:
        assert f"/ui/kb/threats/{threat['threat']}" in section
        for why in threat["why"]:
            assert why.replace("'", "&#39;") in section
    links = [t for t in model["threats"] if t["scope"] == "link"]
    assert links, "cart has link threats in the demo"
    for link in links:
        peer = link["peer"].split("/")[-1]
        called = "calls" if link["role"] == "consumer" else "called by"
        assert f'{called} <a href="/ui/components/{peer}">{peer}</a>' in section
    active = [t for t in model["controls"] if t["active"]]
    assert len(_task_ids(html)) == len(active)
    assert section.count('class="state verify-') == len(active)
    assert "elevation of privilege" in section or "tampering" in section  # STRIDE shown
    risk = _in_store(app_url, lambda s: threat_risk.component_risk(s, "cart", "2.1.0"))
    assert f"inherent {risk['inherent']}, current {risk['current']}" in section


def test_survey_shows_answers_with_their_source(admin: TestClient, app_url: str) -> None:
    html = admin.get(SEARCH).text
    survey = _in_store(app_url, lambda s: tm.survey_view(s, "search", "4.2.0"))
    section = html.split('id="survey-h"', 1)[1]
    for q in survey["questions"]:
        assert f'name="q.{q["id"]}"' in section
    sources = re.findall(r'class="state source-(\w+)"', section)
    assert sorted(sources) == sorted(q["source"] for q in survey["questions"] if q["source"])


def test_answering_the_survey_re_renders_the_model(admin: TestClient, app_url: str) -> None:
    before = _in_store(app_url, lambda s: tm.survey_view(s, "search", "4.2.0"))
    threats = {t["threat"] for t in _model(app_url)["threats"]}
    assert "T-COMMAND-INJECTION" not in threats
    page = admin.get(SEARCH).text
    form: dict[str, Any] = {"csrf": csrf_of(page)}
    for q in before["questions"]:  # the form as drawn, with one more feature ticked
        answer = q["answer"]
        if q["type"] == "multi":
            form[f"q.{q['id']}"] = list(answer or [])
        elif q["type"] == "bool":
            form[f"q.{q['id']}"] = {True: "yes", False: "no"}.get(answer, "")
        else:
            form[f"q.{q['id']}"] = answer or ""
    form["q.features"] = [*form["q.features"], "runs_commands"]
    r = admin.post("/ui/components/search/versions/4.2.0/survey", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"{SEARCH}?answered=1#survey-h"
    after = _in_store(app_url, lambda s: tm.survey_view(s, "search", "4.2.0"))
    changed = {q["id"]: (q["answer"], q["source"]) for q in after["questions"]}
    changed = {k: v for k, v in changed.items() if k in {q["id"] for q in before["questions"]}}
    unchanged = {q["id"]: (q["answer"], q["source"]) for q in before["questions"]}
    diff = {k: v for k, v in changed.items() if unchanged[k] != v}
    assert diff == {"features": (sorted(form["q.features"]), "answered")}
    assert "T-COMMAND-INJECTION" in {t["threat"] for t in _model(app_url)["threats"]}
    html = admin.get(r.headers["location"]).text
    assert "1 answer changed" in html and "/ui/kb/threats/T-COMMAND-INJECTION" in html
    events = _in_store(
        app_url,
        lambda s: s.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.entity_kind == "survey", AuditEvent.via == "web"
            )
        ).all(),
    )
    assert events == ["admin"]


def _model(url: str) -> dict[str, Any]:
    return _in_store(url, lambda s: tm.threat_model(s, "search", "4.2.0"))  # type: ignore[no-any-return]


def test_survey_changes_store_only_what_a_person_touched() -> None:
    questions = [
        {"id": "exposure", "type": "single", "answer": "internal", "source": "prefilled"},
        {"id": "runtime", "type": "single", "answer": "kubernetes", "source": "default"},
        {"id": "stores_data", "type": "bool", "answer": True, "source": "answered"},
        {"id": "signed_images", "type": "bool", "answer": None, "source": None},
        {"id": "data_classes", "type": "multi", "answer": ["public"], "source": "default"},
        {"id": "features", "type": "multi", "answer": None, "source": None},
        {"id": "zone", "type": "text", "answer": "dmz", "source": "answered"},
    ]
    untouched = {
        "q.exposure": ["internal"],
        "q.runtime": ["kubernetes"],
        "q.stores_data": ["yes"],
        "q.signed_images": [""],
        "q.data_classes": ["public"],
        "q.zone": ["dmz"],
    }
    assert survey_changes(questions, untouched) == {}
    touched = {
        **untouched,
        "q.exposure": ["internet"],  # prefilled, changed: stored
        "q.stores_data": [""],  # a person's answer removed
        "q.signed_images": ["no"],
        "q.data_classes": [],  # every box unticked: "none of these"
        "q.features": ["sql", "sql", " "],
        "q.zone": ["  "],
    }
    assert survey_changes(questions, touched) == {
        "exposure": "internet",
        "stores_data": None,
        "signed_images": False,
        "data_classes": [],
        "features": ["sql"],
        "zone": None,
    }


def test_a_wrong_answer_changes_nothing(admin: TestClient, app_url: str) -> None:
    page = admin.get(SEARCH).text
    r = admin.post(
        "/ui/components/search/versions/4.2.0/survey",
        data={"csrf": csrf_of(page), "q.exposure": "the-moon"},
    )
    assert r.status_code == 400 and "exposure" in r.text
    survey = _in_store(app_url, lambda s: tm.survey_view(s, "search", "4.2.0"))
    assert next(q for q in survey["questions"] if q["id"] == "exposure")["answer"] != "the-moon"


def test_survey_needs_the_editor_role_and_csrf(
    client: TestClient, app_url: str, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["payments-viewer"])
    page = client.get("/ui/components/checkout").text
    assert 'action="/ui/components/checkout/versions/' in page
    assert "Save answers" not in page and "Answering needs the editor role" in page
    version = re.search(r'action="/ui/components/checkout/versions/([^/]+)/survey"', page)
    assert version
    r = client.post(
        f"/ui/components/checkout/versions/{version.group(1)}/survey",
        data={"csrf": csrf_of(page), "q.exposure": "internet"},
    )
    assert r.status_code == 403
    sign_in(client, tokens["commerce-editor"])
    r = client.post(
        "/ui/components/search/versions/4.2.0/survey",
        data={"csrf": "forged", "q.exposure": "internet"},
    )
    assert r.status_code == 403 and "CSRF" in r.text


# ---------------------------------------------------------------- the controls board


def test_mark_controls_done_from_the_page_and_see_them_on_the_board(
    admin: TestClient, app_url: str
) -> None:
    page = admin.get(SEARCH).text
    first, second = _open_tasks(app_url, "search", "4.2.0")[:2]
    assert {first, second} <= set(_task_ids(page))
    done_before = set(_task_ids(admin.get("/ui/controls?component=search&status=done").text))
    r = admin.post(
        "/ui/controls/tasks",
        data={
            "csrf": csrf_of(page),
            "ids": [str(first), str(second)],
            "status": "done",
            "assignee": "dana",
            "due_date": "2026-12-31",
            "back": f"{SEARCH}#controls-h",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{SEARCH}?done=2#controls-h"
    assert _task(app_url, first) == ("done", None, "admin", "dana", "2026-12-31")
    assert _task(app_url, second)[0] == "done"
    board = admin.get("/ui/controls?component=search&status=done").text
    assert set(_task_ids(board)) == done_before | {first, second}
    assert "dana" in board and "2026-12-31" in board
    events = _in_store(
        app_url,
        lambda s: s.scalars(
            select(AuditEvent.entity_key).where(
                AuditEvent.entity_kind == "control_task", AuditEvent.via == "web"
            )
        ).all(),
    )
    assert len(events) == 2


def test_board_counts_by_status_and_verification(admin: TestClient, app_url: str) -> None:
    def expected(s: Any) -> dict[tuple[str, str], int]:
        return board.board_counts(s, board.BoardFilter(application="system:default/webshop"))

    counts = _in_store(app_url, expected)
    html = admin.get("/ui/controls?app=webshop").text
    total = sum(counts.values())
    assert total and f"{total} active control tasks on 5 service versions" in html
    todo_unverified = counts[("todo", "unverified")]
    assert f">{todo_unverified}</a>" in html
    services = _in_store(
        app_url,
        lambda s: {
            r["component"] for r in tm.list_controls(s, application="webshop") if r["active"]
        },
    )
    listed = set(re.findall(r'href="/ui/components/([^/]+)/versions/', html))
    assert listed and listed <= {k.split("/")[-1] for k in services}
    high = admin.get("/ui/controls?app=webshop&priority=critical").text
    assert 'class="sev sev-high"' not in high.split("<tbody>", 2)[2]


def test_not_applicable_needs_a_reason_and_changes_nothing_without(
    admin: TestClient, app_url: str
) -> None:
    page = admin.get(SEARCH).text
    ids = _open_tasks(app_url, "search", "4.2.0")[:3]
    data = {"csrf": csrf_of(page), "ids": [str(i) for i in ids], "status": "not_applicable"}
    r = admin.post("/ui/controls/tasks", data=data)
    assert r.status_code == 400 and "reason" in r.text
    assert all(_task(app_url, i)[0] == "todo" for i in ids)
    r = admin.post(
        "/ui/controls/tasks",
        data={**data, "reason": "no shell in the image"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert {_task(app_url, i)[:3] for i in ids} == {
        ("not_applicable", "no shell in the image", "admin")
    }
    r = admin.post("/ui/controls/tasks", data={"csrf": data["csrf"], "ids": [str(ids[0])]})
    assert r.status_code == 400  # nothing to change


def test_an_editor_may_change_tasks_only_in_its_domain(
    client: TestClient, app_url: str, tokens: dict[str, str]
) -> None:
    def checkout_task(s: Any) -> int:
        comp = catalog.get_component(s, "checkout")
        newest = catalog.list_component_versions(s, comp.key)[-1].version
        tm.threat_model(s, comp.key, newest)
        cv = catalog.get_component_version(s, comp.key, newest)
        tid = s.scalar(select(ControlTask.id).where(ControlTask.component_version_id == cv.id))
        assert tid is not None
        return int(tid)

    other = _in_store(app_url, checkout_task)
    sign_in(client, tokens["commerce-editor"])
    page = client.get(SEARCH).text
    own = _open_tasks(app_url, "search", "4.2.0")[0]
    csrf = csrf_of(page)
    r = client.post(
        "/ui/controls/tasks",
        data={"csrf": csrf, "ids": [str(own), str(other)], "status": "in_progress"},
    )
    assert r.status_code == 404  # the payments task is not even visible
    assert _task(app_url, own)[0] == "todo"
    r = client.post(
        "/ui/controls/tasks",
        data={"csrf": csrf, "ids": [str(own)], "status": "in_progress"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and _task(app_url, own)[0] == "in_progress"
    sign_in(client, tokens["payments-viewer"])
    board = client.get("/ui/controls").text
    assert "/ui/components/search/" not in board and 'name="ids"' not in board
    r = client.post(
        "/ui/controls/tasks", data={"csrf": csrf_of(board), "ids": [str(other)], "status": "done"}
    )
    assert r.status_code == 403


# ---------------------------------------------------------------- the knowledge base


def test_kb_filters_by_stride_standard_and_text(admin: TestClient, app_url: str) -> None:
    kb: KnowledgeBase = _in_store(app_url, tm.current_kb)
    html = admin.get("/ui/kb?stride=spoofing").text
    shown = set(re.findall(r'href="/ui/kb/threats/([^"]+)">', html.split("kb-controls-h")[0]))
    assert shown == {t.id for t in kb.threats.values() if t.stride == "spoofing"}
    html = admin.get("/ui/kb?standard=hipaa").text
    controls = set(re.findall(r'href="/ui/kb/controls/([^"]+)">', html))
    assert controls == {c.id for c in kb.controls.values() if c.compliance.get("hipaa")}
    html = admin.get("/ui/kb?q=CWE-918").text
    threats = set(re.findall(r'href="/ui/kb/threats/([^"]+)">', html.split("kb-controls-h")[0]))
    assert threats and all(918 in kb.threats[t].cwe for t in threats)


def test_kb_control_shows_samples_escaped_and_its_test_plan(
    admin: TestClient, app_url: str
) -> None:
    def hostile(s: Any) -> str:
        data = tm.current_kb(s).to_data()
        control = next(c for c in data["controls"] if c.get("code_samples"))
        control["code_samples"][0]["code"] = "</code></pre><script>alert(1)</script>{{ 7*7 }}"
        data["version"] = data["version"] + "+hostile"
        tm.install_kb(s, KnowledgeBase.from_data(data, "test"))
        return str(control["id"])

    key = _in_store(app_url, hostile)
    html = admin.get(f"/ui/kb/controls/{key}").text
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in html
    assert "<script>alert(1)" not in html
    kb: KnowledgeBase = _in_store(app_url, tm.current_kb)
    control = kb.controls[key]
    assert html.count("<pre><code") == len(control.code_samples)
    text = unescape(html)
    assert all(step in text for step in control.test_plan)
    language = control.code_samples[0].language
    only = admin.get(f"/ui/kb/controls/{key}?language={language}").text
    assert only.count("<pre><code") == sum(c.language == language for c in control.code_samples)


def test_kb_threat_page_and_unknown_ids(admin: TestClient) -> None:
    html = admin.get("/ui/kb/threats/T-COMMAND-INJECTION").text
    assert "survey.features contains &#34;runs_commands&#34;" in html
    assert "CWE-78" in html and "/ui/kb/controls/" in html
    assert admin.get("/ui/kb/threats/T-NOPE").status_code == 404
    assert admin.get("/ui/kb/controls/C-NOPE").status_code == 404


def test_rule_text_reads_like_the_rule() -> None:
    rule = {
        "all": [
            {"fact": "survey.exposure", "in": ["internet", "partner"]},
            {"not": {"fact": "survey.features", "exists": True}},
        ]
    }
    assert views.rule_text(rule) == [
        "all of:",
        '  survey.exposure in ["internet","partner"]',
        "  not:",
        "    survey.features exists true",
    ]


# ---------------------------------------------------------------- the application


def test_application_graph_carries_link_threats(admin: TestClient, app_url: str) -> None:
    html = admin.get("/ui/apps/webshop").text

    def expected(s: Any) -> dict[tuple[str, str], set[str]]:
        app = catalog.get_application(s, "webshop")
        av = catalog._latest_app_version(s, app)
        assert av is not None
        members = views.member_versions(s, av.id)
        tm.refresh(s, list(members.values()))
        return views.link_threats(s, members.values())

    links = _in_store(app_url, expected)
    assert links
    kb: KnowledgeBase = _in_store(app_url, tm.current_kb)
    drawn = re.findall(r'<path class="(edge[^"]*)"[^>]*><title>([^<]*)</title>', html)
    with_threats = [title for css, title in drawn if "threat" in css.split()]
    assert with_threats and all("link threats: " in t for t in with_threats)
    (consumer, provider), threats = sorted(links.items())[0]
    row = next(
        r
        for r in html.split("<tr>")
        if r.startswith(f"<td>{consumer.split('/')[-1]}</td><td>{provider.split('/')[-1]}</td>")
    )
    for t in threats:
        assert kb.threats[t].title.replace("'", "&#39;") in row
    assert f"{sum(1 for _ in with_threats)} with link threats" in html


def test_application_shows_threat_risk_and_compliance(admin: TestClient, app_url: str) -> None:
    html = admin.get("/ui/apps/webshop").text
    risk = _in_store(app_url, lambda s: threat_risk.application_risk(s, "webshop"))
    for k in ("inherent", "current", "projected"):
        assert f"<strong>{risk[k]}</strong>" in html
    report = _in_store(app_url, lambda s: threat_risk.compliance_report(s, "webshop", "pci-dss"))
    row = html.split('/compliance/pci-dss">PCI DSS 4.0</a></td>', 1)[1].split("</tr>", 1)[0]
    numbers = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row)]
    assert numbers[0] == len(report["requirements"])
    assert numbers[1:4] == [report["tasks"], report["done"], report["verified"]]
    page = admin.get("/ui/apps/webshop/compliance/pci-dss")
    assert page.status_code == 200 and "PCI DSS 4.0" in page.text
    assert admin.get("/ui/apps/webshop/compliance/iso-9001").status_code == 404


SARIF = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {
                "driver": {
                    "name": "Bandit",
                    "rules": [
                        {"id": "B608", "properties": {"tags": ["CWE-89"]}},
                        {"id": "B105", "properties": {"tags": ["CWE-259"]}},
                    ],
                }
            },
            "results": [
                {
                    "ruleId": "B608",
                    "level": "error",
                    "message": {"text": "SQL built from <input> strings"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "search/db.py"},
                                "region": {"startLine": 12},
                            }
                        }
                    ],
                },
                {
                    "ruleId": "B105",
                    "level": "warning",
                    "message": {"text": "hard-coded password"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "search/settings.py"},
                                "region": {"startLine": 3},
                            }
                        }
                    ],
                    "suppressions": [{"kind": "inSource", "justification": "test key"}],
                },
            ],
        }
    ],
}


def test_scans_and_their_evidence_show_on_the_page(admin: TestClient, app_url: str) -> None:
    result = _in_store(
        app_url,
        lambda s: verification.upload_scan(
            s, "search", "4.2.0", orjson.dumps(SARIF), "bandit.sarif", tool="bandit"
        ),
    )
    html = admin.get(SEARCH).text
    scans = html.split('id="scans-h"', 1)[1]
    assert "<td>bandit</td>" in scans
    assert "search/db.py:12" in scans and "search/settings.py:3" in scans
    assert "SQL built from &lt;input&gt; strings" in scans
    assert scans.count('class="state lifecycle-new"') == 2
    assert scans.count('<span class="tag">suppressed</span>') == 1
    assert result.failed_controls  # B608 (CWE-89) fails the query control
    tasks = html.split('id="controls-h"', 1)[1].split('id="scans-h"', 1)[0]
    model = {t["control"] for t in _model(app_url)["controls"] if t["active"]}
    unexpected = tasks.split('id="unexpected-h"', 1)[1] if 'id="unexpected-h"' in tasks else ""
    for control in result.failed_controls:
        where = tasks.split('id="unexpected-h"', 1)[0] if control in model else unexpected
        assert f"/ui/kb/controls/{control}" in where
    assert f"failed: 1 result of bandit (scan #{result.scan_id}" in tasks
