"""Blast radius at issue 5's scale: a reproducible synthetic estate, then p50/p95 of
``blast_radius`` over 50 different queries (advisories by CVE alias, purl ranges, bare names).

    python bench/impact.py                           # 5,000 services, SQLite in a temp dir
    python bench/impact.py --services 1000
    python bench/impact.py --db sqlite:///bench/out/impact.db --reuse   # keep and reuse it
    python bench/impact.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
                                                     # (PostgreSQL: its public schema is dropped!)

The estate, for N services (fixed seed): N/250 domains, N/12 applications with three versions
each, 4 versions per service (4N), 50 packages per version SBOM (200N occurrences) drawn with
a Zipf-like popularity from 4,000 package names x 8 versions in npm, PyPI, Maven and Go
(newer service versions upgrade some packages), a dependency tree per SBOM (10 direct
packages, the rest hanging below them, chains up to ~6 deep, plus extra edges), one API per
service and about 4 consumed APIs per service (4N links) shaped like a real estate by
``bench.estate.api_links`` (mostly inside the domain, a few shared platform services that
many call, fan-in with a heavy tail), deployments to prod (one ended and one
running version per service), staging and dev, and 500 OSV advisories imported through the
real import path (so findings come from the real matcher). Everything else is written with
``meshward.store.bulk.bulk_insert``, each occurrence with the shortest-path parent an upload
stores (``sboms.path_parents``); an estate built before migration 0009 has none, and its
blast radii walk the dependency edges instead (``--reuse`` on such a database measures that).
The matcher stores each finding's placement (migration 0011); an estate built before it has
findings without one, which blast radius places itself until a re-match touches them.

Each query is timed answered in full, in full and serialised as the API sends it, and as a
first page (``--page`` versions, ``--consumer-limit`` consumers; then also only the first
``--page`` application versions and running deployments listed), on a first call (no
placement kept by document nor consumer walk known yet; an advisory's findings bring their
placement from the matcher) and on repeat calls, each the median of ``--repeat`` calls; and,
as after a committed
catalog write (a deployment, an application version, a catalog import: it moves the
revision the per-engine catalog, API graph and package names are kept at), on the first call
(the API graph and the answer's part of the catalog read) and the second (the whole catalog
read).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bench.estate import api_links, counts
from meshward.api.app import tune_gc
from meshward.formats.osv import parse_advisory
from meshward.services.advisories import store_advisories
from meshward.services.impact import (
    _API_GRAPH,
    _CATALOG,
    _NAMES,
    _placements_by_engine,
    blast_radius,
)
from meshward.services.sboms import path_parents
from meshward.store.bulk import bulk_insert
from meshward.store.db import Store
from meshward.store.models import (
    Api,
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Environment,
    Finding,
    Occurrence,
    Package,
    Relation,
    SbomDependency,
    SbomDocument,
)

SEED = 5
VERSIONS_PER_SERVICE = 4
PACKAGES_PER_SBOM = 50
DIRECT = 10
LINKS_PER_SERVICE = 4
NAMES_PER_ECOSYSTEM = 1000
VERSIONS_PER_NAME = 8
ADVISORIES = 500
T0 = datetime(2025, 1, 1)  # naive UTC, as bulk_insert wants
PROPOSED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_sbom_dependencies_document_to "
    "ON sbom_dependencies (document_id, to_ref)",
    "CREATE INDEX IF NOT EXISTS ix_occurrences_document_ref ON occurrences (document_id, ref)",
)
"""What the upward SBOM walk and its labels want: both only have (document_id) today."""
CVSS = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "critical"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "critical"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "high"),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", "medium"),
]


# ---------------------------------------------------------------- the package universe


def _package_universe() -> list[tuple[str, str, str, list[str]]]:
    """(purl type, OSV ecosystem, name as advisories spell it, versions oldest first)."""
    names: list[tuple[str, str, str, list[str]]] = []
    for i in range(NAMES_PER_ECOSYSTEM):
        semver = [f"{1 + v // 4}.{v % 4}.0" for v in range(VERSIONS_PER_NAME)]
        names.append(("npm", "npm", f"lib-{i}", semver))
        # the first 50 PyPI names repeat npm names: bare-name queries span two ecosystems
        names.append(("pypi", "PyPI", f"lib-{i}" if i < 50 else f"py-lib-{i}", semver))
        names.append(("maven", "Maven", f"com.example.g{i % 50}:artifact-{i}", semver))
        names.append(("golang", "Go", f"github.com/example/mod-{i}", [f"v{v}" for v in semver]))
    return names


def _purl(purl_type: str, name: str, version: str) -> str:
    if purl_type == "maven":
        group, artifact = name.split(":")
        return f"pkg:maven/{group}/{artifact}@{version}"
    return f"pkg:{purl_type}/{name}@{version}"


class _Popularity:
    """Zipf-like draws of package names (a few names are everywhere, most are rare)."""

    def __init__(self, n: int, rng: random.Random) -> None:
        order = list(range(n))
        rng.shuffle(order)
        self.order = order
        self.cumulative = list(itertools.accumulate(1 / (rank + 5) ** 1.1 for rank in range(n)))
        self.rng = rng

    def draw(self, k: int) -> list[int]:
        picked: dict[int, None] = {}
        total = self.cumulative[-1]
        while len(picked) < k:
            rank = bisect.bisect_left(self.cumulative, self.rng.random() * total)
            picked.setdefault(self.order[min(rank, len(self.order) - 1)])
        return list(picked)


# ---------------------------------------------------------------- building the estate


def build_estate(store: Store, services: int, seed: int = SEED) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    n_apps, n_domains = counts(services)
    universe = _package_universe()
    with store.session() as session:
        links = _insert_catalog(session, services, n_domains, n_apps, seed)
        package_ids = _insert_packages(session, universe)
        occurrences = _insert_sboms(session, services, universe, package_ids, rng)
        _insert_deployments_and_apps(session, services, n_apps)
        if session.get_bind().dialect.name == "postgresql":
            for model in (Domain, Application, Component, Api, ComponentVersion, Package):
                name = model.__tablename__
                sequence = f"pg_get_serial_sequence('{name}', 'id')"
                session.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))"))
    _analyze(store)
    loaded = time.perf_counter() - started
    advisories = _advisories(universe, rng)
    started = time.perf_counter()
    with store.session() as session:
        report = store_advisories(session, [parse_advisory(a, "bench") for a in advisories])
    _analyze(store)
    matched = time.perf_counter() - started
    return {
        "bulk load": loaded,
        "advisory import + matching": matched,
        "links": links,
        "occurrences": occurrences,
        "findings": report.matching.new,
    }


def _analyze(store: Store) -> None:
    """Planner statistics after a bulk load (PostgreSQL's autovacuum would get there too)."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
            conn.commit()


def _insert_catalog(session: Session, services: int, n_domains: int, n_apps: int, seed: int) -> int:
    bulk_insert(
        session,
        Domain.__table__,  # type: ignore[arg-type]
        ("id", "key", "name", "path"),
        [(d + 1, f"domain:default/d{d}", f"d{d}", f"acme.d{d}") for d in range(n_domains)],
    )
    bulk_insert(
        session,
        Application.__table__,  # type: ignore[arg-type]
        ("id", "key", "name", "domain_id", "owner"),
        [
            (a + 1, f"system:default/app-{a:04d}", f"app-{a:04d}", a % n_domains + 1, "team")
            for a in range(n_apps)
        ],
    )
    bulk_insert(
        session,
        Component.__table__,  # type: ignore[arg-type]
        (
            "id",
            "key",
            "name",
            "kind",
            "owner",
            "lifecycle",
            "tags",
            "annotations",
            "domain_id",
            "application_id",
        ),
        [
            (
                s + 1,
                f"component:default/svc-{s:05d}",
                f"svc-{s:05d}",
                "service",
                f"group:default/team-{s % n_apps % 97}",
                "production",
                "[]",
                "{}",
                (s % n_apps) % n_domains + 1,
                s % n_apps + 1,
            )
            for s in range(services)
        ],
    )
    bulk_insert(
        session,
        Api.__table__,  # type: ignore[arg-type]
        ("id", "key", "name", "type", "definition"),
        [
            (s + 1, f"api:default/svc-{s:05d}-api", f"svc-{s:05d}-api", "openapi", "{}")
            for s in range(services)
        ],
    )
    relations: set[tuple[str, str, str]] = set()
    for s, calls in enumerate(api_links(services, seed)):
        me = f"component:default/svc-{s:05d}"
        relations.add((me, "providesApi", f"api:default/svc-{s:05d}-api"))
        relations.update((me, "consumesApi", f"api:default/svc-{o:05d}-api") for o in calls)
    bulk_insert(
        session,
        Relation.__table__,  # type: ignore[arg-type]
        ("source_key", "type", "target_key"),
        sorted(relations),
    )
    return sum(1 for r in relations if r[1] == "consumesApi")


def _insert_packages(
    session: Session, universe: list[tuple[str, str, str, list[str]]]
) -> dict[tuple[int, int], int]:
    rows: list[tuple[int, str, str, str, str, str]] = []
    ids = {}
    for n, (purl_type, ecosystem, name, versions) in enumerate(universe):
        for v, version in enumerate(versions):
            ids[(n, v)] = len(rows) + 1
            rows.append(
                (
                    len(rows) + 1,
                    _purl(purl_type, name, version),
                    purl_type,
                    ecosystem,
                    name,
                    version,
                )
            )
    bulk_insert(
        session,
        Package.__table__,  # type: ignore[arg-type]
        ("id", "purl", "type", "ecosystem", "name", "version"),
        rows,
    )
    return ids


def _insert_sboms(
    session: Session,
    services: int,
    universe: list[tuple[str, str, str, list[str]]],
    package_ids: dict[tuple[int, int], int],
    rng: random.Random,
) -> int:
    popularity = _Popularity(len(universe), rng)
    occurrences = 0
    cv_id = 0
    for start in range(0, services, 500):
        cvs: list[tuple[Any, ...]] = []
        docs: list[tuple[Any, ...]] = []
        occ: list[tuple[Any, ...]] = []
        deps: list[tuple[int, str, str]] = []
        for s in range(start, min(services, start + 500)):
            names = popularity.draw(PACKAGES_PER_SBOM)
            level = {n: rng.randrange(VERSIONS_PER_NAME // 2) for n in names}
            parents = [
                -1 if i < DIRECT else rng.randrange(max(0, i - DIRECT), i)
                for i in range(PACKAGES_PER_SBOM)
            ]
            extra = [
                (rng.randrange(PACKAGES_PER_SBOM - 1), rng.randrange(PACKAGES_PER_SBOM))
                for _ in range(10)
            ]
            for v in range(VERSIONS_PER_SERVICE):
                cv_id += 1
                version = f"{v + 1}.0.0"
                cvs.append((cv_id, s + 1, version, T0 + timedelta(days=30 * v)))
                docs.append(
                    (cv_id, cv_id, f"{cv_id:064x}", "CycloneDX", "1.6", "json", "[]", 51, 0, True)
                )
                if v:
                    for n in rng.sample(names, 10):  # each release upgrades ten packages
                        level[n] = min(VERSIONS_PER_NAME - 1, level[n] + 1)
                refs = []
                for n in names:
                    purl_type, _, name, versions = universe[n]
                    refs.append(_purl(purl_type, name, versions[level[n]]))
                depth = [1 if p < 0 else 0 for p in parents]
                for i, p in enumerate(parents):
                    if p >= 0:
                        depth[i] = depth[p] + 1
                edges = {("root", refs[i]) for i in range(DIRECT)}
                edges |= {(refs[p], refs[i]) for i, p in enumerate(parents) if p >= 0}
                edges |= {(refs[a], refs[b]) for a, b in extra if a != b}
                ordered_edges = sorted(edges)
                kinds = {"root": "root"} | {
                    ref: "direct" if depth[i] == 1 else "transitive" for i, ref in enumerate(refs)
                }
                chain = path_parents(kinds, kinds, ordered_edges)  # as an upload stores it
                occ.append(
                    (
                        cv_id,
                        cv_id,
                        None,
                        "root",
                        f"svc-{s:05d}",
                        version,
                        None,
                        "[]",
                        "{}",
                        "root",
                        chain["root"],
                    )
                )
                for i, n in enumerate(names):
                    purl_type, _, name, versions = universe[n]
                    occ.append(
                        (
                            cv_id,
                            cv_id,
                            package_ids[(n, level[n])],
                            refs[i],
                            name,
                            versions[level[n]],
                            refs[i],
                            "[]",
                            "{}",
                            kinds[refs[i]],
                            chain[refs[i]],
                        )
                    )
                deps += [(cv_id, a, b) for a, b in ordered_edges]
        bulk_insert(
            session,
            ComponentVersion.__table__,  # type: ignore[arg-type]
            ("id", "component_id", "version", "created_at"),
            cvs,
        )
        bulk_insert(
            session,
            SbomDocument.__table__,  # type: ignore[arg-type]
            (
                "id",
                "component_version_id",
                "digest",
                "format",
                "spec_version",
                "encoding",
                "tools",
                "package_count",
                "unmatchable_count",
                "current",
                "uploaded_at",
            ),
            [(*d, T0) for d in docs],
        )
        bulk_insert(
            session,
            Occurrence.__table__,  # type: ignore[arg-type]
            (
                "document_id",
                "component_version_id",
                "package_id",
                "ref",
                "name",
                "version",
                "purl",
                "licenses",
                "hashes",
                "dependency",
                "path_parent_ref",
            ),
            occ,
        )
        bulk_insert(
            session,
            SbomDependency.__table__,  # type: ignore[arg-type]
            ("document_id", "from_ref", "to_ref"),
            deps,
        )
        occurrences += len(occ)
    return occurrences


def _insert_deployments_and_apps(session: Session, services: int, n_apps: int) -> None:
    bulk_insert(
        session,
        Environment.__table__,  # type: ignore[arg-type]
        ("id", "name", "production"),
        [(1, "prod", True), (2, "staging", False), (3, "dev", False)],
    )

    def cv(s: int, v: int) -> int:
        return s * VERSIONS_PER_SERVICE + v + 1

    rows = []
    for s in range(services):
        rows += [
            (1, s + 1, cv(s, 1), T0 + timedelta(days=35), T0 + timedelta(days=65)),
            (1, s + 1, cv(s, 2), T0 + timedelta(days=65), None),
            (2, s + 1, cv(s, 3), T0 + timedelta(days=92), None),
            (3, s + 1, cv(s, 3), T0 + timedelta(days=91), None),
        ]
    bulk_insert(
        session,
        Deployment.__table__,  # type: ignore[arg-type]
        ("environment_id", "component_id", "component_version_id", "started_at", "ended_at"),
        rows,
    )
    versions, members = [], []
    for a in range(n_apps):
        for seq in (1, 2, 3):
            av_id = a * 3 + seq
            versions.append(
                (
                    av_id,
                    a + 1,
                    str(seq),
                    seq,
                    av_id - 1 if seq > 1 else None,
                    T0 + timedelta(days=30 * seq),
                )
            )
            members += [(av_id, s + 1, cv(s, seq)) for s in range(a, services, n_apps)]
    bulk_insert(
        session,
        ApplicationVersion.__table__,  # type: ignore[arg-type]
        ("id", "application_id", "version", "seq", "base_id", "created_at"),
        versions,
    )
    bulk_insert(
        session,
        ApplicationVersionMember.__table__,  # type: ignore[arg-type]
        ("application_version_id", "component_id", "component_version_id"),
        members,
    )


def _advisories(
    universe: list[tuple[str, str, str, list[str]]], rng: random.Random
) -> list[dict[str, Any]]:
    # A ranking of its own (it never was the SBOMs', although a comment said so): with the
    # SBOMs' ranking a fifth of the advisories hit 90% of the estate, 1 M findings
    popularity = _Popularity(len(universe), random.Random(SEED + 1))
    records = []
    for i in range(ADVISORIES):
        n = popularity.draw(1)[0] if i % 2 else rng.randrange(len(universe))
        _, ecosystem, name, versions = universe[n]
        fixed = rng.randrange(1, VERSIONS_PER_NAME)
        events: list[dict[str, str]] = [{"introduced": "0"}]
        if rng.random() < 0.8:
            events.append({"fixed": versions[fixed]})
        vector, _ = CVSS[i % len(CVSS)]
        records.append(
            {
                "id": f"BENCH-2099-{i:04d}",
                "modified": "2099-01-01T00:00:00Z",
                "aliases": [f"CVE-2099-{10000 + i}"],
                "summary": f"synthetic advisory {i} on {name}",
                "severity": [{"type": "CVSS_V3", "score": vector}],
                "affected": [
                    {
                        "package": {"ecosystem": ecosystem, "name": name},
                        "ranges": [{"type": "ECOSYSTEM", "events": events}],
                    }
                ],
            }
        )
    return records


# ---------------------------------------------------------------- the benchmark


def _queries(session: Session, seed: int) -> list[str]:
    """40 advisories (by CVE alias, among those that hit something) + 5 purl ranges +
    5 bare names, drawn with a fixed seed."""
    rng = random.Random(seed)
    hitting = sorted(session.scalars(select(Finding.vulnerability).distinct()).all())
    queries = rng.sample(hitting, min(40, len(hitting)))
    held = sorted(
        session.execute(
            select(Package.type, Package.name)
            .where(Package.id.in_(select(Occurrence.package_id)))
            .distinct()
        ).all()
    )
    for purl_type, name in rng.sample(held, 5):
        path = name.replace(":", "/")
        bound = "v1.2.0" if purl_type == "golang" else "1.2.0"
        queries.append(f"pkg:{purl_type}/{path}@<{bound}")
    for _, name in rng.sample(held, 5):
        queries.append(name.rsplit(":", 1)[-1].rsplit("/", 1)[-1])
    return queries


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _median_time(repeat: int, call: Any) -> tuple[float, float]:
    """Median wall time and median CPU time of this process. On a machine that others
    share, the CPU time is what the wall time would be on an idle one."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def _timed(call: Any) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - start, time.process_time() - start_cpu


def _cold(repeat: int, call: Any) -> tuple[float, float]:
    """Median wall and CPU time of a call with no dependency placement nor consumer walk
    known yet (a first call), over ``repeat`` calls. What is kept per data revision (the
    catalog, the API graph, the current documents) stays."""
    wall, cpu = [], []
    for _ in range(repeat):
        _placements_by_engine.clear()
        for graph in _API_GRAPH.values():
            graph.walks.clear()
        w, c = _timed(call)
        wall.append(w)
        cpu.append(c)
    return statistics.median(wall), statistics.median(cpu)


def _after_write(call: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """Wall and CPU time of the first and the second call after a committed catalog write
    (one that touches the catalog, the API links and the packages: the worst case): what is
    kept per revision (the catalog, the API graph and its walks, the package names) is
    forgotten; dependency paths are kept by document and stay. The first call reads the API
    graph and the part of the catalog its answer needs, the second the whole catalog (and,
    for a bare name, the package names). A write to findings, advisories or SBOMs of
    existing versions keeps the catalog and the graph."""
    _CATALOG.clear()
    _API_GRAPH.clear()
    _NAMES.clear()
    return _timed(call), _timed(call)


def run_bench(
    session: Session, repeat: int, consumer_limit: int, page: int
) -> tuple[list[tuple[str, str, float, str]], list[Any]]:
    """Each query answered in full (every affected version, every consumer), in full and
    serialised as the API sends it, and as a first page of ``page`` affected versions and
    ``consumer_limit`` consumers (what ``?limit=&consumers=`` asks for), each timed on a
    first call (no placement nor walk known) and on repeat calls, medians of ``repeat``."""
    queries = _queries(session, SEED)
    times: dict[str, list[float]] = defaultdict(list)
    sizes = []
    for q in (queries[0], queries[-1]) * 2:  # kept on the 2nd call: catalog, package names
        blast_radius(session, q, limit=page, consumer_limit=consumer_limit)
    for q in queries:

        def full(q: str = q) -> Any:
            return blast_radius(session, q)

        def paged(q: str = q) -> Any:
            return blast_radius(session, q, limit=page, consumer_limit=consumer_limit)

        def cut(q: str = q) -> Any:
            return blast_radius(
                session,
                q,
                limit=page,
                consumer_limit=consumer_limit,
                application_limit=page,
                environment_limit=page,
            )

        def serialised(q: str = q) -> Any:
            return orjson.dumps(blast_radius(session, q).json_fields())

        variants = (("full", full), ("paged", paged), ("cut", cut))
        for label, call in variants:
            wall, cpu = _cold(repeat, call)
            times[f"{label}, first call"].append(wall)
            times[f"{label}, first call, CPU"].append(cpu)
        for label, call in (*variants, ("full + JSON", serialised)):
            wall, cpu = _median_time(repeat, call)
            times[label].append(wall)
            times[f"{label}, CPU"].append(cpu)
        s = full().summary
        sizes.append((q, s["component_versions"], s["consumers"], s["running"], times["full"][-1]))
    for q in queries:  # last: each forgets what the others keep per revision
        for label, kwargs in (
            ("full", {}),
            ("paged", {"limit": page, "consumer_limit": consumer_limit}),
        ):
            calls = _after_write(lambda q=q, kwargs=kwargs: blast_radius(session, q, **kwargs))
            for which, (wall, cpu) in zip(("first", "second"), calls, strict=True):
                times[f"{label}, {which} call after a write"].append(wall)
                times[f"{label}, {which} call after a write, CPU"].append(cpu)
    rows = []
    for label, part in (("advisory", slice(0, 40)), ("purl range / bare name", slice(40, None))):
        values = times["full"][part]
        if values:
            rows += [
                (
                    "blast radius",
                    f"{label}: p50 ({len(values)} queries)",
                    _percentile(values, 0.5) * 1e3,
                    "ms",
                ),
                ("blast radius", f"{label}: p95", _percentile(values, 0.95) * 1e3, "ms"),
                ("blast radius", f"{label}: max", max(values) * 1e3, "ms"),
            ]
    from meshward.services.rollup import all_application_risks, all_domain_risks

    for label, rollup in (
        ("every application", all_application_risks),
        ("every domain", all_domain_risks),
    ):
        start = time.perf_counter()
        rollup(session)
        rows.append(("roll-up", label, (time.perf_counter() - start) * 1e3, "ms"))
    described = {
        "full": "all 50, whole answer, repeat call",
        "full + JSON": "all 50, whole answer written as the API and CLI do (orjson), repeat call",
        "full, first call": "all 50, whole answer, first call",
        "paged": f"all 50, first {page} versions + {consumer_limit} consumers, repeat call",
        "paged, first call": f"all 50, first {page} versions + {consumer_limit} consumers, "
        "first call",
        "cut": f"all 50, same + first {page} application versions and running deployments, "
        "repeat call",
        "cut, first call": f"all 50, same + first {page} application versions and running "
        "deployments, first call",
        "full, first call after a write": "all 50, whole answer, first call after a write",
        "full, second call after a write": "all 50, whole answer, second call after a write",
        "paged, first call after a write": f"all 50, first {page} versions + {consumer_limit} "
        "consumers, first call after a write",
        "paged, second call after a write": f"all 50, first {page} versions + {consumer_limit} "
        "consumers, second call after a write",
    }
    for key, what in described.items():
        for clock, suffix in (("wall", ""), ("CPU", ", CPU")):
            values = times[key + suffix]
            rows += [
                ("blast radius", f"{what}: p50 {clock}", _percentile(values, 0.5) * 1e3, "ms"),
                ("blast radius", f"{what}: p95 {clock}", _percentile(values, 0.95) * 1e3, "ms"),
            ]
    return rows, sizes


def _reference_workload() -> float:
    """Median ms of a fixed piece of pure Python shaped like a large answer (objects made,
    dicts probed, a sort), before and after the queries: this 2-core VM's speed moves by up
    to 1.7x from one run to the next, and this says how fast it was (lower is faster)."""

    @dataclass
    class Row:
        name: str
        key: str
        depth: int
        path: list[str]

    def work() -> None:
        index = {f"k{i}": i for i in range(20_000)}
        rows = [Row(f"n{i}", f"k{i}", index[f"k{i}"] % 7, [f"n{i}", "api"]) for i in range(20_000)]
        rows.sort(key=lambda r: (r.depth, r.name))

    times = []
    for _ in range(7):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (
            Component,
            ComponentVersion,
            Occurrence,
            SbomDependency,
            Package,
            Finding,
            Deployment,
            ApplicationVersionMember,
        )
    } | {
        "api links": session.scalar(
            select(func.count()).select_from(Relation).where(Relation.type == "consumesApi")
        )
        or 0
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--db", help="database URL (PostgreSQL: its public schema is dropped!)")
    parser.add_argument("--reuse", action="store_true", help="keep an estate already in --db")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query")
    parser.add_argument(
        "--consumer-limit",
        type=int,
        default=100,
        help="the paged answers list this many consumers (counted in full)",
    )
    parser.add_argument(
        "--page", type=int, default=100, help="the paged answers list this many versions"
    )
    parser.add_argument("--sizes", action="store_true", help="print each query's answer size")
    parser.add_argument(
        "--proposed-indexes",
        action="store_true",
        help="add the indexes the graph walks want (not in the migrations yet): "
        + "; ".join(PROPOSED_INDEXES),
    )
    args = parser.parse_args()
    tune_gc()  # as `meshward serve` does
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'impact.db'}"
        rows: list[tuple[str, str, float, str]] = []
        store = Store(url)
        with store.session() as session:
            empty = not session.scalar(select(func.count()).select_from(Component))
        if not (args.reuse and not empty):
            store.dispose()
            if url.startswith("postgresql"):
                with Store(url, migrate=False).engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            elif not empty:
                raise SystemExit(f"{url} is not empty: give --reuse, or a fresh database")
            store = Store(url)
            built = build_estate(store, args.services)
            rows += [
                (
                    "estate",
                    "bulk load (catalog, SBOMs, deployments, apps)",
                    built["bulk load"],
                    "s",
                ),
                (
                    "estate",
                    "500 advisories: import + matching",
                    built["advisory import + matching"],
                    "s",
                ),
            ]
        if args.proposed_indexes:
            with store.engine.begin() as conn:
                for ddl in PROPOSED_INDEXES:
                    conn.execute(text(ddl))
            _analyze(store)
        with store.session() as session:
            counts = _counts(session)
            speed = _reference_workload()
            bench_rows, sizes = run_bench(session, args.repeat, args.consumer_limit, args.page)
        store.dispose()
    rows += [("estate", name, float(n), "rows") for name, n in counts.items()] + bench_rows
    rows.append(("machine", "reference Python workload, before the queries", speed, "ms"))
    rows.append(("machine", "reference Python workload, after them", _reference_workload(), "ms"))
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    indexes = ", proposed indexes" if args.proposed_indexes else ""
    table = Table(
        title=f"meshward blast radius — {args.services} services, {platform.machine()}, "
        f"Python {platform.python_version()}, {database}{indexes}, median of {args.repeat} "
        "runs per query"
    )
    for col in ("area", "what", "value", "unit"):
        table.add_column(col)
    for area, what, value, unit in rows:
        table.add_row(
            area,
            what,
            f"{value:,.0f}"
            if unit == "rows"
            else f"{value:.1f}"
            if unit == "ms"
            else f"{value:.2f}",
            unit,
        )
    console = Console(width=140)
    console.print(table)
    versions = sorted(s[1] for s in sizes)
    consumers = sorted(s[2] for s in sizes)
    console.print(
        f"answer sizes over the 50 queries: affected component versions median "
        f"{statistics.median(versions):.0f}, max {versions[-1]}; consumers median "
        f"{statistics.median(consumers):.0f}, max {consumers[-1]}"
    )
    if args.sizes:
        for q, n_versions, n_consumers, n_running, seconds in sizes:
            console.print(
                f"{seconds * 1e3:8.1f} ms  {n_versions:6} versions  {n_consumers:6} consumers  "
                f"{n_running:6} running  {q}"
            )


if __name__ == "__main__":
    main()
