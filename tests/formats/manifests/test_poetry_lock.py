from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.poetry_lock import PoetryLockReader

from .conftest import ReadManifest

READER = PoetryLockReader()


def test_lock_with_pyproject(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "poetry" / "poetry.lock")
    packages = {p.ref: p for p in result.packages}
    certifi = packages["pkg:pypi/certifi@2023.7.22"]
    assert certifi.hashes == {  # the sdist's hash, not a wheel's
        "SHA-256": "539cc1d13202e33ca466e88b2807e29f4c13049d6d87031a3c110744495cb082"
    }
    assert ("pkg:pypi/requests@2.31.0", "pkg:pypi/certifi@2023.7.22") in result.dependencies
    assert set(result.direct_refs or []) == {
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/rich@13.7.0",
        "pkg:pypi/pytest@7.4.3",
    }
    scopes = {ref: p.scope for ref, p in packages.items()}
    assert scopes["pkg:pypi/certifi@2023.7.22"] == "required"
    assert scopes["pkg:pypi/rich@13.7.0"] == "optional"
    assert scopes["pkg:pypi/pytest@7.4.3"] == "excluded"
    assert scopes["pkg:pypi/iniconfig@2.0.0"] == "excluded"  # only reached from dev
    local = packages["poetry.lock:directory:../shared-lib"]
    assert local.purl is None and local.name == "shared-lib"


def test_without_pyproject_direct_is_unknown(fixtures: Path) -> None:
    path = fixtures / "poetry" / "poetry.lock"
    assert READER.read(path.read_bytes(), path.as_posix(), {}).direct_refs is None


def test_malformed() -> None:
    with pytest.raises(InputError) as error:
        READER.read(b'[[package]]\nname = "a"\nversion = \n', "poetry.lock", {})
    assert error.value.place is not None and error.value.place.startswith("line 3")
    with pytest.raises(InputError, match="without name or version"):
        READER.read(b'[[package]]\nname = "a"\n', "poetry.lock", {})


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    def read(name: str) -> list[tuple[str, str | None, str | None]]:
        path = osv_fixtures / "poetry" / name
        result = READER.read(path.read_bytes(), path.as_posix(), {})
        return sorted((p.name, p.version, p.scope) for p in result.packages)

    assert read("empty.lock") == []
    assert read("one-package.lock") == [("numpy", "1.23.3", "required")]
    assert read("optional-package.lock") == [("numpy", "1.23.3", "optional")]
    assert read("two-packages.lock") == [
        ("proto-plus", "1.22.0", "required"),
        ("protobuf", "4.21.5", "required"),
    ]
    assert read("source-git.lock") == [("ike", "0.2.0", "required")]
    assert read("source-legacy.lock") == [("appdirs", "1.4.4", "required")]
    path = osv_fixtures / "poetry" / "one-package-with-metadata.lock"
    emoji = READER.read(path.read_bytes(), path.as_posix(), {}).packages[0]
    assert emoji.hashes["SHA-256"].startswith("297fac7e")  # legacy [metadata.files]
    with pytest.raises(InputError):
        read("not-toml.txt")
