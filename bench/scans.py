"""Scan-report ingest: parse a synthetic 50,000-result SARIF log. Not run by the tests.

python bench/scans.py                  # 50,000 results, best of 3
python bench/scans.py --results 200000 --repeat 5

The log looks like a big CodeQL/Semgrep run: 40 rules with CWE tags (some zero-padded,
some in Semgrep's "CWE-89: title" spelling), one physical location with a snippet per
result, partialFingerprints on half of them, suppressions on one in ten. Target: the whole
ingest within 5 s, so parsing should take well under 2 s. Peak memory is measured in a
separate run under tracemalloc, which slows Python down. CPU seconds are printed beside the
wall-clock ones because the benchmark machine is shared: when they differ, others were
running.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from meshward.formats.scans.registry import read_scan

CWE_SPELLINGS = ("external/cwe/cwe-{:03d}", "CWE-{}", "CWE-{}: Some weakness title")


def synthetic_sarif(results: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    rules = []
    for number in range(40):
        cwes = rng.sample([20, 22, 78, 79, 89, 94, 259, 327, 328, 502, 611, 798, 916], 2)
        spelling = CWE_SPELLINGS[number % len(CWE_SPELLINGS)]
        rules.append(
            {
                "id": f"bench/rule-{number}",
                "name": f"rule-{number}",
                "shortDescription": {"text": f"Synthetic rule {number}"},
                "defaultConfiguration": {"level": ("error", "warning", "note")[number % 3]},
                "properties": {
                    "tags": ["security", *(spelling.format(cwe) for cwe in cwes)],
                    "security-severity": f"{rng.uniform(1, 10):.1f}",
                },
            }
        )
    items = []
    for index in range(results):
        rule = rng.randrange(len(rules))
        line = rng.randrange(1, 2000)
        result: dict[str, object] = {
            "ruleId": rules[rule]["id"],
            "ruleIndex": rule,
            "message": {"text": f"Finding {index} in [this call](1) of rule {rule}."},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": f"src/module_{index % 700}/file_{index % 53}.py",
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": {
                            "startLine": line,
                            "startColumn": rng.randrange(1, 80),
                            "endLine": line + rng.randrange(0, 3),
                            "snippet": {"text": f"    value_{index} = call(arg_{rule})"},
                        },
                    }
                }
            ],
        }
        if index % 2 == 0:
            result["partialFingerprints"] = {"primaryLocationLineHash": f"{index:016x}:1"}
        if index % 10 == 0:
            result["suppressions"] = [{"kind": "inSource", "justification": "reviewed"}]
        items.append(result)
    log = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "CodeQL", "rules": rules}}, "results": items}],
    }
    return json.dumps(log).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.sarif"
        path.write_bytes(synthetic_sarif(args.results))
        data = path.read_bytes()
        times, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            report = read_scan(data, path.name)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert len(report.results) == args.results
        tracemalloc.start()
        read_scan(data, path.name)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    table = Table(title="SARIF ingest (parse + normalise)")
    columns = ("results", "bytes", "parse s (best)", "parse s (median)", "CPU s (best)", "peak MB")
    for column in columns:
        table.add_column(column, justify="right")
    times.sort()
    table.add_row(
        f"{args.results:,}",
        f"{len(data):,}",
        f"{times[0]:.2f}",
        f"{times[len(times) // 2]:.2f}",
        f"{min(cpu):.2f}",
        f"{peak / 1e6:.0f}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
