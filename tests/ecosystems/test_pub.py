"""Pub: ``pub_semver``'s ``Version.compareTo``, where build metadata orders."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.pub import Pub
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    assert_total_order,
    chain_disagreements,
    scalibr_disagreements,
    semver_versions,
)

PUB = Pub()

# pub_semver's test/version_test.dart, "comparison": a correctly sorted list of versions.
PUB_SEMVER_SORTED = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0-rc.1+build.1",
    "1.0.0",
    "1.0.0+0.3.7",
    "1.3.7+build",
    "1.3.7+build.2.b8f12d7",
    "1.3.7+build.11.e0f985a",
    "2.0.0",
    "2.1.0",
    "2.2.0",
    "2.11.0",
    "2.11.1",
]


def test_pub_semver_sorted_list() -> None:
    assert chain_disagreements(PUB, PUB_SEMVER_SORTED) == []


def test_pub_semver_equalities() -> None:
    # version_test.dart, "equality": leading zeros are only numbers
    groups = [["01.2.3", "1.02.3", "1.2.03", "1.2.3"]]
    assert chain_disagreements(PUB, groups) == []
    assert PUB.compare("1.2.3-01", "1.2.3-1") == 0
    assert PUB.compare("1.2.3+01", "1.2.3+1") == 0


def test_names_are_lower_case() -> None:
    assert PUB.normalize_name("Flutter_Bloc") == "flutter_bloc"


@pytest.mark.shared
def test_scalibr_pub_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        PUB, shared_data / SEMANTIC_VERSIONS / "pub-versions.txt"
    )
    assert checked > 90
    assert failures == [], "\n".join(failures)


@PROPERTY
@given(st.lists(semver_versions(), min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(PUB, versions)
