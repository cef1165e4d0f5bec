"""The main flows in a real browser: Playwright drives Debian's Chromium (headless) against a
real ``meshward serve`` on 127.0.0.1 with the demo estate. Each page is saved as a screenshot
under ``.artifacts/screenshots`` and checked for accessibility: every form control labelled,
WCAG AA text contrast (from computed styles), every interactive element reachable with Tab and
showing focus."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import seed

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("MESHWARD_ARTIFACTS", Path(__file__).parents[2] / ".artifacts"))
SHOTS = ARTIFACTS / "screenshots"

if not CHROMIUM.exists() and os.environ.get("CI") != "true":
    pytest.skip("/usr/bin/chromium is absent (make setup installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

A11Y = (Path(__file__).parent / "a11y.js").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    db = tmp_path_factory.mktemp("browser") / "demo.db"
    tokens = seed(f"sqlite:///{db}")
    port = _free_port()
    env = {**os.environ, "MESHWARD_DATABASE_URL": f"sqlite:///{db}"}
    env["MESHWARD_SECRET_KEY"] = "browser-test-" + "k" * 32
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshward", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("meshward serve did not come up")
        yield base, tokens
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def page(server: tuple[str, dict[str, str]]) -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        pg = context.new_page()
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


def check(page: Any, name: str) -> None:
    """Screenshot, then the accessibility checks; no console error (a CSP violation is one)."""
    if "#" in page.url:  # Tab order would start at the fragment's target
        page.goto(page.url.split("#", 1)[0])
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    report = page.evaluate(A11Y)
    assert report["unlabelled"] == [], f"{name}: form controls without a label"
    assert report["low_contrast"] == [], f"{name}: text below WCAG AA contrast"
    focusables = report["focusables"]
    reached: set[str] = set()
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.keyboard.press("Tab")
    last, stay = None, 0
    for _ in range(len(focusables) * 2 + 10):
        state = page.evaluate("() => window.__meshwardFocus()")
        if state["id"] is None:
            break
        if state["id"] == last and stay < 4:  # a date input takes a Tab per field
            stay += 1
            page.keyboard.press("Tab")
            continue
        assert state["visible_focus"], f"{name}: no visible focus on {state['desc']}"
        if state["id"] in reached:
            break
        reached.add(state["id"])
        last, stay = state["id"], 0
        page.keyboard.press("Tab")
    missing = [f for f in focusables if f["id"] not in reached]
    assert missing == [], f"{name}: not reachable with Tab: {missing[:5]}"
    assert page.errors == [], f"{name}: console errors {page.errors}"


def test_main_flows(page: Any, server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/ui/sign-in")
    check(page, "01-sign-in")
    page.get_by_label("API token").fill(tokens["admin"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/ui/")
    assert page.get_by_role("heading", name="Overview").is_visible()
    check(page, "02-overview")

    page.get_by_role("link", name="Domains").first.click()
    assert page.get_by_role("heading", name="Domains").is_visible()
    check(page, "03-domains")

    page.goto(f"{base}/ui/apps/webshop")
    nodes = page.locator("svg a.node")
    assert nodes.count() >= 5
    check(page, "04-application-graph")
    nodes.first.focus()
    assert page.locator("path.edge.lit").count() >= 1  # the script highlights its links
    page.get_by_label("Compare").select_option("2026.08")
    page.get_by_role("button", name="Diff").click()
    assert "diff" in page.url
    check(page, "05-application-diff")

    page.get_by_role("link", name="Blast radius").first.click()
    page.get_by_label("Advisory id, alias or purl").fill("CVE-2021-44228")
    page.get_by_role("button", name="Search").click()
    assert page.locator("svg a.node.affected").count() >= 1
    assert page.locator("svg a.node.consumer").count() >= 1
    assert "log4j-core 2.15.0" in page.content()
    check(page, "06-blast-radius")

    page.goto(f"{base}/ui/findings?vuln=CVE-2021-44228")
    row = page.locator("table.findings tbody tr").first
    row.locator('input[name="ids"]').check()
    page.get_by_label("State").select_option("not_affected")
    page.get_by_label("Justification (for not affected)").select_option("code_not_reachable")
    page.get_by_label("Detail").fill("JNDI lookups are disabled")
    page.get_by_role("button", name="Apply to 1 selected").click()
    assert page.get_by_role("status").inner_text().startswith("Analysis set on 1 finding")
    assert "not affected" in page.locator("table.findings tbody tr").first.inner_text()
    check(page, "07-findings-triaged")

    page.goto(f"{base}/ui/components/search/versions/4.2.0")
    assert page.get_by_role("heading", name="Packages").is_visible()
    check(page, "08-component-version")

    page.goto(f"{base}/ui/advisories/CVE-2021-44228")
    check(page, "09-advisory")

    page.get_by_role("link", name="Audit log").click()
    assert "finding.update" in page.content() or "finding" in page.content()
    assert "web" in page.locator("table tbody").inner_text()
    check(page, "10-audit")


def _sign_in(page: Any, base: str, token: str, path: str) -> None:
    page.goto(f"{base}{path}")
    if "/ui/sign-in" in page.url:
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()


def test_mark_a_control_done(page: Any, server: tuple[str, dict[str, str]]) -> None:
    base, tokens = server
    cv = "/ui/components/search/versions/4.3.1"
    _sign_in(page, base, tokens["admin"], cv)
    assert page.get_by_role("heading", name="Threat model").is_visible()
    assert page.locator("table.threats tbody tr").count() >= 3
    check(page, "11-component-threat-model")

    tasks = page.locator("form.tasks table.tasks tbody tr")
    row = tasks.filter(has_text="C-BUILD-PROVENANCE")
    assert "todo" in row.inner_text()
    row.locator('input[name="ids"]').check()
    form = page.locator("form.tasks")
    form.get_by_label("Status").select_option("done")
    form.get_by_label("Assignee").fill("dana")
    form.get_by_role("button", name="Apply to 1 selected").click()
    assert page.get_by_role("status").first.inner_text().startswith("Changed 1 control task")
    row = page.locator("form.tasks table.tasks tbody tr").filter(has_text="C-BUILD-PROVENANCE")
    assert "done" in row.inner_text() and "dana" in row.inner_text()

    signed = page.get_by_label("Are its images signed and the signature checked before they run?")
    signed.select_option("yes" if signed.input_value() != "yes" else "no")
    page.get_by_role("button", name="Save answers").click()
    assert "answer changed" in page.get_by_role("status").first.inner_text()
    check(page, "12-survey-answered")

    page.get_by_role("link", name="Controls").first.click()
    assert page.get_by_role("heading", name="Controls board").is_visible()
    check(page, "13-controls-board")
    page.get_by_label("Service").fill("search")
    page.get_by_label("done").check()
    page.get_by_role("button", name="Filter").click()
    listed = page.locator("form.tasks table.tasks tbody").inner_text()
    assert "C-BUILD-PROVENANCE" in listed and "dana" in listed and "search 4.3.1" in listed
    check(page, "14-controls-board-done")

    page.get_by_role("link", name="Knowledge base").first.click()
    page.get_by_label("STRIDE").select_option("spoofing")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("table tbody tr").count() >= 2
    check(page, "15-knowledge-base")
    page.locator('a[href^="/ui/kb/controls/"]').first.click()
    assert page.locator("pre code").count() >= 1
    assert page.get_by_role("heading", name="Test plan").is_visible()
    check(page, "16-kb-control")

    page.goto(f"{base}/ui/apps/webshop")
    assert page.locator("svg path.edge.threat").count() >= 1
    assert page.get_by_role("heading", name="Threat risk and compliance").is_visible()
    check(page, "17-application-threats")
    page.get_by_role("link", name="PCI DSS 4.0").click()
    check(page, "18-compliance")
