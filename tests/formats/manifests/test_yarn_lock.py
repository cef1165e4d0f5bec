from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.yarn_lock import YarnLockReader

from .conftest import ReadManifest

READER = YarnLockReader()


def test_classic_v1(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "yarn-v1" / "yarn.lock")
    packages = {p.ref: p for p in result.packages}
    assert len(packages) == 6
    util = packages["pkg:npm/%40scope/util@1.0.4"]
    assert util.hashes == {"SHA-1": "0123456789abcdef0123456789abcdef01234567"}
    assert packages["pkg:npm/debug@2.6.9"].hashes["SHA-512"]
    assert ("pkg:npm/express@4.17.1", "pkg:npm/debug@2.6.9") in result.dependencies
    assert ("pkg:npm/mocha@5.2.0", "pkg:npm/debug@3.1.0") in result.dependencies
    assert set(result.direct_refs or []) == {
        "pkg:npm/express@4.17.1",
        "pkg:npm/%40scope/util@1.0.4",
        "pkg:npm/mocha@5.2.0",
    }
    # reachable only through devDependencies -> excluded; shared with runtime -> required
    assert packages["pkg:npm/debug@3.1.0"].scope == "excluded"
    assert packages["pkg:npm/ms@2.0.0"].scope == "required"
    assert packages["pkg:npm/express@4.17.1"].scope == "required"


def test_berry(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "yarn-berry" / "yarn.lock")
    packages = {p.ref: p for p in result.packages}
    assert set(packages) == {
        "pkg:npm/debug@2.6.9",
        "pkg:npm/express@4.17.1",
        "pkg:npm/ms@2.0.0",
        "pkg:npm/typescript@5.2.2",
    }
    assert set(result.direct_refs or []) == {"pkg:npm/express@4.17.1", "pkg:npm/typescript@5.2.2"}
    assert packages["pkg:npm/typescript@5.2.2"].scope == "excluded"
    assert packages["pkg:npm/ms@2.0.0"].scope == "required"
    assert ("pkg:npm/debug@2.6.9", "pkg:npm/ms@2.0.0") in result.dependencies


def test_without_package_json_direct_is_unknown(fixtures: Path) -> None:
    path = fixtures / "yarn-v1" / "yarn.lock"
    result = READER.read(path.read_bytes(), path.as_posix(), {})
    assert result.direct_refs is None
    assert all(p.scope is None for p in result.packages)


@pytest.mark.parametrize(
    ("data", "place"),
    [
        (b'# yarn lockfile v1\n\nleft-pad@^1.0.0\n  version "1.3.0"\n', "line 3"),
        (b'left-pad@^1.0.0:\n  resolved "x"\n', "line 1"),
        (b'__metadata:\n  version: 8\n"a@npm:1": [unclosed\n', "line 4"),
        (b"__metadata:\n  version: 8\nx: &a [1]\ny: *a\n", "line 4"),
    ],
)
def test_malformed(data: bytes, place: str) -> None:
    with pytest.raises(InputError) as error:
        READER.read(data, "yarn.lock", {})
    assert error.value.place == place


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    def read(name: str) -> list[tuple[str, str | None]]:
        path = osv_fixtures / "yarn" / name
        result = READER.read(path.read_bytes(), path.as_posix(), {})
        return sorted((p.name, p.version) for p in result.packages)

    for version in ("v1", "v2"):
        assert read(f"empty.{version}.lock") == []
        assert read(f"one-package.{version}.lock") == [("balanced-match", "1.0.2")]
        assert read(f"with-quotes.{version}.lock") == read(f"two-packages.{version}.lock")
        assert ("tslib", "2.6.2") in read(f"with-build-string.{version}.lock")
        assert read(f"with-aliases.{version}.lock") == [
            ("@babel/helper-validator-identifier", "7.22.20"),
            ("ansi-regex", "5.0.1"),
            ("ansi-regex", "6.0.1"),
        ]
    assert read("metadata-only.v2.lock") == []
    assert read("multiple-constraints.v1.lock") == [
        ("@babel/code-frame", "7.12.13"),
        ("domelementtype", "1.3.1"),
    ]
    assert len(read("multiple-versions.v2.lock")) == 3
    assert ("vuejs", "2.5.0") in read("commits.v2.lock")
