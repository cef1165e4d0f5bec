"""Gradle dependency locking: ``gradle.lockfile`` / ``buildscript-gradle.lockfile``.

One ``group:artifact:version=configuration,...`` line per resolved module, transitive
ones included, so versions are exact. The build script beside it says which modules are
declared (direct); without it direct vs transitive is unknown. Runtime classpaths give
scope ``required``; modules only on test, compile-only or annotation-processor classpaths,
and everything in the buildscript lockfile, ``excluded``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from meshward.errors import InputError
from meshward.formats.manifests.gradle import declarations
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import PackageIndex, decode_text, find_sibling, new_package
from meshward.limits import DEFAULT_LIMITS, Limits

_LINE = re.compile(r"^([^:=\s]+):([^:=\s]+):([^:=\s]+)=([\w,\- ]*)$")


class GradleLockfileReader(ManifestReader):
    name = "gradle.lockfile"

    def matches(self, path: Path) -> bool:
        return path.name in ("gradle.lockfile", "buildscript-gradle.lockfile")

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        text = decode_text(data, source, limits)
        buildscript = source.rsplit("/", 1)[-1].startswith("buildscript")
        index = PackageIndex()
        by_module: dict[tuple[str, str], list[str]] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#") or re.match(r"^empty=[\w,\- ]*$", line):
                continue
            match = _LINE.match(line)
            if match is None:
                raise InputError(
                    source,
                    f"line {number}",
                    f"expected group:artifact:version=configurations, got {line!r}",
                )
            group, artifact, version, configurations = match.groups()
            runtime = any(
                "runtime" in c.lower() and "test" not in c.lower()
                for c in configurations.split(",")
            )
            package = index.add(
                new_package(
                    "maven",
                    artifact,
                    version,
                    group,
                    display_name=f"{group}:{artifact}",
                    scope="required" if runtime and not buildscript else "excluded",
                )
            )
            by_module.setdefault((group, artifact), []).append(package.ref)
        direct: list[str] | None = None
        for script in ("build.gradle", "build.gradle.kts"):
            found = find_sibling(siblings, source, script)
            if found is not None and not buildscript:
                text = decode_text(found[1], found[0], limits)
                declared = declarations(text, found[0], siblings, limits)
                direct = [
                    ref
                    for module in dict.fromkeys((d.group, d.artifact) for d in declared)
                    for ref in by_module.get(module, [])
                ]
                break
        return ManifestResult(packages=index.packages, direct_refs=direct)
