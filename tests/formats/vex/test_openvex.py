"""OpenVEX in and out, the state mappings, and format detection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshward.errors import InputError
from meshward.formats.vex import (
    VexDocument,
    VexStatement,
    cyclonedx_to_state,
    openvex_to_state,
    read_openvex,
    read_vex,
    state_to_cyclonedx,
    state_to_openvex,
    statement_state,
    write_openvex,
)
from meshward.formats.vex.interface import (
    CYCLONEDX_JUSTIFICATIONS,
    CYCLONEDX_STATES,
    MESHWARD_STATES,
    OPENVEX_JUSTIFICATIONS,
    OPENVEX_STATUSES,
    justification_to_cyclonedx,
    justification_to_openvex,
)
from meshward.formats.vex.openvex import (
    CONTEXT,
    MISSING_ACTION_STATEMENT,
    MISSING_IMPACT_STATEMENT,
)
from meshward.limits import Limits

API = "pkg:github/acme/payments-api@v1.4.0"


def _stmt(**changes: Any) -> VexStatement:
    base: dict[str, Any] = {
        "vulnerability": "CVE-2023-30861",
        "aliases": [],
        "product": API,
        "subcomponents": [],
        "status": "fixed",
        "justification": None,
        "detail": None,
        "timestamp": "2024-05-02T10:00:00Z",
        "author": "Payments Security Team",
    }
    base.update(changes)
    return VexStatement(**base)


def _doc(*statements: VexStatement) -> VexDocument:
    return VexDocument(
        format="OpenVEX",
        spec_version="0.2.0",
        author="Payments Security Team",
        timestamp="2024-05-02T10:00:00Z",
        statements=list(statements),
    )


# ----------------------------------------------------------------------------- reading


def test_reads_openvex_0_2_0(fixtures: Path) -> None:
    doc = read_openvex((fixtures / "openvex-0.2.0.json").read_bytes(), "v2.json", Limits())
    assert (doc.format, doc.spec_version) == ("OpenVEX", "0.2.0")
    assert (doc.author, doc.timestamp) == ("Payments Security Team", "2024-05-02T10:00:00Z")
    # four statements, the second naming two products
    assert [(s.vulnerability, s.product) for s in doc.statements] == [
        ("CVE-2023-30861", "pkg:oci/payments-api@sha256%3Aabc123?repository_url=ghcr.io/acme"),
        ("GHSA-jfhm-5ghh-2f97", API),
        ("GHSA-jfhm-5ghh-2f97", "pkg:github/acme/payments-worker@v1.4.0"),
        ("CVE-2024-0001", API),
        ("CVE-2022-40897", API),
    ]
    first, api, worker, investigating, fixed = doc.statements
    assert first.aliases == ["GHSA-m2qf-hxjv-5gpq", "PYSEC-2023-62"]
    assert first.subcomponents == ["pkg:pypi/flask@2.2.2"]  # canonical purl
    assert first.justification == "vulnerable_code_not_in_execute_path"
    assert first.detail == "Sessions are not used behind a caching proxy."
    assert first.timestamp == "2024-05-02T10:00:00Z"  # inherited from the document
    assert api.subcomponents == []
    assert worker.subcomponents == ["pkg:npm/%40babel/traverse@7.22.0"]  # identifiers.purl
    assert api.status == worker.status == "affected"
    assert api.detail == "Upgrade @babel/traverse to 7.23.2."
    assert api.timestamp == "2024-05-02T09:30:00Z"  # last_updated wins over timestamp
    assert investigating.detail == "Reproducing in staging."
    assert (fixed.status, fixed.detail, fixed.justification) == ("fixed", None, None)
    assert all(s.author == "Payments Security Team" for s in doc.statements)


def test_reads_openvex_0_0_1_strings(fixtures: Path) -> None:
    doc = read_openvex((fixtures / "openvex-0.0.1.json").read_bytes(), "v0.json", Limits())
    assert doc.spec_version == "0.0.1"
    assert [s.product for s in doc.statements] == [
        "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64",
        "pkg:apk/wolfi/git@2.39.0-r1?arch=armv7",
    ]
    for statement in doc.statements:
        assert statement.vulnerability == "CVE-2023-12345"
        assert statement.subcomponents == ["pkg:generic/libcurl@7.87.0"]
        assert statement.justification == "component_not_present"
        assert statement.timestamp == "2023-02-01T12:00:00-06:00"


# ----------------------------------------------------------------------------- round trips

ROUND_TRIP = [
    _stmt(
        status="not_affected",
        aliases=["GHSA-m2qf-hxjv-5gpq", "PYSEC-2023-62"],
        subcomponents=["pkg:pypi/flask@2.2.2"],
        justification="vulnerable_code_not_present",
        detail="The session interface is replaced.",
    ),
    _stmt(status="not_affected", justification="inline_mitigations_already_exist"),
    _stmt(status="not_affected", detail="Only reachable from the admin CLI."),
    _stmt(
        vulnerability="GHSA-jfhm-5ghh-2f97",
        status="affected",
        subcomponents=["pkg:npm/%40babel/traverse@7.22.0", "pkg:npm/lodash@4.17.20"],
        detail="Upgrade to 7.23.2.",
        timestamp="2024-05-03T00:00:00Z",
    ),
    _stmt(vulnerability="PYSEC-2024-1", status="under_investigation", detail="Reproducing."),
    _stmt(vulnerability="CVE-2022-40897", status="fixed"),
    _stmt(product="pkg:github/acme/payments-worker@v1.4.0", status="under_investigation"),
]


def test_write_then_read_gives_the_same_statements() -> None:
    written = write_openvex(_doc(*ROUND_TRIP), doc_id="https://example.com/vex/1")
    doc = read_openvex(written, "out.json", Limits())
    assert doc.statements == ROUND_TRIP
    assert (doc.author, doc.timestamp, doc.spec_version) == (
        "Payments Security Team",
        "2024-05-02T10:00:00Z",
        "0.2.0",
    )


def test_fixture_survives_a_round_trip(fixtures: Path) -> None:
    for name in ("openvex-0.2.0.json", "openvex-0.0.1.json"):
        doc = read_openvex((fixtures / name).read_bytes(), name, Limits())
        again = read_openvex(write_openvex(doc, doc_id="urn:x"), name, Limits())
        assert again.statements == doc.statements, name


def test_written_document_has_the_required_fields() -> None:
    written = json.loads(write_openvex(_doc(*ROUND_TRIP), doc_id="https://example.com/vex/1"))
    assert written["@context"] == CONTEXT
    assert written["@id"] == "https://example.com/vex/1"
    assert written["version"] == 1
    for key in ("author", "timestamp", "statements"):
        assert written[key]
    for statement in written["statements"]:
        assert statement["vulnerability"]["name"]
        assert statement["products"] and all(p["@id"] for p in statement["products"])
        assert statement["status"] in OPENVEX_STATUSES
        if statement["status"] == "not_affected":
            assert "justification" in statement or "impact_statement" in statement
        else:
            assert "justification" not in statement
        if statement["status"] == "affected":
            assert statement["action_statement"]


def test_writer_fills_required_statements_and_translates_justifications() -> None:
    doc = _doc(
        _stmt(status="not_affected"),
        _stmt(status="affected"),
        _stmt(status="not_affected", justification="code_not_reachable"),
        _stmt(status="fixed", justification="code_not_reachable"),
    )
    written = json.loads(write_openvex(doc, doc_id="urn:x"))["statements"]
    assert written[0]["impact_statement"] == MISSING_IMPACT_STATEMENT
    assert written[1]["action_statement"] == MISSING_ACTION_STATEMENT
    assert written[2]["justification"] == "vulnerable_code_not_in_execute_path"
    assert "impact_statement" not in written[2]
    assert "justification" not in written[3]


def test_writer_without_author_or_timestamp_still_writes_a_valid_header() -> None:
    doc = VexDocument("OpenVEX", "0.2.0", None, None, [_stmt(timestamp=None, author=None)])
    written = json.loads(write_openvex(doc, doc_id="urn:x"))
    assert written["author"] == "Unknown"
    assert written["timestamp"]
    assert "timestamp" not in written["statements"][0]


@pytest.mark.parametrize(
    "statement",
    [
        _stmt(status="exploitable"),
        _stmt(product=""),
        _stmt(status="not_affected", justification="x"),
    ],
)
def test_writer_refuses_statements_it_cannot_express(statement: VexStatement) -> None:
    with pytest.raises(ValueError):
        write_openvex(_doc(statement), doc_id="urn:x")


# ----------------------------------------------------------------------------- state mappings

STATE_TO_OPENVEX = {
    "open": ("under_investigation", None),
    "in_triage": ("under_investigation", None),
    "exploitable": ("affected", None),
    "not_affected": ("not_affected", None),
    "false_positive": ("not_affected", "component_not_present"),
    "fixed": ("fixed", None),
}
OPENVEX_TO_STATE = {
    "not_affected": "not_affected",
    "affected": "exploitable",
    "fixed": "fixed",
    "under_investigation": "in_triage",
}
STATE_TO_CYCLONEDX = {
    "open": ("in_triage", None),
    "in_triage": ("in_triage", None),
    "exploitable": ("exploitable", None),
    "not_affected": ("not_affected", None),
    "false_positive": ("false_positive", None),
    "fixed": ("resolved", None),
}
CYCLONEDX_TO_STATE = {
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "exploitable",
    "in_triage": "in_triage",
    "false_positive": "false_positive",
    "not_affected": "not_affected",
}


def test_state_mapping_tables_cover_every_value() -> None:
    assert set(STATE_TO_OPENVEX) == set(STATE_TO_CYCLONEDX) == set(MESHWARD_STATES)
    assert set(OPENVEX_TO_STATE) == set(OPENVEX_STATUSES)
    assert set(CYCLONEDX_TO_STATE) == set(CYCLONEDX_STATES)
    assert {state_to_openvex(s) for s in MESHWARD_STATES} == set(STATE_TO_OPENVEX.values())


@pytest.mark.parametrize("state", MESHWARD_STATES)
def test_state_to_vocabularies(state: str) -> None:
    assert state_to_openvex(state) == STATE_TO_OPENVEX[state]
    assert state_to_cyclonedx(state) == STATE_TO_CYCLONEDX[state]


@pytest.mark.parametrize("status", OPENVEX_STATUSES)
def test_openvex_to_state(status: str) -> None:
    assert openvex_to_state(status) == OPENVEX_TO_STATE[status]


@pytest.mark.parametrize("state", CYCLONEDX_STATES)
def test_cyclonedx_to_state(state: str) -> None:
    assert cyclonedx_to_state(state) == CYCLONEDX_TO_STATE[state]


def test_state_round_trips_where_the_vocabulary_allows() -> None:
    # OpenVEX cannot say "open" or "false positive"; CycloneDX cannot say "open".
    for state in MESHWARD_STATES:
        back = openvex_to_state(state_to_openvex(state)[0])
        assert back == {"open": "in_triage", "false_positive": "not_affected"}.get(state, state)
        back = cyclonedx_to_state(state_to_cyclonedx(state)[0])
        assert back == {"open": "in_triage"}.get(state, state)


def test_justifications_travel_with_not_affected_only() -> None:
    assert state_to_openvex("not_affected", "code_not_reachable") == (
        "not_affected",
        "vulnerable_code_not_in_execute_path",
    )
    assert state_to_openvex("false_positive", "vulnerable_code_not_present") == (
        "not_affected",
        "vulnerable_code_not_present",
    )
    assert state_to_cyclonedx("not_affected", "component_not_present") == (
        "not_affected",
        "code_not_present",
    )
    assert state_to_openvex("exploitable", "code_not_reachable") == ("affected", None)
    assert state_to_cyclonedx("fixed", "code_not_reachable") == ("resolved", None)


def test_justification_crosswalk_is_total() -> None:
    for name in CYCLONEDX_JUSTIFICATIONS:
        assert justification_to_openvex(name) in OPENVEX_JUSTIFICATIONS
        assert justification_to_cyclonedx(name) == name
    for name in OPENVEX_JUSTIFICATIONS:
        assert justification_to_cyclonedx(name) in CYCLONEDX_JUSTIFICATIONS
        assert justification_to_openvex(name) == name
        # OpenVEX -> CycloneDX -> OpenVEX keeps the reason's family
        back = justification_to_openvex(justification_to_cyclonedx(name))
        assert back in OPENVEX_JUSTIFICATIONS
    assert justification_to_openvex(None) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: state_to_openvex("closed"),
        lambda: state_to_cyclonedx("closed"),
        lambda: openvex_to_state("exploitable"),
        lambda: cyclonedx_to_state("affected"),
        lambda: justification_to_openvex("because"),
        lambda: justification_to_cyclonedx("because"),
    ],
)
def test_mappings_refuse_unknown_values(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_statement_state_prefers_the_finer_cyclonedx_state() -> None:
    assert statement_state(_stmt(status="not_affected")) == "not_affected"
    fp = _stmt(status="not_affected", cyclonedx_state="false_positive")
    assert statement_state(fp) == "false_positive"
    assert statement_state(_stmt(status="under_investigation")) == "in_triage"


# ----------------------------------------------------------------------------- detection


def test_read_vex_detects_each_format(fixtures: Path) -> None:
    openvex = (fixtures / "openvex-0.2.0.json").read_bytes()
    assert read_vex(openvex, "a").format == "OpenVEX"
    assert read_vex((fixtures / "cyclonedx-vex.json").read_bytes(), "b").format == "CycloneDX"
    assert read_vex((fixtures / "cyclonedx-vex.xml").read_bytes(), "c").format == "CycloneDX"
    attestation = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://openvex.dev/ns/v0.2.0",
        "subject": [],
        "predicate": json.loads(openvex),
    }
    doc = read_vex(json.dumps(attestation).encode(), "d")
    assert doc.statements == read_vex(openvex, "a").statements
    with pytest.raises(InputError, match="not an OpenVEX or CycloneDX"):
        read_vex(b'{"spdxVersion": "SPDX-2.3"}', "e")
    with pytest.raises(InputError) as err:
        read_vex(json.dumps({**attestation, "predicate": {"statements": []}}).encode(), "f")
    assert err.value.place == "/predicate/@context"


# ----------------------------------------------------------------------------- broken input


def _minimal(**statement: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "vulnerability": {"name": "CVE-2024-1"},
        "products": [{"@id": API}],
        "status": "fixed",
    }
    base.update(statement)
    return {
        "@context": CONTEXT,
        "@id": "urn:x",
        "author": "a",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [{k: v for k, v in base.items() if v is not None}],
    }


@pytest.mark.parametrize(
    ("document", "place", "message"),
    [
        (_minimal(status="exploitable"), "/statements/0/status", "unknown OpenVEX status"),
        (_minimal(status=None), "/statements/0/status", "missing"),
        (
            _minimal(status="not_affected", justification="code_not_reachable"),
            "/statements/0/justification",
            "unknown OpenVEX justification",
        ),
        (_minimal(vulnerability=None), "/statements/0/vulnerability", "missing"),
        (_minimal(vulnerability=17), "/statements/0/vulnerability", "expected an object"),
        (_minimal(vulnerability={"aliases": []}), "/statements/0/vulnerability/name", "no name"),
        (
            _minimal(vulnerability={"name": "CVE-1", "aliases": [3]}),
            "/statements/0/vulnerability/aliases/0",
            "expected a string",
        ),
        (_minimal(products=[]), "/statements/0/products", "no product"),
        (_minimal(products={"@id": API}), "/statements/0/products", "expected an array"),
        (_minimal(products=[{"name": "x"}]), "/statements/0/products/0", "no @id"),
        (_minimal(products=["pkg:"]), "/statements/0/products/0", "malformed purl"),
        (
            _minimal(products=[{"@id": API, "subcomponents": [{"@id": "pkg:pypi"}]}]),
            "/statements/0/products/0/subcomponents/0/@id",
            "malformed purl",
        ),
        (_minimal(timestamp=5), "/statements/0/timestamp", "expected a string"),
        ({"@context": "https://example.com/ns", "statements": []}, "/@context", "not an OpenVEX"),
        ({"@context": CONTEXT}, "/statements", "expected an array"),
        ([], "/", "expected an object"),
    ],
)
def test_broken_documents_give_input_error(document: Any, place: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        read_openvex(json.dumps(document).encode(), "bad.json", Limits())
    assert err.value.source == "bad.json"
    assert err.value.place == place
    assert message in err.value.message


def test_hostile_documents_give_input_error() -> None:
    limits = Limits(max_bytes=10_000, max_depth=16)
    with pytest.raises(InputError, match="not valid JSON"):
        read_openvex(b'{"@context": ', "x", limits)
    with pytest.raises(InputError, match="nesting deeper"):
        read_openvex(b"[" * 100 + b"]" * 100, "x", limits)
    with pytest.raises(InputError, match="larger than the limit"):
        read_openvex(b" " * 10_001, "x", limits)
    with pytest.raises(InputError, match="number longer"):
        read_openvex(b'{"version": ' + b"9" * 100 + b"}", "x", limits)
    with pytest.raises(InputError):
        read_vex(b"\xff\xfe\x00garbage", "x", limits)
