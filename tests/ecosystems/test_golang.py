"""Go: ``golang.org/x/mod/semver`` order, pseudo-versions and ``+incompatible`` included."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.golang import Go
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

GO = Go()


def test_pseudo_versions_order_as_prereleases() -> None:
    # The three pseudo-version forms of the Go modules reference, around their base versions.
    chain = [
        "v0.0.0-20191109021931-daa7c04131f5",
        "v0.0.0-20200101000000-abcdef123456",
        "v1.2.3",
        "v1.2.4-0.20200101000000-abcdef123456",  # vX.Y.(Z+1)-0.timestamp-rev: after v1.2.3
        "v1.2.4-pre",
        "v1.2.4-pre.0.20200101000000-abcdef123456",  # vX.Y.Z-pre.0.timestamp-rev
        "v1.2.4",
    ]
    assert chain_disagreements(GO, chain) == []


def test_incompatible_and_osv_spellings() -> None:
    chain = [
        ["v1.2", "v1.2.0", "1.2.0"],  # x/mod/semver shorthand; OSV drops the v
        ["v2.0.0+incompatible", "v2.0.0", "2.0.0"],  # build metadata does not order
        "v2.1.0+incompatible",
    ]
    assert chain_disagreements(GO, chain) == []


def test_module_paths_are_case_sensitive() -> None:
    assert GO.normalize_name("github.com/BurntSushi/toml") == "github.com/BurntSushi/toml"


@pytest.mark.shared
def test_scalibr_semver_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        GO, shared_data / SEMANTIC_VERSIONS / "semver-versions.txt"
    )
    assert checked > 80
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
def test_x_mod_semver_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(GO, shared_data / VERSION_ORACLES / "go.json")
    assert checked == 324
    assert failures == [], "\n".join(failures)


_TIMESTAMPS = st.sampled_from(["20191109021931", "20200101000000", "20210101000000"])
_PSEUDO = st.builds(
    lambda base, stamp, rev: f"{base}{stamp}-{rev}",
    st.sampled_from(["v0.0.0-", "v1.2.4-0.", "v1.2.4-pre.0."]),
    _TIMESTAMPS,
    st.sampled_from(["daa7c04131f5", "abcdef123456"]),
)
_GO_VERSIONS = st.one_of(
    semver_versions(), _PSEUDO, semver_versions().map("{}+incompatible".format)
)


@PROPERTY
@given(st.lists(_GO_VERSIONS, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(GO, versions)
