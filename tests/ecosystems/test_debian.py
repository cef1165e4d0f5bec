"""Debian/Ubuntu: Debian Policy's examples, dpkg's parsing errors, the oracles, and the key
against a direct transcription of dpkg's ``verrevcmp`` on generated strings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.base import InvalidVersion
from meshward.ecosystems.debian import Debian, Ubuntu, split_version, verrevcmp_key
from tests.ecosystems.comparisons import (
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    oracle_disagreements,
    scalibr_disagreements,
)

DEBIAN = Debian()


def _cmp(a: object, b: object) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def test_policy_tilde_example() -> None:
    # Debian Policy 5.6.12: "~~" < "~~a" < "~" < the empty part < "a"
    chain = ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]
    assert chain_disagreements(DEBIAN, chain) == []


def test_policy_ordering_rules() -> None:
    chain = [
        "1.0~rc1-1",
        ["1.0-0", "1.0", "1.00", "0:1.0-0"],  # missing revision = "0"; numbers drop zeros
        "1.0-1~bpo11+1",
        "1.0-1",
        "1.0-1ubuntu1",  # letters sort before non-letters ...
        "1.0-1+deb12u1",  # ... which sort by ASCII: "+" < "."
        "1.0-1.1",
        "1.0-2",
        "1.0-10",
        "1.0a-1",
        "1.0+dfsg-1",
        "1.0.0-1",
        "1.0.1-1",
        "1.9",
        "1.10",
        "1:0.1",  # any epoch beats no epoch
        "2:0.1",
    ]
    assert chain_disagreements(DEBIAN, chain) == []


def test_dpkg_compare_versions_examples() -> None:
    # From dpkg's lib/dpkg/t/t-version.c
    chain = [
        ["0:0-0", "0-0", "0", "0:0"],
        "0:0-1",
        "0:0-a",
        "0:0-b",
        "0:1-0",
        "0:a-0",
        "0:b-0",
        "1:0-0",
    ]
    assert chain_disagreements(DEBIAN, chain) == []
    assert DEBIAN.compare("1.0", "1.0") == 0
    assert DEBIAN.compare("0:1.0~rc1", "1.0~rc1") == 0


def test_parse_errors_are_invalid_versions() -> None:
    for version in ["", "  ", "1 .0", "a:1.0", "-1:1.0", "1:", "1.0-", "-1", "99999999999:1"]:
        with pytest.raises(InvalidVersion):
            DEBIAN.sort_key(version)
    # dpkg only warns about these, and still compares them
    assert DEBIAN.compare("a1.0", "b1.0") == -1
    assert DEBIAN.compare("1.0_1", "1.0+1") == 1


def test_split_follows_parseversion() -> None:
    assert split_version(" 1:2.3-4-5 ") == (1, "2.3-4", "5")
    assert split_version("2:1:2") == (2, "1:2", "")


def test_ubuntu_shares_the_order_and_names_are_lower_case() -> None:
    ubuntu = Ubuntu()
    assert (ubuntu.name, ubuntu.purl_types) == ("Ubuntu", ("deb",))
    assert ubuntu.sort_key("1.2.3-0ubuntu0.22.04.1") == DEBIAN.sort_key("1.2.3-0ubuntu0.22.04.1")
    assert DEBIAN.normalize_name(" OpenSSL ") == "openssl"


@pytest.mark.shared
def test_dpkg_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(DEBIAN, shared_data / VERSION_ORACLES / "debian.json")
    assert checked == 900
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
@pytest.mark.parametrize("fixture", ["debian-versions.txt", "debian-versions-generated.txt"])
def test_scalibr_debian_fixtures(shared_data: Path, fixture: str) -> None:
    checked, failures = scalibr_disagreements(DEBIAN, shared_data / SEMANTIC_VERSIONS / fixture)
    assert checked > 25
    assert failures == [], "\n".join(failures)


# --- dpkg's verrevcmp (lib/dpkg/version.c), transcribed loop for loop ----------------------


def _order(c: int) -> int:
    if 0x30 <= c <= 0x39:
        return 0
    if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
        return c
    if c == 0x7E:
        return -1
    if c:
        return (c - 256 if c >= 0x80 else c) + 256  # a signed char, as on x86
    return 0


def _verrevcmp(a: bytes, b: bytes) -> int:
    def char(text: bytes, i: int) -> int:
        return text[i] if i < len(text) else 0

    def digit(c: int) -> bool:
        return 0x30 <= c <= 0x39

    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (char(a, i) and not digit(char(a, i))) or (char(b, j) and not digit(char(b, j))):
            ac, bc = _order(char(a, i)), _order(char(b, j))
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while char(a, i) == 0x30:
            i += 1
        while char(b, j) == 0x30:
            j += 1
        while digit(char(a, i)) and digit(char(b, j)):
            if not first_diff:
                first_diff = char(a, i) - char(b, j)
            i, j = i + 1, j + 1
        if digit(char(a, i)):
            return 1
        if digit(char(b, j)):
            return -1
        if first_diff:
            return first_diff
    return 0


_PARTS = st.text(alphabet="0019.~+aZ:é", max_size=10)


@given(_PARTS, _PARTS)
def test_key_equals_verrevcmp(a: str, b: str) -> None:
    expected = _verrevcmp(a.encode(), b.encode())
    assert _cmp(verrevcmp_key(a), verrevcmp_key(b)) == (expected > 0) - (expected < 0)


_VERSIONS = st.builds(
    lambda epoch, upstream, revision: epoch + upstream + revision,
    st.sampled_from(["", "", "0:", "1:", "01:"]),
    st.text(alphabet="019.~+a", min_size=1, max_size=6),
    st.sampled_from(["", "", "-0", "-1", "-1~bpo1", "-1+deb12u1", "-1ubuntu0.1", "-a"]),
)


@given(st.lists(_VERSIONS, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(DEBIAN, versions)
