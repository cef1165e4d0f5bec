"""RubyGems: ``Gem::Version#<=>``, checked against Gem's docs, RubyGems itself (the oracle),
and a line-by-line port of ``<=>`` (the key's zero-padding encoding is the risky part)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshward.ecosystems.base import InvalidVersion
from meshward.ecosystems.rubygems import RubyGems
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    oracle_disagreements,
    scalibr_disagreements,
)

GEMS = RubyGems()


def test_gem_version_docs() -> None:
    # Gem::Version docs: letters make a prerelease, which sorts before the release;
    # "1.0.a10" > "1.0.a9"; "-" means ".pre."; trailing zeros are insignificant.
    chain = [
        "0.9",
        ["1.0.a", "1.a", "1.0.a.0"],
        "1.0.a.2",
        "1.0.a9",
        ["1.0.a10", "1.0.a.10"],
        ["1.0.b1", "1.0.b.1"],
        ["1.0.0-rc1", "1.0.0.pre.rc1"],
        "1.0.0.rc1",
        ["1", "1.0", "1.0.0", "1.0.0.0"],
        "1.0.0.1",
        "1.9",
        "1.10",
    ]
    assert chain_disagreements(GEMS, chain) == []


def test_malformed_versions_raise() -> None:
    for version in ("junk", "1.2 3", "1.0_1", "a1.0"):
        with pytest.raises(InvalidVersion):
            GEMS.sort_key(version)
    assert GEMS.compare("", "0") == 0  # Gem::Version.new("") is 0


@pytest.mark.shared
@pytest.mark.parametrize("fixture", ["rubygems-versions.txt", "rubygems-versions-generated.txt"])
def test_scalibr_fixtures(shared_data: Path, fixture: str) -> None:
    checked, failures = scalibr_disagreements(GEMS, shared_data / SEMANTIC_VERSIONS / fixture)
    assert checked > 20
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
def test_gem_version_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(GEMS, shared_data / VERSION_ORACLES / "gem.json")
    assert checked == 484
    assert failures == [], "\n".join(failures)


def gem_spaceship(a: str, b: str) -> int:
    """``Gem::Version#<=>`` transcribed: canonical segments, compared with zero padding."""

    def canonical(version: str) -> list[int | str]:
        segments: list[int | str] = [
            int(s) if s.isdigit() else s
            for s in re.findall(r"[0-9]+|[a-z]+", version.replace("-", ".pre."), re.I)
        ]
        at = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
        out: list[int | str] = []
        for group in (segments[:at], segments[at:]):
            while group and group[-1] == 0:
                group.pop()
            out += group
        return out

    left, right = canonical(a), canonical(b)
    for i in range(max(len(left), len(right))):
        lhs = left[i] if i < len(left) else 0
        rhs = right[i] if i < len(right) else 0
        if lhs == rhs:
            continue
        if isinstance(lhs, str) and isinstance(rhs, int):
            return -1
        if isinstance(lhs, int) and isinstance(rhs, str):
            return 1
        return (lhs > rhs) - (lhs < rhs)  # type: ignore[operator]
    return 0


_GEM_VERSIONS = st.builds(
    lambda head, rest, suffix: head + "".join(sep + seg for sep, seg in rest) + suffix,
    st.sampled_from(["0", "1", "2"]),
    st.lists(
        st.tuples(
            st.sampled_from([".", "."]), st.sampled_from(["0", "1", "10", "a", "b", "pre", "rc"])
        ),
        max_size=6,
    ),
    st.sampled_from(["", "", "-rc1", "-0", "-a.0"]),
)


@settings(max_examples=100, deadline=None)
@given(_GEM_VERSIONS, _GEM_VERSIONS)
def test_key_agrees_with_gem_spaceship(a: str, b: str) -> None:
    assert GEMS.compare(a, b) == gem_spaceship(a, b)


@PROPERTY
@given(st.lists(_GEM_VERSIONS, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(GEMS, versions)
