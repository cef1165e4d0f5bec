"""Alpine: apk-tools' own test data, osv-scalibr's fixtures, and the key against a direct
transcription of apk-tools 3's ``apk_version_compare`` on generated valid versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.alpine import Alpine
from meshward.ecosystems.base import InvalidVersion
from tests.ecosystems.comparisons import (
    SEMANTIC_VERSIONS,
    VERSION_ORACLES,
    assert_total_order,
    chain_disagreements,
    scalibr_disagreements,
)

ALPINE = Alpine()
_OP = {"<": -1, "=": 0, ">": 1}


def test_suffix_order_from_the_apk_docs() -> None:
    # apk-package(5): _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p,
    # then the -r revision, then a letter, then a further number.
    chain = [
        "1.2_alpha",
        "1.2_alpha1",
        "1.2_alpha2_p1",
        "1.2_alpha3",
        "1.2_beta",
        "1.2_pre2",
        "1.2_rc1",
        "1.2",
        "1.2-r0",
        "1.2-r1",
        "1.2-r10",
        "1.2_cvs1",
        "1.2_svn1",
        "1.2_git20240101",
        "1.2_hg1",
        "1.2_p1",
        "1.2_p1-r1",
        "1.2_p2",
        "1.2a",
        "1.2b_rc1",
        "1.2b",
        "1.2.0",
        "1.2.1",
        "1.10",
    ]
    assert chain_disagreements(ALPINE, chain) == []


def test_apk_tools_version_data_sample() -> None:
    # A few lines of apk-tools' test/version.data (the whole file is the oracle below).
    lines = """\
        2.34 > 0.1.0_alpha
        23_foo > 4_beta
        1.0 < 1.0bc
        0.1.0_alpha2 > 0.1.0_alpha
        3.10.18-r1 > 2.3.0b-r1
        2.3.0b-r1 < 2.3.0b-r2
        1.06-r6 < 006
        2.01.01_alpha10 > 0.94
        1.0 > 0.99.3.20040818
        4.2.52_p2-r1 < 4.2.52_p4-r2
        20060720 > 3.0.20060720
        1.0.1 = 1.0.1
        1.0~1234 < 1.0~2345
        1.0~1234-r1 < 1.0~2345-r0
        1.0~1234-r1 > 1.0~1234-r0"""
    failures = []
    for line in lines.splitlines():
        a, op, b = line.split()
        if ALPINE.compare(a, b) != _OP[op]:
            failures.append(line.strip())
    assert failures == []


def test_leading_zero_parts_compare_as_strings() -> None:
    # Gentoo's rule, kept by apk: a dotted part with a leading zero compares as text.
    assert (
        chain_disagreements(ALPINE, ["1.0", "1.00", "1.01", "1.010", "1.02", "1.1", "1.10"]) == []
    )
    # ... but not the first part, which is always a number
    assert ALPINE.compare("006", "6") == 0


def test_garbage_ranks_below_the_end_and_stops_the_comparison() -> None:
    assert ALPINE.compare("1.2_blah", "1.2") == -1  # unknown suffix
    assert ALPINE.compare("1.2.0A", "1.2.0") == -1  # upper case is not a letter
    assert ALPINE.compare("1-ruff2", "1-ruff1") == 0  # compared up to the garbage only
    assert ALPINE.compare("1.2_rc1", "1.2_blah") == -1  # a pre-release is lower still


def test_lenient_forms_from_real_alpine_data() -> None:
    # openssh's "p1" straight after the letter (accepted by apk-tools 2)
    assert chain_disagreements(ALPINE, ["6.6.2_p1", "6.6.2p1-r0", "6.6.2p1-r1", "6.6.2p2"]) == []
    assert ALPINE.compare("1-r", "1-r0") == 0
    assert ALPINE.compare("0.8.21.r2", "0.8.21r2") == -1


def test_not_starting_with_a_digit_is_below_every_version() -> None:
    assert chain_disagreements(ALPINE, ["a", "b", ".1", ".2", "0", "1"]) == []


def test_empty_string_is_refused() -> None:
    with pytest.raises(InvalidVersion):
        ALPINE.sort_key("")


def _apk_version_data(path: Path) -> tuple[int, list[str]]:
    """apk-tools' format: ``A op B`` lines (op ``<``, ``=``, ``>``; the fuzzy ``~`` forms
    and the bare validity lines are not orderings), ``#`` starts a comment."""
    checked, failures = 0, []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = raw.split("#", 1)[0].split()
        if len(fields) != 3 or fields[1] not in _OP:
            continue
        a, op, b = fields
        checked += 1
        got = (ALPINE.compare(a, b), ALPINE.compare(b, a))
        if got != (_OP[op], -_OP[op]):
            failures.append(f"{path.name}:{number}: {raw.strip()}  (got {got})")
    return checked, failures


@pytest.mark.shared
def test_apk_tools_version_data(shared_data: Path) -> None:
    checked, failures = _apk_version_data(shared_data / VERSION_ORACLES / "apk_version.data")
    assert checked == 738
    assert failures == [], "\n".join(failures)


@pytest.mark.shared
@pytest.mark.parametrize("fixture", ["alpine-versions.txt", "alpine-versions-generated.txt"])
def test_scalibr_alpine_fixtures(shared_data: Path, fixture: str) -> None:
    checked, failures = scalibr_disagreements(ALPINE, shared_data / SEMANTIC_VERSIONS / fixture)
    assert checked > 700
    assert failures == [], "\n".join(failures)


# --- apk-tools 3's comparison, transcribed token loop for token loop ------------------------

_SUFFIX_VALUES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9}
_SUFFIX_VALUES["p"] = 10
_NONE = 5
INITIAL, DIGIT, LETTER, SUFFIX, SUFFIX_NO, HASH, REVISION, END, INVALID = range(9)
_DIGITS_AFTER = (INITIAL, DIGIT, SUFFIX)


def _apk3_tokens(version: str) -> list[tuple[int, str | int]]:
    """``token_first``/``token_next`` of apk-tools 3's src/version.c."""
    digits = re.compile(r"[0-9]*")
    first = digits.match(version)
    assert first is not None
    if not first.group():
        return [(INVALID, "")]
    tokens: list[tuple[int, str | int]] = [(INITIAL, first.group())]
    token, i = INITIAL, first.end()
    while True:
        if i == len(version):
            return [*tokens, (END, "")]
        char = version[i]
        new: tuple[int, str | int] | None = None
        if "a" <= char <= "z" and token <= DIGIT:
            new, i = (LETTER, char), i + 1
        elif (char == "." and token <= DIGIT) or (char.isdigit() and token in _DIGITS_AFTER):
            i += char == "."
            run = digits.match(version, i)
            assert run is not None
            if run.group():
                new, i = (SUFFIX_NO if token == SUFFIX else DIGIT, run.group()), run.end()
        elif char == "_" and token <= SUFFIX_NO:
            word = re.compile(r"[a-z]*").match(version, i + 1)
            assert word is not None
            if word.group() in _SUFFIX_VALUES:
                new, i = (SUFFIX, _SUFFIX_VALUES[word.group()]), word.end()
        elif char == "~" and token < HASH:
            commit = re.compile(r"[0-9a-f]*").match(version, i + 1)
            assert commit is not None
            if commit.group():
                new, i = (HASH, commit.group()), commit.end()
        elif char == "-" and token < REVISION and version.startswith("-r", i):
            run = digits.match(version, i + 2)
            assert run is not None
            if run.group():
                new, i = (REVISION, run.group()), run.end()
        if new is None:
            return [*tokens, (INVALID, "")]
        tokens.append(new)
        token = new[0]


def _apk3_compare(a: str, b: str) -> int:
    """``apk_version_compare_fuzzy(a, b, false)`` of apk-tools 3."""
    ta, tb = _apk3_tokens(a), _apk3_tokens(b)
    for (kind_a, value_a), (kind_b, value_b) in zip(ta, tb, strict=False):
        if kind_a != kind_b:
            break
        if kind_a >= END:
            return 0
        if (kind_a == DIGIT and "0" in (str(value_a)[0], str(value_b)[0])) or kind_a == HASH:
            x: str | int = str(value_a)
            y: str | int = str(value_b)
        elif kind_a == LETTER:
            x, y = value_a, value_b
        else:
            x, y = int(value_a), int(value_b)
        if x != y:
            return -1 if x < y else 1  # type: ignore[operator]
    if kind_a == SUFFIX and int(value_a) < _NONE:
        return -1
    if kind_b == SUFFIX and int(value_b) < _NONE:
        return 1
    return (kind_a < kind_b) - (kind_a > kind_b)


_NUMBERS = st.sampled_from(["0", "1", "2", "9", "10", "00", "01", "010", "123"])
_SUFFIXES = st.sampled_from(["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"])


@st.composite
def valid_apk_versions(draw: st.DrawFn) -> str:
    """``digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-r#}``."""
    version = str(draw(st.integers(0, 12)))
    version += "".join("." + n for n in draw(st.lists(_NUMBERS, max_size=3)))
    version += draw(st.sampled_from(["", "", "a", "b", "z"]))
    for suffix in draw(st.lists(_SUFFIXES, max_size=2)):
        version += "_" + suffix + draw(st.sampled_from(["", "1", "2", "10"]))
    version += draw(st.sampled_from(["", "", "~1234", "~abc", "~0"]))
    return version + draw(st.sampled_from(["", "", "-r0", "-r1", "-r10"]))


_ANY_APK = st.one_of(
    valid_apk_versions(),
    st.text(alphabet="0129.ab_prc-~A", min_size=1, max_size=10),
)


@given(valid_apk_versions(), valid_apk_versions())
def test_key_equals_apk_tools_3_on_valid_versions(a: str, b: str) -> None:
    assert ALPINE.compare(a, b) == _apk3_compare(a, b)


@given(st.lists(_ANY_APK, min_size=2, max_size=6))
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(ALPINE, versions)
