"""Server-side tests of the web UI through the ASGI app: sign-in and sessions, CSRF, roles,
escaping, the security headers, and every page working as plain HTML."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshward.api.app import create_app
from meshward.services import advisories, auth, catalog
from meshward.store.auth_models import AuditEvent
from meshward.store.db import Store
from meshward.store.models import Component, ComponentVersion, Finding
from tests.web.conftest import csrf_of, sign_in

PAGES = [
    "/ui/",
    "/ui/domains",
    "/ui/domains/acme.commerce",
    "/ui/apps/webshop",
    "/ui/apps/webshop?version=2026.08",
    "/ui/apps/webshop/diff?from=2026.08&to=2026.10",
    "/ui/components/search/versions/4.2.0",
    "/ui/components/search/versions/4.2.0?dependency=transitive",
    "/ui/blast-radius",
    "/ui/blast-radius?q=CVE-2021-44228",
    "/ui/blast-radius?q=pkg:maven/org.apache.logging.log4j/log4j-core@>=2.0,<2.15.0&env=prod",
    "/ui/findings",
    "/ui/findings?severity=critical&state=open&page=2",
    "/ui/advisories/CVE-2021-44228",
    "/ui/audit",
    "/ui/controls",
    "/ui/controls?app=webshop&priority=high&status=todo&state=unverified",
    "/ui/kb",
    "/ui/kb?stride=spoofing&standard=pci-dss&q=tls",
    "/ui/kb/threats/T-COMMAND-INJECTION",
    "/ui/kb/controls/C-BUILD-PROVENANCE",
    "/ui/apps/webshop/compliance/gdpr",
]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=\"/ui/static/app\.js\")[^>]*>", re.I)


def _finding_id(url: str, component: str, vulnerability: str | None = None) -> int:
    store = Store(url)
    with store.session() as s:
        query = (
            select(Finding.id)
            .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
            .join(Component, Component.id == ComponentVersion.component_id)
            .where(Component.name == component, Finding.active.is_(True))
            .order_by(Finding.id)
        )
        if vulnerability:
            query = query.where(Finding.vulnerability == vulnerability)
        fid = s.scalars(query).first()
    store.dispose()
    assert fid is not None
    return fid


def _finding(url: str, fid: int) -> tuple[str, str | None, str | None]:
    store = Store(url)
    with store.session() as s:
        f = s.get(Finding, fid)
        assert f is not None
        out = (f.state, f.justification, f.analysed_by)
    store.dispose()
    return out


# ---------------------------------------------------------------- signing in


def test_pages_need_a_session(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
    r = client.get("/ui/findings?severity=high", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/sign-in?next=%2Fui%2Ffindings%3Fseverity%3Dhigh"


def test_sign_in_sets_a_safe_cookie_and_keeps_no_token(
    client: TestClient, tokens: dict[str, str]
) -> None:
    page = client.get("/ui/sign-in")
    r = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(page.text), "token": tokens["admin"], "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert tokens["admin"] not in cookie and tokens["admin"].split("_")[-1] not in cookie
    assert client.get("/ui/").status_code == 200


def test_cookie_is_secure_over_tls(app_url: str, tokens: dict[str, str]) -> None:
    with TestClient(create_app(app_url), base_url="https://testserver") as c:
        page = c.get("/ui/sign-in")
        r = c.post(
            "/ui/sign-in",
            data={"csrf": csrf_of(page.text), "token": tokens["admin"], "next": "/ui/"},
            follow_redirects=False,
        )
        assert "Secure" in r.headers["set-cookie"]


def test_a_wrong_token_is_refused(client: TestClient) -> None:
    page = client.get("/ui/sign-in")
    r = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(page.text), "token": "mw_0000_nope", "next": "/ui/"},
        follow_redirects=False,
    )
    assert r.status_code == 401 and "Sign-in refused" in r.text
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_sign_in_without_csrf_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    client.get("/ui/sign-in")
    r = client.post("/ui/sign-in", data={"token": tokens["admin"]}, follow_redirects=False)
    assert r.status_code == 403


def test_a_revoked_token_ends_the_session(
    admin: TestClient, app_url: str, tokens: dict[str, str]
) -> None:
    assert admin.get("/ui/").status_code == 200
    store = Store(app_url)
    with store.session() as s:
        auth.revoke_token(s, "admin")
    store.dispose()
    r = admin.get("/ui/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/sign-in")


def test_a_tampered_cookie_is_not_a_session(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["payments-viewer"])
    value = client.cookies["mw_session"]
    payload, sig = value.split(".")
    client.cookies.set("mw_session", payload[:-2] + "AA." + sig)
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_sign_out(admin: TestClient) -> None:
    page = admin.get("/ui/")
    r = admin.post("/ui/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert admin.get("/ui/", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- pages and headers


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_as_plain_html_with_strict_headers(admin: TestClient, path: str) -> None:
    r = admin.get(path)
    assert r.status_code == 200, r.text[:500]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert not INLINE_SCRIPT.search(r.text), "inline script would break under the CSP"
    assert " style=" not in r.text and "<style" not in r.text
    assert "onclick" not in r.text.lower()
    for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", r.text, re.S):
        assert 'name="csrf"' in form


def test_static_files_are_served(client: TestClient) -> None:
    assert client.get("/ui/static/app.css").status_code == 200
    js = client.get("/ui/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_overview_shows_snapshot_risk_and_critical_findings(admin: TestClient) -> None:
    html = admin.get("/ui/").text
    assert "Risk from the roll-up snapshot of" in html
    assert "CVE-2021-44228" in html  # Log4Shell is critical and open in the demo
    assert '<polyline class="line line-critical"' in html or "<circle" in html


def test_application_graph_marks_trust_boundaries(admin: TestClient, app_url: str) -> None:
    html = admin.get("/ui/apps/payments-platform").text
    assert html.count('class="node ') >= 4 and html.count('class="edge') >= 4
    assert "10 API links drawn, 0 crossing" in html  # everything runs in dev, staging and prod
    store = Store(app_url)
    with store.session() as s:  # ledger now runs in prod only, nightly-reconcile not in prod
        for env in ("dev", "staging"):
            assert catalog.end_deployment(s, env, "ledger")
        assert catalog.end_deployment(s, "prod", "nightly-reconcile")
    store.dispose()
    html = admin.get("/ui/apps/payments-platform").text
    assert "10 API links drawn, 1 crossing" in html
    assert len(re.findall(r'class="edge boundary[ "]', html)) == 1
    assert "<strong>crosses</strong>: runs in dev, staging, calls a service in prod" in html


def test_blast_radius_lights_up_affected_and_consumers(admin: TestClient) -> None:
    html = admin.get("/ui/blast-radius?q=CVE-2021-44228").text
    assert 'class="node hit affected' in html and 'class="node hit consumer' in html
    assert "log4j-core 2.15.0" in html  # the upgrade hint
    unknown = admin.get("/ui/blast-radius?q=CVE-1999-0000").text
    assert 'class="notice error"' in unknown


def test_blast_radius_pages_each_list(admin: TestClient) -> None:
    """Each list pages on its own (``size`` rows), and the pages together hold the whole
    answer: every affected version, deployment, application version and consumer once."""

    def rows(html: str, heading: str) -> list[str]:
        table = html.split(f"<h2>{heading}", 1)[1].split("</tbody>", 1)[0]
        return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)

    def pages(param: str, heading: str) -> tuple[list[str], str]:
        found: list[str] = []
        number = 1
        while True:
            html = admin.get(f"/ui/blast-radius?q=CVE-2024-45337&size=2&{param}={number}").text
            page = rows(html, heading)
            assert len(page) <= 2
            found += page
            if 'rel="next"' not in html.split(f"<h2>{heading}", 1)[1].split("</nav>", 1)[0]:
                return found, html
            number += 1

    whole = admin.get("/ui/blast-radius?q=CVE-2024-45337&size=200").text
    for param, heading in [
        ("vpage", "Affected services"),
        ("epage", "Running now"),
        ("apage", "Applications"),
        ("page", "Consumers"),
    ]:
        found, last = pages(param, heading)
        everything = rows(whole, heading)
        assert found == everything and len(everything) > 2, heading
        total = re.search(rf"<h2>{heading}[^<]*<span[^>]*>\((\d+)", last)
        assert total and int(total.group(1)) == len(everything), heading
    assert "(5)</span></h2>" in whole  # affected versions, counted in full on every page


def test_vex_export(admin: TestClient) -> None:
    r = admin.get("/ui/components/search/versions/4.2.0/vex?format=openvex")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert r.json()["@context"].startswith("https://openvex.dev")


def test_lists_paginate(admin: TestClient) -> None:
    html = admin.get("/ui/findings").text
    first = set(re.findall(r'name="ids" value="(\d+)"', html))
    assert len(first) == 50 and 'rel="next"' in html
    second = set(re.findall(r'name="ids" value="(\d+)"', admin.get("/ui/findings?page=2").text))
    assert second and not first & second


# ---------------------------------------------------------------- escaping and sanitising


def test_hostile_names_are_escaped(admin: TestClient, app_url: str) -> None:
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    store = Store(app_url)
    with store.session() as s:
        catalog.create_component(s, hostile, domain="acme.commerce")
    store.dispose()
    html = admin.get("/ui/domains/acme.commerce?page=1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html


def test_advisory_markdown_is_sanitised(admin: TestClient, app_url: str) -> None:
    record = {
        "id": "GHSA-xxxx-yyyy-zzzz",
        "modified": "2026-11-01T00:00:00Z",
        "summary": "<b>bold</b> summary",
        "details": "**Bad** <script>alert(1)</script> [click](javascript:alert(2)) "
        '<a href="https://ok.example" onclick="x()">raw</a>\n\n[fine](https://osv.dev)',
        "affected": [{"package": {"ecosystem": "PyPI", "name": "nothing-here"}}],
    }
    import orjson

    store = Store(app_url)
    with store.session() as s:
        advisories.import_advisories_json(s, orjson.dumps(record), "test")
    store.dispose()
    html = admin.get("/ui/advisories/GHSA-xxxx-yyyy-zzzz").text
    body = html.split('<div class="markdown">', 1)[1].split("</div>", 1)[0]
    assert "<strong>Bad</strong>" in body
    assert "<script" not in body and "&lt;script&gt;" in body
    assert 'href="javascript' not in body
    assert re.search(r"<[^>]*\son\w+=", body) is None  # no handler attribute on a real tag
    assert '<a href="https://ok.example"' not in body
    assert '<a href="https://osv.dev" rel="noopener noreferrer nofollow">fine</a>' in body
    assert "&lt;b&gt;bold&lt;/b&gt; summary" in html


# ---------------------------------------------------------------- triage, CSRF and roles


def test_triage_to_not_affected_lands_in_the_audit_trail(admin: TestClient, app_url: str) -> None:
    fid = _finding_id(app_url, "search")
    page = admin.get("/ui/findings?component=search")
    r = admin.post(
        "/ui/findings/analysis",
        data={
            "csrf": csrf_of(page.text),
            "ids": [str(fid)],
            "state": "not_affected",
            "justification": "code_not_reachable",
            "detail": "JNDI lookups disabled",
            "back": "/ui/findings?component=search",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/findings?component=search&done=1"
    assert _finding(app_url, fid) == ("not_affected", "code_not_reachable", "admin")
    store = Store(app_url)
    with store.session() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.entity_kind == "finding", AuditEvent.via == "web")
        ).all()
        assert [(e.actor, e.entity_key) for e in events] == [("admin", str(fid))]
    store.dispose()
    assert "Analysis set on 1 finding" in admin.get(r.headers["location"]).text


def test_not_affected_needs_a_justification(admin: TestClient, app_url: str) -> None:
    fid = _finding_id(app_url, "search")
    page = admin.get("/ui/findings")
    r = admin.post(
        "/ui/findings/analysis",
        data={"csrf": csrf_of(page.text), "ids": [str(fid)], "state": "not_affected"},
    )
    assert r.status_code == 400 and "justification" in r.text
    assert _finding(app_url, fid)[0] == "open"


def test_a_post_without_the_csrf_token_changes_nothing(admin: TestClient, app_url: str) -> None:
    fid = _finding_id(app_url, "search")
    for csrf in ("", "forged"):
        r = admin.post(
            "/ui/findings/analysis",
            data={"csrf": csrf, "ids": [str(fid)], "state": "false_positive"},
        )
        assert r.status_code == 403 and "CSRF" in r.text
    r = admin.post(
        "/ui/findings/analysis",
        data={"csrf": csrf_of(admin.get("/ui/").text), "ids": [str(fid)], "state": "exploitable"},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert _finding(app_url, fid)[0] == "open"


def test_a_csrf_token_is_bound_to_its_session(
    client: TestClient, app_url: str, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["admin"])
    stolen = csrf_of(client.get("/ui/").text)
    with TestClient(create_app(app_url), base_url="http://testserver") as other:
        sign_in(other, tokens["admin"])
        fid = _finding_id(app_url, "search")
        r = other.post(
            "/ui/findings/analysis",
            data={"csrf": stolen, "ids": [str(fid)], "state": "exploitable"},
        )
        assert r.status_code == 403


def test_roles_apply_as_in_the_api(
    client: TestClient, app_url: str, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["payments-viewer"])
    nav = client.get("/ui/").text
    assert "/ui/audit" not in nav
    assert client.get("/ui/audit").status_code == 403
    assert client.get("/ui/apps/webshop").status_code == 404  # another domain: unseen
    assert client.get("/ui/components/search/versions/4.2.0").status_code == 404
    assert client.get("/ui/apps/payments-platform").status_code == 200
    listed = client.get("/ui/findings").text
    assert "checkout" in listed and "/ui/components/search/" not in listed
    assert 'name="ids"' not in listed  # a viewer gets no triage form
    fid = _finding_id(app_url, "checkout")
    r = client.post(
        "/ui/findings/analysis",
        data={"csrf": csrf_of(listed), "ids": [str(fid)], "state": "false_positive"},
    )
    assert r.status_code == 403
    assert _finding(app_url, fid)[0] == "open"


def test_an_editor_may_triage_only_in_its_domain(
    client: TestClient, app_url: str, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["commerce-editor"])
    csrf = csrf_of(client.get("/ui/findings").text)
    own, other = _finding_id(app_url, "search"), _finding_id(app_url, "checkout")
    r = client.post(
        "/ui/findings/analysis",
        data={"csrf": csrf, "ids": [str(own), str(other)], "state": "in_triage"},
    )
    assert r.status_code == 404  # the payments finding is not even visible
    assert _finding(app_url, own)[0] == "open"
    r = client.post(
        "/ui/findings/analysis",
        data={"csrf": csrf, "ids": [str(own)], "state": "in_triage"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and _finding(app_url, own)[0] == "in_triage"


def test_snapshot_needs_estate_write(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["commerce-editor"])
    page = client.get("/ui/")
    assert "/ui/snapshot" not in page.text
    r = client.post("/ui/snapshot", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403
