"""Hex (Erlang/Elixir): SemVer 2.0 precedence, as Elixir's ``Version.compare`` gives it.

Build metadata is ignored when comparing (``Version.compare("1.0.0+a", "1.0.0")`` is
``:eq``). Package names are lower-case on hex.pm and in purls, so case is folded.
"""

from __future__ import annotations

from meshward.ecosystems.semver import SemVerEcosystem


class Hex(SemVerEcosystem):
    name = "Hex"
    purl_types = ("hex",)

    def normalize_name(self, name: str) -> str:
        return name.lower()
