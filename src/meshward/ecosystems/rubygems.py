"""RubyGems: ``Gem::Version#<=>`` as a sort key.

Gem's rules: ``-`` means ``.pre.``; the version splits into runs of digits and of letters
(``1.0.a10`` is ``1, 0, "a", 10``); any letters make a prerelease, and text sorts before
every number; the numeric head and the rest each drop trailing zeros (the canonical
segments, so ``1.0.a.2`` = ``1.a.2`` and ``1.0`` = ``1``); then segments compare in turn,
the shorter list padded with zeros.

Padding with zeros is what a plain tuple cannot express: Python puts a prefix first, but
``1.a`` < ``1`` in Gem (``"a"`` meets the padding 0, and text is smaller). So each segment
becomes a token carrying the number of zeros before it, and the key ends in a token standing
for "zeros for ever", which sits between every text token and every number token:

- text after ``r`` zeros: ``(0, r, text)``. Fewer zeros first means the text meets the
  other side's 0 sooner, and text < 0, so fewer zeros sorts lower.
- the end, i.e. zeros from here on: ``(1,)``.
- a positive number after ``r`` zeros: ``(2, -r, number)``; it meets a 0 sooner with fewer
  zeros before it, and wins there, so fewer zeros sorts higher.

Zeros at the very end produce no token, exactly as padding would hide them.
"""

from __future__ import annotations

import re

from meshward.ecosystems.base import Ecosystem, InvalidVersion
from meshward.ecosystems.semver import integer

GemToken = tuple[int, int, str] | tuple[int] | tuple[int, int, int]
GemKey = tuple[GemToken, ...]

# Looser than Gem::Version::ANCHORED_VERSION_PATTERN, which wants a dot before letters:
# ``1beta`` is refused by Gem but accepted by osv-scalibr (and its test data), and it has an
# obvious place in the order (segments ``1, "beta"``), so a number first is all we insist on.
_GEM_VERSION = re.compile(r"[0-9][0-9A-Za-z.-]*")
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")
_END: GemKey = ((1,),)


def _canonical_segments(version: str) -> list[int | str]:
    segments: list[int | str] = [
        integer(s) if s[0].isdigit() else s for s in _SEGMENT.findall(version.replace("-", ".pre."))
    ]
    text_at = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    canonical: list[int | str] = []
    for group in (segments[:text_at], segments[text_at:]):
        while group and group[-1] == 0:
            group.pop()
        canonical += group
    return canonical


def gem_key(version: str) -> GemKey:
    version = version.strip() or "0"  # Gem::Version.new("") is version 0
    if not _GEM_VERSION.fullmatch(version):
        raise InvalidVersion(f"Malformed version number string {version!r}")
    tokens: list[GemToken] = []
    zeros = 0
    for segment in _canonical_segments(version):
        if segment == 0:
            zeros += 1
            continue
        tokens.append((0, zeros, segment) if isinstance(segment, str) else (2, -zeros, segment))
        zeros = 0
    return (*tokens, *_END)


class RubyGems(Ecosystem):
    name = "RubyGems"
    purl_types = ("gem",)

    def sort_key(self, version: str) -> GemKey:
        return gem_key(version)
