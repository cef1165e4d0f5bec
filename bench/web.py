"""Server time of every web UI page on the synthetic estate (issue 9's target: under 200 ms).

    python bench/web.py                                   # 5,000 services, kept in bench/out
    python bench/web.py --services 1000 --repeat 5
    python bench/web.py --db sqlite:///bench/out/web-5000.db --reuse

The estate is bench/impact.py's (same generator and seed), plus today's roll-up snapshot and an
estate-admin token. Each page is requested in-process through the ASGI app (httpx transport,
no network), signed in as that admin, after one warm-up request; the table gives the median
and the 95th percentile of ``--repeat`` requests. The time is the whole request: routing,
session check, queries, template rendering.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench.impact import build_estate
from meshward.api.app import create_app, tune_gc
from meshward.services import auth, rollup, threat_models
from meshward.store import revision
from meshward.store.db import Store
from meshward.store.models import (
    Advisory,
    Application,
    ApplicationVersion,
    Component,
    ComponentVersion,
    Domain,
    Finding,
)


def _prepare(url: str, services: int, reuse: bool) -> str:
    """The estate (built unless ``reuse`` finds one), a snapshot for today, a token."""
    store = Store(url)
    with store.session() as s:
        empty = not s.scalar(select(func.count()).select_from(Component))
    if empty or not reuse:
        if not empty:
            raise SystemExit(f"{url} is not empty: give --reuse, or a fresh database")
        print(f"building a {services}-service estate (bench/impact.py's) ...", flush=True)
        build_estate(store, services)
    with store.session() as s:
        started = time.perf_counter()
        kb = threat_models.current_kb(s)  # the first use installs the KB: every model evaluated
        print(f"KB {kb.version} in force ({time.perf_counter() - started:.1f} s)", flush=True)
    with store.session() as s:
        print("taking today's roll-up snapshot ...", flush=True)
        rollup.snapshot_rollups(s)
        name = f"bench-web-{int(time.time())}"
        _, token = auth.create_token(s, name, role="admin")
    store.dispose()
    return token


def _pages(url: str) -> list[tuple[str, str]]:
    """Representative pages, picked from the estate (the largest application, a busy
    component version, a domain, advisories with a small and a large blast radius)."""
    store = Store(url)
    with store.session() as s:
        app, version = s.execute(
            select(Application.name, ApplicationVersion.version)
            .join(ApplicationVersion, ApplicationVersion.application_id == Application.id)
            .order_by(ApplicationVersion.seq.desc(), Application.name)
            .limit(1)
        ).one()
        versions = s.scalars(
            select(ApplicationVersion.version)
            .join(Application, Application.id == ApplicationVersion.application_id)
            .where(Application.name == app)
            .order_by(ApplicationVersion.seq)
        ).all()
        comp, cv = s.execute(
            select(Component.name, ComponentVersion.version)
            .join(ComponentVersion, ComponentVersion.component_id == Component.id)
            .join(Finding, Finding.component_version_id == ComponentVersion.id)
            .group_by(Component.name, ComponentVersion.version)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        domain = s.scalar(select(Domain.path).order_by(Domain.path).limit(1))
        by_reach = (
            select(Finding.vulnerability, func.count().label("n"))
            .group_by(Finding.vulnerability)
            .subquery()
        )
        small = s.scalar(select(by_reach.c.vulnerability).order_by(by_reach.c.n).limit(1))
        median_rows = s.execute(select(by_reach.c.vulnerability).order_by(by_reach.c.n)).all()
        median = median_rows[len(median_rows) // 2][0]
        adv = s.scalar(select(Advisory.osv_id).where(Advisory.vulnerability == small).limit(1))
    store.dispose()
    q = quote
    return [
        ("overview", "/ui/"),
        ("overview, page 5", "/ui/?page=5"),
        ("domain tree", "/ui/domains"),
        ("domain", f"/ui/domains/{q(domain)}"),
        ("application version (graph)", f"/ui/apps/{q(app)}"),
        ("application diff", f"/ui/apps/{q(app)}/diff?from={q(versions[0])}&to={q(version)}"),
        ("component version", f"/ui/components/{q(comp)}/versions/{q(cv)}"),
        ("findings", "/ui/findings"),
        ("findings, critical, page 3", "/ui/findings?severity=critical&page=3"),
        ("findings in a domain", f"/ui/findings?domain={q(domain)}"),
        ("blast radius, form", "/ui/blast-radius"),
        ("blast radius, smallest advisory", f"/ui/blast-radius?q={q(small)}"),
        ("blast radius, median advisory", f"/ui/blast-radius?q={q(median)}"),
        ("advisory", f"/ui/advisories/{q(adv or small)}"),
        ("audit log", "/ui/audit"),
        ("controls board", "/ui/controls"),
        ("controls board, page 20", "/ui/controls?page=20"),
        ("controls board, todo + failed", "/ui/controls?status=todo&state=failed"),
        ("controls board, application", f"/ui/controls?app={q(app)}"),
        ("controls board, one service", f"/ui/controls?component={q(comp)}"),
        ("knowledge base", "/ui/kb"),
        ("knowledge base, filtered", "/ui/kb?stride=tampering&standard=pci-dss&q=sql"),
        ("knowledge base, a control", "/ui/kb/controls/C-PARAMETERISED-QUERIES"),
        ("knowledge base, a threat", "/ui/kb/threats/T-COMMAND-INJECTION"),
        ("compliance, PCI DSS", f"/ui/apps/{q(app)}/compliance/pci-dss"),
    ]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--db", help="database URL (default bench/out/web-<services>.db)")
    parser.add_argument("--reuse", action="store_true", help="keep an estate already in --db")
    parser.add_argument("--repeat", type=int, default=10, help="timed requests per page")
    parser.add_argument("--only", help="time only the pages whose name contains this")
    parser.add_argument(
        "--after-write",
        metavar="TABLES",
        help="before each timed request, move the data revision of these tables (comma-"
        "separated), as a committed write to them does: times the first view after a change",
    )
    args = parser.parse_args()
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    url = args.db or f"sqlite:///{out / f'web-{args.services}.db'}"
    token = _prepare(url, args.services, args.reuse)
    tune_gc()  # as `meshward serve` does
    app = create_app(url)
    rows: list[tuple[str, str, float, float, int]] = []
    with TestClient(app) as client:
        page = client.get("/ui/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        client.post("/ui/sign-in", data={"csrf": csrf.group(1), "token": token, "next": "/ui/"})
        for name, path in _pages(url):
            if args.only and args.only not in name:
                continue
            warm = client.get(path)
            if warm.status_code != 200:
                raise SystemExit(f"{path}: HTTP {warm.status_code}")
            times = []
            for _ in range(args.repeat):
                if args.after_write:
                    revision.move(app.state.store.engine, args.after_write.split(","))
                started = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - started) * 1e3)
            rows.append(
                (name, path, statistics.median(times), _percentile(times, 0.95), len(warm.content))
            )
    app.state.store.dispose()
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    table = Table(
        title=f"meshward web UI — {args.services} services, {platform.machine()}, Python "
        f"{platform.python_version()}, {database}, {args.repeat} requests per page"
        + (f", each after a write to {args.after_write}" if args.after_write else "")
    )
    for col in ("page", "median ms", "p95 ms", "KiB", "under 200 ms"):
        table.add_column(col)
    for name, _, median, p95, size in rows:
        table.add_row(
            name, f"{median:.1f}", f"{p95:.1f}", f"{size / 1024:.0f}", "yes" if p95 < 200 else "NO"
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
