"""OSV range evaluation: the schema's pseudo-code, its examples, and the edge cases around it."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshward.ecosystems.base import Ecosystem, InvalidVersion
from meshward.ecosystems.ranges import (
    AffectedLike,
    Verdict,
    compile_affected,
    evaluate,
    is_affected,
    smallest_fix,
)
from meshward.formats.osv import Affected, Event, Package, Range, iter_advisories


class Dotted(Ecosystem):
    """Test ordering: dot-separated integers, trailing zeros insignificant (1.0 == 1)."""

    name = "Dotted"

    def sort_key(self, version: str) -> tuple[int, ...]:
        parts = version.split(".")
        if not version or not all(p.isdigit() for p in parts):
            raise InvalidVersion(version)
        key = [int(p) for p in parts]
        while len(key) > 1 and key[-1] == 0:
            key.pop()
        return tuple(key)


DOTTED = Dotted()


def entry(
    *ranges: list[tuple[str, str]] | tuple[str, list[tuple[str, str]]],
    versions: tuple[str, ...] = (),
) -> Affected:
    """``entry([("introduced", "0"), ("fixed", "1")], ("GIT", [...]))``: an ECOSYSTEM range
    from a bare list, any other type from a (type, events) pair."""
    built = []
    for spec in ranges:
        range_type, events = ("ECOSYSTEM", spec) if isinstance(spec, list) else spec
        built.append(Range(range_type, tuple(Event(k, v) for k, v in events)))
    return Affected(Package("Dotted", "pkg"), tuple(built), versions)


def affected_set(affected: AffectedLike, versions: list[str]) -> list[str]:
    return [v for v in versions if is_affected(DOTTED, v, affected)]


GRID = ["0.1", "0.9", "1.0", "1.0.1", "1.0.2", "1.0.3", "2.0", "2.1.213", "2.1.214",
        "2.1.215", "3.0", "3.0.0", "3.1", "3.2.4", "3.2.5", "3.2.6", "4", "99"]  # fmt: skip


# --------------------------------------------------------------------------- schema examples


def test_unfixed_vulnerability_every_version() -> None:
    assert affected_set(entry([("introduced", "0")]), GRID) == GRID


def test_fixed_vulnerability_everything_before() -> None:
    assert affected_set(entry([("introduced", "0"), ("fixed", "1.0.2")]), GRID) == [
        "0.1",
        "0.9",
        "1.0",
        "1.0.1",
    ]


def test_multiple_range_example() -> None:
    affected = entry(
        [("introduced", "1.0.0"), ("fixed", "1.0.2"), ("introduced", "3.0.0"), ("fixed", "3.2.5")]
    )
    assert affected_set(affected, GRID) == ["1.0", "1.0.1", "3.0", "3.0.0", "3.1", "3.2.4"]


def test_last_affected_vs_fixed_example() -> None:
    last = entry([("introduced", "0"), ("last_affected", "2.1.214")])
    fixed = entry(("SEMVER", [("introduced", "0"), ("fixed", "2.1.214")]))
    assert is_affected(DOTTED, "2.1.214", last)
    assert not is_affected(DOTTED, "2.1.215", last)
    assert not is_affected(DOTTED, "2.1.214", fixed)
    assert is_affected(DOTTED, "2.1.213", fixed)


def test_limit_on_an_ordered_range() -> None:
    limited = entry([("introduced", "1.0"), ("limit", "2.0")])
    assert affected_set(limited, GRID) == ["1.0", "1.0.1", "1.0.2", "1.0.3"]
    star = entry([("introduced", "1.0"), ("limit", "*")])
    assert affected_set(star, GRID) == GRID[2:]
    several = entry([("introduced", "1.0"), ("limit", "1.0.2"), ("limit", "3.1")])
    assert affected_set(several, GRID) == GRID[2:12]  # below the higher limit
    with_fix = entry([("introduced", "0"), ("fixed", "3.0"), ("limit", "1.0.2")])
    assert affected_set(with_fix, GRID) == ["0.1", "0.9", "1.0", "1.0.1"]


# --------------------------------------------------------------------------- edge cases


def test_empty_range_matches_nothing() -> None:
    assert affected_set(entry([("introduced", "1.5"), ("fixed", "1.5")]), [*GRID, "1.5"]) == []
    # equal by the ecosystem's rules, spelt differently
    assert affected_set(entry([("introduced", "2.0"), ("fixed", "2")]), GRID) == []
    # and an empty range does not swallow a real one beside it
    mixed = entry([("introduced", "2.0"), ("fixed", "2.0")], [("introduced", "3.0"),
                                                               ("fixed", "3.1")])  # fmt: skip
    assert affected_set(mixed, GRID) == ["3.0", "3.0.0"]


def test_touching_ranges_join() -> None:
    joined = entry([("introduced", "1"), ("fixed", "2"), ("introduced", "2"), ("fixed", "3")])
    assert affected_set(joined, ["0.9", "1", "1.5", "2", "2.5", "3", "4"]) == [
        "1",
        "1.5",
        "2",
        "2.5",
    ]


def test_events_out_of_order_are_sorted() -> None:
    shuffled = entry([("fixed", "3.2.5"), ("introduced", "3.0"), ("fixed", "1.0.2"),
                      ("introduced", "1.0")])  # fmt: skip
    assert affected_set(shuffled, GRID) == ["1.0", "1.0.1", "3.0", "3.0.0", "3.1", "3.2.4"]


def test_introduced_zero_sorts_first_wherever_it_is() -> None:
    affected = entry([("fixed", "1.0.2"), ("introduced", "0")])
    assert affected_set(affected, GRID) == ["0.1", "0.9", "1.0", "1.0.1"]


def test_introduced_only() -> None:
    assert affected_set(entry([("introduced", "3.2.5")]), GRID) == ["3.2.5", "3.2.6", "4", "99"]


def test_last_affected_equal_to_introduced_is_one_version() -> None:
    one = entry([("introduced", "3.1"), ("last_affected", "3.1")])
    assert affected_set(one, [*GRID, "3.1.0"]) == ["3.1", "3.1.0"]


def test_overlapping_pairs_follow_the_pseudocode() -> None:
    # [0, 2.11.6) and [2.11, 2.11.7) in one range (as PYSEC-2021-114 has): once sorted, the
    # first fixed closes both, exactly as the schema's loop does.
    affected = entry([("introduced", "2.11"), ("fixed", "2.11.7"), ("introduced", "0"),
                      ("fixed", "2.11.6")])  # fmt: skip
    versions = ["2.10", "2.11.5", "2.11.6", "2.11.7"]
    assert affected_set(affected, versions) == ["2.10", "2.11.5"]


def test_any_of_several_ranges() -> None:
    affected = entry([("introduced", "1.0"), ("fixed", "1.0.2")],
                     ("SEMVER", [("introduced", "3.0"), ("fixed", "3.2.5")]))  # fmt: skip
    assert affected_set(affected, GRID) == ["1.0", "1.0.1", "3.0", "3.0.0", "3.1", "3.2.4"]


def test_git_ranges_are_ignored_for_packages() -> None:
    sha = "6e5755a2a833bc64852eae12967d0a54d7adf629"
    git_only = entry(("GIT", [("introduced", "0"), ("fixed", sha)]))
    assert affected_set(git_only, GRID) == []
    result = evaluate(DOTTED, "1.0", git_only)
    assert result.verdict is Verdict.NOT_AFFECTED and result.problems == ()
    both = entry(("GIT", [("introduced", "0")]), [("introduced", "0"), ("fixed", "1.0.2")])
    assert affected_set(both, GRID) == ["0.1", "0.9", "1.0", "1.0.1"]


def test_no_ranges_and_no_versions_match_nothing() -> None:
    assert affected_set(entry(), GRID) == []


def test_versions_list() -> None:
    listed = entry(versions=("1.0.1", "3.1"))
    assert affected_set(listed, GRID) == ["1.0.1", "3.1"]
    assert is_affected(DOTTED, "3.1.0", listed)  # equal in the ecosystem
    result = evaluate(DOTTED, "1.0.1", listed)
    assert (result.affected, result.verdict) == (True, Verdict.LISTED)
    # listed OR in a range
    both = entry([("introduced", "3.2.5")], versions=("1.0",))
    assert affected_set(both, GRID) == ["1.0", "3.2.5", "3.2.6", "4", "99"]


def test_invalid_installed_version_is_not_affected_but_said() -> None:
    everything = entry([("introduced", "0")])
    assert not is_affected(DOTTED, "1.0-beta", everything)
    result = evaluate(DOTTED, "1.0-beta", everything)
    assert result.verdict is Verdict.INVALID_VERSION
    assert "not a valid Dotted version" in result.detail
    # the pseudo-code compares the versions list as strings: a verbatim listing still counts
    listed = entry(versions=("1.0-beta",))
    assert evaluate(DOTTED, "1.0-beta", listed).verdict is Verdict.LISTED


def test_unorderable_bound_skips_its_range_and_says_so() -> None:
    affected = entry([("introduced", "0"), ("fixed", "1.x")], [("introduced", "3.0")])
    assert affected_set(affected, GRID) == GRID[10:]
    result = evaluate(DOTTED, "3.1", affected)
    assert result.verdict is Verdict.IN_RANGE
    assert len(result.problems) == 1 and "'1.x'" in result.problems[0]
    assert "range 1" in result.detail


def test_unknown_range_type_is_a_problem_not_a_match() -> None:
    affected = entry(("CALVER", [("introduced", "0")]))
    result = evaluate(DOTTED, "1.0", affected)
    assert not result.affected and "unknown range type" in result.problems[0]


def test_compiled_entry_evaluates_many_versions() -> None:
    compiled = compile_affected(DOTTED, entry([("introduced", "1.0"), ("fixed", "1.0.2")]))
    assert [compiled.evaluate(v).affected for v in GRID[:6]] == [
        False, False, True, True, False, False]  # fmt: skip
    assert compiled.fixes == (((1, 0, 2), "1.0.2"),)


# --------------------------------------------------------------------------- smallest fix


def test_smallest_fix() -> None:
    two = entry(
        [("introduced", "1.0.0"), ("fixed", "1.0.2"), ("introduced", "3.0.0"), ("fixed", "3.2.5")]
    )
    assert smallest_fix(DOTTED, "1.0.1", two) == "1.0.2"
    assert smallest_fix(DOTTED, "3.1", two) == "3.2.5"
    assert smallest_fix(DOTTED, "2.0", two) is None  # not affected
    assert smallest_fix(DOTTED, "x", two) is None
    last = entry([("introduced", "0"), ("last_affected", "2.1.214")])
    assert smallest_fix(DOTTED, "1.0", last) is None


def test_smallest_fix_skips_fixes_that_do_not_clear() -> None:
    # 1.0.2 fixes the first range but 1.0.2 is reopened by a second range
    reopened = entry([("introduced", "0"), ("fixed", "1.0.2")],
                     [("introduced", "1.0.2"), ("fixed", "1.0.5")])  # fmt: skip
    assert smallest_fix(DOTTED, "1.0", reopened) == "1.0.5"
    # a fix listed as affected in versions does not clear either
    listed = entry([("introduced", "0"), ("fixed", "2.0")], [("introduced", "0"),
                   ("fixed", "1.5")], versions=("1.5",))  # fmt: skip
    assert smallest_fix(DOTTED, "1.0", listed) == "2.0"


def test_smallest_fix_over_several_entries() -> None:
    # distro feeds: one package, one entry per module stream; a fix must clear all of them
    streams = [entry([("introduced", "0"), ("fixed", fix)]) for fix in ("1.4", "1.2", "1.3")]
    assert smallest_fix(DOTTED, "1.0", streams) == "1.4"
    assert smallest_fix(DOTTED, "1.3", streams) == "1.4"
    assert smallest_fix(DOTTED, "1.4", streams) is None


# --------------------------------------------------------------------------- property


def pseudocode(v: int, events: list[tuple[str, int]]) -> bool:
    """Interval semantics of well-formed, sorted introduced/fixed pairs."""
    vulnerable = False
    for kind, at in events:
        if kind == "introduced" and v >= at:
            vulnerable = True
        elif kind == "fixed" and v >= at:
            vulnerable = False
    return vulnerable


@given(
    bounds=st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True).map(sorted),
    shuffle=st.randoms(use_true_random=False),
)
def test_matches_half_open_intervals(bounds: list[int], shuffle: Any) -> None:
    events = [("introduced" if i % 2 == 0 else "fixed", b) for i, b in enumerate(bounds)]
    intervals = [(a, b) for a, b in itertools.zip_longest(bounds[::2], bounds[1::2])]
    shuffled = list(events)
    shuffle.shuffle(shuffled)
    affected = entry([(kind, str(at)) for kind, at in shuffled])
    for v in range(45):
        expected = any(a <= v and (b is None or v < b) for a, b in intervals)
        assert pseudocode(v, events) == expected
        assert is_affected(DOTTED, str(v), affected) == expected, (v, shuffled)


# --------------------------------------------------------------------------- real ecosystems


def test_pypi_schema_example() -> None:
    pypi_module = pytest.importorskip("meshward.ecosystems.pypi")
    pypi: Ecosystem = pypi_module.PyPI()
    pikepdf = Affected(
        Package("PyPI", "pikepdf"),
        (
            Range("GIT", (Event("introduced", "0"), Event("fixed", "3f38f73218e5e782fe411cc"))),
            Range("ECOSYSTEM", (Event("introduced", "2.8.0"), Event("fixed", "2.10.0"))),
        ),
        ("2.8.0", "2.8.0.post1", "2.8.0.post2", "2.9.0", "2.9.1", "2.9.2"),
    )
    yes = ["2.8.0", "2.8", "2.8.0.post1", "2.9.2", "2.9.10", "2.10.0rc1", "2.10.0.dev1"]
    no = ["2.7.9", "2.8.0rc1", "2.10.0", "2.10", "2.10.0.post1", "10.0"]
    assert [v for v in yes + no if is_affected(pypi, v, pikepdf)] == yes
    assert smallest_fix(pypi, "2.9.1", pikepdf) == "2.10.0"
    assert evaluate(pypi, "2.8", pikepdf).verdict is Verdict.LISTED  # 2.8 == 2.8.0


def test_shared_pypi_ranges_agree_with_their_versions_lists(shared_data: Path) -> None:
    """osv.dev fills ``versions`` by expanding the ranges, so the ranges alone must put every
    listed version inside and every ``fixed`` bound outside; the few records that disagree
    are data quirks (overlapping pairs, a pre-release before ``introduced``)."""
    pypi_module = pytest.importorskip("meshward.ecosystems.pypi")
    pypi: Ecosystem = pypi_module.PyPI()
    started = time.perf_counter()
    listed = inside = fixes = fixes_outside = 0
    for advisory in iter_advisories(shared_data / "osv" / "PyPI"):
        for affected in advisory.affected:
            if affected.package is None or affected.package.ecosystem != "PyPI":
                continue
            ranges_only = compile_affected(pypi, Affected(affected.package, affected.ranges))
            whole = compile_affected(pypi, affected)
            assert ranges_only.problems == ()
            for version in affected.versions:
                listed += 1
                inside += ranges_only.evaluate(version).affected
                assert whole.evaluate(version).affected
            for _key, fix in ranges_only.fixes:
                fixes += 1
                fixes_outside += not ranges_only.evaluate(fix).affected
    elapsed = time.perf_counter() - started
    assert listed > 100_000 and fixes > 4_000
    assert listed - inside <= listed // 1000, (listed, inside)
    assert fixes - fixes_outside <= fixes // 1000, (fixes, fixes_outside)
    assert elapsed < 30
