"""NuGet: four numbers, case-insensitive SemVer 2 prereleases, inert build metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.nuget import NuGet
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    assert_total_order,
    chain_disagreements,
    scalibr_disagreements,
)

NUGET = NuGet()


def test_docs_prerelease_order() -> None:
    # NuGet docs, "Package versioning" > "Pre-release versions" (listed there highest first)
    chain = [
        "1.0.1-aaa",
        "1.0.1-alpha10",
        "1.0.1-alpha2",
        "1.0.1-beta",
        "1.0.1-open",
        "1.0.1-rc",
        "1.0.1-zzz",
        "1.0.1",
    ]
    assert chain_disagreements(NUGET, chain) == []


def test_docs_normalization_equalities() -> None:
    # "Normalized version numbers": leading zeros, a zero fourth part, build metadata
    chain = [
        ["1.0-beta.2", "1.0.0-BETA.2", "1.0.0.0-Beta.2+git.abc"],
        "1.0.0-beta.11",  # SemVer 2: numeric labels compare as numbers
        ["1.0", "1.00", "1.0.0", "1.0.0.0", "1.0.0+git.hash"],
        "1.0.0.1",
        ["1.01.1", "1.1.1"],
        ["1.1.1.1-ALPHA", "1.1.1.1-alpha"],
    ]
    assert chain_disagreements(NUGET, chain) == []


def test_ids_are_case_insensitive() -> None:
    assert NUGET.normalize_name("Newtonsoft.Json") == NUGET.normalize_name("newtonsoft.json")


@pytest.mark.shared
def test_scalibr_nuget_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        NUGET, shared_data / SEMANTIC_VERSIONS / "nuget-versions.txt"
    )
    assert checked > 30
    assert failures == [], "\n".join(failures)


_LABELS = st.sampled_from(["alpha", "ALPHA", "Beta", "rc", "1", "2", "10", "x-y"])
_NUGET_VERSIONS = st.builds(
    lambda numbers, labels, build: (
        ".".join(numbers) + ("-" + ".".join(labels) if labels else "") + build
    ),
    st.lists(st.sampled_from(["0", "00", "1", "01", "2", "10"]), min_size=1, max_size=4),
    st.lists(_LABELS, max_size=3),
    st.sampled_from(["", "+git", "+A.b"]),
)


@PROPERTY
@given(st.lists(_NUGET_VERSIONS, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(NUGET, versions)
