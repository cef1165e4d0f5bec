"""Whether one package version falls inside an OSV ``affected`` entry, and which fix clears it.

This is the OSV schema's own evaluation pseudo-code (``IsVulnerable`` / ``IncludedInRanges`` /
``BeforeLimits``) applied to the ordering an ``Ecosystem`` gives, with nothing ecosystem-specific
in it. Three choices the pseudo-code leaves open are settled here, each for a stated reason:

- Events are sorted by version with a *stable* sort, ``introduced: "0"`` first. At equal
  versions the record's own order wins, so ``introduced X, fixed X`` (an empty range) matches
  nothing, while ``fixed 2, introduced 2`` (two ranges touching end to start) still joins up.
  Putting either kind first at ties breaks one of the two.
- A range whose bounds the ecosystem cannot order is skipped and named in ``problems``: a
  guessed bound would only turn a data error into a silent wrong answer.
- The ``versions`` list is compared as the pseudo-code does (string equality) and, when both
  sides parse, by ecosystem equality too (``1.0`` is ``1.0.0`` in PyPI).

For matching at scale, compile an entry once with ``compile_affected`` and evaluate every
distinct version of the package against it; the sort keys of the bounds are computed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from meshward.ecosystems.base import Ecosystem

ORDERED_RANGE_TYPES = frozenset({"SEMVER", "ECOSYSTEM"})
"""Range types whose bounds are package versions. ``GIT`` bounds are commits: they need the
repository's history and say nothing about a package version."""


class EventLike(Protocol):
    @property
    def kind(self) -> str:
        """``introduced``, ``fixed``, ``last_affected`` or ``limit``."""

    @property
    def version(self) -> str: ...


class RangeLike(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def events(self) -> Sequence[EventLike]: ...


@runtime_checkable
class AffectedLike(Protocol):
    """What the evaluation reads of an OSV ``affected[]`` entry (``meshward.formats.osv.Affected``
    fits; kept structural so the ordering core does not depend on a format adapter)."""

    @property
    def versions(self) -> Sequence[str]: ...

    @property
    def ranges(self) -> Sequence[RangeLike]: ...


class Verdict(StrEnum):
    LISTED = "listed"
    """The version is in the entry's explicit ``versions`` list."""
    IN_RANGE = "in-range"
    """The version lies inside a SEMVER or ECOSYSTEM range."""
    NOT_AFFECTED = "not-affected"
    INVALID_VERSION = "invalid-version"
    """The installed version cannot be ordered in its ecosystem, so no range can hold it.
    Counted as not affected, but worth showing: the package may need a manual look."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    affected: bool
    verdict: Verdict
    detail: str
    """One line for a person: which list entry or range matched, or why nothing could."""
    problems: tuple[str, ...] = ()
    """Ranges of the advisory that could not be evaluated (unorderable bounds, unknown type)."""


_ZERO = "0"


@lru_cache(maxsize=1 << 18)
def cached_key(ecosystem: Ecosystem, version: str) -> Any:
    """``ecosystem.sort_key`` memoised: advisories of one package repeat the same versions
    (every Django record lists Django's releases), so each string is parsed once."""
    return ecosystem.sort_key(version)


# ``Ecosystem.sort_key`` raises ``InvalidVersion``, a ``ValueError``; catching the base class
# also covers an ordering module that lets its parser's own ValueError through.


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str
    version: str
    key: Any
    """Ecosystem sort key; None for ``introduced: "0"`` (before everything)."""


@dataclass(frozen=True, slots=True)
class _CompiledRange:
    index: int
    events: tuple[_Event, ...]
    """Sorted, limits removed."""
    limits: tuple[Any, ...] | None
    """Sort keys of ``limit`` events; None when the range has none (implicit ``*``).
    A key of None stands for ``*`` (infinity)."""

    def contains(self, key: Any) -> bool:
        if self.limits is not None and not any(
            limit is None or key < limit for limit in self.limits
        ):
            return False
        vulnerable = False
        for event in self.events:
            if event.kind == "introduced":
                if event.key is None or key >= event.key:
                    vulnerable = True
            elif event.kind == "fixed":
                if key >= event.key:
                    vulnerable = False
            elif event.kind == "last_affected" and key > event.key:
                vulnerable = False
        return vulnerable

    def describe(self) -> str:
        return f"range {self.index}: " + ", ".join(f"{e.kind} {e.version}" for e in self.events)


class CompiledAffected:
    """One ``affected[]`` entry with every bound already turned into a sort key."""

    __slots__ = ("_ecosystem", "_listed", "_listed_keys", "fixes", "problems", "ranges")

    def __init__(self, ecosystem: Ecosystem, affected: AffectedLike) -> None:
        self._ecosystem = ecosystem
        self._listed = frozenset(affected.versions)
        listed_keys: list[Any] = []
        for listed in affected.versions:
            try:
                listed_keys.append(cached_key(ecosystem, listed))
            except ValueError:
                continue  # still matched by string equality
        self._listed_keys: frozenset[Any] | list[Any]
        try:
            self._listed_keys = frozenset(listed_keys)
        except TypeError:  # an ecosystem with unhashable keys: compare one by one
            self._listed_keys = listed_keys
        problems: list[str] = []
        ranges: list[_CompiledRange] = []
        fixes: list[tuple[Any, str]] = []
        for index, osv_range in enumerate(affected.ranges):
            if osv_range.type not in ORDERED_RANGE_TYPES:
                if osv_range.type != "GIT":
                    problems.append(f"range {index}: unknown range type {osv_range.type!r}")
                continue
            compiled = _compile_range(ecosystem, index, osv_range, problems)
            if compiled is not None:
                ranges.append(compiled)
                fixes.extend((e.key, e.version) for e in compiled.events if e.kind == "fixed")
        self.ranges = tuple(ranges)
        self.problems = tuple(problems)
        self.fixes = tuple(fixes)
        """(sort key, version) of every ``fixed`` bound of the ordered ranges."""

    def evaluate(self, version: str) -> Evaluation:
        key: Any = None
        invalid: str | None = None
        try:
            key = cached_key(self._ecosystem, version)
        except ValueError as exc:
            invalid = str(exc) or "cannot be ordered"
        if version in self._listed or (invalid is None and self._is_listed_key(key)):
            return Evaluation(True, Verdict.LISTED, f"{version} is listed", self.problems)
        if invalid is not None:
            return Evaluation(
                False,
                Verdict.INVALID_VERSION,
                f"{version!r} is not a valid {self._ecosystem.name} version: {invalid}",
                self.problems,
            )
        return self.evaluate_key(key, version)

    def _is_listed_key(self, key: Any) -> bool:
        if not self._listed_keys:
            return False
        try:
            return key in self._listed_keys
        except TypeError:
            return any(key == listed for listed in self._listed_keys)

    def evaluate_key(self, key: Any, version: str) -> Evaluation:
        """Ranges only (the ``versions`` list is not consulted): for callers that already hold
        the installed version's sort key."""
        for compiled in self.ranges:
            if compiled.contains(key):
                return Evaluation(True, Verdict.IN_RANGE, compiled.describe(), self.problems)
        return Evaluation(False, Verdict.NOT_AFFECTED, f"{version} is in no range", self.problems)


def _compile_range(
    ecosystem: Ecosystem, index: int, osv_range: RangeLike, problems: list[str]
) -> _CompiledRange | None:
    events: list[_Event] = []
    limits: list[Any] = []
    has_limit = False
    for event in osv_range.events:
        if event.kind == "limit":
            has_limit = True
            if "*" in event.version:
                limits.append(None)
                continue
        if event.kind == "introduced" and event.version == _ZERO:
            events.append(_Event(event.kind, event.version, None))
            continue
        try:
            key = cached_key(ecosystem, event.version)
        except ValueError as exc:
            problems.append(
                f"range {index}: {event.kind} {event.version!r} is not a valid "
                f"{ecosystem.name} version ({exc}); range skipped"
            )
            return None
        if event.kind == "limit":
            limits.append(key)
        elif event.kind in ("introduced", "fixed", "last_affected"):
            events.append(_Event(event.kind, event.version, key))
        else:
            problems.append(f"range {index}: unknown event {event.kind!r} ignored")
    zero = [e for e in events if e.key is None]
    rest = sorted((e for e in events if e.key is not None), key=lambda e: e.key)
    return _CompiledRange(index, tuple(zero + rest), tuple(limits) if has_limit else None)


def compile_affected(ecosystem: Ecosystem, affected: AffectedLike) -> CompiledAffected:
    return CompiledAffected(ecosystem, affected)


def evaluate(ecosystem: Ecosystem, version: str, affected: AffectedLike) -> Evaluation:
    """Like ``is_affected``, with the reason (and any trouble with the advisory's data)."""
    return CompiledAffected(ecosystem, affected).evaluate(version)


def is_affected(ecosystem: Ecosystem, version: str, affected: AffectedLike) -> bool:
    """OSV ``IsVulnerable`` for one entry whose package the caller has already matched.
    A version the ecosystem cannot order is not affected unless it is listed verbatim."""
    return CompiledAffected(ecosystem, affected).evaluate(version).affected


def smallest_fix(
    ecosystem: Ecosystem,
    version: str,
    affected: AffectedLike | Iterable[AffectedLike],
) -> str | None:
    """The smallest ``fixed`` version above ``version`` that no given entry still covers.

    Pass every entry of one advisory for the package (distro feeds split one package over
    several entries, one per module stream); a fix must clear them all. None when ``version``
    is not affected, cannot be ordered, or no recorded fix clears it (e.g. only
    ``last_affected`` is known, or a later range reopens every fix).
    """
    entries = [affected] if isinstance(affected, AffectedLike) else list(affected)
    return smallest_fix_compiled(
        ecosystem, version, [CompiledAffected(ecosystem, entry) for entry in entries]
    )


def smallest_fix_compiled(
    ecosystem: Ecosystem, version: str, compiled: Sequence[CompiledAffected]
) -> str | None:
    """``smallest_fix`` over entries already compiled (the matcher compiles each once)."""
    if not any(c.evaluate(version).affected for c in compiled):
        return None
    try:
        key = cached_key(ecosystem, version)
    except ValueError:
        return None
    candidates = sorted(
        ((fix_key, fix) for c in compiled for fix_key, fix in c.fixes if fix_key > key),
        key=lambda pair: pair[0],
    )
    for _fix_key, fix in candidates:
        if not any(c.evaluate(fix).affected for c in compiled):
            return fix
    return None
