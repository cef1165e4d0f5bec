"""SPDX 2.2 / 2.3 JSON reader: fixtures, hostile input, the shared corpus, fuzzing."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshward.errors import InputError
from meshward.formats.sbom.interface import SbomDocument
from meshward.formats.sbom.spdx3 import Spdx3Reader
from meshward.formats.sbom.spdx_json import SpdxJsonReader
from meshward.formats.sbom.spdx_tagvalue import SpdxTagValueReader
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures" / "spdx"
SHOP = FIXTURES / "shop-2.3.spdx.json"
READER = SpdxJsonReader()


def shop() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHOP.read_text())
    return data


def read(doc: Any, source: str = "sbom.spdx.json", limits: Limits | None = None) -> SbomDocument:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    if limits is None:
        return READER.read(data, source)
    return READER.read(data, source, limits)


def error_of(doc: Any, limits: Limits | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        read(doc, limits=limits)
    return info.value


# --------------------------------------------------------------------------- the fixture


def test_reads_document_fields() -> None:
    doc = READER.read(SHOP.read_bytes(), "shop.spdx.json")
    assert (doc.format, doc.spec_version, doc.encoding) == ("SPDX", "2.3", "json")
    assert doc.name == "shop-api-1.4.0"
    assert doc.serial == "https://example.com/spdx/shop-api-1.4.0-5b1c"
    assert doc.created == "2024-03-01T12:00:00Z"
    assert doc.tools == ["syft-1.0.1"]
    assert [p.ref for p in doc.packages] == [
        "SPDXRef-shop-api",
        "SPDXRef-django",
        "SPDXRef-sqlparse",
        "SPDXRef-openssl",
    ]


def test_reads_package_fields() -> None:
    packages = {p.ref: p for p in READER.read(SHOP.read_bytes(), "shop.spdx.json").packages}
    app = packages["SPDXRef-shop-api"]
    assert (app.name, app.version, app.purl, app.type) == ("shop-api", "1.4.0", None, "application")
    assert app.licenses == ["Apache-2.0"]  # concluded wins over declared
    assert app.supplier == "Example Corp"

    django = packages["SPDXRef-django"]
    assert django.purl == "pkg:pypi/django@4.2.1"  # normalised
    assert django.cpe == "cpe:2.3:a:djangoproject:django:4.2.1:*:*:*:*:*:*:*"
    assert django.licenses == ["BSD-3-Clause"]  # concluded NOASSERTION -> declared
    assert django.type == "library"
    assert django.supplier == "Django Software Foundation"  # "Person: " and "()" dropped
    assert django.hashes == {
        "SHA-256": "7e4225ec065e0f354ccf7349a22d209de09cc1c074832be9eb84c51c65c8a4c4",
        "SHA-1": "85ed0817af83a24ad8da68c2b5094de69833983c",
    }

    sqlparse = packages["SPDXRef-sqlparse"]
    assert sqlparse.licenses == []  # both NOASSERTION
    assert sqlparse.cpe == "cpe:/a:sqlparse:sqlparse:0.4.4"  # cpe22 when no cpe23

    openssl = packages["SPDXRef-openssl"]
    assert openssl.version is None  # NOASSERTION is not a version
    assert openssl.purl == "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12"
    assert openssl.type == "operating-system"
    assert openssl.licenses == ["Apache-2.0 OR OpenSSL"]


def test_relationships_become_package_edges() -> None:
    doc = READER.read(SHOP.read_bytes(), "shop.spdx.json")
    # DEPENDS_ON a->b; DEPENDENCY_OF reversed; CONTAINED_BY reversed; CONTAINS to a file,
    # DYNAMIC_LINK, self-loops, duplicates, external and NOASSERTION ends are dropped.
    assert doc.dependencies == [
        ("SPDXRef-shop-api", "SPDXRef-django"),
        ("SPDXRef-django", "SPDXRef-sqlparse"),
        ("SPDXRef-shop-api", "SPDXRef-openssl"),
    ]
    assert doc.root_refs == ["SPDXRef-shop-api"]


def test_roots_from_described_by_and_only_packages() -> None:
    raw = shop()
    raw["documentDescribes"] = ["SPDXRef-file-manage-py"]
    raw["relationships"] = [
        {
            "spdxElementId": "SPDXRef-sqlparse",
            "relationshipType": "DESCRIBED_BY",
            "relatedSpdxElement": "SPDXRef-DOCUMENT",
        },
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "describes",
            "relatedSpdxElement": "SPDXRef-file-manage-py",
        },
    ]
    assert read(raw).root_refs == ["SPDXRef-sqlparse"]


def test_legacy_key_spellings() -> None:
    raw = shop()
    package = raw["packages"][2]
    package["packageName"] = package.pop("name")
    package["packageLicenseConcluded"] = "MIT"
    package.pop("licenseConcluded")
    doc = read(raw)
    assert doc.packages[2].name == "sqlparse"
    assert doc.packages[2].licenses == ["MIT"]


def test_accepts_bom_and_utf16() -> None:
    data = SHOP.read_bytes()
    assert len(READER.read(b"\xef\xbb\xbf" + data, "bom.json").packages) == 4
    utf16 = data.decode().encode("utf-16")
    assert len(READER.read(utf16, "utf16.json").packages) == 4


def test_odd_creators_are_skipped() -> None:
    raw = shop()
    raw["creationInfo"]["creators"] = [{"Person": "Harry"}, "Tool: x-1"]
    assert read(raw).tools == ["x-1"]


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (SHOP.read_bytes()[:300], True),
        (b'\xef\xbb\xbf  {"SPDXID": "SPDXRef-DOCUMENT"', True),
        (b'{\r\n  "files": [ {"fileName": "a", "SPDXID": "SPDXRef-File-a"', True),
        ('{"spdxVersion": "SPDX-2.3"'.encode("utf-16"), True),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6"', False),
        (b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []}', False),
        (b"SPDXVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\n", False),
        (b"", False),
        (b"\xff\xfe\x00", False),
        (b"[1, 2, 3]", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert READER.sniff(head) is expected


# --------------------------------------------------------------------------- bad input


def mutate(path: tuple[str | int, ...], value: Any = KeyError) -> dict[str, Any]:
    """The fixture with the value at ``path`` replaced (or removed when value is KeyError)."""
    raw = shop()
    node: Any = raw
    for part in path[:-1]:
        node = node[part]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("doc", "place", "fragment"),
    [
        (mutate(("spdxVersion",)), "/spdxVersion", "not an SPDX 2 JSON document"),
        (mutate(("spdxVersion",), 2), "/spdxVersion", "expected a string"),
        (mutate(("spdxVersion",), "SPDX-3.0"), "/spdxVersion", "unsupported SPDX version"),
        (mutate(("SPDXID",), ""), "/SPDXID", "must not be empty"),
        (mutate(("SPDXID",)), "/SPDXID", "missing required field"),
        (mutate(("name",), ["x"]), "/name", "expected a string, got an array"),
        (mutate(("creationInfo",), "yesterday"), "/creationInfo", "expected an object"),
        (mutate(("packages",), {}), "/packages", "expected an array"),
        (mutate(("packages", 1), "Django"), "/packages/1", "expected a package object"),
        (mutate(("packages", 3, "SPDXID")), "/packages/3/SPDXID", "missing required field"),
        (mutate(("packages", 3, "SPDXID"), 7), "/packages/3/SPDXID", "expected a string"),
        (
            mutate(("packages", 3, "SPDXID"), "SPDXRef-django"),
            "/packages/3/SPDXID",
            "duplicate SPDXID",
        ),
        (mutate(("packages", 2, "name")), "/packages/2/name", "missing required field"),
        (mutate(("packages", 2, "name"), "  "), "/packages/2/name", "must not be empty"),
        (mutate(("packages", 2, "versionInfo"), 0.4), "/packages/2/versionInfo", "a number"),
        (mutate(("packages", 1, "externalRefs"), "x"), "/packages/1/externalRefs", "an array"),
        (mutate(("packages", 1, "externalRefs", 0), None), "/packages/1/externalRefs/0", "null"),
        (
            mutate(("packages", 1, "externalRefs", 1, "referenceLocator"), "pkg:pypi"),
            "/packages/1/externalRefs/1/referenceLocator",
            "bad purl",
        ),
        (
            mutate(("packages", 2, "externalRefs", 0, "referenceLocator"), "https://pypi.org"),
            "/packages/2/externalRefs/0/referenceLocator",
            "bad purl",
        ),
        (
            mutate(("packages", 2, "externalRefs", 0, "referenceLocator")),
            "/packages/2/externalRefs/0/referenceLocator",
            "missing required field",
        ),
        (
            mutate(("packages", 2, "externalRefs", 0, "referenceType"), 1),
            "/packages/2/externalRefs/0/referenceType",
            "expected a string",
        ),
        (
            mutate(("packages", 1, "checksums", 0, "checksumValue"), None),
            "/packages/1/checksums/0/checksumValue",
            "missing required field",
        ),
        (
            mutate(("packages", 1, "licenseConcluded"), {"id": "MIT"}),
            "/packages/1/licenseConcluded",
            "expected a string",
        ),
        (mutate(("packages", 0, "supplier"), True), "/packages/0/supplier", "a boolean"),
        (mutate(("documentDescribes", 0), 1), "/documentDescribes/0", "expected a string"),
        (mutate(("relationships", 2), []), "/relationships/2", "expected a relationship"),
        (
            mutate(("relationships", 2, "relatedSpdxElement")),
            "/relationships/2/relatedSpdxElement",
            "missing required field",
        ),
        ([], "/", "expected a JSON object"),
        (
            {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []},
            "/spdxVersion",
            "SPDX 3",
        ),
    ],
)
def test_bad_documents_name_the_place(doc: Any, place: str, fragment: str) -> None:
    error = error_of(doc)
    assert error.source == "sbom.spdx.json"
    assert error.place == place
    assert fragment in error.message


def test_not_json() -> None:
    error = error_of(b'{"spdxVersion": "SPDX-2.3",\n  "packages": [}')
    assert error.place is not None and error.place.startswith("line 2")
    assert "not valid JSON" in error.message


def test_size_limit() -> None:
    error = error_of(SHOP.read_bytes(), limits=Limits(max_bytes=1000))
    assert "larger than the limit" in error.message


def test_depth_limit() -> None:
    deep: Any = "x"
    for _ in range(80):
        deep = [deep]
    error = error_of(mutate(("packages", 1, "comment"), deep))
    assert "nesting deeper than the limit" in error.message
    assert error.place is not None and error.place.startswith("/packages/1/comment")


def test_huge_number() -> None:
    data = SHOP.read_bytes().replace(b'"filesAnalyzed": false', b'"filesAnalyzed": 1' + b"0" * 80)
    error = error_of(data)
    assert "number" in error.message
    assert error.place is not None and error.place.startswith("line 18")


# --------------------------------------------------------------------------- shared corpus

# Files of the corpus that are not valid SPDX 2 JSON, and the place each error must name.
JSON_REJECTS = {
    # deliberately invalid GUAC test documents
    "guac-exampledata/invalid-spdx.json": "/spdxVersion",
    "guac-exampledata/invalid-spdx-identifier-spdx.json": "/SPDXID",
    # ko 0.12 wrote a package with an empty name and the purl "pkg:golang/@?type=module"
    "guac-exampledata/go-spdx-multi-arch_1.json": "/packages/2/name",
    "guac-exampledata/go-spdx-multi-arch_2.json": "/packages/2/name",
    # Microsoft sbom-tool 2.x gives its build-image package a URL where a purl belongs
    "bom-shelter-in-the-wild/microsoft-sbom-tool.spdx.json": (
        "/packages/61/externalRefs/0/referenceLocator"
    ),
    "bom-shelter-in-the-wild/missionlz.spdx.json": "/packages/0/externalRefs/0/referenceLocator",
    "bom-shelter-in-the-wild/win-x64-manifest.spdx.json": (
        "/packages/11/externalRefs/0/referenceLocator"
    ),
}


def spdx2_json_files(root: Path) -> list[Path]:
    """Every file of the corpus whose content is SPDX 2 JSON (by content, not by name)."""
    out = []
    for path in sorted((root / "sboms" / "spdx").rglob("*")):
        if path.suffix != ".json" or path.parent.name == "schema":
            continue
        if READER.sniff(path.read_bytes()[:65536]):
            out.append(path)
    return out


@pytest.mark.shared
def test_corpus_package_counts(shared_data: Path) -> None:
    base = shared_data / "sboms" / "spdx"
    files = spdx2_json_files(shared_data)
    assert len(files) >= 30
    accepted, problems = 0, []
    for path in files:
        name = path.relative_to(base).as_posix()
        try:
            doc = READER.read(path.read_bytes(), name)
        except InputError as exc:
            if name not in JSON_REJECTS:
                problems.append(f"{name}: unexpected {exc}")
            elif exc.place != JSON_REJECTS[name]:
                problems.append(f"{name}: error at {exc.place}, expected {JSON_REJECTS[name]}")
            continue
        if name in JSON_REJECTS:
            problems.append(f"{name}: accepted, expected an error at {JSON_REJECTS[name]}")
            continue
        expected = len(json.loads(path.read_bytes()).get("packages", []))
        if len(doc.packages) != expected:
            problems.append(f"{name}: {len(doc.packages)} packages, plain json says {expected}")
        accepted += 1
    assert not problems, "\n".join(problems)
    assert accepted >= 25


@pytest.mark.shared
def test_corpus_non_spdx_json_is_refused(shared_data: Path) -> None:
    base = shared_data / "sboms" / "spdx"
    # a licence list, and the SPDX JSON schema: JSON, but not SPDX documents
    assert not READER.sniff((base / "bom-shelter-in-the-wild/maubot-spdx.json").read_bytes())
    for name in ("bom-shelter-in-the-wild/maubot-spdx.json", "schema/spdx-schema-v2.3.json"):
        with pytest.raises(InputError) as info:
            READER.read((base / name).read_bytes(), name)
        assert info.value.place == "/spdxVersion"


@pytest.mark.shared
@pytest.mark.parametrize("version", ["2.2", "2.3"])
def test_spec_example_json_and_tag_value_agree(shared_data: Path, version: str) -> None:
    base = shared_data / "sboms" / "spdx" / "spdx-spec-examples" / version
    from_json = READER.read((base / f"SPDXJSONExample-v{version}.spdx.json").read_bytes(), "j")
    from_tv = SpdxTagValueReader().read(
        (base / f"SPDXTagExample-v{version}.spdx").read_bytes(), "t"
    )
    assert from_json.spec_version == from_tv.spec_version == version
    assert sorted(from_json.packages, key=lambda p: p.ref) == sorted(
        from_tv.packages, key=lambda p: p.ref
    )
    assert len(from_json.packages) == 4
    assert sorted(from_json.dependencies) == sorted(from_tv.dependencies)
    assert from_json.root_refs == from_tv.root_refs == ["SPDXRef-Package"]
    assert (from_json.name, from_json.serial, from_json.created, from_json.tools) == (
        from_tv.name,
        from_tv.serial,
        from_tv.created,
        from_tv.tools,
    )
    glibc = next(p for p in from_json.packages if p.ref == "SPDXRef-Package")
    assert glibc.hashes["SHA-256"].startswith("11b6d3ee")
    assert glibc.licenses == ["(LGPL-2.0-only OR LicenseRef-3)"]


@pytest.mark.shared
def test_syft_json_and_tag_value_renderings_agree(shared_data: Path) -> None:
    """bom-shelter keeps syft's JSON and a tag-value conversion of the same SBOMs."""
    base = shared_data / "sboms" / "spdx" / "bom-shelter-in-the-wild"
    stems = [p.name[: -len(".spdx.json")] for p in base.glob("*_sbom.spdx.json")]
    stems.append("grype-sbom")
    for stem in stems:
        from_json = READER.read((base / f"{stem}.spdx.json").read_bytes(), stem)
        from_tv = SpdxTagValueReader().read((base / f"{stem}.spdx").read_bytes(), stem)
        by_ref = {p.ref: p for p in from_tv.packages}
        assert sorted(by_ref) == sorted(p.ref for p in from_json.packages), stem
        assert sorted(from_json.dependencies) == sorted(from_tv.dependencies), stem
        same = sum(p == by_ref[p.ref] for p in from_json.packages)
        # the conversion upper-cased one name in source-controller ("minio/SHA256-simd")
        assert same >= len(from_json.packages) - 1, stem


@pytest.mark.shared
def test_spdx2_and_spdx3_renderings_of_the_examples_agree(shared_data: Path) -> None:
    """spdx-examples renders several SBOMs in both SPDX 2 JSON and SPDX 3."""
    base = shared_data / "sboms" / "spdx" / "spdx-examples" / "software"
    pairs = [
        ("example9/spdx2.2/appbomination.spdx.json", "example9/spdx3.0/appbomination.spdx3.json"),
        (
            "example8/spdx2.3/examplemaven-0.0.1.spdx.json",
            "example8/spdx3.0/examplemaven-0.0.1.spdx3.json",
        ),
        ("example10/spdx2.3/hello-source.spdx.json", "example10/spdx3.0/hello-source.spdx3.json"),
    ]
    for two, three in pairs:
        doc2 = READER.read((base / two).read_bytes(), two)
        doc3 = Spdx3Reader().read((base / three).read_bytes(), three)
        assert sorted((p.name, p.version, p.purl) for p in doc2.packages) == sorted(
            (p.name, p.version, p.purl) for p in doc3.packages
        ), two
        roots2 = {p.name for p in doc2.packages if p.ref in doc2.root_refs}
        roots3 = {p.name for p in doc3.packages if p.ref in doc3.root_refs}
        assert roots2 == roots3, two


# --------------------------------------------------------------------------- fuzzing

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "",
            " ",
            "NOASSERTION",
            "NONE",
            "pkg:",
            "pkg:npm/",
            "pkg:npm/a@1",
            "purl",
            "SPDXRef-DOCUMENT",
            "SPDXRef-django",
            "cpe23Type",
            "DEPENDS_ON",
            "DESCRIBES",
            "SHA256",
            "\x00",
            "SPDX-2.3",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def all_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(all_paths(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(all_paths(value, (*path, index)))
    return out


def apply_mutation(doc: Any, data: st.DataObject) -> Any:
    paths = all_paths(doc)
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    READER.sniff(data)
    with contextlib.suppress(InputError):
        READER.read(data, "fuzz.json")


@FUZZ
@given(JSON_VALUES)
def test_fuzz_json_values(value: Any) -> None:
    with contextlib.suppress(InputError):
        READER.read(json.dumps(value).encode(), "fuzz.json")


@FUZZ
@given(st.data())
def test_fuzz_mutated_documents(data: st.DataObject) -> None:
    doc: Any = copy.deepcopy(FUZZ_BASE)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        doc = apply_mutation(doc, data)
    encoded = json.dumps(doc).encode()
    READER.sniff(encoded)
    try:
        READER.read(encoded, "fuzz.json")
    except InputError as exc:
        assert exc.source == "fuzz.json"


FUZZ_BASE = shop()
