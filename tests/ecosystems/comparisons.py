"""Shared checks for the version-ordering tests: oracle files, ordered chains, total order.

Oracle files are read whole and every disagreement is returned, so a failure lists all the
lines that broke in one message instead of stopping at the first (or costing one test case
per line, which would make the suite slow).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import product
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st

from meshward.ecosystems.base import Ecosystem

SEMANTIC_VERSIONS = Path("fixtures/osv-scalibr/semantic-versions")
"""osv-scalibr's comparison fixtures: ``a < b``, ``a = b`` or ``a > b`` per line; blank lines
and lines starting ``# `` or ``// `` are comments (as osv-scalibr's own test reads them)."""
VERSION_ORACLES = Path("fixtures/version-oracles")
"""``{"A<TAB>B": -1 | 0 | 1}`` per ecosystem, answered by the ecosystem's reference tool."""

_RESULT = {"<": -1, "=": 0, ">": 1}


def _outcome(ecosystem: Ecosystem, a: str, b: str) -> int | str:
    try:
        return ecosystem.compare(a, b)
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


def scalibr_disagreements(ecosystem: Ecosystem, path: Path) -> tuple[int, list[str]]:
    """(comparisons checked, failing lines); each line is checked both ways round."""
    checked, failures = 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith(("# ", "// ")):
            continue
        a, op, b = line.split(" ")
        checked += 1
        forward, backward = _outcome(ecosystem, a, b), _outcome(ecosystem, b, a)
        expected = _RESULT[op]
        if (forward, backward) != (expected, -expected):
            failures.append(
                f"{path.name}:{number}: {line}  (got {forward!r}, reversed {backward!r})"
            )
    return checked, failures


def oracle_disagreements(ecosystem: Ecosystem, path: Path) -> tuple[int, list[str]]:
    pairs: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))
    failures = []
    for pair, expected in pairs.items():
        a, b = pair.split("\t")
        got = _outcome(ecosystem, a, b)
        if got != expected:
            failures.append(f"{a!r} vs {b!r}: reference says {expected}, got {got!r}")
    return len(pairs), failures


def chain_disagreements(ecosystem: Ecosystem, chain: Sequence[str | Sequence[str]]) -> list[str]:
    """``chain`` lists versions from lowest to highest; an inner sequence is a group of equal
    versions. Every pair is checked, so the chain also proves the order is consistent."""
    groups = [[item] if isinstance(item, str) else list(item) for item in chain]
    failures = []
    for i, j in product(range(len(groups)), repeat=2):
        expected = (i > j) - (i < j)
        for a, b in product(groups[i], groups[j]):
            got = _outcome(ecosystem, a, b)
            if got != expected:
                failures.append(f"compare({a!r}, {b!r}) = {got!r}, expected {expected}")
    return failures


def assert_total_order(ecosystem: Ecosystem, versions: Sequence[str]) -> None:
    """Antisymmetric, transitive, and equal keys hash alike (keys are used in dicts)."""
    keys = [ecosystem.sort_key(v) for v in versions]
    n = len(versions)
    cmp = [[(keys[i] > keys[j]) - (keys[i] < keys[j]) for j in range(n)] for i in range(n)]
    for i, j in product(range(n), repeat=2):
        assert cmp[i][j] == -cmp[j][i], (versions[i], versions[j])
        if cmp[i][j] == 0:
            assert hash(keys[i]) == hash(keys[j]), (versions[i], versions[j])
    for i, j, k in product(range(n), repeat=3):
        if cmp[i][j] <= 0 and cmp[j][k] <= 0:
            assert cmp[i][k] <= 0, (versions[i], versions[j], versions[k])


PROPERTY = settings(max_examples=40, deadline=None)
"""Hypothesis settings for the order properties: enough examples to shake out a bad key,
few enough that the whole ecosystems suite stays within seconds."""

_IDENTIFIERS = st.sampled_from(
    ["0", "1", "2", "10", "01", "alpha", "beta", "rc", "a1", "0a", "x-y", "A", "Z", "-"]
)


def semver_versions(max_numbers: int = 3) -> st.SearchStrategy[str]:
    """Versions in the (lenient) SemVer grammar: a ``v`` now and then, 1 to ``max_numbers``
    numbers, an optional prerelease and an optional build."""
    return st.builds(
        lambda prefix, numbers, pre, build: (
            prefix
            + ".".join(numbers)
            + ("-" + ".".join(pre) if pre else "")
            + ("+" + ".".join(build) if build else "")
        ),
        st.sampled_from(["", "", "v"]),
        st.lists(st.sampled_from("0123"), min_size=1, max_size=max_numbers),
        st.lists(_IDENTIFIERS, max_size=3),
        st.lists(_IDENTIFIERS, max_size=2),
    )
