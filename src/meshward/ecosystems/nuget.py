"""NuGet: ``NuGetVersion`` ordering, as NuGet's ``VersionComparer`` applies it.

Differences from plain SemVer that this key carries:

- up to four numbers (``1.0.0.1``), missing ones counting as 0, so ``1.0`` = ``1.0.0.0``,
  and leading zeros are only numbers (``1.0.01`` = ``1.0.1``);
- prerelease labels compare case-insensitively (``1.0.0-BETA`` = ``1.0.0-beta``), with
  numeric labels numerically and before text, as in SemVer 2;
- build metadata never orders.

Package ids are case-insensitive on nuget.org, so names fold to lower case.
"""

from __future__ import annotations

from meshward.ecosystems.semver import SemVerEcosystem, SemVerKey, prerelease_key, split_semver


class NuGet(SemVerEcosystem):
    name = "NuGet"
    purl_types = ("nuget",)

    def sort_key(self, version: str) -> SemVerKey:
        release, prerelease, _build = split_semver(version)
        # OrdinalIgnoreCase compares upper-cased characters; upper() does the same.
        return release, prerelease_key(prerelease.upper())

    def normalize_name(self, name: str) -> str:
        return name.lower()
