"""Scan ingest end to end: a 50,000-result SARIF log uploaded with ``upload_scan`` (detect,
parse, fingerprint, store, map to controls, refresh the threat model, recompute the
version's verification, commit) into a fresh store. Not run by the tests.

    python bench/scan_ingest.py                         # SQLite in a temp dir, 50,000 results
    python bench/scan_ingest.py --results 200000
    python bench/scan_ingest.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

The log holds three runs, as a CI job merging its tools' SARIF would: CodeQL (40%), Semgrep
(40%) and Bandit (20%), with their real rule ids, so the KB's rule patterns map most results
and CWE tags (CodeQL's ``external/cwe/cwe-089``, Semgrep's ``CWE-89: ...``, plain
``CWE-89``) map the rest; one rule in twelve has a CWE no control cites (it lands in the
review control). Half the results carry ``partialFingerprints``; one in ten is suppressed.
The second row uploads the next version's scan, 90% the same results: the
new / present / gone comparison against the previous scan. Target: under 5 s per upload.
CPU seconds of this process are printed beside the wall-clock total because the benchmark
machine is shared (the database server's own CPU is not in them).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services import verification as vf
from meshward.store.db import Store, make_engine, resolve_database_url

# (tool, rule id, CWE ids): real rule ids of each tool's default security rules
RULES: list[tuple[str, str, tuple[int, ...]]] = [
    ("CodeQL", "py/sql-injection", (89,)),
    ("CodeQL", "py/path-injection", (22, 23, 36, 73)),
    ("CodeQL", "py/reflected-xss", (79, 116)),
    ("CodeQL", "py/command-line-injection", (78, 88)),
    ("CodeQL", "py/unsafe-deserialization", (502,)),
    ("CodeQL", "py/weak-sensitive-data-hashing", (327, 328, 916)),
    ("CodeQL", "py/clear-text-logging-sensitive-data", (312, 359, 532)),
    ("CodeQL", "py/stack-trace-exposure", (209, 497)),
    ("CodeQL", "py/polynomial-redos", (1333, 730, 400)),
    ("CodeQL", "py/odd-quality-query", (1164,)),
    ("Semgrep", "python.lang.security.audit.formatted-sql-query.formatted-sql-query", (89,)),
    ("Semgrep", "python.lang.security.deserialization.pickle.avoid-pickle", (502,)),
    ("Semgrep", "python.lang.security.audit.eval-detected.eval-detected", (95,)),
    ("Semgrep", "python.flask.security.xss.audit.direct-use-of-jinja2", (79,)),
    ("Semgrep", "python.lang.security.audit.insecure-transport.urllib.insecure-urlopen", (319,)),
    ("Semgrep", "generic.secrets.security.detected-generic-secret", (798,)),
    ("Semgrep", "python.requests.security.disabled-cert-validation", (295,)),
    ("Semgrep", "python.lang.best-practice.unspecified-open-encoding", (4242,)),
    ("Bandit", "B608", (89,)),
    ("Bandit", "B105", (259,)),
    ("Bandit", "B301", (502,)),
    ("Bandit", "B324", (327,)),
    ("Bandit", "B602", (78,)),
    ("Bandit", "B113", (400,)),
]
SCHEMA = f"bench_scan_ingest_{os.getpid()}"
SHARE = {"CodeQL": 0.4, "Semgrep": 0.4, "Bandit": 0.2}
SURVEY = {
    "language": ["python"],
    "exposure": "internet",
    "features": ["sql", "renders_html", "deserializes", "runs_commands", "file_paths"],
    "user_auth": "password",
    "sessions": True,
    "data_classes": ["personal", "credentials"],
    "stores_data": True,
    "credentials": "env_static",
}


def _tags(tool: str, cwes: tuple[int, ...]) -> list[str]:
    if tool == "CodeQL":
        return ["security", *(f"external/cwe/cwe-{c:03d}" for c in cwes)]
    if tool == "Semgrep":
        return [*(f"CWE-{c}: weakness {c}" for c in cwes), "OWASP-A03:2021 - Injection"]
    return ["security", *(f"external/cwe/cwe-{c}" for c in cwes)]


def synthetic_sarif(results: int, *, keep: float = 1.0, seed: int = 11) -> bytes:
    """``keep`` < 1: the same log with that share of results left and the rest new (the next
    version's scan: some fixed, some introduced)."""
    rng = random.Random(seed)
    fresh = random.Random(seed + 1)
    runs = []
    for tool, share in SHARE.items():
        rules = [(r, c) for t, r, c in RULES if t == tool]
        descriptors = [
            {"id": r, "name": r.rsplit(".", 1)[-1], "properties": {"tags": _tags(tool, c)}}
            for r, c in rules
        ]
        items = []
        for index in range(int(results * share)):
            number = rng.randrange(len(rules))
            line = rng.randrange(1, 3000)
            serial = f"{tool}-{index}"
            if rng.random() > keep:
                serial, line = f"{tool}-new-{index}", fresh.randrange(1, 3000)
            item: dict[str, Any] = {
                "ruleId": rules[number][0],
                "ruleIndex": number,
                "level": ("error", "warning", "note")[index % 3],
                "message": {"text": f"{rules[number][0]}: finding {serial}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f"src/pkg_{index % 400}/m_{index % 37}.py"},
                            "region": {
                                "startLine": line,
                                "startColumn": 1 + index % 60,
                                "snippet": {"text": f"    result = call_{serial}(value)"},
                            },
                        }
                    }
                ],
            }
            if index % 2 == 0:
                item["partialFingerprints"] = {"primaryLocationLineHash": f"{serial}:1"}
            if index % 10 == 0:
                item["suppressions"] = [{"kind": "inSource", "justification": "reviewed"}]
            items.append(item)
        runs.append({"tool": {"driver": {"name": tool, "rules": descriptors}}, "results": items})
    return orjson.dumps({"version": "2.1.0", "runs": runs})


class Timers:
    """Wall time spent inside the functions ``upload_scan`` calls, by phase."""

    def __init__(self) -> None:
        self.spent = {"parse": 0.0, "verification": 0.0}

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[phase] += time.perf_counter() - start

        return timed


def upload(store: Store, version: str, data: bytes) -> tuple[dict[str, float], vf.UploadResult]:
    timers = Timers()
    originals = (vf.read_scan, vf.recompute, tm.refresh)
    vf.read_scan = timers.wrap("parse", vf.read_scan)  # type: ignore[assignment]
    vf.recompute = timers.wrap("verification", vf.recompute)  # type: ignore[assignment]
    tm.refresh = timers.wrap("verification", tm.refresh)  # type: ignore[assignment]
    try:
        start, start_cpu = time.perf_counter(), time.process_time()
        with store.session() as session:
            result = vf.upload_scan(session, "orders", version, data, "bench.sarif")
        total, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    finally:
        vf.read_scan, vf.recompute, tm.refresh = originals  # type: ignore[assignment]
    spent = timers.spent
    return {
        "parse": spent["parse"],
        "store": total - spent["parse"] - spent["verification"],
        "verification": spent["verification"],
        "total": total,
        "cpu": cpu,
    }, result


def prepare(url: str) -> Store:
    """A migrated, empty store: SQLite as given; on PostgreSQL a schema of our own (dropped by
    the end), so a shared database's other users are never touched."""
    if make_url(url).get_backend_name() == "postgresql":
        with make_engine(resolve_database_url(url)).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        sep = "&" if "?" in url else "?"
        url = f"{resolve_database_url(url)}{sep}options=-csearch_path%3D{SCHEMA}"
    store = Store(url)
    with store.session() as session:
        catalog.create_component(session, "orders")
        for version in ("1.0", "1.1"):
            catalog.add_component_version(session, "orders", version)
        tm.answer_survey(session, "orders", "1.0", SURVEY)
        tm.answer_survey(session, "orders", "1.1", SURVEY)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=50_000)
    parser.add_argument("--postgres", metavar="URL", help="Also run on this PostgreSQL.")
    args = parser.parse_args()
    first = synthetic_sarif(args.results)
    second = synthetic_sarif(args.results, keep=0.9)
    title = f"scan ingest: {args.results:,}-result SARIF ({len(first) / 1e6:.0f} MB)"
    table = Table(title=title)
    for column in ("store", "upload", "results", "mapped", "unmapped"):
        table.add_column(column)
    for column in ("parse s", "store+map s", "verification s", "total s", "CPU s"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            urls.append(("PostgreSQL", args.postgres))
        for name, url in urls:
            store = prepare(url)
            try:
                for label, version, data in (
                    ("first", "1.0", first),
                    ("next version", "1.1", second),
                ):
                    spent, result = upload(store, version, data)
                    table.add_row(
                        name,
                        label,
                        f"{result.results:,}",
                        f"{result.results - result.unmapped:,}",
                        f"{result.unmapped:,}",
                        f"{spent['parse']:.2f}",
                        f"{spent['store']:.2f}",
                        f"{spent['verification']:.2f}",
                        f"[b]{spent['total']:.2f}[/b]",
                        f"{spent['cpu']:.2f}",
                    )
                    print(
                        f"{name} {label}: new {result.new}, present {result.present}, "
                        f"gone {result.gone}, suppressed {result.suppressed}, failing "
                        f"{len(result.failed_controls)} controls",
                        file=sys.stderr,
                    )
            finally:
                store.dispose()
                if name == "PostgreSQL":
                    with make_engine(resolve_database_url(url)).begin() as conn:
                        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
