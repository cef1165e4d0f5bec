"""The shared CycloneDX corpus, and an independent reading of it (plain json/ElementTree)
that the readers' package counts are checked against. Also the per-file decisions for the
spec's invalid-* documents: which ones a lenient reader rejects, and why the rest pass."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

# Files in the corpus that are not CycloneDX at all (or not valid documents); each must be
# refused with an InputError.
NOT_CYCLONEDX = {
    "bom-shelter-in-the-wild/bashrc2-sbom-cdx.json": "a file-hash listing, not a BOM",
    "bom-shelter-in-the-wild/scanoss-sbom-cdx.json": "a JSON array, not a BOM",
    "bom-shelter-in-the-wild/jx-darwin-arm64.tar.gz.sbom": "SPDX, not CycloneDX",
    "guac-exampledata/invalid-cyclonedx.json": "bomFormat 'CDX', specVersion '1'",
    "guac-exampledata/invalid-cyclonedx.xml": "an XML declaration and nothing else",
}

# spec-test-resources invalid-* stems (without -1.x) the readers reject, and why. Every
# other invalid-* file is only schema-invalid in a field we do not read, or in an enum we
# keep open on purpose, and is accepted (see ACCEPTED_INVALID).
REJECTED_INVALID = {
    "json": {
        "invalid-bomformat": "bomFormat is not 'CycloneDX'",
        "invalid-component-ref": "an empty bom-ref",
        "invalid-dependency": "a dependency without ref, and one with an empty ref",
        "invalid-empty-component": "a component without a name",
        "invalid-license-choice": "one licence entry with both license and expression",
        "invalid-license-missing-id-and-name": "a licence with no id, name or url",
        "invalid-scope": "scope 'foo'",
    },
    "xml": {
        "invalid-component-ref": "a repeated bom-ref (and an empty one)",
        "invalid-dependency": "a dependency without ref, and one with an empty ref",
        "invalid-empty-component": "a component without a name",
        "invalid-license-id-count": "a licence with two ids",
        "invalid-license-name-count": "a licence with two names",
        "invalid-license-missing-id-and-name": "a licence with no id, name or url",
        "invalid-namespace": "namespace http://cyclonedx.org/schema/bom/12",
        "invalid-scope": "scope 'foo'",
    },
}
ACCEPTED_INVALID = {
    "invalid-citations": "citations are not read",
    "invalid-component-external-version-and-range": "versionRange is not read",
    "invalid-component-versionRange-non-external-explicit": "versionRange is not read",
    "invalid-component-versionRange-non-external-implicit": "versionRange is not read",
    "informal-invalid-component-versionRange-non-external-explicit": "versionRange not read",
    "informal-invalid-component-versionRange-non-external-implicit": "versionRange not read",
    "invalid-component-swid": "swid is not read",
    "invalid-component-type": "type is kept as given: new specs keep adding types",
    "invalid-hash-alg": "algorithm kept as given (upper-cased): new specs add algorithms",
    "invalid-hash-md5": "a digest that is not hex is dropped, not fatal",
    "invalid-hash-sha1": "a digest that is not hex is dropped, not fatal",
    "invalid-hash-sha256": "a digest that is not hex is dropped, not fatal",
    "invalid-hash-sha512": "a digest that is not hex is dropped, not fatal",
    "invalid-issue-type": "pedigree is not read",
    "invalid-license-choice": "XML only: license and expression siblings are both kept",
    "invalid-license-declared-concluded-mix": "every declared licence string is kept",
    "invalid-license-encoding": "licence text is not read",
    "invalid-license-id": "licence ids are kept as declared, not checked against SPDX",
    "invalid-metadata-distribution": "distribution is not read",
    "invalid-metadata-license": "the BOM's own licence is not read",
    "invalid-metadata-timestamp": "the timestamp is kept as a string",
    "invalid-missing-component-type": "type is optional for us",
    "invalid-patch-type": "pedigree is not read",
    "invalid-properties": "properties are not read",
    "invalid-serialnumber": "the serial number is kept as a string",
    "invalid-service-data": "services are not packages",
}

CORPUS_FOLDERS = (
    "bom-examples",
    "guac-exampledata",
    "spec-test-resources",
    "bom-shelter-in-the-wild",
)


def cyclonedx_dir(shared_data: Path) -> Path:
    return shared_data / "sboms" / "cyclonedx"


def invalid_stem(path: Path) -> str:
    return re.sub(r"-1\.\d$", "", path.stem)


def corpus_files(shared_data: Path, suffix: str) -> list[Path]:
    """Every file of the corpus with ``suffix`` except the spec's invalid-* ones."""
    base = cyclonedx_dir(shared_data)
    files: list[Path] = []
    for folder in CORPUS_FOLDERS:
        for path in sorted((base / folder).rglob(f"*{suffix}")):
            if "invalid" in path.name and folder == "spec-test-resources":
                continue
            files.append(path)
    return files


def relative(shared_data: Path, path: Path) -> str:
    return path.relative_to(cyclonedx_dir(shared_data)).as_posix()


def count_json_components(document: dict[str, Any]) -> tuple[int, int]:
    """(components incl. metadata.component and nesting, dependency edges to components)."""
    refs: set[str] = set()
    count = 0
    stack: list[Any] = []
    metadata = document.get("metadata") or {}
    if metadata.get("component"):
        stack.append(metadata["component"])
    stack.extend(document.get("components") or [])
    while stack:
        component = stack.pop()
        count += 1
        if "bom-ref" in component:
            refs.add(component["bom-ref"])
        stack.extend(component.get("components") or [])
    edges = {
        (entry["ref"], target)
        for entry in document.get("dependencies") or []
        for target in entry.get("dependsOn") or []
        if entry["ref"] in refs and target in refs
    }
    return count, len(edges)


def count_xml_components(path: Path) -> tuple[int, int]:
    root = ET.parse(path).getroot()  # trusted test data; the reader itself uses defusedxml
    namespace = root.tag[1:].partition("}")[0]
    q = "{" + namespace + "}"
    refs: set[str] = set()
    count = 0
    stack: list[ET.Element] = []
    subject = root.find(f"{q}metadata/{q}component")
    if subject is not None:
        stack.append(subject)
    stack.extend(root.findall(f"{q}components/{q}component"))
    while stack:
        component = stack.pop()
        count += 1
        if component.get("bom-ref"):
            refs.add(component.get("bom-ref", ""))
        stack.extend(component.findall(f"{q}components/{q}component"))
    edges: set[tuple[str, str]] = set()
    for dependency in root.iter(f"{q}dependency"):
        for child in dependency.findall(f"{q}dependency"):
            source, target = dependency.get("ref", ""), child.get("ref", "")
            if source in refs and target in refs:
                edges.add((source, target))
    return count, len(edges)


def load_plain_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8-sig"))
