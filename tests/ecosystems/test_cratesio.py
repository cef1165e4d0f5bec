"""crates.io: SemVer 2.0 precedence; names compared as crates.io refuses duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.cratesio import CratesIo
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    assert_total_order,
    chain_disagreements,
    scalibr_disagreements,
    semver_versions,
)

CRATES = CratesIo()


def test_cargo_versions() -> None:
    chain = [
        "0.8.1-alpha.1",
        ["0.8.1", "0.8.1+zstd.1.5.0"],  # build metadata (semver crate docs' example) is inert
        "0.12.20",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    assert chain_disagreements(CRATES, chain) == []


def test_names_fold_case_and_underscores() -> None:
    assert CRATES.normalize_name("Serde_JSON") == CRATES.normalize_name("serde-json")


@pytest.mark.shared
def test_scalibr_semver_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        CRATES, shared_data / SEMANTIC_VERSIONS / "semver-versions.txt"
    )
    assert checked > 80
    assert failures == [], "\n".join(failures)


@PROPERTY
@given(st.lists(semver_versions(), min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(CRATES, versions)
