"""Alpine (apk): apk-tools' version comparison as a sort key.

An apk version is ``digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-r<digits>}``.
apk-tools reads it as a stream of tokens and compares two streams token by token: numbers
as numbers (a dotted part with a leading zero compares as a string, as in Gentoo), the
letter by its character, suffixes by their rank (``_alpha`` < ``_beta`` < ``_pre`` <
``_rc`` < no suffix < ``_cvs`` < ``_svn`` < ``_git`` < ``_hg`` < ``_p``), the commit hash as
a string. At the first place where the two streams hold different *kinds* of token, the
kind decides, as in apk's ``apk_version_compare``: a pre-release suffix is below
everything; otherwise the kind that comes earlier in the grammar wins (a further dotted
number beats a letter, which beats a suffix, ... which beats the end of the string, which
beats garbage). So ``1.0_rc1 < 1.0 < 1.0-r1 < 1.0_p1 < 1.0a < 1.0.1``.

That is plain lexicographic order once every token is ``(rank of its kind, value)`` and the
stream ends in a token for the end (or for the garbage that stopped the parse): the key is
that tuple. Two streams that stop on garbage at the same place are equal, as in apk.

Versions apk-tools 3 rejects but real Alpine data and osv-scalibr's fixtures still order
(apk-tools 2.10, which produced most of the archive, accepted them) are read the lenient way:

- digits straight after the letter continue the version (``6.6.2p1`` is ``6.6.2``, ``p``,
  ``1``; openssh shipped such versions), so ``6.6.2p1 < 6.6.2p2``;
- a dot not followed by digits is an empty part, which sorts below a letter and above the
  garbage (``0.8.21.r2 < 0.8.21r2``, ``0..8 > 0...8``);
- ``-r`` with no digits at the end (or before another ``-``) is revision 0, as apk-tools 2
  reads it; ``-r`` followed by a letter (``1-ruff``) is garbage, as apk-tools 3 reads it;
- a string that does not start with a digit is garbage from the first character, below
  every real version; such strings are ordered among themselves as if a ``0`` preceded
  them (osv-scalibr's choice: ``.1 < .2``, ``a < b``), where apk would call them all equal.

Numbers are Python integers, so huge ones do not wrap round as apk's 64-bit ones would.
"""

from __future__ import annotations

import re
from typing import Final

from meshward.ecosystems.base import Ecosystem, InvalidVersion

# The kinds of token, ranked so that at the first differing kind the higher rank wins.
_INITIAL: Final = 9
_DIGIT: Final = 8
_LETTER: Final = 7
_POST_SUFFIX: Final = 6
_SUFFIX_NUMBER: Final = 5
_HASH: Final = 4
_REVISION: Final = 3
_END: Final = 2
_EMPTY_PART: Final = 1  # lenient: a dot with no digits after it
_GARBAGE: Final = 0
_PRE_SUFFIX: Final = -1

_SUFFIXES: Final = {
    "alpha": -4,
    "beta": -3,
    "pre": -2,
    "rc": -1,
    "cvs": 1,
    "svn": 2,
    "git": 3,
    "hg": 4,
    "p": 5,
}
"""Suffix ranks; no suffix would be 0 (pre-releases below, post-releases above)."""

_DIGITS = re.compile(r"[0-9]*")
_SUFFIX_WORD = re.compile(r"[a-z]*")
_HEX = re.compile(r"[0-9a-f]*")

Number = tuple[int, str]
"""A digit run as ``(length without leading zeros, digits without leading zeros)``: orders
like the number and never hits Python's limit on converting long digit strings."""
ApkToken = tuple[int] | tuple[int, object]
"""``(kind,)`` for the end or garbage, else ``(kind, value)``; values of one kind are of one
type, so only like is compared with like."""
ApkKey = tuple[ApkToken, ...]


def _number(digits: str) -> Number:
    significant = digits.lstrip("0")
    return (len(significant), significant)


def _dotted(digits: str) -> tuple[int, Number | str]:
    """A dotted part: with a leading zero apk compares the raw string (and ``"0..."`` sorts
    below any part starting with 1-9), otherwise the number."""
    if digits.startswith("0"):
        return (0, digits)
    return (1, _number(digits))


def apk_key(version: str) -> ApkKey:
    if not version:
        raise InvalidVersion("an empty string is not an Alpine version")
    initial = _DIGITS.match(version)
    assert initial is not None
    if not initial.group():
        # No leading digit: garbage from the start, ordered among its kind as "0" + version.
        return ((_GARBAGE, apk_key("0" + version)),)
    tokens: list[ApkToken] = [(_INITIAL, _number(initial.group()))]
    kind = _INITIAL
    i, n = initial.end(), len(version)
    while i < n:
        char = version[i]
        if "a" <= char <= "z":
            if kind not in (_INITIAL, _DIGIT, _EMPTY_PART):
                break
            tokens.append((_LETTER, char))
            kind, i = _LETTER, i + 1
        elif char == "." or (char.isascii() and char.isdigit()):
            if char == ".":
                if kind not in (_INITIAL, _DIGIT, _EMPTY_PART):
                    break
                i += 1
            elif kind not in (_INITIAL, _DIGIT, _LETTER, _POST_SUFFIX, _PRE_SUFFIX):
                break
            digits = _DIGITS.match(version, i)
            assert digits is not None
            run = digits.group()
            if kind in (_POST_SUFFIX, _PRE_SUFFIX):
                tokens.append((_SUFFIX_NUMBER, _number(run)))
                kind = _SUFFIX_NUMBER
            elif run:
                tokens.append((_DIGIT, _dotted(run)))
                kind = _DIGIT
            else:
                tokens.append((_EMPTY_PART,))
                kind = _EMPTY_PART
            i = digits.end()
        elif char == "_":
            if kind not in (_INITIAL, _DIGIT, _LETTER, _PRE_SUFFIX, _POST_SUFFIX, _SUFFIX_NUMBER):
                break
            word = _SUFFIX_WORD.match(version, i + 1)
            assert word is not None
            rank = _SUFFIXES.get(word.group())
            if rank is None:
                break
            kind = _PRE_SUFFIX if rank < 0 else _POST_SUFFIX
            tokens.append((kind, rank))
            i = word.end()
        elif char == "~":
            if kind in (_HASH, _REVISION):
                break
            commit = _HEX.match(version, i + 1)
            assert commit is not None
            if not commit.group():
                break
            tokens.append((_HASH, commit.group()))
            kind, i = _HASH, commit.end()
        elif char == "-":
            if kind == _REVISION or not version.startswith("-r", i):
                break
            digits = _DIGITS.match(version, i + 2)
            assert digits is not None
            after = version[digits.end() : digits.end() + 1]
            if not digits.group() and "a" <= after <= "z":
                break  # ``-ruff`` is not a revision
            tokens.append((_REVISION, _number(digits.group())))
            kind, i = _REVISION, digits.end()
        else:
            break
    else:
        tokens.append((_END,))
        return tuple(tokens)
    tokens.append((_GARBAGE,))
    return tuple(tokens)


class Alpine(Ecosystem):
    name = "Alpine"
    purl_types = ("apk",)

    def sort_key(self, version: str) -> ApkKey:
        return apk_key(version)
