"""The shared SemVer 2.0 key: the spec's own precedence examples, and the leniency we chose."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.base import InvalidVersion
from meshward.ecosystems.semver import SemVerEcosystem, semver_key, split_semver
from tests.ecosystems.comparisons import (
    PROPERTY,
    assert_total_order,
    chain_disagreements,
    semver_versions,
)


class PlainSemVer(SemVerEcosystem):
    name = "SemVer"


SEMVER = PlainSemVer()

# semver.org 2.0.0, items 11.2 and 11.4
SPEC_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_semver_org_precedence_examples() -> None:
    assert chain_disagreements(SEMVER, SPEC_CHAIN) == []


def test_build_metadata_does_not_order() -> None:
    # item 10, with the spec's example versions
    chain = [
        ["1.0.0-alpha", "1.0.0-alpha+001"],
        ["1.0.0", "1.0.0+20130313144700", "1.0.0+exp.sha.5114f85"],
    ]
    assert chain_disagreements(SEMVER, chain) == []


def test_prerelease_identifier_rules() -> None:
    chain = [
        "1.2.3-1",
        "1.2.3-2",
        "1.2.3-10",  # numeric identifiers compare as numbers
        "1.2.3-A",  # and before any alphanumeric one; text compares in ASCII order
        "1.2.3-a",
        "1.2.3-a.1",  # a longer list beats its prefix
        "1.2.3-a.b",
        "1.2.3-a-b",  # hyphens are part of the identifier
    ]
    assert chain_disagreements(SEMVER, chain) == []
    assert SEMVER.compare("1.2.3-01", "1.2.3-1") == 0


def test_lenient_forms() -> None:
    chain = [
        ["1.2", "1.2.0", "v1.2.0+build"],  # Go's shorthand; missing numbers are 0
        "1.2.0.1",  # numbers past the patch compare in turn
        ["1.2.1", "1.2.1-"],
        ["1.2.3-beta", "v1.2.3-beta", "=1.2.3-beta", " v1.2.3beta ", "1.2.3.beta"],
        ["2", "2.0.0"],
    ]
    assert chain_disagreements(SEMVER, chain) == []


def test_split_semver_parts() -> None:
    assert split_semver("v1.2.0-rc.1+build.5") == ((1, 2), "rc.1", "build.5")
    assert split_semver("0.0.0") == ((), "", "")
    assert semver_key("1.0.0") > semver_key("1.0.0-0")


@pytest.mark.parametrize("version", ["", "v", "beta", "x1.2.3", "-1.2.3", "1" * 1001])
def test_unorderable_versions_raise(version: str) -> None:
    with pytest.raises(InvalidVersion):
        SEMVER.sort_key(version)


@PROPERTY
@given(st.lists(semver_versions(max_numbers=4), min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(SEMVER, versions)
