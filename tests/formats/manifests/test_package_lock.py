from __future__ import annotations

import base64
from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.package_lock import PackageLockReader

from .conftest import ReadManifest

READER = PackageLockReader()


def test_v3_packages_map(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "npm-v3" / "package-lock.json")
    packages = {p.ref: p for p in result.packages}
    express = packages["pkg:npm/express@4.18.2"]
    assert express.scope == "required"
    integrity = (
        "5/PsL6iGPdfQ/lKM1UuielYgv3BUoJfz1aUwU9vHZ+J7gyvwdQXFEBIEIaxeGf0GIcreATNyBExtalisDbuMqQ=="
    )
    assert express.hashes == {"SHA-512": base64.b64decode(integrity).hex()}
    assert packages["pkg:npm/debug@4.3.4"].scope == "excluded"  # dev
    assert packages["pkg:npm/fsevents@2.3.3"].scope == "optional"
    assert "pkg:npm/%40babel/core@7.23.0" in packages  # scoped name -> %40scope
    # nested node_modules wins over the hoisted copy (Node's resolution)
    assert ("pkg:npm/express@4.18.2", "pkg:npm/debug@2.6.9") in result.dependencies
    assert ("pkg:npm/jest@29.7.0", "pkg:npm/debug@4.3.4") in result.dependencies
    assert ("pkg:npm/debug@2.6.9", "pkg:npm/ms@2.0.0") in result.dependencies
    # the workspace link resolves to the member, whose dependencies are edges too
    assert ("pkg:npm/%40shop/ui@1.0.0", "pkg:npm/ms@2.0.0") in result.dependencies
    assert set(result.direct_refs or []) == {
        "pkg:npm/%40shop/ui@1.0.0",
        "pkg:npm/express@4.18.2",
        "pkg:npm/jest@29.7.0",
        "pkg:npm/fsevents@2.3.3",
    }
    assert result.subject is not None
    assert result.subject.purl == "pkg:npm/shop-web@2.0.0"


def test_v1_tree_with_package_json(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "npm-v1" / "package-lock.json")
    packages = {p.ref: p for p in result.packages}
    sha1 = base64.b64decode("W4o6d2Xf4AEmHd6RVYnngvjJTR4=").hex()
    assert packages["pkg:npm/left-pad@1.3.0"].hashes == {"SHA-1": sha1}
    assert "pkg:npm/string-width@4.2.3" in packages  # npm: alias -> real name
    assert packages["pkg:npm/mocha@5.2.0"].scope == "excluded"
    assert ("pkg:npm/mocha@5.2.0", "pkg:npm/debug@3.1.0") in result.dependencies
    assert ("pkg:npm/debug@3.1.0", "pkg:npm/ms@2.0.0") in result.dependencies
    assert set(result.direct_refs or []) == {
        "pkg:npm/left-pad@1.3.0",
        "pkg:npm/string-width@4.2.3",
        "pkg:npm/mocha@5.2.0",
    }


def test_v1_without_package_json_leaves_direct_unknown(fixtures: Path) -> None:
    path = fixtures / "npm-v1" / "package-lock.json"
    assert READER.read(path.read_bytes(), path.as_posix(), {}).direct_refs is None


@pytest.mark.parametrize(
    ("data", "place"),
    [
        (b"[1, 2]", ""),
        (b'{"lockfileVersion": "two"}', "/lockfileVersion"),
        (b'{"lockfileVersion": 3, "packages": {"node_modules/a": 5}}', "/packages/node_modules~1a"),
        (b'{"dependencies": {"a": {"dependencies": {"b": []}}}}', "/dependencies/a/dependencies/b"),
    ],
)
def test_malformed_documents(data: bytes, place: str) -> None:
    with pytest.raises(InputError) as error:
        READER.read(data, "package-lock.json", {})
    assert error.value.place == place


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    def read(name: str) -> list[tuple[str, str | None, str | None]]:
        path = osv_fixtures / "npm" / name
        result = READER.read(path.read_bytes(), path.as_posix(), {})
        return sorted((p.name, p.version, p.scope) for p in result.packages)

    for version in ("v1", "v2"):
        assert read(f"empty.{version}.json") == []
        assert read(f"one-package.{version}.json") == [("wrappy", "1.0.2", "required")]
        assert read(f"one-package-dev.{version}.json") == [("wrappy", "1.0.2", "excluded")]
        assert read(f"scoped-packages.{version}.json") == [
            ("@babel/code-frame", "7.0.0", "required"),
            ("wrappy", "1.0.2", "required"),
        ]
        assert read(f"alias.{version}.json") == [
            ("@babel/code-frame", "7.0.0", "required"),
            ("string-width", "4.2.0", "required"),
            ("string-width", "5.1.2", "required"),
        ]
        assert len(read(f"nested-dependencies.{version}.json")) == 5
        # the same ajv@5.5.2 at several paths: one package, the strongest scope
        assert ("ajv", "5.5.2", "required") in read(f"same-package-different-groups.{version}.json")
    assert ("supports-color", "5.5.0", "optional") in read("optional-package.v2.json")
    with pytest.raises(InputError):
        read("not-json.txt")
