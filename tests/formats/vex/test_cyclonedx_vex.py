"""CycloneDX VEX in (JSON, XML) and out (JSON 1.6), checked against the schema and the
CycloneDX and GUAC example documents."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from meshward.errors import InputError
from meshward.formats.vex import (
    VexDocument,
    VexStatement,
    read_cyclonedx_vex,
    read_vex,
    write_cyclonedx_vex,
)
from meshward.formats.vex.cyclonedx_vex import read_cyclonedx_vex_xml
from meshward.limits import Limits

SUBJECT = "pkg:github/acme/orders-svc@3.1.0"
JACKSON = "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.13.0?type=jar"
JSON_LIB = "pkg:maven/org.json/json@20230227"


def _stmt(**changes: Any) -> VexStatement:
    base: dict[str, Any] = {
        "vulnerability": "CVE-2022-42003",
        "aliases": [],
        "product": SUBJECT,
        "subcomponents": [JACKSON],
        "status": "not_affected",
        "justification": "code_not_reachable",
        "detail": None,
        "timestamp": "2024-06-02T00:00:00Z",
        "author": "Orders Team",
    }
    base.update(changes)
    return VexStatement(**base)


def _doc(*statements: VexStatement) -> VexDocument:
    return VexDocument("CycloneDX", "1.6", "Orders Team", "2024-06-01T00:00:00Z", list(statements))


def _write(doc: VexDocument, **kwargs: Any) -> bytes:
    return write_cyclonedx_vex(doc, subject_name="orders-svc", subject_version="3.1.0", **kwargs)


# ----------------------------------------------------------------------------- reading


def test_reads_fixture(fixtures: Path) -> None:
    doc = read_cyclonedx_vex((fixtures / "cyclonedx-vex.json").read_bytes(), "vex", Limits())
    assert (doc.format, doc.spec_version) == ("CycloneDX", "1.5")
    assert (doc.author, doc.timestamp) == ("Orders Team", "2024-06-01T00:00:00Z")
    got = [(s.vulnerability, s.product, s.subcomponents, s.status) for s in doc.statements]
    assert got == [
        # a declared component and a BOM-Link into this BOM, both inside the subject
        ("CVE-2022-42003", SUBJECT, [JACKSON, JSON_LIB], "not_affected"),
        ("CVE-2023-31047", SUBJECT, ["pkg:pypi/django@4.2.1"], "not_affected"),
        # the subject itself
        ("CVE-2021-44228", SUBJECT, [], "fixed"),
        # a component without purl keeps its bom-ref; a foreign BOM-Link is its own product
        ("CVE-2024-9999", SUBJECT, ["internal-lib"], "affected"),
        (
            "CVE-2024-9999",
            "urn:cdx:0d9d6a6a-1f6e-4b93-9a55-8a6e7c471f00/1#billing-svc",
            [],
            "affected",
        ),
        # no analysis: the version status decides
        ("CVE-2020-36518", SUBJECT, [JACKSON], "not_affected"),
    ]
    first, false_positive, resolved, *_ = doc.statements
    assert first.aliases == ["GHSA-jjjh-jjxp-wpff"]
    assert first.justification == "code_not_reachable"
    assert first.detail == "UNWRAP_SINGLE_VALUE_ARRAYS is never enabled."
    assert first.timestamp == "2024-06-02T00:00:00Z"
    assert first.cyclonedx_state is None
    assert false_positive.cyclonedx_state == "false_positive"
    assert false_positive.timestamp == "2024-06-01T00:00:00Z"  # inherited
    assert resolved.timestamp == "2024-05-20T00:00:00Z"  # firstIssued
    assert all(s.author == "Orders Team" for s in doc.statements)


def test_xml_reads_like_json(fixtures: Path) -> None:
    from_json = read_cyclonedx_vex((fixtures / "cyclonedx-vex.json").read_bytes(), "j", Limits())
    from_xml = read_cyclonedx_vex_xml((fixtures / "cyclonedx-vex.xml").read_bytes(), "x", Limits())
    assert from_xml == from_json


# ----------------------------------------------------------------------------- round trips

ROUND_TRIP = [
    _stmt(aliases=["GHSA-jjjh-jjxp-wpff", "PYSEC-2022-1"], detail="Never enabled."),
    _stmt(
        vulnerability="CVE-2023-31047",
        subcomponents=["pkg:pypi/django@4.2.1"],
        justification=None,
        detail="Build-time only.",
        cyclonedx_state="false_positive",
    ),
    _stmt(vulnerability="CVE-2021-44228", subcomponents=[], status="fixed", justification=None),
    _stmt(
        vulnerability="CVE-2024-0001",
        subcomponents=[],
        status="fixed",
        justification=None,
        cyclonedx_state="resolved_with_pedigree",
    ),
    _stmt(
        vulnerability="GHSA-aaaa-bbbb-cccc",
        subcomponents=[JACKSON, JSON_LIB, "internal-lib"],
        status="affected",
        justification=None,
        detail="Upgrade planned.",
    ),
    _stmt(vulnerability="PYSEC-2024-7", status="under_investigation", justification=None),
    _stmt(status="not_affected", justification="protected_at_perimeter", timestamp=None),
]


def test_write_then_read_gives_the_same_statements() -> None:
    doc = read_cyclonedx_vex(_write(_doc(*ROUND_TRIP)), "out.json", Limits())
    expected = list(ROUND_TRIP)
    expected[-1] = _stmt(  # a missing timestamp inherits the document's
        status="not_affected",
        justification="protected_at_perimeter",
        timestamp="2024-06-01T00:00:00Z",
    )
    assert doc.statements == expected
    assert (doc.author, doc.timestamp, doc.spec_version) == (
        "Orders Team",
        "2024-06-01T00:00:00Z",
        "1.6",
    )


def test_fixture_survives_a_round_trip(fixtures: Path) -> None:
    doc = read_cyclonedx_vex((fixtures / "cyclonedx-vex.json").read_bytes(), "vex", Limits())
    # the foreign product cannot be the subject; the rest round-trips exactly
    ours = [s for s in doc.statements if s.product == SUBJECT]
    foreign = [s for s in doc.statements if s.product != SUBJECT]
    again = read_cyclonedx_vex(_write(_doc(*ours, *foreign)), "again", Limits())
    assert again.statements == ours + foreign


def test_openvex_statements_translate_into_cyclonedx() -> None:
    statement = _stmt(justification="vulnerable_code_not_in_execute_path")
    written = json.loads(_write(_doc(statement)))
    analysis = written["vulnerabilities"][0]["analysis"]
    assert analysis == {
        "state": "not_affected",
        "justification": "code_not_reachable",
        "lastUpdated": "2024-06-02T00:00:00Z",
    }
    assert written["components"] == [
        {
            "type": "library",
            "bom-ref": JACKSON,
            "group": "com.fasterxml.jackson.core",
            "name": "jackson-databind",
            "version": "2.13.0",
            "purl": JACKSON,
        }
    ]
    assert written["metadata"]["component"]["purl"] == SUBJECT


def test_several_products() -> None:
    other = "pkg:github/acme/billing-svc@1.0.0"
    doc = _doc(_stmt(product=other, subcomponents=[]), _stmt(), _stmt(vulnerability="CVE-1"))
    written = json.loads(_write(doc))
    assert written["metadata"]["component"]["bom-ref"] == SUBJECT  # the most named product
    empty = json.loads(_write(_doc()))
    assert empty["metadata"]["component"]["bom-ref"] == "orders-svc@3.1.0"
    with pytest.raises(ValueError, match="cannot say that"):
        _write(_doc(_stmt(), _stmt(product=other)))
    # a statement about another product keeps that product as its target
    back = read_cyclonedx_vex(_write(doc), "x", Limits())
    assert [(s.product, s.subcomponents) for s in back.statements] == [
        (other, []),
        (SUBJECT, [JACKSON]),
        (SUBJECT, [JACKSON]),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        _stmt(status="exploitable"),
        _stmt(justification="because"),
        _stmt(cyclonedx_state="false_positive", status="affected"),
        _stmt(cyclonedx_state="bogus"),
    ],
)
def test_writer_refuses_statements_it_cannot_express(statement: VexStatement) -> None:
    with pytest.raises(ValueError):
        _write(_doc(statement))


# ----------------------------------------------------------------------------- schema


@pytest.fixture(scope="module")
def cyclonedx_16_validator(shared_data: Path) -> Any:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schemas = shared_data / "sboms" / "cyclonedx" / "schema"
    schema = json.loads((schemas / "bom-1.6.schema.json").read_text())

    def retrieve(uri: str) -> Any:
        return json.loads((schemas / uri.rsplit("/", 1)[-1]).read_text())

    return jsonschema_rs.validator_for(schema, retriever=retrieve)


def test_export_validates_against_cyclonedx_1_6(
    cyclonedx_16_validator: Any, fixtures: Path
) -> None:
    other = _stmt(product="pkg:github/acme/billing-svc@1.0.0", subcomponents=[])
    documents = [
        _doc(*ROUND_TRIP),
        _doc(*ROUND_TRIP, other),
        VexDocument("CycloneDX", "1.6", None, None, [_stmt(timestamp=None)]),
        read_cyclonedx_vex((fixtures / "cyclonedx-vex.json").read_bytes(), "vex", Limits()),
        _doc(),
    ]
    # an OpenVEX document converted: statements about other products, without subcomponents
    openvex = read_vex((fixtures / "openvex-0.2.0.json").read_bytes(), "ov")
    api = "pkg:github/acme/payments-api@v1.4.0"
    openvex.statements = [s for s in openvex.statements if s.product == api or not s.subcomponents]
    documents.append(openvex)
    for number, doc in enumerate(documents):
        written = json.loads(_write(doc))
        errors = [e.message for e in cyclonedx_16_validator.iter_errors(written)]
        assert errors == [], number


# ----------------------------------------------------------------------------- real examples

STATUS_OF_STATE = {
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "affected",
    "in_triage": "under_investigation",
    "false_positive": "not_affected",
    "not_affected": "not_affected",
}


def _example_files(shared_data: Path) -> list[Path]:
    base = shared_data / "sboms" / "cyclonedx"
    files = list((base / "bom-examples" / "VEX").rglob("*.json"))
    files += list((base / "guac-exampledata").glob("cyclonedx*vex*.json"))
    if not files:
        pytest.skip("no CycloneDX VEX examples")
    return sorted(files)


def _expected_json(path: Path) -> Counter[tuple[str, str]]:
    """(vulnerability, status) per target, counted straight from the JSON: in these
    examples every target is a product of its own (the subject or another BOM)."""
    expected: Counter[tuple[str, str]] = Counter()
    for vuln in json.loads(path.read_text()).get("vulnerabilities", []):
        state = vuln.get("analysis", {}).get("state")
        versions = [v.get("status") for a in vuln.get("affects", []) for v in a.get("versions", [])]
        if state is not None:
            status = STATUS_OF_STATE[state]
        elif "affected" in versions:
            status = "affected"
        else:
            status = "under_investigation"
        targets = {a["ref"] for a in vuln.get("affects", [])}
        expected[(vuln["id"], status)] += max(1, len(targets))
    return expected


def test_reads_cyclonedx_and_guac_examples(shared_data: Path) -> None:
    files = _example_files(shared_data)
    total = 0
    for path in files:
        doc = read_vex(path.read_bytes(), path.name)
        got = Counter((s.vulnerability, s.status) for s in doc.statements)
        assert got == _expected_json(path), path
        total += len(doc.statements)
    assert len(files) >= 40
    assert total >= 150


def test_reads_guac_xml_example(shared_data: Path) -> None:
    path = shared_data / "sboms" / "cyclonedx" / "guac-exampledata" / "cyclonedx-vex.xml"
    if not path.is_file():
        pytest.skip("GUAC XML example absent")
    root = ElementTree.fromstring(path.read_bytes())
    ns = {"c": root.tag[1:].partition("}")[0]}
    expected = Counter(
        (v.findtext("c:id", namespaces=ns), v.findtext("c:analysis/c:state", namespaces=ns))
        for v in root.iterfind("c:vulnerabilities/c:vulnerability", ns)
        for _ in (v.findall("c:affects/c:target", ns) or [None])
    )
    doc = read_vex(path.read_bytes(), path.name)
    assert doc.spec_version == "1.5"
    got = Counter((s.vulnerability, s.status) for s in doc.statements)
    assert got == Counter({(k[0], STATUS_OF_STATE[k[1]]): n for k, n in expected.items()})
    assert doc.statements[0].justification == "code_not_reachable"


def test_bom_link_with_a_purl_fragment_names_the_package(shared_data: Path) -> None:
    path = shared_data / "sboms" / "cyclonedx" / "bom-examples" / "VEX" / "vex.json"
    if not path.is_file():
        pytest.skip("VEX example absent")
    (statement,) = read_vex(path.read_bytes(), "vex.json").statements
    assert statement.product == "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1"
    assert statement.subcomponents == [
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar"
    ]
    assert statement.aliases == ["SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302"]


# ----------------------------------------------------------------------------- broken input


def _bom(**vulnerability: Any) -> dict[str, Any]:
    vuln: dict[str, Any] = {"id": "CVE-2024-1", "analysis": {"state": "in_triage"}}
    vuln.update(vulnerability)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [{"type": "library", "bom-ref": "a", "name": "a", "purl": "pkg:npm/a@1"}],
        "vulnerabilities": [{k: v for k, v in vuln.items() if v is not None}],
    }


@pytest.mark.parametrize(
    ("document", "place", "message"),
    [
        (
            _bom(analysis={"state": "affected"}),
            "/vulnerabilities/0/analysis/state",
            "unknown CycloneDX analysis state",
        ),
        (
            _bom(analysis={"state": "not_affected", "justification": "component_not_present"}),
            "/vulnerabilities/0/analysis/justification",
            "unknown CycloneDX justification",
        ),
        (_bom(analysis="exploitable"), "/vulnerabilities/0/analysis", "expected an object"),
        (_bom(id=None), "/vulnerabilities/0/id", "missing"),
        (_bom(id=7), "/vulnerabilities/0/id", "expected a string"),
        (_bom(affects={"ref": "a"}), "/vulnerabilities/0/affects", "expected an array"),
        (_bom(affects=[{"versions": []}]), "/vulnerabilities/0/affects/0/ref", "missing"),
        (_bom(affects=[{"ref": "pkg:"}]), "/vulnerabilities/0/affects/0/ref", "malformed purl"),
        (
            _bom(affects=[{"ref": "a", "versions": [{"version": "1", "status": "maybe"}]}]),
            "/vulnerabilities/0/affects/0/versions/0/status",
            "unknown version status",
        ),
        (
            _bom(references=[{"source": {"name": "x"}}]),
            "/vulnerabilities/0/references/0/id",
            "missing",
        ),
        (
            {**_bom(), "components": [{"bom-ref": "b", "name": "b", "purl": "pkg:/x"}]},
            "/components/0/purl",
            "malformed purl",
        ),
        ({**_bom(), "specVersion": "2.0"}, "/specVersion", "not supported"),
        ({**_bom(), "bomFormat": "SPDX"}, "/bomFormat", "not a CycloneDX"),
        ({**_bom(), "vulnerabilities": {}}, "/vulnerabilities", "expected an array"),
        ({**_bom(), "metadata": {"component": []}}, "/metadata/component", "expected an object"),
    ],
)
def test_broken_documents_give_input_error(document: Any, place: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        read_cyclonedx_vex(json.dumps(document).encode(), "bad.json", Limits())
    assert err.value.source == "bad.json"
    assert err.value.place == place
    assert message in err.value.message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><vulnerabilities><vulnerability>
<id>&b;</id></vulnerability></vulnerabilities></bom>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><vulnerabilities><vulnerability>
<id>&x;</id></vulnerability></vulnerabilities></bom>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "refused XML"),
        (EXTERNAL_ENTITY, "refused XML"),
        (b"<bom xmlns='http://cyclonedx.org/schema/bom/1.5'><vulnerabilities>", "not valid XML"),
        (b"<project xmlns='http://maven.apache.org/POM/4.0.0'/>", "not a CycloneDX XML"),
        (
            b"<bom xmlns='http://cyclonedx.org/schema/bom/1.5'><vulnerabilities><vulnerability>"
            b"<id>CVE-1</id><analysis><state>maybe</state></analysis>"
            b"</vulnerability></vulnerabilities></bom>",
            "unknown CycloneDX analysis state",
        ),
    ],
)
def test_hostile_or_broken_xml_gives_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_vex(data, "bad.xml", Limits())


def test_deep_or_huge_input_gives_input_error() -> None:
    limits = Limits(max_bytes=20_000, max_depth=16)
    deep = b'{"bomFormat": "CycloneDX", "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    with pytest.raises(InputError, match="nesting deeper"):
        read_cyclonedx_vex(deep, "x", limits)
    with pytest.raises(InputError, match="larger than the limit"):
        read_vex(b" " * 20_001, "x", limits)
    deep_xml = b"<bom xmlns='http://cyclonedx.org/schema/bom/1.5'>" + b"<a>" * 40 + b"</a>" * 40
    with pytest.raises(InputError, match="nesting deeper"):
        read_vex(deep_xml + b"</bom>", "x", limits)
