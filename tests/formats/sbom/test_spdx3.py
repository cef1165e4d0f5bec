"""SPDX 3.0 JSON-LD reader: fixtures, hostile input, the spdx-examples corpus, fuzzing."""

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
from meshward.formats.sbom.spdx3 import PACKAGE_TYPES, Spdx3Reader
from meshward.formats.sbom.spdx_json import SpdxJsonReader
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures" / "spdx"
SHOP = FIXTURES / "shop-3.0.spdx3.json"
READER = Spdx3Reader()
NS = "https://example.com/spdx/shop#"


def shop() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHOP.read_text())
    return data


def element(doc: dict[str, Any], spdx_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in doc["@graph"] if e.get("spdxId") == NS + spdx_id)
    return found


def index_of(doc: dict[str, Any], spdx_id: str) -> int:
    return next(i for i, e in enumerate(doc["@graph"]) if e.get("spdxId") == NS + spdx_id)


def read(doc: Any, limits: Limits | None = None) -> SbomDocument:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    if limits is None:
        return READER.read(data, "sbom.spdx3.json")
    return READER.read(data, "sbom.spdx3.json", limits)


def error_of(doc: Any, limits: Limits | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        read(doc, limits)
    assert info.value.source == "sbom.spdx3.json"
    return info.value


# --------------------------------------------------------------------------- the fixture


def test_reads_document_fields() -> None:
    doc = READER.read(SHOP.read_bytes(), "shop.spdx3.json")
    assert (doc.format, doc.spec_version, doc.encoding) == ("SPDX", "3.0", "json-ld")
    assert doc.name == "shop-api-1.4.0"
    assert doc.serial == "https://example.com/spdx/shop"
    assert doc.created == "2024-03-01T12:00:00Z"
    assert doc.tools == ["syft-1.0.1"]
    # SpdxDocument.rootElement -> software_Sbom -> its rootElement
    assert doc.root_refs == [NS + "shop-api"]


def test_reads_package_fields() -> None:
    packages = {p.name: p for p in READER.read(SHOP.read_bytes(), "shop.spdx3.json").packages}
    assert list(packages) == ["shop-api", "Django", "sqlparse", "openssl"]
    app = packages["shop-api"]
    assert (app.version, app.type, app.supplier) == ("1.4.0", "application", "Example Corp")
    assert app.licenses == ["Apache-2.0"]  # concluded wins over declared
    assert app.hashes == {}  # a PackageVerificationCode is not a hash of the package

    django = packages["Django"]
    assert django.purl == "pkg:pypi/django@4.2.1"  # software_packageUrl, normalised
    assert django.cpe == "cpe:2.3:a:djangoproject:django:4.2.1:*:*:*:*:*:*:*"
    assert django.licenses == ["BSD-3-Clause"]  # NOASSERTION concluded -> listed declared
    assert django.supplier == "Django Software Foundation"
    assert django.hashes == {  # the sha3_256 value is not hex: left out
        "SHA-256": "7e4225ec065e0f354ccf7349a22d209de09cc1c074832be9eb84c51c65c8a4c4",
        "SHA-1": "85ed0817af83a24ad8da68c2b5094de69833983c",
    }

    sqlparse = packages["sqlparse"]
    assert sqlparse.purl == "pkg:pypi/sqlparse@0.4.4"  # externalIdentifier packageUrl
    assert sqlparse.cpe == "cpe:/a:sqlparse:sqlparse:0.4.4"
    assert sqlparse.licenses == []  # NoAssertionLicense

    openssl = packages["openssl"]  # typed with the full IRI
    assert openssl.type == "operating-system"
    assert openssl.purl == "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12"
    assert openssl.licenses == ["Apache-2.0 OR OpenSSL"]


def test_relationships_become_package_edges() -> None:
    doc = READER.read(SHOP.read_bytes(), "shop.spdx3.json")
    assert doc.dependencies == [
        (NS + "shop-api", NS + "django"),
        (NS + "django", NS + "sqlparse"),
        (NS + "shop-api", NS + "openssl"),
    ]


def test_same_content_as_the_spdx2_rendering() -> None:
    three = READER.read(SHOP.read_bytes(), "shop.spdx3.json")
    two = SpdxJsonReader().read((FIXTURES / "shop-2.3.spdx.json").read_bytes(), "shop.json")

    def content(doc: SbomDocument) -> Any:
        names = {p.ref: p.name for p in doc.packages}
        packages = sorted(
            (p.name, p.version, p.purl, p.cpe, p.licenses, p.hashes, p.supplier, p.type)
            for p in doc.packages
        )
        edges = sorted((names[a], names[b]) for a, b in doc.dependencies)
        return packages, edges, [names[r] for r in doc.root_refs], doc.name, doc.tools

    assert content(three) == content(two)


def test_roots_from_describes_and_a_graph_without_document() -> None:
    raw = shop()
    raw["@graph"] = [e for e in raw["@graph"] if e["type"] not in ("SpdxDocument", "software_Sbom")]
    raw["@graph"].append(
        {
            "type": "Relationship",
            "spdxId": NS + "r-describes",
            "from": NS + "bom",
            "relationshipType": "https://spdx.org/rdf/3.0.1/terms/Core/RelationshipType/describes",
            "to": NS + "sqlparse",
        }
    )
    doc = read(raw)
    assert doc.root_refs == [NS + "sqlparse"]
    assert doc.name is None and doc.tools == []


def test_single_element_without_graph() -> None:
    package = element(shop(), "django")
    doc = read({"@context": "https://spdx.org/rdf/3.0.0/spdx-context.jsonld", **package})
    assert [p.name for p in doc.packages] == ["Django"]


def test_ai_and_dataset_packages_are_packages() -> None:
    raw = shop()
    element(raw, "sqlparse")["type"] = "ai_AIPackage"
    element(raw, "openssl")["type"] = "dataset_DatasetPackage"
    assert len(read(raw).packages) == 4


def test_expanded_licensing_becomes_an_expression() -> None:
    raw = shop()
    licenses = "https://spdx.org/licenses/"
    raw["@graph"] += [
        {"type": "expandedlicensing_ListedLicense", "spdxId": licenses + "GPL-2.0-only"},
        {
            "type": "expandedlicensing_ListedLicenseException",
            "spdxId": licenses + "Classpath-exception-2.0",
            "expandedlicensing_additionId": "Classpath-exception-2.0",
        },
        {
            "type": "expandedlicensing_WithAdditionOperator",
            "spdxId": NS + "with",
            "expandedlicensing_subjectExtendableLicense": licenses + "GPL-2.0-only",
            "expandedlicensing_subjectAddition": licenses + "Classpath-exception-2.0",
        },
        {
            "type": "expandedlicensing_OrLaterOperator",
            "spdxId": NS + "later",
            "expandedlicensing_subjectLicense": licenses + "LGPL-2.1",
        },
        {
            "type": "expandedlicensing_DisjunctiveLicenseSet",
            "spdxId": NS + "set",
            "expandedlicensing_member": [NS + "with", NS + "later", licenses + "MIT"],
        },
        {
            "type": "expandedlicensing_ConjunctiveLicenseSet",
            "spdxId": NS + "loop",
            "expandedlicensing_member": [NS + "loop", licenses + "MIT"],
        },
    ]
    element(raw, "r6")["to"] = [NS + "set"]
    element(raw, "r3")["to"] = [NS + "loop"]
    packages = {p.name: p for p in read(raw).packages}
    assert packages["openssl"].licenses == [
        "(GPL-2.0-only WITH Classpath-exception-2.0 OR LGPL-2.1+ OR MIT)"
    ]
    # a set that contains itself ends at a fixed depth instead of recursing forever
    assert packages["Django"].licenses[0].endswith("AND MIT)")


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (SHOP.read_bytes()[:200], True),
        (b'{ "@context" : [ "https://spdx.org/rdf/3.0.0/spdx-context.jsonld" ], "@graph": [', True),
        (b'{"@context": "https://schema.org", "@graph": []}', False),
        (b'{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"}', False),
        (b"SPDXVersion: SPDX-2.3\n", False),
        (b"", False),
        (b"\xfe\xff\x00{", False),
        (b"{" + b'"@context": [' * 5000, False),  # must stay linear on hostile heads
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert READER.sniff(head) is expected


# --------------------------------------------------------------------------- bad input


def without(key: str) -> dict[str, Any]:
    raw = shop()
    del raw[key]
    return raw


def changed(spdx_id: str, key: str, value: Any = KeyError) -> tuple[dict[str, Any], str]:
    raw = shop()
    target = element(raw, spdx_id)
    if value is KeyError:
        del target[key]
    else:
        target[key] = value
    return raw, f"/@graph/{index_of(shop(), spdx_id)}"


def _case(spdx_id: str, key: str, value: Any, suffix: str, fragment: str) -> Any:
    raw, base = changed(spdx_id, key, value)
    return pytest.param(raw, base + suffix, fragment, id=f"{spdx_id}-{key}")


@pytest.mark.parametrize(
    ("doc", "place", "fragment"),
    [
        (without("@context"), "/@context", "not an SPDX 3 JSON-LD document"),
        (
            {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"},
            "/@context",
            "SPDX 2 JSON",
        ),
        ({**shop(), "@context": "https://schema.org"}, "/@context", "not the SPDX 3.0 context"),
        (
            {**shop(), "@context": "https://spdx.org/rdf/3.1/spdx-context.jsonld"},
            "/@context",
            "unsupported SPDX version 3.1",
        ),
        ({**shop(), "@graph": {"a": 1}}, "/@graph", "expected an array"),
        ({**shop(), "@graph": [1]}, "/@graph/0", "expected an element object"),
        ({**shop(), "@graph": [{"spdxId": "x"}]}, "/@graph/0/type", "missing required field"),
        ({**shop(), "@graph": [{"type": 5}]}, "/@graph/0/type", "expected a string"),
        ({**shop(), "@graph": [{"type": "Person", "spdxId": 5}]}, "/@graph/0/spdxId", "string"),
        ([], "/", "expected a JSON object"),
        _case("django", "name", KeyError, "/name", "missing required field"),
        _case("django", "name", "", "/name", "must not be empty"),
        _case("django", "spdxId", KeyError, "/spdxId", "missing required field"),
        _case("django", "software_packageVersion", 4.2, "/software_packageVersion", "a number"),
        _case("django", "software_packageUrl", "pkg:pypi", "/software_packageUrl", "bad purl"),
        _case("django", "software_packageUrl", ["pkg:pypi/x"], "/software_packageUrl", "array"),
        _case("django", "externalIdentifier", ["x"], "/externalIdentifier/0", "an object"),
        _case(
            "sqlparse",
            "externalIdentifier",
            [{"externalIdentifierType": "packageUrl", "identifier": "https://pypi.org"}],
            "/externalIdentifier/0/identifier",
            "bad purl",
        ),
        _case(
            "sqlparse",
            "externalIdentifier",
            [{"externalIdentifierType": "packageUrl"}],
            "/externalIdentifier/0/identifier",
            "missing required field",
        ),
        _case(
            "django",
            "verifiedUsing",
            [{"type": "Hash", "algorithm": "sha256"}],
            "/verifiedUsing/0/hashValue",
            "missing required field",
        ),
        _case("django", "suppliedBy", 12, "/suppliedBy", "expected an agent id"),
        _case("r7", "from", KeyError, "/from", "missing required field"),
        _case("r7", "to", [{"x": 1}], "/to/0", "expected an element id"),
    ],
)
def test_bad_documents_name_the_place(doc: Any, place: str, fragment: str) -> None:
    error = error_of(doc)
    assert error.place == place
    assert fragment in error.message


def test_duplicate_package_ids() -> None:
    raw = shop()
    element(raw, "sqlparse")["spdxId"] = NS + "django"
    error = error_of(raw)
    assert error.place == f"/@graph/{index_of(shop(), 'sqlparse')}/spdxId"
    assert "duplicate" in error.message


def test_not_json_and_limits() -> None:
    assert "not valid JSON" in error_of(b'{"@context": ').message
    assert "larger than the limit" in error_of(SHOP.read_bytes(), Limits(max_bytes=100)).message
    deep: Any = 1
    for _ in range(70):
        deep = {"a": deep}
    raw = shop()
    element(raw, "django")["comment"] = deep
    assert "nesting deeper" in error_of(raw).message


# --------------------------------------------------------------------------- shared corpus


@pytest.mark.shared
def test_corpus_package_counts(shared_data: Path) -> None:
    base = shared_data / "sboms" / "spdx"
    files = [p for p in sorted(base.rglob("*.json")) if READER.sniff(p.read_bytes()[:65536])]
    assert len(files) >= 20
    problems = []
    for path in files:
        name = path.relative_to(base).as_posix()
        try:
            doc = READER.read(path.read_bytes(), name)
        except InputError as exc:
            problems.append(f"unexpected {exc}")
            continue
        raw = json.loads(path.read_bytes())
        expected = sum(1 for e in raw["@graph"] if e.get("type") in PACKAGE_TYPES)
        if len(doc.packages) != expected:
            problems.append(f"{name}: {len(doc.packages)} packages, plain json says {expected}")
        if not doc.root_refs:
            problems.append(f"{name}: no root package")
    assert not problems, "\n".join(problems)


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
            "NOASSERTION",
            "pkg:",
            "pkg:npm/a@1",
            "Hash",
            "Relationship",
            "software_Package",
            "software_Sbom",
            "dependsOn",
            "hasConcludedLicense",
            "packageUrl",
            "_:creationinfo",
            NS + "django",
            NS + "sbom",
            NS + "lic-mit",
            NS + "shop-api",
            "https://spdx.org/licenses/MIT",
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


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_BASE = shop()


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    READER.sniff(data)
    with contextlib.suppress(InputError):
        READER.read(data, "fuzz.json")


@FUZZ
@given(st.data())
def test_fuzz_mutated_documents(data: st.DataObject) -> None:
    doc: Any = copy.deepcopy(FUZZ_BASE)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(all_paths(doc)))
        value = data.draw(JSON_VALUES)
        if not path:
            doc = value
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    encoded = json.dumps(doc).encode()
    READER.sniff(encoded)
    try:
        READER.read(encoded, "fuzz.json")
    except InputError as exc:
        assert exc.source == "fuzz.json"
