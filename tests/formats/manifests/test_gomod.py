from __future__ import annotations

import base64
from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.gomod import GoModReader

from .conftest import ReadManifest

READER = GoModReader()


def test_requires_indirect_replace_exclude_and_go_sum(
    fixtures: Path, read_manifest: ReadManifest
) -> None:
    result = read_manifest(READER, fixtures / "go" / "go.mod")
    packages = {p.ref: p for p in result.packages}
    uuid = packages["pkg:golang/github.com/google/uuid@v1.6.0"]
    h1 = "NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="  # go.sum, not the /go.mod line
    assert uuid.hashes == {"SHA-256": base64.b64decode(h1).hex()}
    # replace: the fork is what gets built; its go.sum hash is used
    fork = packages["pkg:golang/github.com/example/logrus-fork@v1.9.4"]
    assert fork.hashes["SHA-256"]
    assert not any("sirupsen" in ref for ref in packages)
    # replace with a local directory: first-party code, no version, no purl
    local = packages["go.mod:local:../lib"]
    assert (local.name, local.version, local.purl) == ("example.com/internal/lib", None, None)
    assert "pkg:golang/example.com/quoted/module@v1.0.0" in packages
    # major-version suffix stays in the purl path
    assert "pkg:golang/github.com/cenkalti/backoff/v4@v4.2.1" in packages
    assert set(result.direct_refs or []) == {
        "pkg:golang/github.com/google/uuid@v1.6.0",
        "pkg:golang/github.com/example/logrus-fork@v1.9.4",
        "pkg:golang/example.com/quoted/module@v1.0.0",
        "go.mod:local:../lib",
    }
    assert result.subject is not None
    assert result.subject.purl == "pkg:golang/example.com/shop/checkout"


def test_go_sum_is_optional() -> None:
    result = READER.read(b"module m\nrequire a.example/b v1.0.0\n", "go.mod", {})
    assert [p.purl for p in result.packages] == ["pkg:golang/a.example/b@v1.0.0"]
    assert result.packages[0].hashes == {}


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (b"module m\nrequire (\n  a.example/b\n)\n", "line 3"),
        (b"module m\nfrobnicate x\n", "line 2"),
        (b"module m\nreplace a.example/b => c.example/d\n", "line 2"),
    ],
)
def test_malformed_lines(text: bytes, place: str) -> None:
    with pytest.raises(InputError) as error:
        READER.read(text, "svc/go.mod", {})
    assert error.value.place == place


def test_unterminated_block() -> None:
    with pytest.raises(InputError, match="unterminated require block"):
        READER.read(b"require (\n a.example/b v1.0.0\n", "go.mod", {})


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    def read(name: str) -> list[tuple[str, str | None]]:
        path = osv_fixtures / "go" / name
        result = READER.read(path.read_bytes(), path.as_posix(), {})
        return sorted((p.name, p.version) for p in result.packages)

    assert read("empty.mod") == []
    assert read("one-package.mod") == [("github.com/BurntSushi/toml", "v1.0.0")]
    assert len(read("indirect-packages.mod")) == 5
    assert read("replace-one.mod") == [("example.com/fork/net", "v1.4.5")]
    assert read("replace-mixed.mod") == [
        ("example.com/fork/net", "v1.4.5"),
        ("golang.org/x/net", "v0.5.6"),
    ]
    assert read("replace-different.mod") == [
        ("example.com/fork/foe", "v1.4.2"),
        ("example.com/fork/foe", "v1.4.5"),
    ]
    assert read("replace-local.mod") == [
        ("github.com/BurntSushi/toml", "v1.0.0"),
        ("golang.org/x/net", None),
    ]
    assert read("replace-not-required.mod") == [
        ("github.com/BurntSushi/toml", "v1.0.0"),
        ("golang.org/x/net", "v0.5.6"),
    ]
    with pytest.raises(InputError):
        read("not-go-mod.txt")
