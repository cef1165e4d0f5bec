"""The normalised bill of materials every SBOM reader (and manifest reader) produces.

Readers only parse and normalise; they never touch the database. The store turns a
``SbomDocument`` into packages, occurrences and dependency edges.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from meshward.limits import DEFAULT_LIMITS, Limits


@dataclass(slots=True)
class SbomPackage:
    """One package (component) of a document, flattened out of any nesting."""

    ref: str
    """Identifier unique inside the document (CycloneDX bom-ref, SPDXID, or a synthesised one)."""
    name: str
    version: str | None = None
    purl: str | None = None
    """Canonical purl string (normalised with packageurl-python), or None when absent."""
    cpe: str | None = None
    licenses: list[str] = field(default_factory=list)
    """SPDX licence ids or expressions, as declared (``MIT``, ``Apache-2.0 OR MIT``);
    free-text names are kept as they are."""
    hashes: dict[str, str] = field(default_factory=dict)
    """Algorithm (upper-case, e.g. ``SHA-256``) to lower-case hex digest."""
    scope: str | None = None
    """``required``, ``optional``, ``excluded`` (CycloneDX) or None."""
    supplier: str | None = None
    type: str | None = None
    """``library``, ``application``, ``framework``, ``container``, ``operating-system``, ..."""
    group: str | None = None
    parent_ref: str | None = None
    """Ref of the component this one was nested in, if any (nesting is flattened)."""


@dataclass(slots=True)
class SbomDocument:
    format: str
    """``CycloneDX`` or ``SPDX``."""
    spec_version: str
    """``1.6``, ``2.3``, ``3.0`` ..."""
    encoding: str
    """``json``, ``xml``, ``tag-value`` or ``json-ld``."""
    packages: list[SbomPackage]
    dependencies: list[tuple[str, str]] = field(default_factory=list)
    """Edges (dependent ref, dependency ref): "first depends on second"."""
    root_refs: list[str] = field(default_factory=list)
    """The described subject(s): CycloneDX metadata.component, SPDX documentDescribes /
    DESCRIBES relationships. Packages they depend on directly are "direct"."""
    name: str | None = None
    serial: str | None = None
    created: str | None = None
    tools: list[str] = field(default_factory=list)


class SbomReader(ABC):
    """One outside SBOM format (and encoding). Registered in ``formats.sbom.registry``."""

    format: str
    encoding: str

    @abstractmethod
    def sniff(self, head: bytes) -> bool:
        """True when the first bytes (up to 64 KiB, BOM and whitespace kept) look like ours.

        Must be cheap and must not raise."""

    @abstractmethod
    def read(self, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
        """Parse a whole document. Raise ``meshward.errors.InputError(source, place, msg)``
        for anything malformed, oversized or hostile; never any other exception."""
