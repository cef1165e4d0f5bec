from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.uv_lock import UvLockReader

from .conftest import ReadManifest

READER = UvLockReader()


def test_lock_with_workspace_member(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "uv" / "uv.lock")
    packages = {p.ref: p for p in result.packages}
    assert set(packages) == {
        "pkg:pypi/certifi@2024.8.30",
        "pkg:pypi/pytest@8.3.3",
        "pkg:pypi/requests@2.32.3",
        "pkg:pypi/urllib3@2.2.3",
    }
    assert result.subject is not None and result.subject.purl == "pkg:pypi/shop@0.1.0"
    assert set(result.direct_refs or []) == {
        "pkg:pypi/requests@2.32.3",
        "pkg:pypi/certifi@2024.8.30",
        "pkg:pypi/pytest@8.3.3",
    }
    assert packages["pkg:pypi/pytest@8.3.3"].scope == "excluded"
    assert packages["pkg:pypi/urllib3@2.2.3"].scope == "required"
    assert packages["pkg:pypi/certifi@2024.8.30"].scope == "required"  # runtime beats extra
    assert packages["pkg:pypi/certifi@2024.8.30"].hashes["SHA-256"].startswith("bec941d2")
    assert ("pkg:pypi/requests@2.32.3", "pkg:pypi/urllib3@2.2.3") in result.dependencies


def test_same_name_locked_twice_resolves_by_version() -> None:
    data = b"""version = 1
[[package]]
name = "app"
version = "1.0"
source = { virtual = "." }
dependencies = [{ name = "numpy", version = "1.26.4", source = { registry = "x" } }]
[[package]]
name = "numpy"
version = "1.26.4"
[[package]]
name = "numpy"
version = "2.1.0"
"""
    result = READER.read(data, "uv.lock", {})
    assert result.direct_refs == ["pkg:pypi/numpy@1.26.4"]
    assert len(result.packages) == 2


def test_malformed() -> None:
    with pytest.raises(InputError, match="not valid TOML"):
        READER.read(b"version = \n", "uv.lock", {})
    with pytest.raises(InputError, match="without a name"):
        READER.read(b"[[package]]\nversion = '1'\n", "uv.lock", {})
