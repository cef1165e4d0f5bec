"""RPM: rpm's own rpmvercmp test cases, epoch/release handling, the oracles, and the key
against a direct transcription of ``rpmvercmp`` on generated strings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.base import InvalidVersion
from meshward.ecosystems.rpm import (
    SUSE,
    AlmaLinux,
    OpenSUSE,
    RedHat,
    RockyLinux,
    rpm_key,
    rpmvercmp_key,
    split_evr,
)
from tests.ecosystems.comparisons import (
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    oracle_disagreements,
    scalibr_disagreements,
)

REDHAT = RedHat()

# rpm's tests/rpmvercmp.at: RPMVERCMP(a, b, expected), including its "oddities" section.
RPMVERCMP_CASES = """\
1.0 1.0 0
1.0 2.0 -1
2.0 1.0 1
2.0.1 2.0.1 0
2.0 2.0.1 -1
2.0.1 2.0 1
2.0.1a 2.0.1a 0
2.0.1a 2.0.1 1
2.0.1 2.0.1a -1
5.5p1 5.5p1 0
5.5p1 5.5p2 -1
5.5p2 5.5p1 1
5.5p10 5.5p10 0
5.5p1 5.5p10 -1
5.5p10 5.5p1 1
10xyz 10.1xyz -1
10.1xyz 10xyz 1
xyz10 xyz10 0
xyz10 xyz10.1 -1
xyz10.1 xyz10 1
xyz.4 xyz.4 0
xyz.4 8 -1
8 xyz.4 1
xyz.4 2 -1
2 xyz.4 1
5.5p2 5.6p1 -1
5.6p1 5.5p2 1
5.6p1 6.5p1 -1
6.5p1 5.6p1 1
6.0.rc1 6.0 1
6.0 6.0.rc1 -1
10b2 10a1 1
10a2 10b2 -1
1.0aa 1.0aa 0
1.0a 1.0aa -1
1.0aa 1.0a 1
10.0001 10.0001 0
10.0001 10.1 0
10.1 10.0001 0
10.0001 10.0039 -1
10.0039 10.0001 1
4.999.9 5.0 -1
5.0 4.999.9 1
20101121 20101121 0
20101121 20101122 -1
20101122 20101121 1
2_0 2_0 0
2.0 2_0 0
2_0 2.0 0
a a 0
a+ a+ 0
a+ a_ 0
a_ a+ 0
+a +a 0
+a _a 0
_a +a 0
+_ +_ 0
_+ +_ 0
_+ _+ 0
+ _ 0
_ + 0
1.0~rc1 1.0~rc1 0
1.0~rc1 1.0 -1
1.0 1.0~rc1 1
1.0~rc1 1.0~rc2 -1
1.0~rc2 1.0~rc1 1
1.0~rc1~git123 1.0~rc1~git123 0
1.0~rc1~git123 1.0~rc1 -1
1.0~rc1 1.0~rc1~git123 1
1.0^ 1.0^ 0
1.0^ 1.0 1
1.0 1.0^ -1
1.0^git1 1.0^git1 0
1.0^git1 1.0 1
1.0 1.0^git1 -1
1.0^git1 1.0^git2 -1
1.0^git2 1.0^git1 1
1.0^git1 1.01 -1
1.01 1.0^git1 1
1.0^20160101 1.0^20160101 0
1.0^20160101 1.0.1 -1
1.0.1 1.0^20160101 1
1.0^20160101^git1 1.0^20160101^git1 0
1.0^20160102 1.0^20160101^git1 1
1.0^20160101^git1 1.0^20160102 -1
1.0~rc1^git1 1.0~rc1^git1 0
1.0~rc1^git1 1.0~rc1 1
1.0~rc1 1.0~rc1^git1 -1
1.0^git1~pre 1.0^git1~pre 0
1.0^git1 1.0^git1~pre 1
1.0^git1~pre 1.0^git1 -1
1b.fc17 1b.fc17 0
1b.fc17 1.fc17 -1
1.fc17 1b.fc17 1
1g.fc17 1g.fc17 0
1g.fc17 1.fc17 1
1.fc17 1g.fc17 -1
1.1.α 1.1.α 0
1.1.α 1.1.β 0
1.1.β 1.1.α 0
1.1.αα 1.1.α 0
1.1.α 1.1.ββ 0
1.1.ββ 1.1.αα 0"""


def _cmp(a: object, b: object) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def test_rpmvercmp_cases_from_rpm() -> None:
    failures = []
    for line in RPMVERCMP_CASES.splitlines():
        a, b, expected = line.split()
        if _cmp(rpmvercmp_key(a), rpmvercmp_key(b)) != int(expected):
            failures.append(line)
    assert failures == []


def test_epoch_version_release() -> None:
    chain = [
        "1.0~rc1-1",
        ["1.0", "0:1.0", ":1.0"],  # no epoch, epoch 0 and an empty epoch are one
        ["1.0-1", "0:1.0-1", "00:1.0-1"],
        "1.0-1.el8",
        "1.0-1.el8_2",
        "1.0-1.el8_10",
        "1.0-2",
        "1.0-10",
        "1.0^git1-1",
        ["1.01-1", "1.1-1"],
        "3.0.7-16.el9_2",
        "3.0.7-24.el9",
        "1:0.9-1",
        "2:0.1-1",
    ]
    assert chain_disagreements(REDHAT, chain) == []


def test_split_follows_rpmverparse() -> None:
    assert split_evr("1:2.3-4.el9") == ("1", "2.3", "4.el9")
    assert split_evr("2.3") == ("0", "2.3", None)
    assert split_evr("1.2-3-4") == ("0", "1.2-3", "4")  # the release follows the last '-'
    assert split_evr("a:1") == ("0", "a:1", None)  # only digits make an epoch
    assert split_evr(":1") == ("0", "1", None)


def test_missing_release_is_below_every_release() -> None:
    # rpm.ver: "1.0" < "1.0-1"; an empty release is still a release
    assert chain_disagreements(REDHAT, ["1.0", ["1.0-", "1.0-."], "1.0-0", "1.0-1"]) == []


def test_all_rpm_distributions_share_the_order() -> None:
    names = {cls().name for cls in (RedHat, AlmaLinux, RockyLinux, SUSE, OpenSUSE)}
    assert names == {"Red Hat", "AlmaLinux", "Rocky Linux", "SUSE", "openSUSE"}
    assert all(cls.purl_types == ("rpm",) for cls in (RedHat, AlmaLinux, RockyLinux, SUSE))
    assert OpenSUSE().sort_key("1:2-3") == rpm_key("1:2-3")


def test_empty_string_is_refused() -> None:
    with pytest.raises(InvalidVersion):
        REDHAT.sort_key(" ")


@pytest.mark.shared
def test_rpm_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(REDHAT, shared_data / VERSION_ORACLES / "rpm.json")
    assert checked == 441
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
def test_scalibr_redhat_fixture(shared_data: Path) -> None:
    checked, failures = scalibr_disagreements(
        REDHAT, shared_data / SEMANTIC_VERSIONS / "redhat-versions.txt"
    )
    assert checked > 150
    assert failures == [], "\n".join(failures)


# --- rpmvercmp (rpm >= 4.15, lib/rpmvercmp.c), transcribed loop for loop -------------------


def _rpmvercmp(a: str, b: str) -> int:
    if a == b:
        return 0
    one, two = 0, 0
    alnum = str.isalnum

    def is_alnum(text: str, i: int) -> bool:
        return i < len(text) and text[i].isascii() and alnum(text[i])

    def at(text: str, i: int) -> str:
        return text[i] if i < len(text) else ""

    while one < len(a) or two < len(b):
        while one < len(a) and not is_alnum(a, one) and a[one] not in "~^":
            one += 1
        while two < len(b) and not is_alnum(b, two) and b[two] not in "~^":
            two += 1
        if at(a, one) == "~" or at(b, two) == "~":
            if at(a, one) != "~":
                return 1
            if at(b, two) != "~":
                return -1
            one, two = one + 1, two + 1
            continue
        if at(a, one) == "^" or at(b, two) == "^":
            if one == len(a):
                return -1
            if two == len(b):
                return 1
            if at(a, one) != "^":
                return 1
            if at(b, two) != "^":
                return -1
            one, two = one + 1, two + 1
            continue
        if not (one < len(a) and two < len(b)):
            break
        numeric = a[one].isdigit()
        kind = (
            (lambda c: c.isascii() and c.isdigit())
            if numeric
            else (lambda c: c.isascii() and c.isalpha())
        )
        end1, end2 = one, two
        while end1 < len(a) and kind(a[end1]):
            end1 += 1
        while end2 < len(b) and kind(b[end2]):
            end2 += 1
        if end2 == two:
            return 1 if numeric else -1
        seg1, seg2 = a[one:end1], b[two:end2]
        if numeric:
            seg1, seg2 = seg1.lstrip("0"), seg2.lstrip("0")
            if len(seg1) != len(seg2):
                return 1 if len(seg1) > len(seg2) else -1
        if seg1 != seg2:
            return 1 if seg1 > seg2 else -1
        one, two = end1, end2
    if one == len(a) and two == len(b):
        return 0
    return -1 if one == len(a) else 1


_RPM_TEXT = st.text(alphabet="0019.azAZ~^_+é", max_size=10)


@given(_RPM_TEXT, _RPM_TEXT)
def test_key_equals_rpmvercmp(a: str, b: str) -> None:
    assert _cmp(rpmvercmp_key(a), rpmvercmp_key(b)) == _rpmvercmp(a, b)


_EVRS = st.builds(
    lambda epoch, version, release: epoch + version + release,
    st.sampled_from(["", "", "0:", "1:", "01:", ":", "a:"]),
    st.text(alphabet="019.a~^", min_size=1, max_size=6),
    st.sampled_from(["", "", "-", "-0", "-1", "-1.el9", "-1.el9_2", "-1~rc", "-2-3"]),
)


@given(st.lists(_EVRS, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(REDHAT, versions)
