"""meshward benchmarks: reproducible (fixed seeds), printing one table. Not run by the tests.

python bench/run.py                 # all benchmarks, SQLite in a temp dir
python bench/run.py --only catalog  # one of them
python bench/run.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench.estate import generate, write_backstage
from meshward.store.db import Store

Row = tuple[str, str, float, str]
BENCHES: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {}


def bench(name: str) -> Callable[[Callable[..., list[Row]]], Callable[..., list[Row]]]:
    def register(fn: Callable[..., list[Row]]) -> Callable[..., list[Row]]:
        BENCHES[name] = fn
        return fn

    return register


def fresh_store(args: argparse.Namespace, tmp: Path, tag: str) -> Store:
    if args.db:
        store = Store(args.db, migrate=False)
        with store.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        store.dispose()
        return Store(args.db)
    return Store(f"sqlite:///{tmp / (tag + '.db')}")


def timed(
    fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Wall times, or with ``clock=time.process_time`` this process's CPU time: on a machine
    that others share, the CPU time is what the wall time would be on an idle one."""
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


@bench("catalog")
def bench_catalog(args: argparse.Namespace, tmp: Path) -> list[Row]:
    """Import a synthetic Backstage estate: first import, then the idempotent re-import."""
    from meshward.formats.backstage import read_catalog
    from meshward.services.catalog_import import import_catalog

    n = args.services
    files = write_backstage(generate(n), tmp / f"estate-{n}")
    parse = timed(lambda: read_catalog(files), args.repeat)
    first, again = [], []
    for i in range(args.repeat):
        store = fresh_store(args, tmp, f"catalog-{i}")
        with store.session() as s:
            first += timed(lambda s=s: import_catalog(s, files), 1)  # type: ignore[misc]
        with store.session() as s:
            again += timed(lambda s=s: import_catalog(s, files), 1)  # type: ignore[misc]
        store.dispose()
    entities = len(read_catalog(files).entities)
    return [
        (
            "catalog",
            f"parse {n}-service Backstage estate ({entities} entities)",
            statistics.median(parse),
            "s",
        ),
        (
            "catalog",
            f"import {n}-service estate into an empty store",
            statistics.median(first),
            "s",
        ),
        ("catalog", f"re-import unchanged {n}-service estate", statistics.median(again), "s"),
    ]


def _peak_memory(fn: Callable[[], object]) -> int:
    import tracemalloc

    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@bench("sbom")
def bench_sbom(args: argparse.Namespace, tmp: Path) -> list[Row]:
    """Parse, normalise and store a 10,000-component CycloneDX 1.6 and SPDX 2.3 JSON."""
    import gc

    import orjson

    from bench.estate import cyclonedx_document, spdx_document
    from meshward.ecosystems.purls import coordinates
    from meshward.formats.sbom.common import normalize_purl
    from meshward.formats.sbom.registry import read_sbom
    from meshward.services import catalog, sboms

    def forget_packages() -> None:
        """Every run sees these 10,000 packages for the first time, as a fresh process
        does: purls are parsed and split again (both are cached per process)."""
        normalize_purl.cache_clear()
        coordinates.cache_clear()

    def cold_read(data: bytes) -> object:
        forget_packages()
        return read_sbom(data, "bench")

    rows: list[Row] = []
    for label, data in (
        ("CycloneDX 1.6", cyclonedx_document(10_000)),
        ("SPDX 2.3", spdx_document(10_000)),
    ):
        mb = len(data) / 1e6
        loads = statistics.median(timed(lambda data=data: orjson.loads(data), args.repeat))
        parse = statistics.median(timed(lambda data=data: cold_read(data), args.repeat))

        def upload(store: Store, data: bytes) -> None:
            forget_packages()
            with store.session() as s:  # the commit is part of storing
                sboms.upload_sbom(s, "big", "1", data, "bench")

        stores, cpu = [], []
        for i in range(args.repeat):
            for clock, times in ((time.perf_counter, stores), (time.process_time, cpu)):
                store = fresh_store(args, tmp, f"sbom-{label[:4]}-{i}-{clock.__name__}")
                with store.session() as s:
                    catalog.create_component(s, "big")
                times += timed(lambda store=store, data=data: upload(store, data), 1, clock)  # type: ignore[misc]
                store.dispose()
        total = statistics.median(stores)
        gc.collect()  # the peak is the parse's own, not garbage left by the runs above
        peak = _peak_memory(lambda data=data: cold_read(data))
        rows += [
            ("sbom", f"{label} 10,000 components ({mb:.1f} MB): orjson.loads", loads, "s"),
            ("sbom", f"{label}: parse + normalise", parse, "s"),
            ("sbom", f"{label}: parse + normalise + store + commit (upload)", total, "s"),
            ("sbom", f"{label}: upload, CPU time of this process", statistics.median(cpu), "s"),
            ("sbom", f"{label}: upload / orjson.loads", total / loads, "x"),
            ("sbom", f"{label}: peak parse memory / file size", peak / len(data), "x"),
        ]
    return rows


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@bench("osv")
def bench_osv(args: argparse.Namespace, tmp: Path) -> list[Row]:
    """Import the whole ../shared/data/osv corpus."""
    from meshward.services.advisories import import_advisories

    corpus = SHARED / "osv"
    if not corpus.is_dir():
        return [("osv", "../shared/data/osv absent: skipped", 0.0, "-")]
    store = fresh_store(args, tmp, "osv")
    with store.session() as s:
        (elapsed,) = timed(lambda: import_advisories(s, [corpus]), 1)
        n = import_advisories(s, [corpus]).read
    store.dispose()
    return [
        ("osv", f"import {n} OSV records", elapsed, "s"),
        ("osv", "import rate", n / elapsed, "records/s"),
    ]


def _package_pool(limit: int, seed: int, vulnerable_share: float = 0.1) -> list[str]:
    """``limit`` distinct purls. A ``vulnerable_share`` of them are packages that real
    advisories name: four in five at the newest version any advisory fixes (current, mostly
    clean), one in five at an affected ``introduced`` version. The rest are ordinary packages
    no advisory names. Real estates look like this: a few per cent of packages vulnerable."""
    import orjson

    from meshward.ecosystems.registry import get_ecosystem

    rng = random.Random(seed)
    types = {"PyPI": "pypi", "Go": "golang", "crates.io": "cargo", "Maven": "maven"}
    newest: dict[tuple[str, str], str] = {}
    old: dict[tuple[str, str], str] = {}
    for eco, purl_type in types.items():
        key = get_ecosystem(eco).sort_key
        for path in sorted((SHARED / "osv" / eco).glob("*.json")):
            record = orjson.loads(path.read_bytes())
            for affected in record.get("affected", []):
                name = (affected.get("package") or {}).get("name", "")
                events = [e for r in affected.get("ranges", []) for e in r.get("events", [])]
                for e in events:
                    try:
                        if "fixed" in e and (
                            (purl_type, name) not in newest
                            or key(e["fixed"]) > key(newest[(purl_type, name)])
                        ):
                            newest[(purl_type, name)] = e["fixed"]
                        if e.get("introduced", "0") != "0":
                            old.setdefault((purl_type, name), e["introduced"])
                    except ValueError:
                        continue

    def purl(purl_type: str, name: str, version: str) -> str | None:
        if purl_type == "maven":
            if ":" not in name:
                return None
            group, artifact = name.split(":", 1)
            return f"pkg:maven/{group}/{artifact}@{version}"
        if purl_type == "golang":
            return f"pkg:golang/{name}@{version if version.startswith('v') else 'v' + version}"
        return f"pkg:{purl_type}/{name}@{version}"

    named_keys = sorted(newest)
    rng.shuffle(named_keys)
    named: list[str] = []
    for purl_type, name in named_keys[: int(limit * vulnerable_share)]:
        version = old.get((purl_type, name)) if rng.random() < 0.2 else None
        p = purl(purl_type, name, version or newest[(purl_type, name)])
        if p:
            named.append(p)
    plain = [
        f"pkg:{purl_type}/bench-lib-{i:05d}@{rng.randint(0, 9)}.{rng.randint(0, 20)}.0"
        for i, purl_type in zip(
            range(limit - len(named)), itertools.cycle(["pypi", "npm", "cargo"]), strict=False
        )
    ]
    return named + plain


@bench("matching")
def bench_matching(args: argparse.Namespace, tmp: Path) -> list[Row]:
    """Full re-match of N service versions x 200 packages against the OSV corpus, and one new
    advisory to stored findings (incremental)."""
    import orjson

    from meshward.formats.osv import parse_advisory
    from meshward.formats.sbom.interface import SbomDocument, SbomPackage
    from meshward.services import catalog
    from meshward.services.advisories import import_advisories, store_advisories
    from meshward.services.matching import rematch_all
    from meshward.services.sboms import store_sbom

    if not (SHARED / "osv").is_dir():
        return [("matching", "../shared/data/osv absent: skipped", 0.0, "-")]
    services, per_service = args.services, 200
    rng = random.Random(11)
    pool = _package_pool(20_000, 11)
    store = fresh_store(args, tmp, "matching")
    start = time.perf_counter()
    with store.session() as s:
        import_advisories(s, [SHARED / "osv"])
    for chunk in range(0, services, 500):
        with store.session() as s:
            for i in range(chunk, min(services, chunk + 500)):
                name = f"svc-{i:05d}"
                catalog.create_component(s, name)
                purls = rng.sample(pool, per_service)
                doc = SbomDocument(
                    format="CycloneDX",
                    spec_version="1.6",
                    encoding="json",
                    packages=[SbomPackage(ref="root", name=name, version="1")]
                    + [SbomPackage(ref=p, name=p, purl=p) for p in purls],
                    dependencies=[("root", p) for p in purls],
                    root_refs=["root"],
                )
                store_sbom(s, name, "1", doc, f"d{i}", None, rematch=False)
    setup = time.perf_counter() - start
    with store.session() as s:
        (full,) = timed(lambda: rematch_all(s), 1)
        findings = rematch_all(s).active
    popular = pool[0]
    with store.session() as s:
        from meshward.ecosystems.purls import coordinates

        c = coordinates(popular)
        eco = {"pypi": "PyPI", "golang": "Go", "cargo": "crates.io", "maven": "Maven"}[c.type]
        record = {
            "id": "BENCH-0001",
            "modified": "2099-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": eco, "name": c.name},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                }
            ],
        }
        adv = parse_advisory(orjson.loads(orjson.dumps(record)), "bench")
        (incremental,) = timed(lambda: store_advisories(s, [adv]), 1)
    store.dispose()
    occurrences = services * per_service
    return [
        ("matching", f"set-up: corpus + {services} SBOMs x {per_service} packages", setup, "s"),
        (
            "matching",
            f"full re-match, {occurrences:,} occurrences -> {findings:,} findings",
            full,
            "s",
        ),
        ("matching", "one new advisory -> stored findings (incremental)", incremental, "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(BENCHES))
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="PostgreSQL URL (its public schema is dropped!)")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or sorted(BENCHES):
            rows += BENCHES[name](args, Path(tmp))
    table = Table(
        title=f"meshward bench — {platform.machine()}, {platform.python_version()}, "
        f"{'PostgreSQL' if args.db else 'SQLite'}, median of {args.repeat}"
    )
    for col in ("area", "what", "median", "unit"):
        table.add_column(col)
    for area, what, value, unit in rows:
        table.add_row(area, what, f"{value:.3f}", unit)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
