"""The fast canonical-purl splitter agrees with packageurl-python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packageurl import PackageURL

from meshward.ecosystems.purls import coordinates, split_canonical
from meshward.formats.sbom.common import normalize_purl

SAMPLES = [
    "pkg:pypi/django@4.2.1",
    "pkg:npm/%40angular/core@16.0.0-rc.1",
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
    "pkg:golang/github.com/gorilla/websocket@v1.4.0",
    "pkg:deb/debian/openssl@3.0.9-1?arch=amd64&distro=debian-12",
    "pkg:rpm/redhat/openssl@1.1.1k-7.el8?arch=x86_64&epoch=1",
    "pkg:apk/alpine/busybox@1.36.1-r2?distro=alpine-3.18",
    "pkg:nuget/Newtonsoft.Json@12.0.1",
    "pkg:generic/acme/thing%20one@1.0%2Bbuild#sub/path",
    "pkg:docker/library/nginx@sha256%3Aabc?repository_url=docker.io",
    "pkg:cargo/serde",
]


def agree(purl: str) -> None:
    canonical = normalize_purl(purl)
    ours = split_canonical(canonical)
    theirs = PackageURL.from_string(canonical)
    qualifiers = theirs.qualifiers if isinstance(theirs.qualifiers, dict) else {}
    assert (ours.type, ours.namespace, ours.name, ours.version, ours.qualifiers) == (
        theirs.type,
        theirs.namespace,
        theirs.name,
        theirs.version,
        qualifiers,
    ), canonical


@pytest.mark.parametrize("purl", SAMPLES)
def test_splitter_agrees_with_packageurl(purl: str) -> None:
    agree(purl)


def test_coordinates_name_packages_as_advisories_do() -> None:
    assert coordinates("pkg:pypi/Django_REST@1.0") == ("pypi", "PyPI", "django-rest", "1.0")
    assert coordinates("pkg:maven/org.slf4j/slf4j-api@2.0.0").name == "org.slf4j:slf4j-api"
    assert coordinates("pkg:npm/%40babel/core@7.0.0").name == "@babel/core"
    assert coordinates("pkg:deb/debian/openssl@3.0.9-1").ecosystem == "Debian"
    assert coordinates("pkg:rpm/redhat/openssl@1.1.1k-7.el8?epoch=1").version == "1:1.1.1k-7.el8"
    assert coordinates("pkg:github/actions/checkout@v4").ecosystem is None
    with pytest.raises(ValueError):
        split_canonical("django@1.0")


@pytest.mark.shared
def test_splitter_agrees_on_every_purl_of_the_real_sboms(shared_data: Path) -> None:
    seen = 0
    for path in sorted((shared_data / "sboms" / "cyclonedx").rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        stack = list(doc.get("components", [])) if isinstance(doc, dict) else []
        while stack:
            c = stack.pop()
            if not isinstance(c, dict):
                continue
            stack += c.get("components", []) if isinstance(c.get("components"), list) else []
            purl = c.get("purl")
            if isinstance(purl, str):
                try:
                    normalize_purl(purl)
                except ValueError:
                    continue
                agree(purl)
                seen += 1
    assert seen > 5000
