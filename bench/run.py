"""meshward benchmarks: reproducible (fixed seeds), printing one table. Not run by the tests.

python bench/run.py                 # all benchmarks, SQLite in a temp dir
python bench/run.py --only catalog  # one of them
python bench/run.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import platform
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


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
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
