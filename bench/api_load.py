"""The REST API under load: ``meshward serve`` in its own process on a free 127.0.0.1 port,
and here 32 concurrent clients (one asyncio task each, over keep-alive connections) that for
20 s issue a realistic mix with an estate-wide token, then a table per endpoint.

    python bench/api_load.py                       # the demo estate (Acme), SQLite in a temp dir
    python bench/api_load.py --estate 5000         # bench/impact.py's synthetic estate
    python bench/api_load.py --clients 64 --duration 10 --db sqlite:///bench/out/api.db

The mix, per request drawn at random: list components (a page of 50 at a random cursor),
a component version's findings (50, worst first), blast radius (an advisory that hits
something, or a package name), application risk (latest version), and /healthz. The server
runs with uvicorn's defaults (one worker), so sync routes share its thread pool.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from meshward.api.deps import encode_cursor
from meshward.services import auth
from meshward.store.db import Store
from meshward.store.models import Application, Component, ComponentVersion, Finding

MIX = {  # endpoint -> weight
    "list components": 30,
    "component version findings": 25,
    "application risk": 15,
    "blast radius": 10,
    "health": 20,
}


@dataclass
class Targets:
    """What the clients ask about, drawn from the loaded estate."""

    components: int
    versions: list[tuple[str, str]]
    applications: list[str]
    queries: list[str]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_error: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load_estate(url: str, estate: int | None) -> str:
    """Fill the database (demo or synthetic) and return an estate-wide read token."""
    store = Store(url)
    if estate:
        from bench.impact import build_estate

        build_estate(store, estate)
    else:
        from meshward.demo.load import load_demo

        with store.session() as session:
            load_demo(session)
    with store.session() as session:
        _, token = auth.create_token(session, f"bench-{os.getpid()}", role="viewer")
    store.dispose()
    return token


def pick_targets(url: str, seed: int) -> Targets:
    rng = random.Random(seed)
    store = Store(url)
    with store.session() as session:
        components = session.scalar(select(func.count()).select_from(Component)) or 0
        with_findings = session.execute(
            select(Component.name, ComponentVersion.version)
            .join(ComponentVersion, ComponentVersion.component_id == Component.id)
            .where(ComponentVersion.id.in_(select(Finding.component_version_id)))
            .distinct()
        ).all()
        apps = list(session.scalars(select(Application.name).order_by(Application.name)))
        vulns = sorted(session.scalars(select(Finding.vulnerability).distinct()).all())
    store.dispose()
    versions = sorted((c, v) for c, v in with_findings)
    queries = rng.sample(vulns, min(40, len(vulns)))
    if not versions or not apps or not queries:
        raise SystemExit("the estate has no findings or no applications to ask about")
    return Targets(components, rng.sample(versions, min(200, len(versions))), apps, queries)


def start_server(url: str, port: int, log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "meshward", "--db", url, "serve", "--host", "127.0.0.1"]
    cmd += ["--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"meshward serve exited ({proc.returncode}): see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"meshward serve did not become ready in 60 s: see {log}")


def request_for(name: str, t: Targets, rng: random.Random) -> tuple[str, dict[str, Any]]:
    if name == "list components":
        offset = rng.randrange(max(1, t.components - 50))
        return "/api/v1/components", {"limit": 50, "cursor": encode_cursor(offset)}
    if name == "component version findings":
        component, version = rng.choice(t.versions)
        return "/api/v1/findings", {"component": component, "version": version, "limit": 50}
    if name == "application risk":
        return f"/api/v1/apps/{rng.choice(t.applications)}/risk", {}
    if name == "blast radius":
        return "/api/v1/blast-radius", {"q": rng.choice(t.queries)}
    return "/healthz", {}


async def client(base: str, token: str, t: Targets, seed: int, until: float, tally: Tally) -> None:
    rng = random.Random(seed)
    names, weights = list(MIX), list(MIX.values())
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        while time.perf_counter() < until:
            name = rng.choices(names, weights)[0]
            path, params = request_for(name, t, rng)
            started = time.perf_counter()
            try:
                response = await http.get(path, params=params)
                await response.aread()
                ok = response.status_code == 200
                problem = f"{response.status_code} {response.text[:160]}"
            except httpx.HTTPError as exc:
                ok, problem = False, f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            if ok:
                tally.latencies[name].append(elapsed)
            else:
                tally.errors[name] += 1
                tally.first_error.setdefault(name, problem)


async def load(base: str, token: str, t: Targets, clients: int, duration: float) -> Tally:
    tally = Tally()
    until = time.perf_counter() + duration
    await asyncio.gather(*(client(base, token, t, i, until, tally) for i in range(clients)))
    return tally


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0] * 1000:.1f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[q - 1] * 1000:.1f}"


def report(tally: Tally, duration: float, title: str) -> Table:
    table = Table(title=title)
    for col in ("endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    total, errors = 0, 0
    for name in MIX:
        lat = tally.latencies.get(name, [])
        n = len(lat) + tally.errors.get(name, 0)
        total += n
        errors += tally.errors.get(name, 0)
        table.add_row(
            name,
            str(n),
            f"{n / duration:.1f}",
            _ms(lat, 50),
            _ms(lat, 95),
            _ms(lat, 99),
            str(tally.errors.get(name, 0)),
        )
    every = [x for name in MIX for x in tally.latencies.get(name, [])]
    table.add_row(
        "all", str(total), f"{total / duration:.1f}", _ms(every, 50), _ms(every, 95),
        _ms(every, 99), str(errors),
    )  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--estate", type=int, help="services in a synthetic estate (default: demo)")
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="the database is loaded already")
    parser.add_argument("--token", help="with --reuse: a read token for it (default: a new one)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="meshward serve --workers N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshward-api-load-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'api.db'}"
        started = time.perf_counter()
        reused = args.reuse and (args.token or _token_only(url))
        token = reused or load_estate(url, args.estate)
        loaded = time.perf_counter() - started
        targets = pick_targets(url, args.seed)
        port = _free_port()
        server = start_server(url, port, Path(tmp) / "serve.log", args.workers)
        try:
            tally = asyncio.run(
                load(f"http://127.0.0.1:{port}", token, targets, args.clients, args.duration)
            )
        finally:
            server.terminate()
            server.wait(10)
    estate = f"synthetic estate, {args.estate} services" if args.estate else "demo estate"
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    title = (
        f"meshward API under load — {estate}, {database}, {args.workers} worker(s), "
        f"{args.clients} clients, "
        f"{args.duration:g} s, {os.cpu_count()} CPUs {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    console = Console(width=140)
    console.print(report(tally, args.duration, title))
    console.print(
        f"estate loaded in {loaded:.1f} s; {targets.components} components, "
        f"{len(targets.versions)} versions with findings asked about, "
        f"{len(targets.queries)} blast-radius queries"
    )
    for name, problem in tally.first_error.items():
        console.print(f"first error, {name}: {problem}", markup=False)


def _token_only(url: str) -> str:
    store = Store(url)
    with store.session() as session:
        _, token = auth.create_token(session, f"bench-{os.getpid()}", role="viewer")
    store.dispose()
    return token


if __name__ == "__main__":
    main()
