from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.package_json import PackageJsonReader

READER = PackageJsonReader()
MANIFEST = b"""{
  "name": "tool", "version": "0.1.0",
  "dependencies": {"dredd": "1.5.0", "express": "^4.17.0", "cjs": "npm:string-width@4.2.3"},
  "devDependencies": {"mocha": "", "@types/node": "=20.1.0", "shared": "workspace:*"},
  "optionalDependencies": {"fsevents": "2.3.3"}
}"""


def test_declared_dependencies_without_lockfile() -> None:
    result = READER.read(MANIFEST, "tool/package.json", {})
    packages = {p.name: p for p in result.packages}
    assert packages["dredd"].purl == "pkg:npm/dredd@1.5.0"
    assert packages["express"].version is None  # a range: reported, not matched
    assert packages["express"].purl == "pkg:npm/express"
    assert packages["string-width"].version == "4.2.3"
    assert packages["@types/node"].purl == "pkg:npm/%40types/node@20.1.0"
    assert packages["mocha"].scope == "excluded"
    assert packages["fsevents"].scope == "optional"
    assert "shared" not in packages
    assert len(result.direct_refs or []) == 6
    assert result.subject is not None and result.subject.purl == "pkg:npm/tool@0.1.0"


@pytest.mark.parametrize("lockfile", ["package-lock.json", "yarn.lock", "pnpm-lock.yaml"])
def test_defers_to_a_lockfile_beside_it(lockfile: str) -> None:
    result = READER.read(MANIFEST, "tool/package.json", {f"tool/{lockfile}": b"{}"})
    assert result.packages == []


def test_malformed() -> None:
    with pytest.raises(InputError) as error:
        READER.read(b'{"dependencies": {"a": 1}}', "package.json", {})
    assert error.value.place == "/dependencies/a"


def test_sock_shop_openapi_package_json(shared_data: Path) -> None:
    path = shared_data / "apps" / "sock-shop" / "openapi" / "package.json"
    result = READER.read(path.read_bytes(), path.as_posix(), {})
    assert {(p.name, p.version) for p in result.packages} == {
        ("dredd", "1.5.0"),
        ("mongodb", None),
        ("mysql", None),
    }
