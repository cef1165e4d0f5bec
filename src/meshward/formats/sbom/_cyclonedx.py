"""What the CycloneDX JSON and XML readers share: supported versions, the rules for refs,
and the assembly of flattened components and dependency edges into an ``SbomDocument``.

Decisions that hold for both encodings (so JSON and XML of one BOM read the same):

- Components are flattened in document order, ``metadata.component`` (and anything nested
  in it) first, each child right after its parent; ``parent_ref`` keeps the nesting.
  Components inside pedigree, evidence, vulnerabilities or services are not packages.
- A component without ``bom-ref`` gets ``meshward:component:<n>`` (``n`` its position in
  that order), changed only if the document itself uses that string.
- A ``bom-ref`` used twice is an error: the dependency graph would be ambiguous, and
  guessing which component an edge meant would put findings on the wrong package.
  An empty ``bom-ref`` is an error too.
- Dependency edges whose ends are not packages (services, or refs that point nowhere)
  are dropped, since the store only links packages; repeated edges are kept once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

from meshward.errors import InputError
from meshward.formats.sbom.interface import SbomDocument, SbomPackage

SUPPORTED_SPEC_VERSIONS: tuple[str, ...] = ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
XML_NAMESPACE_PREFIX = "http://cyclonedx.org/schema/bom/"
SCOPES = frozenset({"required", "optional", "excluded"})


def unsupported_version(spec_version: str) -> str:
    return (
        f"CycloneDX spec version {spec_version!r} is not supported "
        f"(supported: {', '.join(SUPPORTED_SPEC_VERSIONS)})"
    )


def tool_label(*parts: object) -> str | None:
    """``vendor name version`` from whichever parts are plain strings."""
    label = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return label or None


@dataclass(slots=True)
class DocumentBuilder:
    """Collects packages in flattening order, checks refs, then assembles the document."""

    source: str
    packages: list[SbomPackage] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    declared: dict[str, int] = field(default_factory=dict)
    unnamed: list[int] = field(default_factory=list)
    """Indexes of packages without a bom-ref (they get a synthesised one in ``build``)."""
    children: list[tuple[int, int]] = field(default_factory=list)
    """(child index, parent index) for nested components."""
    edges: list[tuple[str, str]] = field(default_factory=list)
    root_index: int | None = None

    def add(self, package: SbomPackage, declared_ref: str | None, parent: int, place: str) -> int:
        """Add a package whose ``ref`` is still unset; ``parent`` is an index or -1."""
        index = len(self.packages)
        if declared_ref is None:
            self.unnamed.append(index)
        else:
            if not declared_ref or declared_ref in self.declared:
                raise self.ref_error(declared_ref, place)
            self.declared[declared_ref] = index
            package.ref = declared_ref
        if parent >= 0:
            self.children.append((index, parent))
        self.packages.append(package)
        self.places.append(place)
        return index

    def ref_error(self, ref: str, place: str) -> InputError:
        if not ref:
            return InputError(self.source, place, "bom-ref is empty")
        return InputError(
            self.source,
            place,
            f"bom-ref {ref!r} is already used by the component at "
            f"{self.places[self.declared[ref]]}",
        )

    def build(
        self,
        *,
        spec_version: str,
        encoding: str,
        name: str | None,
        serial: str | None,
        created: str | None,
        tools: list[str],
    ) -> SbomDocument:
        declared = self.declared
        packages = self.packages
        for index in self.unnamed:
            ref = f"meshward:component:{index}"
            while ref in declared:
                ref += "_"
            packages[index].ref = ref
        for child, parent in self.children:
            packages[child].parent_ref = packages[parent].ref
        dependencies = list(dict.fromkeys(self.edges))
        if not declared.keys() >= set(chain.from_iterable(dependencies)):
            dependencies = [e for e in dependencies if e[0] in declared and e[1] in declared]
        root_refs = [packages[self.root_index].ref] if self.root_index is not None else []
        return SbomDocument(
            format="CycloneDX",
            spec_version=spec_version,
            encoding=encoding,
            packages=packages,
            dependencies=dependencies,
            root_refs=root_refs,
            name=name,
            serial=serial,
            created=created,
            tools=tools,
        )
