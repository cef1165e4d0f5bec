"""Build one SBOM for a component from its lockfiles and manifests.

``sbom_from_manifests`` walks the given files and directories, lets every reader that
recognises a file name read it, and merges what they say: packages deduplicated by purl
(a package known only without version is dropped when the same package is known with
one), the edges the formats record, and a root package for the component that depends on
every direct dependency. The result is an ordinary ``SbomDocument`` (``format="manifest"``)
that the store ingests and the CycloneDX writer exports like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from packageurl import PackageURL

from meshward.errors import InputError
from meshward.formats.manifests.csproj import CsprojReader
from meshward.formats.manifests.gomod import GoModReader
from meshward.formats.manifests.gradle import GradleReader
from meshward.formats.manifests.gradle_lockfile import GradleLockfileReader
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.package_json import PackageJsonReader
from meshward.formats.manifests.package_lock import PackageLockReader
from meshward.formats.manifests.poetry_lock import PoetryLockReader
from meshward.formats.manifests.pom import PomReader
from meshward.formats.manifests.requirements import RequirementsReader
from meshward.formats.manifests.support import make_purl, stronger_scope
from meshward.formats.manifests.uv_lock import UvLockReader
from meshward.formats.manifests.yarn_lock import YarnLockReader
from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.limits import DEFAULT_LIMITS, Limits

READERS: tuple[ManifestReader, ...] = (
    RequirementsReader(),
    PoetryLockReader(),
    UvLockReader(),
    PackageLockReader(),
    YarnLockReader(),
    PackageJsonReader(),
    GoModReader(),
    PomReader(),
    GradleReader(),
    GradleLockfileReader(),
    CsprojReader(),
)
"""Every manifest reader; adding a format is one module and one line here."""

SKIPPED_DIRECTORIES = frozenset({"node_modules", "vendor", "venv", "__pycache__", "bin", "obj"})
"""Installed or built copies of dependencies, not the project's own manifests (hidden
directories such as .git and .venv are skipped too)."""


def reader_for(path: Path) -> ManifestReader | None:
    for reader in READERS:
        if reader.matches(path):
            return reader
    return None


def sbom_from_manifests(
    paths: list[Path], name: str, version: str, limits: Limits = DEFAULT_LIMITS
) -> SbomDocument:
    """One SBOM for component ``name`` at ``version`` from the manifests under ``paths``.

    Raises ``InputError`` for a missing path, a file no reader knows, or a malformed
    manifest (naming the file and the line or place)."""
    manifests: list[tuple[Path, ManifestReader]] = []
    allowed_roots: list[Path] = []
    allowed_files: set[Path] = set()
    for given in paths:
        if given.is_dir():
            allowed_roots.append(given)
            manifests.extend(_walk(given))
        elif given.is_file():
            reader = reader_for(given)
            if reader is None:
                raise InputError(str(given), None, "no manifest reader knows this file name")
            manifests.append((given, reader))
            allowed_files.add(Path(os.path.normpath(given)))
            allowed_roots.append(given.parent)  # go.sum, package.json ... beside it
        else:
            raise InputError(str(given), None, "no such file or directory")
    siblings = _Siblings(allowed_roots, limits)
    results: list[tuple[str, ManifestResult]] = []
    seen: set[Path] = set()
    for path, reader in manifests:
        key = Path(os.path.normpath(path))
        if key in seen:
            continue
        seen.add(key)
        source = key.as_posix()
        data = siblings.load(source)
        results.append((reader.name, reader.read(data, source, siblings, limits)))
    return merge_results(results, name, version)


def _walk(root: Path) -> Iterator[tuple[Path, ManifestReader]]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIPPED_DIRECTORIES and not d.startswith(".")
        )
        for file_name in sorted(filenames):
            path = Path(directory) / file_name
            reader = reader_for(path)
            if reader is not None and path.is_file():
                yield path, reader


class _Siblings(Mapping[str, bytes]):
    """Files a reader may consult, read on first use: anything under a given directory
    (or beside a given file), outside skipped directories; nothing else on the disk."""

    def __init__(self, roots: list[Path], limits: Limits) -> None:
        self._roots = [Path(os.path.realpath(r)) for r in roots]
        self._limits = limits
        self._cache: dict[str, bytes] = {}

    def _allowed(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        for root in self._roots:
            try:
                inside = real.relative_to(root)
            except ValueError:
                continue
            parts = inside.parts[:-1]
            if not any(p in SKIPPED_DIRECTORIES or p.startswith(".") for p in parts):
                return True
        return False

    def load(self, key: str) -> bytes:
        try:
            return self[key]
        except KeyError:
            raise InputError(key, None, "cannot be read") from None

    def __getitem__(self, key: str) -> bytes:
        if key in self._cache:
            return self._cache[key]
        path = Path(key)
        if not self._allowed(path) or not path.is_file():
            raise KeyError(key)
        size = path.stat().st_size
        if size > self._limits.max_bytes:
            raise InputError(
                key,
                None,
                f"file is {size:,} bytes, larger than the limit of {self._limits.max_bytes:,}",
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(key, None, f"cannot be read: {exc.strerror}") from None
        self._cache[key] = data
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)


def merge_results(
    results: list[tuple[str, ManifestResult]], name: str, version: str
) -> SbomDocument:
    """Merge what each file said into one document with a root for the component."""
    root = SbomPackage(
        ref=f"component:{name}@{version}", name=name, version=version, type="application"
    )
    packages: dict[str, SbomPackage] = {}
    edges: dict[tuple[str, str], None] = {}
    direct: dict[str, None] = {}
    subjects: set[tuple[str, str | None, str]] = set()
    contributors: set[str] = set()
    anonymous = False
    for reader_name, result in results:
        for package in result.packages:
            existing = packages.get(package.ref)
            if existing is None:
                packages[package.ref] = SbomPackage(
                    ref=package.ref,
                    name=package.name,
                    version=package.version,
                    purl=package.purl,
                    hashes=dict(package.hashes),
                    scope=package.scope,
                    type=package.type,
                    group=package.group,
                )
            else:
                existing.scope = stronger_scope(existing.scope, package.scope)
                for alg, digest in package.hashes.items():
                    existing.hashes.setdefault(alg, digest)
        for edge in result.dependencies:
            edges[edge] = None
        refs = {p.ref for p in result.packages}
        declared = result.direct_refs
        if declared is None or (not declared and refs):
            dependents = {child for _, child in result.dependencies}
            declared = [p.ref for p in result.packages if p.ref not in dependents]
        for ref in declared:
            if ref in refs:
                direct[ref] = None
        if result.packages or result.subject is not None:
            contributors.add(reader_name)
            if result.subject is not None and result.subject.purl:
                parsed = PackageURL.from_string(result.subject.purl)
                subjects.add((parsed.type, parsed.namespace, parsed.name))
            else:
                anonymous = True
    _drop_versionless(packages, edges, direct)
    if len(subjects) == 1 and not anonymous:
        # Every file names the same project: the component gets its purl.
        type_, namespace, subject_name = next(iter(subjects))
        purl = make_purl(type_, subject_name, version, namespace)
        if purl and purl not in packages:
            root.purl = purl
    for ref in direct:
        edges[(root.ref, ref)] = None
    return SbomDocument(
        format="manifest",
        spec_version="",
        encoding=",".join(sorted(contributors)),
        packages=[root, *packages.values()],
        dependencies=[(a, b) for a, b in edges if a != b],
        root_refs=[root.ref],
        name=name,
        tools=["meshward manifests"],
    )


def _drop_versionless(
    packages: dict[str, SbomPackage],
    edges: dict[tuple[str, str], None],
    direct: dict[str, None],
) -> None:
    """``pkg:pypi/flask`` (unpinned in one file) is superseded by ``pkg:pypi/flask@2.0``
    (pinned in another): edges and directness move to the versioned package(s)."""
    versioned: dict[str, list[str]] = {}
    for ref, package in packages.items():
        if package.purl and package.version:
            versioned.setdefault(package.purl.split("@", 1)[0], []).append(ref)
    replaced: dict[str, list[str]] = {}
    for ref, package in list(packages.items()):
        if package.purl and not package.version and "@" not in package.purl:
            targets = versioned.get(package.purl.split("?", 1)[0])
            if targets:
                replaced[ref] = targets
                del packages[ref]
    if not replaced:
        return
    for parent, child in list(edges):
        if parent in replaced or child in replaced:
            del edges[(parent, child)]
            for new_parent in replaced.get(parent, [parent]):
                for new_child in replaced.get(child, [child]):
                    edges[(new_parent, new_child)] = None
    for ref in [r for r in direct if r in replaced]:
        del direct[ref]
        for target in replaced[ref]:
            direct[target] = None
