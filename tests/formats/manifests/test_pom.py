from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.pom import PomReader

from .conftest import ReadManifest

READER = PomReader()


def test_properties_management_scopes_and_spring_boot_parent(
    fixtures: Path, read_manifest: ReadManifest
) -> None:
    result = read_manifest(READER, fixtures / "maven" / "pom.xml")
    packages = {p.ref: p for p in result.packages}
    assert set(packages) == {
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",  # ${log4j.version}
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.13.0",  # managed, nested ${}
        "pkg:maven/com.google.guava/guava@32.1.3-jre",  # managed version and scope
        "pkg:maven/org.springframework.boot/spring-boot-starter-web@2.7.18",  # Boot parent
        "pkg:maven/com.example.shop/orders-api@1.4.0",  # ${project.groupId}/${project.version}
        "pkg:maven/org.postgresql/postgresql",  # a range: no version
        "pkg:maven/org.junit.jupiter/junit-jupiter",  # version from an imported BOM: unknown
    }
    assert packages["pkg:maven/com.google.guava/guava@32.1.3-jre"].scope == "optional"
    assert packages["pkg:maven/org.postgresql/postgresql"].scope == "optional"
    assert packages["pkg:maven/org.junit.jupiter/junit-jupiter"].scope == "excluded"
    log4j = packages["pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"]
    assert (log4j.name, log4j.group, log4j.scope) == (
        "org.apache.logging.log4j:log4j-core",
        "org.apache.logging.log4j",
        "required",
    )
    assert set(result.direct_refs or []) == set(packages)
    assert result.subject is not None
    assert result.subject.purl == "pkg:maven/com.example.shop/orders@1.4.0"


def test_entities_are_refused(fixtures: Path, read_manifest: ReadManifest) -> None:
    with pytest.raises(InputError, match="refused XML"):
        read_manifest(READER, fixtures / "maven" / "bomb.xml")


def test_not_a_pom() -> None:
    with pytest.raises(InputError, match="not a Maven POM"):
        READER.read(b"<settings/>", "pom.xml", {})


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    def read(name: str) -> list[tuple[str, str | None, str | None]]:
        path = osv_fixtures / "maven" / name
        result = READER.read(path.read_bytes(), path.as_posix(), {})
        return sorted((p.name, p.version, p.scope) for p in result.packages)

    assert read("empty.xml") == []
    assert read("one-package.xml") == [("org.apache.maven:maven-artifact", "1.0.0", "required")]
    assert read("interpolation.xml") == [
        ("org.mine:my.package", "2.3.4", "required"),
        ("org.mine:mypackage", "1.0.0", "required"),
    ]
    # a declared version wins over dependencyManagement; managed-only entries are not deps
    assert read("with-dependency-management.xml") == [
        ("io.netty:netty-all", "4.1.9", "required"),
        ("org.slf4j:slf4j-log4j12", "1.7.25", "required"),
    ]
    assert read("with-scope.xml") == [
        ("abc:xyz", "1.2.3", "required"),
        ("junit:junit", "4.12", "excluded"),
    ]
    for malformed in ("invalid-syntax.xml", "not-pom.txt"):
        with pytest.raises(InputError) as error:
            read(malformed)
        assert error.value.place is not None and error.value.place.startswith("line ")
