from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.gradle_lockfile import GradleLockfileReader

from .conftest import ReadManifest

READER = GradleLockfileReader()


def test_lockfile_with_build_script(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "gradle-lock" / "gradle.lockfile")
    scopes = {p.purl: p.scope for p in result.packages}
    assert scopes == {
        "pkg:maven/junit/junit@4.13.2": "excluded",
        "pkg:maven/org.hamcrest/hamcrest-core@1.3": "excluded",
        "pkg:maven/org.springframework.boot/spring-boot-starter-web@3.1.5": "required",
        "pkg:maven/org.springframework/spring-web@6.0.13": "required",
    }
    assert set(result.direct_refs or []) == {
        "pkg:maven/org.springframework.boot/spring-boot-starter-web@3.1.5",
        "pkg:maven/junit/junit@4.13.2",
    }


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    def read(name: str) -> list[str | None]:
        path = osv_fixtures / "gradle" / name
        result = READER.read(path.read_bytes(), "gradle.lockfile", {})
        return sorted(p.purl for p in result.packages)

    assert read("only-comments") == []
    assert read("only-empty") == []
    assert read("one-pkg") == [
        "pkg:maven/org.springframework.security/spring-security-crypto@5.7.3"
    ]
    assert len(read("5-pkg")) == 5
    with pytest.raises(InputError) as error:
        read("with-bad-pkg")
    assert error.value.place == "line 3"
