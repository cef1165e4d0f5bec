"""Go modules: SemVer 2.0 as ``golang.org/x/mod/semver`` compares it.

Nothing Go-specific is needed beyond the shared key, and that is the point of using it:

- pseudo-versions (``v0.0.0-20191109021931-daa7c04131f5``, ``v1.2.4-0.2020...``) are ordinary
  prereleases, and their fixed-width timestamps make ASCII order chronological;
- ``+incompatible`` is build metadata, which Go ignores when comparing;
- OSV writes Go versions without the ``v`` (``1.2.3``); both spellings are one version, and
  ``v1.2`` is Go's shorthand for ``v1.2.0``.

Module paths are case-sensitive (the proxy escapes capitals), so names stay as given.
"""

from __future__ import annotations

from meshward.ecosystems.semver import SemVerEcosystem


class Go(SemVerEcosystem):
    name = "Go"
    purl_types = ("golang",)
