"""crates.io: SemVer 2.0 precedence, as Cargo resolves versions.

Build metadata does not order here (SemVer item 10, and osv-scalibr agrees), although the
``semver`` crate breaks ties on it for a stable sort. Names are compared the way crates.io
refuses duplicates: case-insensitively, with ``-`` and ``_`` the same, so ``Foo_bar`` in an
SBOM finds an advisory filed under ``foo-bar``.
"""

from __future__ import annotations

from meshward.ecosystems.semver import SemVerEcosystem


class CratesIo(SemVerEcosystem):
    name = "crates.io"
    purl_types = ("cargo",)

    def normalize_name(self, name: str) -> str:
        return name.lower().replace("_", "-")
