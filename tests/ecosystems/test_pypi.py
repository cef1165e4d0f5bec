"""PyPI: PEP 440 through ``packaging``, legacy versions before all of them, PEP 503 names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.pypi import PyPI
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    oracle_disagreements,
    scalibr_disagreements,
)

PYPI = PyPI()

# PEP 440, "Summary of permitted suffixes and relative ordering"
PEP_440_ORDER = [
    "1.dev0",
    "1.0.dev456",
    "1.0a1",
    "1.0a2.dev456",
    "1.0a12.dev456",
    "1.0a12",
    "1.0b1.dev456",
    "1.0b2",
    "1.0b2.post345.dev456",
    "1.0b2.post345",
    "1.0rc1.dev456",
    "1.0rc1",
    "1.0",
    "1.0+abc.5",
    "1.0+abc.7",
    "1.0+5",
    "1.0.post456.dev34",
    "1.0.post456",
    "1.0.15",
    "1.1.dev1",
]


def test_pep_440_ordering_example() -> None:
    assert chain_disagreements(PYPI, PEP_440_ORDER) == []


def test_pep_440_normalisation() -> None:
    # PEP 440, "Normalization": alternative spellings of the same version
    chain = [
        ["1.0a1", "1.0alpha1", "1.0-a1", "1.0.a.1", "1.0A1"],
        ["1.0rc1", "1.0c1", "1.0pre1", "1.0preview1"],
        ["1.0", "1.0.0", "v1.0", " 1.0 ", "0!1.0"],
        ["1.0+ubuntu-1", "1.0+ubuntu.1", "1.0+ubuntu_1"],
        ["1.0.post1", "1.0-1", "1.0-r1", "1.0rev1", "1.0post1"],
        "2.0",
        "1!0.1",  # an epoch outranks everything after it
    ]
    assert chain_disagreements(PYPI, chain) == []


def test_legacy_versions_come_first_in_their_own_order() -> None:
    chain = ["0.1-bulbasaur", "0.1-charmander", "0.9-doduo", "1.0-foo", "0.1"]
    assert chain_disagreements(PYPI, chain) == []
    assert PYPI.compare("2004d", "2004d") == 0


def test_pep_503_names() -> None:
    for spelling in ("Friendly-Bard", "friendly.bard", "FRIENDLY_BARD", "friendly--bard"):
        assert PYPI.normalize_name(spelling) == "friendly-bard"


@pytest.mark.shared
@pytest.mark.parametrize("fixture", ["pypi-versions.txt", "pypi-versions-generated.txt"])
def test_scalibr_fixtures(shared_data: Path, fixture: str) -> None:
    checked, failures = scalibr_disagreements(PYPI, shared_data / SEMANTIC_VERSIONS / fixture)
    assert checked > 30
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
def test_packaging_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(PYPI, shared_data / VERSION_ORACLES / "pypi.json")
    assert checked == 961
    assert failures == [], "\n".join(failures)


_NUMBER = st.integers(0, 3).map(str)
_PEP_440 = st.builds(
    "{}{}{}{}{}{}".format,
    st.sampled_from(["", "", "1!"]),
    st.lists(_NUMBER, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["", "", "a1", "b", ".rc2", "-alpha1", "c1"]),
    st.sampled_from(["", "", ".post1", "-2", "r"]),
    st.sampled_from(["", "", ".dev0", "dev3"]),
    st.sampled_from(["", "", "+local.1", "+1", "+abc"]),
)
_LEGACY = st.text(alphabet="01ab.-_!+", min_size=1, max_size=8)


@PROPERTY
@given(st.lists(st.one_of(_PEP_440, _LEGACY), min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(PYPI, versions)
