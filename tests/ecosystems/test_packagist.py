"""Packagist: PHP ``version_compare`` as osv-scalibr implements it, checked against PHP's and
Composer's test cases (via osv-scalibr's fixtures) and a transcription of the pairwise rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshward.ecosystems.packagist import Packagist
from tests.ecosystems.comparisons import (
    PROPERTY,
    SEMANTIC_VERSIONS,
    assert_total_order,
    chain_disagreements,
    scalibr_disagreements,
)

COMPOSER = Packagist()

UNORDERABLE = {
    "packagist-versions.txt:96: 1.2.3.# = 1.2.3.1",
}
"""``version_compare`` calls ``1.2.3.#`` equal to ``1.2.3`` (line 94) *and* to ``1.2.3.1``,
which it orders apart, so no sort key can satisfy both; we keep line 94."""


def test_version_compare_docs() -> None:
    # PHP manual, version_compare: special forms order dev < alpha = a < beta = b < RC = rc
    # < # (a number) < pl = p; a trailing number makes a version longer and greater.
    chain = [
        ["1.0-dev", "1.0dev", "1.0.dev", "1.0-foo"],  # an unknown word weighs as dev
        ["1.0alpha1", "1.0a1", "1.0-alpha.1", "1.0_a1"],
        ["1.0b1", "1.0beta1"],
        ["1.0RC1", "1.0rc1", "1.0-RC1"],
        ["1.0", "v1.0", "V1.0"],
        "1.0.0",
        "1.0.1",
        ["1.0pl1", "1.0p1", "1.0-patch1"],  # a patch level outranks any number in its place
        "1.2",
        "10",
    ]
    assert chain_disagreements(COMPOSER, chain) == []


def test_hash_words_act_as_the_padding() -> None:
    # Running out of parts is comparing against "#" for ever; these pairs never set a "#" word
    # against a number, so version_compare is a true order on them and the key must agree.
    chain = ["1.#.a", "1.#.#.a", ["1", "1.#", "1.#.#"], "1.#.#.p", "1.#.p", "1.p"]
    assert chain_disagreements(COMPOSER, chain) == []
    flat = [v for group in chain for v in ([group] if isinstance(group, str) else group)]
    assert all(COMPOSER.compare(a, b) == scalibr_compare(a, b) for a in flat for b in flat)


def test_vendor_and_package_fold_case() -> None:
    assert COMPOSER.normalize_name("Symfony/HTTP-Kernel") == "symfony/http-kernel"


@pytest.mark.shared
@pytest.mark.parametrize("fixture", ["packagist-versions.txt", "packagist-versions-generated.txt"])
def test_scalibr_fixtures(shared_data: Path, fixture: str) -> None:
    checked, failures = scalibr_disagreements(COMPOSER, shared_data / SEMANTIC_VERSIONS / fixture)
    assert checked > 90
    unexpected = [f for f in failures if f.split("  (")[0] not in UNORDERABLE]
    assert unexpected == [], "\n".join(unexpected)


def scalibr_compare(a: str, b: str) -> int:
    """osv-scalibr's ``comparePackagistComponents`` transcribed, pair by pair."""

    def parts(version: str) -> list[str]:
        version = version.removeprefix("v").removeprefix("V")
        version = re.sub(r"[-_+]", ".", version)
        version = re.sub(r"([^\d.])(\d)", r"\1.\2", version)
        version = re.sub(r"(\d)([^\d.])", r"\1.\2", version)
        return version.split(".")

    def weight(word: str) -> int:
        if word.startswith("RC"):
            return 3
        forms = ["dev", "a", "b", "rc", "#", "p"]
        return next((i for i, form in enumerate(forms) if word.startswith(form)), 0)

    def special(x: str, y: str) -> int:
        return (weight(x) > weight(y)) - (weight(x) < weight(y))

    def components(x: list[str], y: list[str]) -> int:
        for xi, yi in zip(x, y, strict=False):
            if xi.isdigit() and yi.isdigit():
                result = (int(xi) > int(yi)) - (int(xi) < int(yi))
            elif not xi.isdigit() and not yi.isdigit():
                result = special(xi, yi)
            else:
                result = special("#", yi) if xi.isdigit() else special(xi, "#")
            if result:
                return result
        if len(x) > len(y):
            return 1 if x[len(y)].isdigit() else components(x[len(y) :], ["#"])
        if len(x) < len(y):
            return -1 if y[len(x)].isdigit() else components(["#"], y[len(x) :])
        return 0

    return components(parts(a), parts(b))


_PIECES = st.sampled_from(["0", "1", "2", "10", "dev", "alpha", "a", "b", "RC", "rc", "pl", "p"])
_SEPARATORS = st.sampled_from([".", ".", "-", "_", "+", ""])
_COMPOSER_VERSIONS = st.builds(
    lambda prefix, parts: (prefix + "".join(p + s for p, s in parts)).rstrip(".-_+"),
    st.sampled_from(["", "", "v"]),
    st.lists(st.tuples(_PIECES, _SEPARATORS), min_size=1, max_size=6),
)


@settings(max_examples=100, deadline=None)
@given(_COMPOSER_VERSIONS, _COMPOSER_VERSIONS)
def test_key_agrees_with_version_compare(a: str, b: str) -> None:
    # No "#" pieces: with them the pairwise rule is not an order at all (see UNORDERABLE).
    assert COMPOSER.compare(a, b) == scalibr_compare(a, b)


@PROPERTY
@given(
    st.lists(st.one_of(_COMPOSER_VERSIONS, st.text("1.#a-", max_size=6)), min_size=2, max_size=6)
)
def test_order_is_total_and_consistent(versions: list[str]) -> None:
    assert_total_order(COMPOSER, versions)
