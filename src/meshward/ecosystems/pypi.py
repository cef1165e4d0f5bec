"""PyPI: PEP 440 ordering by ``packaging``, with the pre-PEP 440 "legacy" order as a fallback.

``packaging`` is the reference (0 wrong on 961 oracle pairs), so PEP 440 versions are ordered
by ``packaging.version.Version`` itself. ``packaging`` 22 dropped ``LegacyVersion``, but old
releases on PyPI still carry such versions (``0.1-bulbasaur``) and OSV lists them; osv.dev
keeps ordering them (through ``packaging_legacy``), so they are ordered here too, with the
algorithm of ``packaging`` 21: before every PEP 440 version, compared by their padded parts.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name
from packaging.version import Version

from meshward.ecosystems.base import Ecosystem

PyPIKey = tuple[int, Version | tuple[str, ...]]

_LEGACY_PART = re.compile(r"(\d+|[a-z]+|\.|-)")
_LEGACY_SPELLING = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}


def _legacy_parts(version: str) -> tuple[str, ...]:
    """``packaging`` 21's ``_legacy_cmpkey``: numbers zero-padded to compare as text,
    words starred, trailing zeros of each numeric run dropped, pre-release words before
    ``*final``."""
    parts: list[str] = []
    for raw in [*_LEGACY_PART.split(version.lower()), "final"]:
        part = _LEGACY_SPELLING.get(raw, raw)
        if not part or part == ".":
            continue
        if part[:1] in "0123456789":
            parts.append(part.zfill(8))
            continue
        part = "*" + part
        if part < "*final":
            while parts and parts[-1] == "*final-":
                parts.pop()
        while parts and parts[-1] == "00000000":
            parts.pop()
        parts.append(part)
    return tuple(parts)


class PyPI(Ecosystem):
    name = "PyPI"
    purl_types = ("pypi",)

    def sort_key(self, version: str) -> PyPIKey:
        try:
            return 1, Version(version)
        except ValueError:  # packaging's InvalidVersion, or a number too long for int()
            return 0, _legacy_parts(version)

    def normalize_name(self, name: str) -> str:
        """PEP 503: case-insensitive, runs of ``-``, ``_`` and ``.`` are one ``-``."""
        return canonicalize_name(name)
