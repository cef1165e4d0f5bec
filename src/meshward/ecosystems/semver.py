"""SemVer 2.0 precedence as a sort key, shared by every ecosystem that versions by SemVer.

npm, crates.io, Hex and Go order versions by SemVer 2.0 precedence (semver.org, item 11);
Pub and NuGet add their own twists (build metadata, case, a fourth number) on the same
parse, so one parser keeps them in step.

The parser is lenient on purpose, as osv-scalibr's is: SBOMs and advisories carry ``v1.2.3``,
``1.2`` and ``1.2.3.4``, and refusing them would report those packages "not affected" rather
than order them sensibly. So leading whitespace, ``v`` and ``=`` are ignored (npm's loose
form, Go's ``v``); missing minor and patch numbers count as 0 (Go's ``v1.2`` shorthand) and
numbers past the patch compare in turn; the hyphen before a prerelease may be left out
(``1.2.3beta``, npm loose). Refused: a string that does not start with a number, and
numbers of over 1,000 digits.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from meshward.ecosystems.base import Ecosystem, InvalidVersion

Identifiers = tuple[tuple[int, int | str], ...]
"""Dot-separated identifiers as ``(0, number)`` or ``(1, text)``: numbers before text."""
PrereleaseKey = tuple[int, Identifiers]
SemVerKey = tuple[tuple[int, ...], PrereleaseKey]

_SEMVER = re.compile(r"[v=\s]*([0-9]+(?:\.[0-9]+)*)[-.]?([^+]*)(?:\+(.*))?", re.DOTALL)
_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 1000


def integer(digits: str) -> int:
    """``int`` of an ASCII digit run, refusing hostile lengths as ``InvalidVersion``: Python's
    ``int`` raises a plain ValueError past 4,300 digits, which no caller would expect."""
    if len(digits) > _MAX_DIGITS:
        raise InvalidVersion(f"a {len(digits)}-digit number is not a version component")
    return int(digits)


class SemVerParts(NamedTuple):
    release: tuple[int, ...]
    """The numbers, trailing zeros dropped so that ``1.2`` and ``1.2.0`` are one version."""
    prerelease: str
    build: str


def split_semver(version: str) -> SemVerParts:
    match = _SEMVER.fullmatch(version.strip())
    if match is None:
        raise InvalidVersion(f"{version!r} does not start with a version number")
    release = [integer(number) for number in match[1].split(".")]
    while release and release[-1] == 0:
        release.pop()
    return SemVerParts(tuple(release), match[2], match[3] or "")


def identifiers_key(dotted: str) -> Identifiers:
    """Items 11.4.1-11.4.4: numeric identifiers compare as numbers and before alphanumeric
    ones, which compare in ASCII order; a longer list beats its own prefix (tuple order)."""
    return tuple(
        (0, integer(part)) if _DIGITS.fullmatch(part) else (1, part) for part in dotted.split(".")
    )


def prerelease_key(prerelease: str) -> PrereleaseKey:
    """Item 11.3: a prerelease comes before its release, so the release gets the larger tag."""
    return (0, identifiers_key(prerelease)) if prerelease else (1, ())


def semver_key(version: str) -> SemVerKey:
    """Precedence per item 11; build metadata is ignored (item 10), so ``1.0.0+a`` and
    ``1.0.0+b`` get equal keys, as node-semver, Go and Elixir compare them."""
    release, prerelease, _build = split_semver(version)
    return release, prerelease_key(prerelease)


class SemVerEcosystem(Ecosystem):
    """An ecosystem whose order is plain SemVer 2.0 precedence."""

    def sort_key(self, version: str) -> SemVerKey:
        return semver_key(version)
