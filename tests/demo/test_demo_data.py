"""The bundled demo data: every component version has a manifest that reads into an SBOM,
every hand-written advisory parses, and together they give findings worth showing."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

from meshward.ecosystems.purls import coordinates
from meshward.ecosystems.ranges import is_affected
from meshward.ecosystems.registry import get_ecosystem
from meshward.formats.manifests.registry import sbom_from_manifests
from meshward.formats.osv import Advisory, rate_severity, read_advisory_bytes
from meshward.formats.sbom.interface import SbomDocument

DEMO = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo"
MANIFESTS = DEMO / "manifests"
ADVISORIES = DEMO / "advisories"


def _component_versions() -> list[tuple[str, str]]:
    estate = yaml.safe_load((DEMO / "estate.yaml").read_text("utf-8"))
    return [
        (component, str(build["version"]))
        for component, builds in estate["component_versions"].items()
        for build in builds
    ]


COMPONENT_VERSIONS = _component_versions()


@cache
def _sbom(component: str, version: str) -> SbomDocument:
    return sbom_from_manifests([MANIFESTS / component / version], component, version)


@cache
def _advisories() -> tuple[Advisory, ...]:
    return tuple(
        read_advisory_bytes(path.read_bytes(), str(path))
        for path in sorted(ADVISORIES.glob("*.json"))
    )


@cache
def _matches() -> frozenset[tuple[str, str, str, str]]:
    """(component, version, advisory id, ecosystem) for every live advisory that affects a
    package of a component version."""
    found: set[tuple[str, str, str, str]] = set()
    for component, version in COMPONENT_VERSIONS:
        for package in _sbom(component, version).packages[1:]:
            assert package.purl is not None
            coords = coordinates(package.purl)
            assert coords.ecosystem is not None and coords.version is not None
            ecosystem = get_ecosystem(coords.ecosystem)
            for advisory in _advisories():
                if advisory.is_withdrawn:
                    continue
                for affected in advisory.affected:
                    assert affected.package is not None
                    if get_ecosystem(affected.package.ecosystem) is not ecosystem:
                        continue
                    if ecosystem.normalize_name(affected.package.name) != coords.name:
                        continue
                    if is_affected(ecosystem, coords.version, affected):
                        found.add((component, version, advisory.id, coords.ecosystem))
    return frozenset(found)


def test_estate_lists_the_29_component_versions() -> None:
    assert len(COMPONENT_VERSIONS) == 29
    on_disk = {(d.parent.name, d.name) for d in MANIFESTS.glob("*/*") if d.is_dir()}
    assert on_disk == set(COMPONENT_VERSIONS)


@pytest.mark.parametrize(("component", "version"), COMPONENT_VERSIONS)
def test_every_component_version_reads_into_an_sbom(component: str, version: str) -> None:
    doc = _sbom(component, version)
    root, *packages = doc.packages
    assert root.name == component and root.version == version
    assert 8 <= len(packages) <= 30
    for package in packages:
        assert package.version, f"{package.name} has no version"
        assert package.purl and "@" in package.purl
    direct = {child for parent, child in doc.dependencies if parent == root.ref}
    assert direct, "the component depends on nothing"


def test_every_advisory_parses() -> None:
    paths = sorted(ADVISORIES.glob("*.json"))
    assert 20 <= len(paths) <= 35
    for path, advisory in zip(paths, _advisories(), strict=True):
        assert advisory.id == path.stem
        assert advisory.modified and advisory.published
        assert advisory.details
        assert advisory.affected and all(a.package and a.ranges for a in advisory.affected)
        for affected in advisory.affected:
            assert affected.package is not None
            get_ecosystem(affected.package.ecosystem)  # a known ecosystem
            assert not affected.versions  # ranges only


def test_the_special_cases_are_present() -> None:
    by_id = {a.id: a for a in _advisories()}
    assert "GHSA-p64x-8rxx-wf6q" in by_id["PYSEC-2022-213"].aliases
    assert "GHSA-4374-p667-p6c8" in by_id["GO-2023-2102"].aliases
    withdrawn = [a.id for a in by_id.values() if a.is_withdrawn]
    assert withdrawn == ["GHSA-8rfx-6mr3-5jh3"]
    snakeyaml = by_id["GHSA-mjmj-j48q-9wg2"]
    assert not snakeyaml.severity
    assert rate_severity(snakeyaml).source == "database_specific.severity"
    labels = {rate_severity(a).label for a in by_id.values()}
    assert {"critical", "high", "medium", "low"} <= {str(label) for label in labels}


def test_advisories_match_across_ecosystems() -> None:
    matches = _matches()
    pairs = {(c, v, a) for c, v, a, _ in matches}
    ecosystems = {e for *_, e in matches}
    assert len(pairs) >= 15
    assert len(ecosystems) >= 4
    assert {"Maven", "PyPI", "Go", "npm", "NuGet"} <= ecosystems
    # spot checks of the headline findings
    assert ("search", "4.2.0", "GHSA-jfh8-c2jp-5v3q") in pairs  # Log4Shell
    assert ("payment-gateway", "6.1.0", "GHSA-36p3-wjmg-h94x") in pairs  # Spring4Shell
    assert ("payment-gateway", "6.1.0", "GHSA-jfh8-c2jp-5v3q") not in pairs  # 2.15.0 fixed it
    assert ("payment-gateway", "6.1.0", "GHSA-7rjr-3q55-vv33") in pairs  # ... but not 45046
    assert ("cart", "2.0.1", "GHSA-5crp-9r3c-p9vr") in pairs
    assert not any(a == "GHSA-8rfx-6mr3-5jh3" for _, _, a in pairs)


def test_newer_versions_fix_findings() -> None:
    pairs = {(c, v, a) for c, v, a, _ in _matches()}
    versions: dict[str, list[str]] = {}
    for component, version in COMPONENT_VERSIONS:
        versions.setdefault(component, []).append(version)
    fixed = [
        (component, advisory)
        for component, listed in versions.items()
        if len(listed) > 1
        for c, v, advisory in pairs
        if c == component and v == listed[0] and (component, listed[-1], advisory) not in pairs
    ]
    assert len(fixed) >= 5
    assert ("web-frontend", "GHSA-p6mc-m468-83gw") in fixed  # lodash upgraded
    assert ("checkout", "GHSA-m425-mq94-257g") in fixed  # grpc upgraded
    # and some findings stay: not every upgrade is a clean slate
    assert ("cart", "2.1.0", "GHSA-hh2w-p6rv-4g7w") in pairs
