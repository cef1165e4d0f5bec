"""Packagist (Composer): PHP's ``version_compare`` as osv-scalibr implements it, as a sort key.

The rules: drop a leading ``v``/``V``; ``-``, ``_`` and ``+`` separate like ``.``; digits and
letters split apart (``1.0rc1`` is ``1, 0, rc, 1``). Parts compare in turn: numbers as
numbers; words by the special form they start with, ``dev`` (and any unknown word) <
``alpha``/``a`` < ``beta``/``b`` < ``RC``/``rc`` < ``#`` < ``pl``/``p``; a number ranks as
``#`` against a word. When one side runs out, a further number makes the longer side
greater, and a word is weighed against ``#``: ``1.0 < 1.0.0``, ``1.0-dev < 1.0 < 1.0pl1``.

So running out is like being padded with ``#`` for ever: the zero-padding problem of
RubyGems, with ``#`` as the zero. The key uses the same encoding (see ``rubygems``): every
part that is not a ``#`` word becomes a token carrying how many ``#`` words came before it,
and the key ends in a token meaning "``#`` from here on":

- a word below ``#`` after ``r`` of them: ``(0, r, weight)``;
- the end: ``(1,)``;
- a number, or a ``pl``/``p`` word, after ``r`` of them: ``(2, -r, 0, number)`` or
  ``(2, -r, 1, 0)``.

One thing no sort key can copy: ``version_compare`` calls a literal ``#`` part equal to any
number *and* to nothing at all, so ``1.2.3.#`` equals both ``1.2.3`` and ``1.2.3.1``, which
differ. Here a ``#`` word sits just below every number (``1.2.3.# = 1.2.3 < 1.2.3.1``).
Composer never produces such versions; it is PHP's own placeholder for "a number".
"""

from __future__ import annotations

import re

from meshward.ecosystems.base import Ecosystem
from meshward.ecosystems.semver import integer

ComposerToken = tuple[int, int, int] | tuple[int] | tuple[int, int, int, int]
ComposerKey = tuple[ComposerToken, ...]

_SEPARATORS = re.compile(r"[-_+]")
_RUNS = re.compile(r"[0-9]+|[^0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_SPECIAL_FORMS = (("dev", 0), ("a", 1), ("b", 2), ("rc", 3), ("#", 4), ("p", 5))
_HASH = 4
_END: ComposerKey = ((1,),)


def _weight(word: str) -> int:
    if word.startswith("RC"):
        return 3
    return next((weight for form, weight in _SPECIAL_FORMS if word.startswith(form)), 0)


def _parts(version: str) -> list[str]:
    canonical = _SEPARATORS.sub(".", version.removeprefix("v").removeprefix("V"))
    return [run for piece in canonical.split(".") for run in (_RUNS.findall(piece) or [""])]


def composer_key(version: str) -> ComposerKey:
    tokens: list[ComposerToken] = []
    hashes = 0
    for part in _parts(version):
        if _DIGITS.fullmatch(part):
            tokens.append((2, -hashes, 0, integer(part)))
        elif (weight := _weight(part)) == _HASH:
            hashes += 1
            continue
        elif weight > _HASH:
            tokens.append((2, -hashes, 1, 0))
        else:
            tokens.append((0, hashes, weight))
        hashes = 0
    return (*tokens, *_END)


class Packagist(Ecosystem):
    name = "Packagist"
    purl_types = ("composer",)

    def sort_key(self, version: str) -> ComposerKey:
        return composer_key(version)

    def normalize_name(self, name: str) -> str:
        """``vendor/package`` is case-insensitive on Packagist and lower-case in purls."""
        return name.lower()
