"""Fixtures for the manifest readers: small hand-written files, and osv-scanner's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from meshward.formats.manifests.interface import ManifestReader, ManifestResult

FIXTURES = Path(__file__).parent / "fixtures"

ReadManifest = Callable[..., ManifestResult]


def siblings_under(root: Path) -> dict[str, bytes]:
    return {p.as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def read_with_siblings(
    reader: ManifestReader, path: Path, root: Path | None = None
) -> ManifestResult:
    """Read ``path`` with every file under ``root`` (default: its directory) as a sibling."""
    return reader.read(path.read_bytes(), path.as_posix(), siblings_under(root or path.parent))


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def read_manifest() -> ReadManifest:
    return read_with_siblings


@pytest.fixture
def osv_fixtures(shared_data: Path) -> Path:
    path = shared_data / "fixtures" / "osv-scanner" / "lockfile-parsers-v1.9.2"
    if not path.is_dir():
        pytest.skip("osv-scanner fixtures are absent")
    return path


def by_purl(result: ManifestResult) -> dict[str, object]:
    return {p.purl: p for p in result.packages if p.purl}
