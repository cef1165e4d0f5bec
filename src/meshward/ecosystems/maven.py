"""Maven: ``org.apache.maven.artifact.versioning.ComparableVersion`` (Maven 3.8.7) as a sort key.

Parsing, as ``ComparableVersion.parseVersion`` does it on the lower-cased string:

- ``.`` ends an item; ``-`` ends an item and opens a sub-list that holds the rest of the
  version; a switch between digits and letters also ends an item and opens a sub-list
  (``1.0alpha1`` is ``1, 0, [alpha, [1]]``). A qualifier after a dot at the end, or before
  digits, goes into a sub-list of its own too (MNG-7644: ``1.0.0.RC1`` reads as
  ``1.0.0-RC1``). An empty item (``1..2``, ``1-.2``) is 0.
- Numbers are numbers (any size). Qualifiers: ``a``/``b``/``m`` right before a digit mean
  ``alpha``/``beta``/``milestone``; ``ga``, ``final`` and ``release`` mean the empty
  qualifier; ``cr`` means ``rc``. Known ones rank ``alpha < beta < milestone < rc <
  snapshot < "" < sp``; any other qualifier ranks above them all, alphabetically.
- Each list then drops its trailing "null" items (0, ``""``, empty lists), looking past
  trailing sub-lists: ``1.0.0`` = ``1``, ``1.0-1`` = ``1-1``, ``1-ga-1`` = ``1-[[1]]``.

Comparing: item by item; a qualifier < a sub-list < a number; a list that runs out is padded
with "null", which equals 0 and ``""``, is above the pre-release qualifiers and below every
other item, and against a sub-list looks inside it.

Because every sub-list is the last item of its parent, a parsed version is one flat run of
symbols (numbers, qualifiers, "sub-list starts here"), and ``compareTo`` is lexicographic
over the two runs except at the end, where the longer run is judged by its first symbol that
is not null-like (its *sign* against null). The key therefore groups each run of null-like
symbols (0, ``""``, sub-list starts) with the symbol after it, which has a sign, and ranks a
group by that sign first: ``(-1, symbols)`` < end of version ``(0,)`` < ``(1, symbols)``.

That ranking is where the key must part from ``ComparableVersion``, whose ``compareTo`` is
not transitive: ``1.0.alpha.1`` > ``1-1`` (0 beats a sub-list), yet ``1.0.alpha.1`` < ``1``
< ``1-1``. No sort key can copy a cycle; this one keeps every comparison against a shorter
version (the padding rule, which ranges and "fixed in" versions depend on) and orders only
such cyclic triples differently. Cycles need a qualifier kept inline by a dotted item after
it (``1.0.alpha.1``) or a null-like part in the middle (``1-ga-alpha``); on 300,000 random
pairs of the 12,000 distinct versions in the Maven fixtures, key and ``compareTo`` agree.
"""

from __future__ import annotations

import re
from typing import Final

from meshward.ecosystems.base import Ecosystem, InvalidVersion

_QUALIFIERS: Final = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_RELEASE: Final = _QUALIFIERS.index("")
_ALIASES: Final = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT_BEFORE_DIGIT: Final = {"a": "alpha", "b": "beta", "m": "milestone"}

# Symbols of the flat run: (kind, value). Qualifier < sub-list < number.
_QUALIFIER: Final = 0
_SUBLIST: Final = 1
_NUMBER: Final = 2

Symbol = tuple[int, int, str]
"""``(_QUALIFIER, rank, unknown qualifier's text)``, ``(_SUBLIST, 0, "")`` or
``(_NUMBER, digit count, digits)``."""
Group = tuple[int, tuple[Symbol, ...]] | tuple[int]
MavenKey = tuple[Group, ...]

_END: Final[Group] = (0,)
_SUBLIST_STARTS: Final[Symbol] = (_SUBLIST, 0, "")

Item = Symbol | list["Item"]


def _is_digit(char: str) -> bool:
    """``Character.isDigit`` on a UTF-16 unit: a Unicode decimal digit in the BMP."""
    return char.isdecimal() and ord(char) <= 0xFFFF


def _number(digits: str) -> Symbol:
    if not digits.isascii():  # Character.isDigit takes any Unicode decimal digit
        digits = "".join(str(int(d)) for d in digits)
    significant = digits.lstrip("0")
    return (_NUMBER, len(significant), significant)


def _qualifier(text: str, followed_by_digit: bool) -> Symbol:
    if followed_by_digit and len(text) == 1:
        text = _SHORT_BEFORE_DIGIT.get(text, text)
    text = _ALIASES.get(text, text)
    if text in _QUALIFIERS:
        return (_QUALIFIER, _QUALIFIERS.index(text), "")
    # Unknown qualifiers: after the known ones, by Java's String order (UTF-16 code units).
    return (_QUALIFIER, len(_QUALIFIERS), _utf16_units(text))


def _utf16_units(text: str) -> str:
    """``text`` with characters beyond the BMP split into surrogates, so that Python's
    code-point order is Java's code-unit order."""
    if all(ord(char) <= 0xFFFF for char in text):
        return text
    data = text.encode("utf-16-be", "surrogatepass")
    return "".join(chr(int.from_bytes(data[i : i + 2], "big")) for i in range(0, len(data), 2))


def _item(is_digit: bool, text: str) -> Symbol:
    return _number(text) if is_digit else _qualifier(text, False)


def _is_null(item: Item) -> bool:
    if isinstance(item, list):
        return not item
    if item[0] == _NUMBER:
        return item[1] == 0
    return item[0] == _QUALIFIER and item[1] == _RELEASE


def _normalize(items: list[Item]) -> None:
    for index in range(len(items) - 1, -1, -1):
        if _is_null(items[index]):
            del items[index]
        elif not isinstance(items[index], list):
            break


_ASCII_RUNS = re.compile(r"[0-9]+|[.-]|[^0-9.-]+")


def _runs(version: str) -> list[tuple[int, str]]:
    """``version`` cut into runs of digits, single separators and runs of anything else,
    each with where it starts. ``parseVersion`` acts only where the kind of character
    changes, so walking runs does what walking characters does, a regex at a time."""
    if version.isascii():
        return [(match.start(), match.group()) for match in _ASCII_RUNS.finditer(version)]
    return _runs_by_character(version)


def _runs_by_character(version: str) -> list[tuple[int, str]]:
    runs: list[tuple[int, str]] = []
    previous = ""
    for index, char in enumerate(version):
        kind = "." if char in ".-" else "0" if _is_digit(char) else "a"
        if kind == previous != ".":
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((index, char))
        previous = kind
    return runs


def parse(version: str) -> list[Item]:
    """The item tree of ``ComparableVersion.parseVersion`` (3.8.7)."""
    version = version.lower()
    root: list[Item] = []
    current = root
    stack = [root]

    def open_sublist() -> None:
        nonlocal current
        sublist: list[Item] = []
        current.append(sublist)
        current = sublist
        stack.append(sublist)

    is_digit = False
    start = 0
    for index, run in _runs(version):
        if run in (".", "-"):
            if index == start:
                current.append(_number("0"))
            else:
                current.append(_item(is_digit, version[start:index]))
            start = index + 1
            if run == "-":
                open_sublist()
        elif _is_digit(run[0]):
            if not is_digit and index > start:
                if current:  # 1.0.0.X1 < 1.0.0-X2: treat .X as -X
                    open_sublist()
                current.append(_qualifier(version[start:index], True))
                start = index
                open_sublist()
            is_digit = True
        else:
            if is_digit and index > start:
                current.append(_number(version[start:index]))
                start = index
                open_sublist()
            is_digit = False
    if len(version) > start:
        if not is_digit and current:  # 1.0.0.X1 < 1.0.0-X2: treat .X as -X
            open_sublist()
        current.append(_item(is_digit, version[start:]))
    for items in reversed(stack):
        _normalize(items)
    return root


def _flatten(items: list[Item]) -> list[Symbol]:
    symbols: list[Symbol] = []
    while True:
        tail: list[Item] | None = None
        for item in items:
            if isinstance(item, list):
                tail = item  # always the last item
            else:
                symbols.append(item)
        if tail is None:
            return symbols
        symbols.append(_SUBLIST_STARTS)
        items = tail


def _sign(symbol: Symbol) -> int:
    """The symbol against the padding "null": -1, 0 (null-like) or 1."""
    if symbol[0] == _NUMBER:
        return 1 if symbol[1] else 0
    if symbol[0] == _QUALIFIER:
        return (symbol[1] > _RELEASE) - (symbol[1] < _RELEASE)
    return 0


def maven_key(version: str) -> MavenKey:
    if not version.strip():
        raise InvalidVersion("an empty string is not a Maven version")
    groups: list[Group] = []
    pending: list[Symbol] = []
    for symbol in _flatten(parse(version)):
        pending.append(symbol)
        if sign := _sign(symbol):
            groups.append((sign, tuple(pending)))
            pending = []
    # Normalisation leaves nothing null-like at the very end.
    assert not pending, version
    return (*groups, _END)


class Maven(Ecosystem):
    name = "Maven"
    purl_types = ("maven",)

    def sort_key(self, version: str) -> MavenKey:
        return maven_key(version)

    def normalize_name(self, name: str) -> str:
        """``group:artifact``; a purl-style ``group/artifact`` is accepted too. Case is kept:
        Maven coordinates are case-sensitive."""
        name = name.strip()
        if ":" not in name and name.count("/") == 1:
            name = name.replace("/", ":")
        return name
