"""CycloneDX JSON reader: normalisation, strictness where it matters, hostile input, the
shared corpus, and fuzzing (only InputError ever escapes)."""

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
from meshward.formats.sbom.cyclonedx_json import CycloneDxJsonReader
from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.limits import Limits

from .cdx_corpus import (
    ACCEPTED_INVALID,
    NOT_CYCLONEDX,
    REJECTED_INVALID,
    corpus_files,
    count_json_components,
    cyclonedx_dir,
    invalid_stem,
    load_plain_json,
    relative,
)

FIXTURES = Path(__file__).parent / "fixtures" / "cyclonedx"
SHOP_JSON = FIXTURES / "shop-1.6.cdx.json"
READER = CycloneDxJsonReader()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read(document: Any, source: str = "bom.json", limits: Limits | None = None) -> SbomDocument:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return READER.read(data, source, limits or Limits())


def rejected(document: Any, source: str = "bom.json", limits: Limits | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        read(document, source, limits)
    assert caught.value.source == source
    return caught.value


def bom(*components: dict[str, Any], version: str = "1.6", **extra: Any) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "components": list(components),
        **extra,
    }


def shop() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHOP_JSON.read_text())
    return data


# --------------------------------------------------------------------------- normalisation


def test_reads_the_fixture() -> None:
    document = READER.read(SHOP_JSON.read_bytes(), "shop.cdx.json")
    assert (document.format, document.spec_version, document.encoding) == (
        "CycloneDX",
        "1.6",
        "json",
    )
    assert document.name == "shop-api"
    assert document.serial == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    assert document.created == "2024-05-01T10:00:00Z"
    assert document.tools == ["@cyclonedx cdxgen 10.5.1"]
    assert document.root_refs == ["shop-api"]
    assert [p.ref for p in document.packages] == [
        "shop-api",
        "pkg:pypi/django@4.2.1",
        "meshward:component:2",
        "pkg:npm/%40angular/core@17.0.1",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
    ]
    subject, django, vendored, angular, log4j = document.packages
    assert subject == SbomPackage(
        ref="shop-api",
        name="shop-api",
        version="2.4.0",
        purl="pkg:generic/acme/shop-api@2.4.0",
        type="application",
        group="acme",
    )
    assert django == SbomPackage(
        ref="pkg:pypi/django@4.2.1",
        name="Django",
        version="4.2.1",
        purl="pkg:pypi/django@4.2.1",
        cpe="cpe:2.3:a:djangoproject:django:4.2.1:*:*:*:*:*:*:*",
        licenses=["BSD-3-Clause"],
        hashes={"SHA-256": "7efa6b1f781a6119a10ac94b4794ce8e9cfa92da7ed2ee18a91cfef6a9d0ca55"},
        scope="required",
        supplier="Django Software Foundation",
        type="framework",
    )
    assert vendored.parent_ref == "pkg:pypi/django@4.2.1"
    assert vendored.licenses == ["Django licence (vendored)"]
    assert angular.purl == "pkg:npm/%40angular/core@17.0.1"
    assert angular.licenses == ["MIT OR Apache-2.0"]
    assert angular.scope == "optional"
    assert log4j.scope == "excluded"
    assert log4j.hashes == {"SHA-1": "9141212b8507ab50a45525b545b39d224614528b"}
    # the service, the dangling ref and the repeated edge are gone
    assert document.dependencies == [
        ("shop-api", "pkg:pypi/django@4.2.1"),
        ("shop-api", "pkg:npm/%40angular/core@17.0.1"),
        ("pkg:pypi/django@4.2.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"),
    ]


@pytest.mark.parametrize("version", ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"])
def test_reads_every_supported_spec_version(version: str) -> None:
    document = read(bom({"type": "library", "name": "a", "version": "1"}, version=version))
    assert document.spec_version == version
    assert [p.name for p in document.packages] == ["a"]
    assert document.root_refs == []


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.8", "2.0", ""])
def test_unsupported_spec_versions_are_refused(version: str) -> None:
    error = rejected(bom(version=version))
    assert error.place == "/specVersion"
    assert "1.2, 1.3, 1.4, 1.5, 1.6, 1.7" in error.message


@pytest.mark.parametrize(
    ("document", "place"),
    [
        ({"bomFormat": "CDX", "specVersion": "1.6"}, "/bomFormat"),
        ({"specVersion": "1.6", "components": []}, "/bomFormat"),
        ({"spdxVersion": "SPDX-2.3"}, "/bomFormat"),
        ([], None),
        ("CycloneDX", None),
        ({"bomFormat": "CycloneDX", "specVersion": 1.6}, "/specVersion"),
    ],
)
def test_not_cyclonedx_is_refused(document: Any, place: str | None) -> None:
    assert rejected(document).place == place


def test_components_without_bom_ref_get_unique_refs_that_avoid_declared_ones() -> None:
    document = read(
        bom(
            {"name": "a"},
            {"name": "b", "components": [{"name": "c"}]},
            {"name": "d", "bom-ref": "meshward:component:0"},
        )
    )
    refs = [p.ref for p in document.packages]
    assert len(set(refs)) == 4
    assert refs[3] == "meshward:component:0"
    assert refs[0] == "meshward:component:0_"
    assert document.packages[2].parent_ref == refs[1]


def test_nesting_is_flattened_in_document_order_with_parent_refs() -> None:
    document = read(
        bom(
            {"name": "a", "bom-ref": "a", "components": [
                {"name": "a1", "bom-ref": "a1", "components": [{"name": "a11", "bom-ref": "a11"}]},
                {"name": "a2", "bom-ref": "a2"},
            ]},
            {"name": "b", "bom-ref": "b"},
            metadata={"component": {"name": "app", "bom-ref": "app", "components": [
                {"name": "app-part", "bom-ref": "part"}
            ]}},
        )
    )  # fmt: skip
    assert [(p.ref, p.parent_ref) for p in document.packages] == [
        ("app", None),
        ("part", "app"),
        ("a", None),
        ("a1", "a"),
        ("a11", "a1"),
        ("a2", "a"),
        ("b", None),
    ]
    assert document.root_refs == ["app"]
    assert document.name == "app"


def test_a_repeated_bom_ref_is_an_error_naming_both_places() -> None:
    error = rejected(
        bom(
            {"name": "a", "bom-ref": "x"},
            {"name": "b", "components": [{"name": "c", "bom-ref": "x"}]},
        )
    )
    assert error.place == "/components/1/components/0"
    assert "/components/0" in error.message


def test_an_empty_bom_ref_is_an_error() -> None:
    assert rejected(bom({"name": "a", "bom-ref": ""})).place == "/components/0"


@pytest.mark.parametrize(
    ("document", "place"),
    [
        (bom({"name": "a"}, {"name": "b", "purl": "npm/left-pad@1"}), "/components/1/purl"),
        (
            bom({"name": "a", "components": [{"name": "b", "purl": "pkg:"}]}),
            "/components/0/components/0/purl",
        ),
        (
            bom(metadata={"component": {"name": "app", "purl": "pkg:/x"}}),
            "/metadata/component/purl",
        ),
        (bom({"name": "a", "purl": ""}), "/components/0/purl"),
    ],
)
def test_a_malformed_purl_names_its_place(document: dict[str, Any], place: str) -> None:
    error = rejected(document, "service-x.cdx.json")
    assert error.place == place
    assert "malformed purl" in error.message
    assert str(error).startswith(f"service-x.cdx.json: {place}: ")


@pytest.mark.parametrize(
    ("component", "place"),
    [
        ({"name": 1}, "/components/0/name"),
        ({"type": "library"}, "/components/0"),
        ({"name": "a", "version": 1.0}, "/components/0/version"),
        ({"name": "a", "bom-ref": 7}, "/components/0/bom-ref"),
        ({"name": "a", "group": ["g"]}, "/components/0/group"),
        ({"name": "a", "cpe": {}}, "/components/0/cpe"),
        ({"name": "a", "type": None, "scope": "foo"}, "/components/0/scope"),
        ({"name": "a", "scope": ["required"]}, "/components/0/scope"),
        ({"name": "a", "purl": 5}, "/components/0/purl"),
        ({"name": "a", "supplier": "acme"}, "/components/0/supplier"),
        ({"name": "a", "supplier": {"name": 1}}, "/components/0/supplier/name"),
        ({"name": "a", "components": {}}, "/components/0/components"),
        ({"name": "a", "licenses": {}}, "/components/0/licenses"),
        ({"name": "a", "licenses": ["MIT"]}, "/components/0/licenses/0"),
        ({"name": "a", "licenses": [{}]}, "/components/0/licenses/0"),
        ({"name": "a", "licenses": [{"license": {}}]}, "/components/0/licenses/0/license"),
        ({"name": "a", "licenses": [{"license": "MIT"}]}, "/components/0/licenses/0/license"),
        (
            {"name": "a", "licenses": [{"license": {"id": 1}}]},
            "/components/0/licenses/0/license/id",
        ),
        ({"name": "a", "licenses": [{"expression": 1}]}, "/components/0/licenses/0/expression"),
        (
            {"name": "a", "licenses": [{"license": {"id": "MIT"}, "expression": "MIT"}]},
            "/components/0/licenses/0",
        ),
        ({"name": "a", "hashes": {}}, "/components/0/hashes"),
        ({"name": "a", "hashes": ["abc"]}, "/components/0/hashes/0"),
        ({"name": "a", "hashes": [{"alg": "MD5"}]}, "/components/0/hashes/0/content"),
        ({"name": "a", "hashes": [{"alg": 5, "content": "ab"}]}, "/components/0/hashes/0/alg"),
    ],
)
def test_wrong_types_in_fields_we_read_name_the_place(component: Any, place: str) -> None:
    assert rejected(bom(component)).place == place


@pytest.mark.parametrize(
    ("document", "place"),
    [
        (bom(components={}), "/components"),
        (bom(metadata=[]), "/metadata"),
        (bom(metadata={"timestamp": 5}), "/metadata/timestamp"),
        (bom(dependencies={}), "/dependencies"),
        (bom(dependencies=["a"]), "/dependencies/0"),
        (bom(dependencies=[{"dependsOn": []}]), "/dependencies/0"),
        (bom(dependencies=[{"ref": ""}]), "/dependencies/0/ref"),
        (bom(dependencies=[{"ref": "a", "dependsOn": "b"}]), "/dependencies/0/dependsOn"),
        (bom(dependencies=[{"ref": "a", "dependsOn": ["b", 3]}]), "/dependencies/0/dependsOn/1"),
        (bom(dependencies=[{"ref": "a", "dependsOn": [""]}]), "/dependencies/0/dependsOn/0"),
        (bom("not a component"), "/components/0"),
    ],
)
def test_structural_errors_name_the_place(document: dict[str, Any], place: str) -> None:
    assert rejected(document).place == place


def test_licences_hashes_and_lenient_fields() -> None:
    document = read(
        bom(
            {
                "name": "a",
                "type": "future-type",
                "licenses": [
                    {"license": {"id": "Apache-2", "name": "ignored"}},
                    {"license": {"name": "Custom"}},
                    {"license": {"url": "https://example.com/LICENSE"}},
                    {"expression": "(MIT AND BSD-3-Clause)"},
                ],
                "hashes": [
                    {"alg": "SHA-256", "content": "AB" * 32},
                    {"alg": "MD5", "content": "foo"},
                    {"alg": "SHA-1", "content": "ab"},
                    {"alg": "Streebog-256", "content": "0A1B"},
                    {"alg": "sha512", "content": " " + "cd" * 64 + " "},
                ],
            }
        )
    )
    package = document.packages[0]
    assert package.type == "future-type"
    assert package.licenses == [
        "Apache-2",
        "Custom",
        "https://example.com/LICENSE",
        "(MIT AND BSD-3-Clause)",
    ]
    assert package.hashes == {"SHA-256": "ab" * 32, "STREEBOG-256": "0a1b", "SHA-512": "cd" * 64}


def test_null_means_absent() -> None:
    document = read(
        bom({"name": "a", "version": None, "purl": None, "licenses": None, "hashes": None})
    )
    assert document.packages[0] == SbomPackage(ref="meshward:component:0", name="a")


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (
            [{"vendor": "anchore", "name": "syft", "version": "0.58.0"}, "junk", {"name": 3}],
            ["anchore syft 0.58.0"],
        ),
        (
            {
                "components": [{"group": "@cyclonedx", "name": "cdxgen"}],
                "services": [{"name": "scanner", "version": "2"}],
            },
            ["@cyclonedx cdxgen", "scanner 2"],
        ),
        ("nonsense", []),
    ],
)
def test_tools(tools: Any, expected: list[str]) -> None:
    assert read(bom(metadata={"tools": tools})).tools == expected


def test_dependencies_keep_package_edges_only_once() -> None:
    document = read(
        bom(
            {"name": "a", "bom-ref": "a"},
            {"name": "b", "bom-ref": "b"},
            services=[{"bom-ref": "s", "name": "svc"}],
            dependencies=[
                {"ref": "a", "dependsOn": ["b", "b", "s", "ghost"]},
                {"ref": "a", "dependsOn": ["b"]},
                {"ref": "s", "dependsOn": ["a"]},
                {"ref": "b", "dependsOn": []},
            ],
        )
    )
    assert document.dependencies == [("a", "b")]


# --------------------------------------------------------------------------- hostile input


def test_deep_nesting_is_refused_with_a_pointer() -> None:
    deep: Any = "x"
    for _ in range(100):
        deep = {"n": deep}
    error = rejected(bom({"name": "a", "properties": [deep]}), "deep.cdx.json")
    assert error.place is not None
    assert error.place.startswith("/components/0/properties/0/n/n")
    assert "deeper" in error.message


def test_very_deep_nesting_is_refused_fast() -> None:
    data = b'{"bomFormat": "CycloneDX", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    error = rejected(data, "bomb.cdx.json")
    assert error.place == "/x" + "/0" * 63


def test_a_huge_integer_is_refused() -> None:
    prefix = b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": '
    error = rejected(prefix + b"9" * 1000 + b"}", "huge.cdx.json")
    assert "digits" in error.message
    assert error.place == f"line 1 column {len(prefix) + 1}"


def test_an_oversized_document_is_refused_before_parsing() -> None:
    error = rejected(SHOP_JSON.read_bytes(), "big.cdx.json", Limits(max_bytes=1000))
    assert "limit" in error.message


@pytest.mark.parametrize(
    "data", [b"", b"{", b'{"bomFormat": "CycloneDX",}', b"\xff\xfe\xfd", b"\x00" * 10]
)
def test_broken_bytes_are_refused(data: bytes) -> None:
    rejected(data, "broken.json")


def test_utf8_bom_and_utf16_are_read() -> None:
    text = SHOP_JSON.read_text()
    plain = READER.read(text.encode(), "a")
    assert READER.read(b"\xef\xbb\xbf" + text.encode(), "b").packages == plain.packages
    assert READER.read(text.encode("utf-16"), "c").packages == plain.packages


def test_sniff() -> None:
    assert READER.sniff(SHOP_JSON.read_bytes()[:200])
    assert READER.sniff(b'\xef\xbb\xbf  {"bomFormat" : "CycloneDX"')
    assert READER.sniff('{"bomFormat": "CycloneDX"}'.encode("utf-16"))
    assert READER.sniff(b'{"$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json"')
    assert not READER.sniff(b'{"spdxVersion": "SPDX-2.3"}')
    assert not READER.sniff(b"<bom xmlns='http://cyclonedx.org/schema/bom/1.6'/>")
    assert not READER.sniff(b"")
    assert not READER.sniff(b"\xff\xfe\x00")


# --------------------------------------------------------------------------- fuzzing


@FUZZ
@given(
    st.binary(max_size=300)
    | st.binary(max_size=300).map(lambda b: b'{"bomFormat":"CycloneDX",' + b)
)
def test_arbitrary_bytes_raise_only_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):
        READER.read(data, "fuzz.json")


KEYS = ["name", "bom-ref", "purl", "license", "id", "alg", "content", "ref", "dependsOn", "x"]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["pkg:npm/x@1", "pkg:", "required", "SHA-256", "MIT", "", "a" * 64]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)


def slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree."""
    found: list[tuple[Any, Any]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        items = current.items() if isinstance(current, dict) else enumerate(current)
        for key, value in items:
            found.append((current, key))
            if isinstance(value, dict | list):
                stack.append(value)
    return found


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(min_value=0), st.booleans(), JSON_VALUES), min_size=1, max_size=4
    )
)
def test_mutated_documents_raise_only_input_error(mutations: list[tuple[int, bool, Any]]) -> None:
    document = shop()
    for index, delete, value in mutations:
        targets = slots(document)
        container, key = targets[index % len(targets)]
        if delete and isinstance(container, dict):
            del container[key]
        else:
            container[key] = copy.deepcopy(value)
    try:
        result = read(document, "mutated.json")
    except InputError:
        return
    assert all(isinstance(p.ref, str) and p.ref for p in result.packages)
    assert len({p.ref for p in result.packages}) == len(result.packages)


@FUZZ
@given(st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=3)), min_size=1, max_size=5))
def test_byte_mutations_raise_only_input_error(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SHOP_JSON.read_bytes())
    for position, replacement in edits:
        at = position % len(data)
        data[at : at + 1] = replacement
    with contextlib.suppress(InputError):
        READER.read(bytes(data), "bytes.json")


# --------------------------------------------------------------------------- shared corpus


@pytest.mark.shared
def test_every_valid_corpus_file_ingests_with_the_independent_count(shared_data: Path) -> None:
    read_files = 0
    for path in corpus_files(shared_data, ".json"):
        name = relative(shared_data, path)
        if name in NOT_CYCLONEDX:
            with pytest.raises(InputError):
                READER.read(path.read_bytes(), name)
            continue
        document = READER.read(path.read_bytes(), name)
        components, edges = count_json_components(load_plain_json(path))
        assert len(document.packages) == components, name
        assert len(document.dependencies) == edges, name
        read_files += 1
    assert read_files > 240


@pytest.mark.shared
def test_spec_invalid_documents_are_rejected_or_accepted_as_documented(shared_data: Path) -> None:
    base = cyclonedx_dir(shared_data) / "spec-test-resources"
    seen = 0
    for path in sorted(base.rglob("*invalid*.json")):
        stem = invalid_stem(path)
        if stem in REJECTED_INVALID["json"]:
            with pytest.raises(InputError):
                READER.read(path.read_bytes(), path.name)
        else:
            assert stem in ACCEPTED_INVALID, path.name
            READER.read(path.read_bytes(), path.name)
        seen += 1
    assert seen > 90


@pytest.mark.shared
def test_juice_shop_nested_and_flat_give_the_same_packages(shared_data: Path) -> None:
    base = cyclonedx_dir(shared_data) / "bom-examples" / "SBOM" / "juice-shop" / "via_npm"
    for version in ("1.2", "1.3", "1.4"):
        bare = READER.read((base / "bare" / f"bom.{version}.json").read_bytes(), "bare")
        flat = READER.read((base / "flat" / f"bom.{version}.json").read_bytes(), "flat")
        assert len(bare.packages) == len(flat.packages) == 1116
        assert sum(1 for p in bare.packages if p.parent_ref) > 200
        assert not any(p.parent_ref for p in flat.packages)
        assert {p.ref for p in bare.packages} == {p.ref for p in flat.packages}
        assert {p.purl for p in bare.packages} == {p.purl for p in flat.packages}
        assert set(bare.dependencies) == set(flat.dependencies)
