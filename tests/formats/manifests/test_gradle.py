from __future__ import annotations

from pathlib import Path

from meshward.formats.manifests.gradle import GradleReader

from .conftest import ReadManifest

READER = GradleReader()


def _versions(result: object) -> dict[str, tuple[str | None, str | None]]:
    return {p.name: (p.version, p.scope) for p in result.packages}  # type: ignore[attr-defined]


def test_groovy_dsl(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "gradle-groovy" / "build.gradle")
    assert _versions(result) == {
        "io.grpc:grpc-bom": ("1.59.0", "required"),  # platform(...) BOM, def variable
        "io.grpc:grpc-stub": ("1.59.0", "required"),  # $var
        "io.grpc:grpc-netty": ("1.59.0", "required"),  # comma continuation, ${var}
        "com.fasterxml.jackson.core:jackson-databind": ("2.15.3", "required"),  # map + ext {}
        "io.netty:netty-handler": ("4.1.100.Final", "required"),  # ext.name =
        "org.apache.commons:commons-lang3": ("3.13.0", "required"),
        "org.example:unknown": (None, "required"),  # unresolved variable
        "io.grpc:grpc-protobuf": (None, "required"),  # versioned by the BOM
        "org.projectlombok:lombok": ("1.18.30", "excluded"),  # compileOnly
        "org.junit.jupiter:junit-jupiter": ("5.10.0", "excluded"),  # test
    }
    purls = {p.purl for p in result.packages}
    assert "pkg:maven/io.grpc/grpc-stub@1.59.0" in purls
    assert "pkg:maven/io.grpc/grpc-protobuf" in purls
    assert len(result.direct_refs or []) == 10


def test_kotlin_dsl_with_catalog_and_properties(
    fixtures: Path, read_manifest: ReadManifest
) -> None:
    result = read_manifest(READER, fixtures / "gradle-kts" / "build.gradle.kts")
    assert _versions(result) == {
        "io.ktor:ktor-server-core": ("2.3.5", "required"),
        "io.ktor:ktor-server-netty": ("2.3.5", "required"),
        "org.jetbrains.exposed:exposed-core": ("0.44.1", "required"),  # extra[...]
        "org.postgresql:postgresql": ("42.6.0", "required"),  # named arguments
        "ch.qos.logback:logback-classic": ("1.4.11", "required"),  # gradle.properties
        "org.springframework.boot:spring-boot-dependencies": ("3.1.5", "required"),
        "com.fasterxml.jackson.core:jackson-databind": ("2.15.3", "required"),  # bundle
        "com.fasterxml.jackson.module:jackson-module-kotlin": ("2.15.3", "required"),
        "com.google.guava:guava": ("32.1.3-jre", "required"),
        "org.junit.jupiter:junit-jupiter": ("5.10.0", "excluded"),
    }


def test_defers_to_gradle_lockfile(fixtures: Path, read_manifest: ReadManifest) -> None:
    result = read_manifest(READER, fixtures / "gradle-lock" / "build.gradle")
    assert result.packages == []


def test_online_boutique_adservice_v030(shared_data: Path) -> None:
    path = shared_data / "apps/online-boutique/v0.3.0/src/adservice/build.gradle"
    result = READER.read(path.read_bytes(), path.as_posix(), {})
    purls = {p.purl for p in result.packages}
    assert "pkg:maven/org.apache.logging.log4j/log4j-core@2.13.3" in purls
    assert "pkg:maven/io.grpc/grpc-netty@1.32.1" in purls  # ${grpcVersion}
    assert "pkg:maven/io.opencensus/opencensus-impl@0.27.0" in purls  # runtimeOnly
    assert not any("protoc" in (p or "") for p in purls)  # protobuf { } is not dependencies
