"""What every package ecosystem gives the matcher: a total order of its versions.

Following osv.dev's ``osv/ecosystems``: one module per ecosystem, each a subclass of
``Ecosystem`` whose ``sort_key`` maps a version string to a value that Python orders the
way the ecosystem does. The matcher never special-cases an ecosystem; it only compares keys.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class InvalidVersion(ValueError):
    """A version string that the ecosystem's own rules cannot order."""


class Ecosystem(ABC):
    name: ClassVar[str]
    """OSV ecosystem name, e.g. ``PyPI``, ``npm``, ``Maven``, ``Debian``."""
    purl_types: ClassVar[tuple[str, ...]] = ()
    """purl types that map to this ecosystem (``pypi``; ``deb`` with a distro qualifier ...)."""

    @abstractmethod
    def sort_key(self, version: str) -> Any:
        """A key such that ``sort_key(a) < sort_key(b)`` iff a precedes b in this ecosystem,
        and equal keys iff the versions are equal. Raise ``InvalidVersion`` when the string
        cannot be ordered."""

    def compare(self, a: str, b: str) -> int:
        ka, kb = self.sort_key(a), self.sort_key(b)
        return int(ka > kb) - int(ka < kb)

    def normalize_name(self, name: str) -> str:
        """The package name as the ecosystem compares names (PEP 503 for PyPI, ...)."""
        return name
