"""Debian and Ubuntu: dpkg's ``[epoch:]upstream[-revision]`` order as a sort key.

The string splits as dpkg's ``parseversion`` splits it: the epoch is the integer before the
first ``:``, the revision follows the last ``-``. Epochs compare as integers, then upstream
and revision each with ``verrevcmp`` (Debian Policy 5.6.12): the string alternates runs of
non-digits and runs of digits, compared pairwise from the left. Non-digit runs compare a
character at a time, where ``~`` sorts before everything (even the end of the run), then the
end of the run, then letters (by ASCII), then every other character (by ASCII, after the
letters). Digit runs compare as numbers; a missing run counts as an empty non-digit run and
the number 0, so ``1.0 < 1.0.0``, ``1.0~rc1 < 1.0`` and a missing revision equals ``-0``.

Encoding: each (non-digit run, number) pair becomes ``(character ranks + (0,), number)``;
the trailing 0 is the end of the run, which makes the tuples compare as dpkg compares runs.
Pairs equal to the padding pair (empty run, 0) at the end are dropped, and the sequence ends
with the padding pair twice: it then meets the other side's leftover pairs as dpkg's padding
would (twice because only the first pair can have an empty run: ``""`` against ``0~``).

Non-ASCII bytes, which dpkg warns about but still compares, rank as dpkg on x86 ranks them
(the signed ``char``'s byte value: after letters and before ASCII punctuation).
"""

from __future__ import annotations

import re
from typing import Final

from meshward.ecosystems.base import Ecosystem, InvalidVersion

_INT_MAX: Final = 2**31 - 1
_RUNS = re.compile(rb"([^0-9]*)([0-9]*)")
_EPOCH = re.compile(r"[+-]?[0-9]+")

Number = tuple[int, bytes]
Pair = tuple[tuple[int, ...], Number]
DpkgPartKey = tuple[Pair, ...]
DpkgKey = tuple[int, DpkgPartKey, DpkgPartKey]

_PADDING: Final[Pair] = ((0,), (0, b""))


def _rank(byte: int) -> int:
    if 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A:
        return byte
    if byte == 0x7E:  # ~
        return -1
    if byte < 0x80:
        return byte + 256
    return byte  # a negative signed char plus 256


def verrevcmp_key(part: str) -> DpkgPartKey:
    """A key ordered exactly as dpkg's ``verrevcmp`` orders upstream versions or revisions."""
    pairs: list[Pair] = []
    data = part.encode("utf-8", "surrogateescape")
    position = 0
    while position < len(data):
        match = _RUNS.match(data, position)
        assert match is not None
        letters, digits = match.groups()
        significant = digits.lstrip(b"0")
        pairs.append(((*map(_rank, letters), 0), (len(significant), significant)))
        position = match.end()
    while pairs and pairs[-1] == _PADDING:
        pairs.pop()
    return (*pairs, _PADDING, _PADDING)


def split_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) as dpkg's ``parseversion`` reads them; raises
    ``InvalidVersion`` where dpkg errors (dpkg only warns about odd characters, and so
    do we not refuse them)."""
    version = version.strip(" \t")
    if not version:
        raise InvalidVersion("version string is empty")
    if " " in version or "\t" in version:
        raise InvalidVersion(f"version string has embedded spaces: {version!r}")
    epoch = 0
    head, colon, rest = version.partition(":")
    if colon:
        if not head:
            raise InvalidVersion(f"epoch in version is empty: {version!r}")
        if not _EPOCH.fullmatch(head):
            raise InvalidVersion(f"epoch in version is not number: {version!r}")
        epoch = int(head)
        if epoch < 0:
            raise InvalidVersion(f"epoch in version is negative: {version!r}")
        if epoch > _INT_MAX:
            raise InvalidVersion(f"epoch in version is too big: {version!r}")
        if not rest:
            raise InvalidVersion(f"nothing after colon in version number: {version!r}")
        version = rest
    upstream, hyphen, revision = version.rpartition("-")
    if not hyphen:
        upstream, revision = version, ""
    elif not revision:
        raise InvalidVersion(f"revision number is empty: {version!r}")
    if not upstream:
        raise InvalidVersion(f"version number is empty: {version!r}")
    return epoch, upstream, revision


def dpkg_key(version: str) -> DpkgKey:
    epoch, upstream, revision = split_version(version)
    return (epoch, verrevcmp_key(upstream), verrevcmp_key(revision))


class Debian(Ecosystem):
    name = "Debian"
    purl_types = ("deb",)

    def sort_key(self, version: str) -> DpkgKey:
        return dpkg_key(version)

    def normalize_name(self, name: str) -> str:
        """Policy allows only lower-case package names; tools sometimes print them otherwise."""
        return name.strip().lower()


class Ubuntu(Debian):
    name = "Ubuntu"
