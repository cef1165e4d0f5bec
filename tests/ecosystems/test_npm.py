"""npm: node-semver's order (the oracle was answered by node ``semver`` 7.8.6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.npm import Npm
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    oracle_disagreements,
    scalibr_disagreements,
    semver_versions,
)

NPM = Npm()


def test_node_semver_forms() -> None:
    chain = [
        "0.0.0-20200101",
        ["1.0.0-rc.1", "v1.0.0-rc.1", "=1.0.0-rc.1", "=v1.0.0-rc.1"],
        ["1.0.0", "1.0.0+build.1", "1.0.0+build.2"],  # compare() ignores build metadata
        "1.2.3-alpha.9",
        "1.2.3-alpha.10",
        "1.2.3-alpha.01a",  # has a letter, so text, after every number
        "1.9.0",
        "1.10.0",
    ]
    assert chain_disagreements(NPM, chain) == []


def test_names_are_case_sensitive_and_keep_their_scope() -> None:
    assert NPM.normalize_name("JSONStream") == "JSONStream"
    assert NPM.normalize_name("@babel/core") == "@babel/core"


@pytest.mark.shared
def test_scalibr_semver_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        NPM, shared_data / SEMANTIC_VERSIONS / "semver-versions.txt"
    )
    assert checked > 80
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
def test_node_semver_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(NPM, shared_data / VERSION_ORACLES / "npm.json")
    assert checked == 576
    assert failures == [], "\n".join(failures)


@PROPERTY
@given(st.lists(semver_versions(), min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(NPM, versions)
