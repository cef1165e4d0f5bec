"""Pub (Dart, Flutter): SemVer 2.0 as ``pub_semver``'s ``Version.compareTo`` orders it.

Pub differs from the SemVer spec in one way that matters for ranges: build metadata orders.
A version with a build comes *after* the same version without one (``1.0.0 < 1.0.0+1``), and
builds compare like prerelease identifiers (numbers before text, numerically; a longer list
after its prefix), so ``1.2.3+9 < 1.2.3+10 < 1.2.3+a``. Package names are lower-case.
"""

from __future__ import annotations

from meshward.ecosystems.base import Ecosystem
from meshward.ecosystems.semver import (
    Identifiers,
    PrereleaseKey,
    identifiers_key,
    prerelease_key,
    split_semver,
)

PubKey = tuple[tuple[int, ...], PrereleaseKey, tuple[int, Identifiers]]


class Pub(Ecosystem):
    name = "Pub"
    purl_types = ("pub",)

    def sort_key(self, version: str) -> PubKey:
        release, prerelease, build = split_semver(version)
        build_key = (1, identifiers_key(build)) if build else (0, ())
        return release, prerelease_key(prerelease), build_key

    def normalize_name(self, name: str) -> str:
        return name.lower()
