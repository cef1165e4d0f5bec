"""RPM-based distributions (Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE): rpm's
``epoch:version-release`` order as a sort key.

The string splits as rpm's own ``rpmverParse`` splits it: digits then ``:`` make the epoch
(missing or empty means 0), the text after the last ``-`` that follows them is the release.
Epoch, version and release then compare in turn with ``rpmvercmp``; a missing release sorts
below any release, as ``rpm.ver`` orders them (``1.0 < 1.0-1``).

``rpmvercmp`` (rpm 4.15 and later) walks both strings a segment at a time. Characters that
are not ASCII letters or digits only separate segments, except ``~`` and ``^``. A segment is
a run of digits (compared as a number) or of letters (compared as bytes), and a number beats
letters. ``~`` sorts below anything, even the end of the string (``1.0~rc1 < 1.0``); ``^``
sorts above the end but below any segment (``1.0 < 1.0^git1 < 1.0.1``). When one string runs
out, the other is greater if a segment is left. So each string is a sequence of tokens and
the comparison is lexicographic once the end of the string is a token too, ranked
``~`` < end < ``^`` < letters < number. The key is that sequence.
"""

from __future__ import annotations

import re
from typing import Final

from meshward.ecosystems.base import Ecosystem, InvalidVersion

_TILDE: Final = 0
_END: Final = 1
_CARET: Final = 2
_LETTERS: Final = 3
_NUMBER: Final = 4

_SEGMENTS = re.compile(r"([0-9]+)|([A-Za-z]+)|(~)|(\^)")
_EPOCH = re.compile(r"([0-9]*):")

RpmToken = tuple[int] | tuple[int, str] | tuple[int, int, str]
RpmvercmpKey = tuple[RpmToken, ...]
RpmKey = tuple[RpmvercmpKey, RpmvercmpKey, tuple[()] | tuple[RpmvercmpKey]]
"""(epoch, version, release); the release part is empty when the version has none, which
puts it below every release."""


def rpmvercmp_key(text: str) -> RpmvercmpKey:
    """A key ordered exactly as ``rpmvercmp`` orders strings."""
    tokens: list[RpmToken] = []
    for digits, letters, tilde, _caret in _SEGMENTS.findall(text):
        if digits:
            significant = digits.lstrip("0")
            tokens.append((_NUMBER, len(significant), significant))
        elif letters:
            tokens.append((_LETTERS, letters))
        else:
            tokens.append((_TILDE,) if tilde else (_CARET,))
    tokens.append((_END,))
    return tuple(tokens)


def split_evr(evr: str) -> tuple[str, str, str | None]:
    """(epoch, version, release) as rpm's ``rpmverParse`` splits them."""
    epoch = "0"
    head = _EPOCH.match(evr)
    if head:
        epoch, evr = head.group(1) or "0", evr[head.end() :]
    version, hyphen, release = evr.rpartition("-")
    if not hyphen:
        return epoch, evr, None
    return epoch, version, release


def rpm_key(evr: str) -> RpmKey:
    if not evr.strip():
        raise InvalidVersion("an empty string is not an RPM version")
    epoch, version, release = split_evr(evr)
    return (
        rpmvercmp_key(epoch),
        rpmvercmp_key(version),
        () if release is None else (rpmvercmp_key(release),),
    )


class _Rpm(Ecosystem):
    purl_types = ("rpm",)

    def sort_key(self, version: str) -> RpmKey:
        return rpm_key(version)


class RedHat(_Rpm):
    name = "Red Hat"


class AlmaLinux(_Rpm):
    name = "AlmaLinux"


class RockyLinux(_Rpm):
    name = "Rocky Linux"


class SUSE(_Rpm):
    name = "SUSE"


class OpenSUSE(_Rpm):
    name = "openSUSE"
