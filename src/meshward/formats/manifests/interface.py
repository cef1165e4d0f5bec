"""What every manifest or lockfile reader gives the SBOM builder.

Teams without an SBOM generator still have lockfiles and build manifests. Each reader turns
one such file into packages with canonical purls, the edges the file records and which
packages the project requires itself; ``registry.sbom_from_manifests`` merges the results
into one ``SbomDocument``. Readers only parse and normalise; they never touch the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from meshward.formats.sbom.interface import SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits


@dataclass(slots=True)
class ManifestResult:
    """What one manifest says about the project it belongs to."""

    packages: list[SbomPackage] = field(default_factory=list)
    """Each package once (refs are unique); a package the file names without a usable
    version (a range, a path, an unresolved property) has ``version=None`` and a purl
    without version, so it is reported but never matched against advisories."""
    dependencies: list[tuple[str, str]] = field(default_factory=list)
    """Edges between package refs, (dependent, dependency), where the format records them."""
    direct_refs: list[str] | None = None
    """Refs the project itself requires. ``None`` when the format cannot tell: the registry
    then treats every package that no other package of this file depends on as direct."""
    subject: SbomPackage | None = None
    """The project the file describes, when it names one (go.mod module, pom artifact,
    package-lock name). It is not one of ``packages``."""


class ManifestReader(ABC):
    """One manifest or lockfile format. Registered in ``formats.manifests.registry``."""

    name: ClassVar[str]
    """Short format name, e.g. ``requirements``, ``package-lock``; joined into the
    document's ``encoding``."""

    @abstractmethod
    def matches(self, path: Path) -> bool:
        """True when the file name says the file is ours. Must not read the file."""

    @abstractmethod
    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        """Parse one file.

        ``source`` is the file's path (posix separators); ``siblings`` maps the paths of the
        other files the reader may consult (a ``-r`` include, go.sum beside go.mod,
        package.json beside a lockfile, Directory.Packages.props above a csproj), in the
        same namespace as ``source``, to their bytes; a missing key means "not available".
        Raise ``meshward.errors.InputError(source, place, message)`` for anything malformed,
        never any other exception."""
