"""npm: SemVer 2.0 as node-semver orders it.

Build metadata does not order (``semver.compare`` ignores it); a leading ``v`` or ``=`` is
tolerated, as node-semver's ``clean`` and loose parsing do. Names stay as given: the registry
still serves legacy mixed-case names (``JSONStream``) as packages distinct from lower-case
ones, and a scope is part of the name (``@babel/core``).
"""

from __future__ import annotations

from meshward.ecosystems.semver import SemVerEcosystem


class Npm(SemVerEcosystem):
    name = "npm"
    purl_types = ("npm",)
