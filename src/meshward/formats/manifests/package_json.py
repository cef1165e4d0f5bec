"""npm ``package.json`` on its own, for projects that commit no lockfile.

Only a lockfile says what gets installed, so when package-lock.json, npm-shrinkwrap.json,
yarn.lock or pnpm-lock.yaml sits beside it this reader gives nothing (the lockfile reader
uses package.json for direct and dev dependencies instead). Otherwise each declared
dependency is a direct package; an exact version (``1.5.0``) is kept, a range is reported
without version: such a package cannot be matched, but it is not dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from meshward.errors import InputError
from meshward.formats.manifests.interface import ManifestReader, ManifestResult
from meshward.formats.manifests.support import PackageIndex, find_sibling, npm_alias, npm_package
from meshward.formats.sbom.common import json_pointer, load_json
from meshward.limits import DEFAULT_LIMITS, Limits

LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")
_EXACT = re.compile(r"^=?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")
_SECTIONS = (
    ("dependencies", "required"),
    ("optionalDependencies", "optional"),
    ("devDependencies", "excluded"),
)


class PackageJsonReader(ManifestReader):
    name = "package.json"

    def matches(self, path: Path) -> bool:
        return path.name == "package.json"

    def read(
        self,
        data: bytes,
        source: str,
        siblings: Mapping[str, bytes],
        limits: Limits = DEFAULT_LIMITS,
    ) -> ManifestResult:
        doc = load_json(data, source, limits)
        if not isinstance(doc, dict):
            raise InputError(source, "", "a package.json is a JSON object")
        if any(find_sibling(siblings, source, lock) is not None for lock in LOCKFILES):
            return ManifestResult(direct_refs=[])
        index = PackageIndex()
        direct: dict[str, None] = {}
        for section, scope in _SECTIONS:
            declared = doc.get(section)
            if declared is None:
                continue
            if not isinstance(declared, dict):
                raise InputError(source, json_pointer(section), f"{section} is not an object")
            for name, spec in declared.items():
                if not isinstance(spec, str):
                    raise InputError(source, json_pointer(section, name), "not a string")
                if spec.startswith("workspace:"):
                    continue  # a sibling workspace, read from its own package.json
                real, spec = npm_alias(spec.strip())
                exact = _EXACT.match(spec)
                package = index.add(
                    npm_package(real or name, exact.group(1) if exact else None, scope=scope)
                )
                direct[package.ref] = None
        subject = None
        name = doc.get("name")
        if isinstance(name, str) and name:
            version = doc.get("version")
            subject = npm_package(name, version if isinstance(version, str) else None)
            subject.type = "application"
        return ManifestResult(packages=index.packages, direct_refs=list(direct), subject=subject)
