"""Hex: SemVer 2.0 precedence as Elixir's ``Version.compare`` gives it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.hex import Hex
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    assert_total_order,
    chain_disagreements,
    scalibr_disagreements,
    semver_versions,
)

HEX = Hex()


def test_elixir_version_compare_examples() -> None:
    # Version.compare docs: "2.0.1-alpha1" < "2.0.1"; "1.0.0+build" == "1.0.0"
    chain = ["1.0.0-alpha", ["1.0.0", "1.0.0+build"], "2.0.1-alpha1", "2.0.1", "2.1.0"]
    assert chain_disagreements(HEX, chain) == []


def test_names_are_lower_case() -> None:
    assert HEX.normalize_name("Phoenix") == "phoenix"


@pytest.mark.shared
def test_scalibr_semver_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        HEX, shared_data / SEMANTIC_VERSIONS / "semver-versions.txt"
    )
    assert checked > 80
    assert failures == [], "\n".join(failures)


@PROPERTY
@given(st.lists(semver_versions(), min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(HEX, versions)
