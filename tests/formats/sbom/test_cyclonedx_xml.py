"""CycloneDX XML reader: the same normalisation as JSON, XML attacks refused, the shared
corpus (counts and JSON/XML agreement), fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshward.errors import InputError
from meshward.formats.sbom.cyclonedx_json import CycloneDxJsonReader
from meshward.formats.sbom.cyclonedx_xml import CycloneDxXmlReader
from meshward.formats.sbom.interface import SbomDocument, SbomPackage
from meshward.limits import Limits

from .cdx_corpus import (
    ACCEPTED_INVALID,
    NOT_CYCLONEDX,
    REJECTED_INVALID,
    corpus_files,
    count_xml_components,
    cyclonedx_dir,
    invalid_stem,
    relative,
)

FIXTURES = Path(__file__).parent / "fixtures" / "cyclonedx"
SHOP_XML = FIXTURES / "shop-1.6.cdx.xml"
SHOP_JSON = FIXTURES / "shop-1.6.cdx.json"
READER = CycloneDxXmlReader()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NS = "http://cyclonedx.org/schema/bom/1.6"


def read(xml: str | bytes, source: str = "bom.xml", limits: Limits | None = None) -> SbomDocument:
    data = xml.encode() if isinstance(xml, str) else xml
    return READER.read(data, source, limits or Limits())


def rejected(xml: str | bytes, source: str = "bom.xml", limits: Limits | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        read(xml, source, limits)
    assert caught.value.source == source
    return caught.value


def bom(body: str, version: str = "1.6") -> str:
    return f'<bom xmlns="http://cyclonedx.org/schema/bom/{version}" version="1">{body}</bom>'


def components(*items: str) -> str:
    return bom("<components>" + "".join(items) + "</components>")


# --------------------------------------------------------------------------- normalisation


def test_xml_and_json_fixtures_read_the_same() -> None:
    xml = READER.read(SHOP_XML.read_bytes(), "shop.xml")
    json_ = CycloneDxJsonReader().read(SHOP_JSON.read_bytes(), "shop.json")
    assert (xml.format, xml.spec_version, xml.encoding) == ("CycloneDX", "1.6", "xml")
    assert xml.packages == json_.packages
    assert xml.dependencies == json_.dependencies
    assert xml.root_refs == json_.root_refs == ["shop-api"]
    assert (xml.name, xml.serial, xml.created, xml.tools) == (
        json_.name,
        json_.serial,
        json_.created,
        json_.tools,
    )


@pytest.mark.parametrize("version", ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"])
def test_reads_every_supported_spec_version(version: str) -> None:
    document = read(
        bom(
            '<components><component type="library"><name>a</name></component></components>', version
        )
    )
    assert document.spec_version == version
    assert [p.name for p in document.packages] == ["a"]


@pytest.mark.parametrize(
    ("xml", "place"),
    [
        (bom("", "1.1"), "/bom"),
        (bom("", "1.8"), "/bom"),
        (bom("", "12"), "/bom"),
        ('<bom xmlns="urn:other"/>', "/bom"),
        ("<bom/>", "/bom"),
        ('<sbom xmlns="http://cyclonedx.org/schema/bom/1.6"/>', "/sbom"),
    ],
)
def test_not_cyclonedx_or_unsupported_is_refused(xml: str, place: str) -> None:
    assert rejected(xml).place == place


def test_prefixed_namespace_utf16_and_comments() -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<!-- a comment -->\n'
        '<c:bom xmlns:c="http://cyclonedx.org/schema/bom/1.5"><c:components>'
        '<c:component type="library"><!-- inside --><c:name> a </c:name>'
        "<c:purl>pkg:pypi/A_b@1</c:purl></c:component>"
        "</c:components></c:bom>"
    )
    document = read(xml.encode("utf-16"))
    assert document.packages == [
        SbomPackage(ref="meshward:component:0", name="a", purl="pkg:pypi/a-b@1", type="library")
    ]
    assert READER.sniff(xml.encode("utf-16"))


def test_nested_dependencies_and_expression_detailed() -> None:
    xml = bom(
        "<components>"
        '<component type="library" bom-ref="a"><name>a</name>'
        "<licenses><expression-detailed expression='MIT OR Apache-2.0'>"
        "<details license-identifier='MIT'/></expression-detailed></licenses></component>"
        '<component type="library" bom-ref="b"><name>b</name></component>'
        '<component type="library" bom-ref="c"><name>c</name></component>'
        "</components><dependencies>"
        '<dependency ref="a"><dependency ref="b"><dependency ref="c"/></dependency></dependency>'
        '<dependency ref="c"/></dependencies>',
        "1.7",
    )
    document = read(xml)
    assert document.packages[0].licenses == ["MIT OR Apache-2.0"]
    assert document.dependencies == [("a", "b"), ("b", "c")]


def test_legacy_tools_and_metadata() -> None:
    xml = bom(
        "<metadata><timestamp> 2020-01-01T00:00:00Z </timestamp><tools><tool><vendor>anchore"
        "</vendor><name>syft</name><version>0.60.3</version></tool></tools>"
        '<component type="container" bom-ref="img"><name>perl</name></component></metadata>',
        "1.4",
    )
    document = read(xml)
    assert document.tools == ["anchore syft 0.60.3"]
    assert document.created == "2020-01-01T00:00:00Z"
    assert document.root_refs == ["img"]
    assert document.name == "perl"


@pytest.mark.parametrize(
    ("xml", "place"),
    [
        (components('<component type="library"><version>1</version></component>'),
         "/bom/components/component[1]"),
        (components('<component type="library"><name>a</name></component>',
                    '<component type="library"><name>b</name><purl>npm/x</purl></component>'),
         "/bom/components/component[2]/purl"),
        (components('<component type="library"><name>a</name><components>'
                    '<component type="library"><name>b</name><purl>pkg:</purl></component>'
                    "</components></component>"),
         "/bom/components/component[1]/components/component[1]/purl"),
        (components('<component type="library"><name>a</name><scope>foo</scope></component>'),
         "/bom/components/component[1]/scope"),
        (components('<component type="library"><name>a</name><licenses><license><id>MIT</id>'
                    "<id>MIT</id></license></licenses></component>"),
         "/bom/components/component[1]/licenses/license[1]"),
        (components('<component type="library"><name>a</name><licenses><license/></licenses>'
                    "</component>"),
         "/bom/components/component[1]/licenses/license[1]"),
        (components('<component bom-ref="x"><name>a</name></component>',
                    '<component bom-ref="x"><name>b</name></component>'),
         "/bom/components/component[2]"),
        (components('<component bom-ref=""><name>a</name></component>'),
         "/bom/components/component[1]"),
        (bom('<dependencies><dependency ref="a"><dependency/></dependency></dependencies>'),
         "/bom/dependencies/dependency[1]/dependency[1]"),
        (bom('<dependencies><dependency ref=""/></dependencies>'),
         "/bom/dependencies/dependency[1]"),
    ],
)  # fmt: skip
def test_errors_name_the_element(xml: str, place: str) -> None:
    assert rejected(xml, "svc.cdx.xml").place == place


# --------------------------------------------------------------------------- hostile input

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE bom [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>
<component type="library"><name>&lol9;</name></component></components></bom>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>
<component type="library"><name>&xxe;</name></component></components></bom>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE bom SYSTEM "file:///etc/passwd">
<bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>"""


@pytest.mark.parametrize("attack", [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_dtd_attacks_are_refused(attack: str) -> None:
    error = rejected(attack, "evil.cdx.xml")
    assert "DTD" in error.message or "entit" in error.message
    assert "root:" not in str(error)


def test_undeclared_entities_are_refused() -> None:
    error = rejected(components('<component type="library"><name>&xxe;</name></component>'))
    assert "not well-formed" in error.message
    assert error.place is not None and error.place.startswith("line 1")


def test_deep_nesting_is_refused_with_the_element_path() -> None:
    body = '<component type="library"><name>a</name>' + "<x:e xmlns:x='urn:x'>" * 100
    xml = components(body + "</x:e>" * 100 + "</component>")
    error = rejected(xml, "deep.cdx.xml")
    assert error.place is not None
    assert error.place.startswith("/bom/components/component/e/e")
    assert error.place.count("/") == 65
    assert "deeper than the limit of 64" in error.message


def test_very_deep_nesting_is_refused_fast() -> None:
    xml = bom("<a>" * 200_000 + "</a>" * 200_000)
    error = rejected(xml, "bomb.cdx.xml")
    assert error.place == "/bom" + "/a" * 64


def test_depth_limit_is_exact() -> None:
    xml = bom("<a><b><c/></b></a>")  # depth 4
    read(xml, limits=Limits(max_depth=4))
    rejected(xml, limits=Limits(max_depth=3))


def test_an_oversized_document_is_refused_before_parsing() -> None:
    error = rejected(SHOP_XML.read_bytes(), "big.cdx.xml", Limits(max_bytes=1000))
    assert "limit" in error.message


@pytest.mark.parametrize(
    ("data", "place"),
    [
        (b"", "line 1 column 1"),
        (b'<?xml version="1.0"?>', "line 1 column 22"),
        (b"<bom><components></bom>", "line 1 column 20"),
        (b"\xff\xfe<", None),
        (b"<bom>\x00</bom>", None),
    ],
)
def test_broken_xml_is_refused(data: bytes, place: str | None) -> None:
    error = rejected(data, "broken.xml")
    if place is not None:
        assert error.place == place


def test_sniff() -> None:
    assert READER.sniff(SHOP_XML.read_bytes()[:400])
    assert READER.sniff(b"\xef\xbb\xbf<bom xmlns='http://cyclonedx.org/schema/bom/1.2'>")
    assert READER.sniff(
        b'<?xml version="1.0"?><cdx:bom xmlns:cdx="http://cyclonedx.org/schema/bom/1.6"'
    )
    assert not READER.sniff(b'{"bomFormat": "CycloneDX"}')
    assert not READER.sniff(b"<spdx:Document xmlns:spdx='http://spdx.org/rdf/terms#'/>")
    assert not READER.sniff(b"")


# --------------------------------------------------------------------------- fuzzing


@FUZZ
@given(
    st.binary(max_size=300)
    | st.binary(max_size=300).map(lambda b: f"<bom xmlns='{NS}'>".encode() + b)
)
def test_arbitrary_bytes_raise_only_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):
        READER.read(data, "fuzz.xml")


@FUZZ
@given(st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=4)), min_size=1, max_size=6))
def test_byte_mutations_raise_only_input_error(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SHOP_XML.read_bytes())
    for position, replacement in edits:
        at = position % len(data)
        data[at : at + 1] = replacement
    with contextlib.suppress(InputError):
        READER.read(bytes(data), "bytes.xml")


FRAGMENTS = st.sampled_from(
    [
        "<component type='library'><name>x</name></component>",
        "<component bom-ref='pkg:pypi/django@4.2.1'><name>dup</name></component>",
        "<purl>pkg:</purl>", "<purl>pkg:npm/ok@1</purl>", "<scope>bogus</scope>",
        "<licenses><license/></licenses>", "<hashes><hash alg='MD5'>zz</hash></hashes>",
        "<dependency ref='nowhere'><dependency/></dependency>", "<components>", "</components>",
        "&amp;", "&bogus;", "<![CDATA[x]]>", "<!-- c -->", "<?pi x?>", "<name/>",
    ]
)  # fmt: skip


@FUZZ
@given(st.lists(st.tuples(st.integers(min_value=0), FRAGMENTS), min_size=1, max_size=4))
def test_element_insertions_raise_only_input_error(edits: list[tuple[int, str]]) -> None:
    text = SHOP_XML.read_text()
    for position, fragment in edits:
        anchors = [i for i, char in enumerate(text) if char == "<"]
        at = anchors[position % len(anchors)]
        text = text[:at] + fragment + text[at:]
    with contextlib.suppress(InputError):
        READER.read(text.encode(), "inserted.xml")


# --------------------------------------------------------------------------- shared corpus


@pytest.mark.shared
def test_every_valid_corpus_file_ingests_with_the_independent_count(shared_data: Path) -> None:
    read_files = 0
    for path in corpus_files(shared_data, ".xml"):
        name = relative(shared_data, path)
        if name in NOT_CYCLONEDX:
            with pytest.raises(InputError):
                READER.read(path.read_bytes(), name)
            continue
        document = READER.read(path.read_bytes(), name)
        components_, edges = count_xml_components(path)
        assert len(document.packages) == components_, name
        assert len(document.dependencies) == edges, name
        read_files += 1
    assert read_files > 140


@pytest.mark.shared
def test_spec_invalid_documents_are_rejected_or_accepted_as_documented(shared_data: Path) -> None:
    base = cyclonedx_dir(shared_data) / "spec-test-resources"
    seen = 0
    for path in sorted(base.rglob("*invalid*.xml")):
        stem = invalid_stem(path)
        if stem in REJECTED_INVALID["xml"]:
            with pytest.raises(InputError):
                READER.read(path.read_bytes(), path.name)
        else:
            assert stem in ACCEPTED_INVALID, path.name
            READER.read(path.read_bytes(), path.name)
        seen += 1
    assert seen > 90


def identity(document: SbomDocument) -> list[tuple[object, ...]]:
    return [(p.ref, p.name, p.version, p.purl, p.parent_ref, p.type) for p in document.packages]


@pytest.mark.shared
def test_json_and_xml_of_the_same_bom_agree(shared_data: Path) -> None:
    base = cyclonedx_dir(shared_data) / "bom-examples"
    pairs = 0
    for xml_path in sorted(base.rglob("*.xml")):
        json_path = xml_path.with_suffix(".json")
        if not json_path.exists():
            continue
        xml = READER.read(xml_path.read_bytes(), xml_path.name)
        json_ = CycloneDxJsonReader().read(json_path.read_bytes(), json_path.name)
        assert identity(xml) == identity(json_), xml_path
        assert xml.dependencies == json_.dependencies, xml_path
        assert xml.root_refs == json_.root_refs, xml_path
        if "dropwizard" not in str(xml_path):  # its JSON has one licence its XML lacks
            # CycloneDX: an absent scope means "required"; producers differ in writing it
            def scoped(packages: list[SbomPackage]) -> list[SbomPackage]:
                return [dataclasses.replace(p, scope=p.scope or "required") for p in packages]

            assert scoped(xml.packages) == scoped(json_.packages), xml_path
        pairs += 1
    assert pairs >= 10
