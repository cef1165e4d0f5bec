"""Maven: the cases of Maven's ComparableVersionTest, the 3.8.7 oracle, osv-scalibr's
fixtures, and the key against a direct transcription of ``ComparableVersion.compareTo``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems import maven
from meshward.ecosystems.base import InvalidVersion
from meshward.ecosystems.maven import Maven
from tests.ecosystems.comparisons import (
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    oracle_disagreements,
    scalibr_disagreements,
)

MAVEN = Maven()

# ComparableVersionTest (Maven 3.8.7): VERSIONS_QUALIFIER and VERSIONS_NUMBER, lowest first.
VERSIONS_QUALIFIER = [
    "1-alpha2snapshot",
    "1-alpha2",
    "1-alpha-123",
    "1-beta-2",
    "1-beta123",
    "1-m2",
    "1-m11",
    "1-rc",
    "1-cr2",
    "1-rc123",
    "1-SNAPSHOT",
    "1",
    "1-sp",
    "1-sp2",
    "1-sp123",
    "1-abc",
    "1-def",
    "1-pom-1",
    "1-1-snapshot",
    "1-1",
    "1-2",
    "1-123",
]
VERSIONS_NUMBER = [
    "2.0",
    "2.0.a",
    "2-1",
    "2.0.2",
    "2.0.123",
    "2.1.0",
    "2.1-a",
    "2.1b",
    "2.1-c",
    "2.1-1",
    "2.1.0.1",
    "2.2",
    "2.123",
    "11.a2",
    "11.a11",
    "11.b2",
    "11.b11",
    "11.m2",
    "11.m11",
    "11",
    "11.a",
    "11b",
    "11c",
    "11m",
]


@pytest.mark.parametrize("chain", [VERSIONS_QUALIFIER, VERSIONS_NUMBER])
def test_comparable_version_test_orders(chain: list[str]) -> None:
    assert chain_disagreements(MAVEN, chain) == []


def test_versions_equal() -> None:
    groups = [
        ["1", "1.0", "1.0.0", "1-0", "1.0-0", "1ga", "1release", "1final", "1GA", "1RELeaSE"],
        ["1a", "1-a", "1.0-a", "1.0.0-a", "1.0a", "1.0.0a", "1A"],
        ["1x", "1-x", "1.0-x", "1.0.0-x", "1.0x", "1.0.0x", "1X"],
        ["1cr", "1rc", "1Cr", "1rC"],
        ["1a1", "1-alpha-1"],
        ["1b2", "1-beta-2"],
        ["1m3", "1-milestone-3", "1Milestone3", "1MILESTONE3"],
    ]
    for group in groups:
        assert chain_disagreements(MAVEN, [group]) == []


def test_version_comparing() -> None:
    pairs = [
        ("1", "2"),
        ("1.5", "2"),
        ("1", "2.5"),
        ("1.0", "1.1"),
        ("1.1", "1.2"),
        ("1.0.0", "1.1"),
        ("1.0.1", "1.1"),
        ("1.1", "1.2.0"),
        ("1.0-alpha-1", "1.0"),
        ("1.0-alpha-1", "1.0-alpha-2"),
        ("1.0-alpha-1", "1.0-beta-1"),
        ("1.0-beta-1", "1.0-SNAPSHOT"),
        ("1.0-SNAPSHOT", "1.0"),
        ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
        ("1.0", "1.0-1"),
        ("1.0-1", "1.0-2"),
        ("1.0.0", "1.0-1"),
        ("2.0-1", "2.0.1"),
        ("2.0.1-klm", "2.0.1-lmn"),
        ("2.0.1", "2.0.1-xyz"),
        ("2.0.1", "2.0.1-123"),
        ("2.0.1-xyz", "2.0.1-123"),
    ]
    assert [(a, b) for a, b in pairs if MAVEN.compare(a, b) != -1] == []


def test_regressions() -> None:
    # MNG-5568, MNG-6572 (numbers past int and long), MNG-6964 (a sub-list against nothing)
    assert chain_disagreements(MAVEN, ["6.1.0rc3", "6.1.0", "6.1H.5-beta"]) == []
    chain = [
        "20190126.230843",
        "1234567890.12345",
        "123456789012345.1H.5-beta",
        "12345678901234567890.1H.5-beta",
    ]
    assert chain_disagreements(MAVEN, chain) == []
    assert chain_disagreements(MAVEN, ["1-0.alpha", "1-0.beta", "1"]) == []


def test_leading_zeroes() -> None:
    ones = ["0" * n + "1" for n in range(19)]
    zeros = ["0" * n for n in range(1, 20)]
    assert chain_disagreements(MAVEN, [zeros, ones]) == []


def test_mng_7644_dot_qualifier_is_hyphen_qualifier() -> None:
    for x in ["abc", "alpha", "a", "beta", "b", "def", "milestone", "m", "RC"]:
        assert MAVEN.compare(f"1.0.0.{x}1", f"1.0.0-{x}2") == -1
        assert chain_disagreements(MAVEN, [[f"2-{x}", f"2.0.{x}", f"2.0.0.{x}"]]) == []


def test_spring_and_hibernate_styles() -> None:
    chain = [
        "5.3.0.M1",
        "5.3.0.RC1",
        ["5.3.0", "5.3.0.RELEASE", "5.3.0.Final", "5.3.0-GA"],
        "5.3.0.SP1",
        "5.3.0-jre",
        "5.3.0-1",
        "5.3.1",
    ]
    assert chain_disagreements(MAVEN, chain) == []


def test_where_compare_to_is_not_transitive_the_padding_rule_wins() -> None:
    # ComparableVersion says 1.0.alpha.1 > 1-1 (0 beats a sub-list), and also
    # 1.0.alpha.1 < 1 < 1-1: a cycle. The key keeps both comparisons with "1".
    assert chain_disagreements(MAVEN, ["1.0.alpha.1", "1", "1-1"]) == []


def test_names() -> None:
    assert MAVEN.normalize_name(" org.apache.logging.log4j:log4j-core ") == (
        "org.apache.logging.log4j:log4j-core"
    )
    assert MAVEN.normalize_name("org.apache.logging.log4j/log4j-core") == (
        "org.apache.logging.log4j:log4j-core"
    )


def test_empty_string_is_refused() -> None:
    with pytest.raises(InvalidVersion):
        MAVEN.sort_key("")


@pytest.mark.shared
def test_maven_3_8_7_oracle(shared_data: Path) -> None:
    checked, failures = oracle_disagreements(MAVEN, shared_data / VERSION_ORACLES / "maven.json")
    assert checked == 2401
    assert failures == [], "\n".join(failures)


# osv-scalibr's lines that real Maven 3.8.7 (the reference above) answers the other way:
# "1-ga-1" parses to 1-[[1]], below 1-[1]; and the generated file was sorted with
# maven-artifact 3.8.6, before MNG-7644 made ".RC1" read as "-RC1" (3.8.6 leaves it inline,
# so a dotted qualifier after a zero beats any sub-list). maven.json answers the same shapes
# the 3.8.7 way (e.g. 1.0.0.alpha < 1.0-alpha-2), so no order can satisfy both.
SCALIBR_LINES_REAL_MAVEN_3_8_7_DISAGREES_WITH = {
    "maven-versions.txt": {"1-1 = 1-ga-1"},
    "maven-versions-generated.txt": {
        "1.0.0-RC16 < 1.0.0.RC8-beta",
        "1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3",
        "2.9.0-1 < 2.9.0.RC1",
        "6.1.12.rc5 < 6.1.12rc1",
        "1.1.31.sec10 < 1.1.31_noneautotype",
        "1.1.34.sec10 < 1.1.34_noneautotype",
        "1.1.46.sec10 < 1.1.46_noneautotype",
        "1.2.8.sec10_noneautotype < 1.2.8_noneautotype",
        "1.2.31.sec10 < 1.2.31_noneautotype",
        "1.2.48.sec10 < 1.2.48_noneautotype",
        "1.2.50.sec10 < 1.2.50_noneautotype",
        "1.2.54.sec10 < 1.2.54_noneautotype",
        "1.2.57.sec10 < 1.2.57_noneautotype",
        "1.2.60.sec10 < 1.2.60_noneautotype",
        "1.2.67.sec10 < 1.2.67_noneautotype",
        "1.0.0rc0 < 1.0.beta8",
        "1.5.9.RC1 < 1.5.9-RC0",
        "1.1.0-01-glassfish < 1.1.0.Beta1",
    },
}


@pytest.mark.shared
@pytest.mark.parametrize("fixture", sorted(SCALIBR_LINES_REAL_MAVEN_3_8_7_DISAGREES_WITH))
def test_scalibr_maven_fixtures(shared_data: Path, fixture: str) -> None:
    path = shared_data / SEMANTIC_VERSIONS / fixture
    checked, failures = scalibr_disagreements(MAVEN, path)
    assert checked > 100
    failed_lines = {failure.split(": ", 1)[1].split("  (got ")[0] for failure in failures}
    expected = SCALIBR_LINES_REAL_MAVEN_3_8_7_DISAGREES_WITH[fixture]
    assert failed_lines == expected, "\n".join(sorted(failed_lines ^ expected))
    # and on those lines the key does what Maven 3.8.7's compareTo does
    for line in expected:
        a, _, b = line.split(" ")
        assert MAVEN.compare(a, b) == _compare_to(maven.parse(a), maven.parse(b)), line


# --- ComparableVersion.compareTo (3.8.7), transcribed over maven.parse's item tree ----------


def _compare_to(left: maven.Item, right: maven.Item | None) -> int:
    if isinstance(left, list):
        if right is None:
            return next((r for r in (_compare_to(item, None) for item in left) if r), 0)
        if not isinstance(right, list):
            return -1 if right[0] == maven._NUMBER else 1
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else None
            b = right[i] if i < len(right) else None
            result = (0 if b is None else -_compare_to(b, None)) if a is None else _compare_to(a, b)
            if result:
                return result
        return 0
    if left[0] == maven._NUMBER:
        if right is None:
            return 1 if left[1] else 0
        if isinstance(right, list) or right[0] != maven._NUMBER:
            return 1
    elif right is None:
        return (left[1] > maven._RELEASE) - (left[1] < maven._RELEASE)
    elif isinstance(right, list) or right[0] != maven._QUALIFIER:
        return -1
    return (left > right) - (left < right)  # type: ignore[operator]


# Shapes on which compareTo is transitive: numbers, then hyphenated or attached qualifiers
# and numbers. Two things make compareTo cycle, and these shapes avoid them: a qualifier
# followed by a dot (it stays inline), and a null-like part (0, "ga", "final", "release")
# before more parts (it vanishes and leaves a sub-list directly inside a sub-list).
_QUALIFIER_WORDS = ["alpha", "a", "beta", "b", "m", "rc", "cr", "SNAPSHOT", "sp", "foo", "jre"]
_PLAIN = st.builds(
    lambda numbers, tail, end: ".".join(numbers) + tail + end,
    st.lists(st.sampled_from(["0", "1", "2", "10", "01"]), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.sampled_from(["-", ""]), st.sampled_from([*_QUALIFIER_WORDS, "1", "2"])),
        max_size=3,
    ).map(lambda parts: "".join(sep + word for sep, word in parts)),
    st.sampled_from(["", "", ".0", "-0", ".RELEASE", "-ga", ".Final"]),
)


@given(_PLAIN, _PLAIN)
def test_key_equals_compare_to_where_it_is_transitive(a: str, b: str) -> None:
    assert MAVEN.compare(a, b) == _compare_to(maven.parse(a), maven.parse(b))


@given(st.text(alphabet="0189.-aZ_ ?", max_size=12))
def test_regex_runs_match_character_runs(version: str) -> None:
    # the fast path for ASCII strings, against the character walk used for the rest
    assert maven._runs(version) == maven._runs_by_character(version)


def test_unicode_digits_are_digits_in_the_bmp_only() -> None:
    assert MAVEN.compare("1.\u0663", "1.3") == 0  # ARABIC-INDIC DIGIT THREE
    assert MAVEN.compare("1.\U0001d7ce", "1") == 1  # a qualifier: Java sees two surrogates


_ANY = st.one_of(_PLAIN, st.text(alphabet="019.-abmrcspga", min_size=1, max_size=10))


@given(st.lists(_ANY, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(MAVEN, versions)
