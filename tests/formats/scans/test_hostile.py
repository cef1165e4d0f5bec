"""Every reader refuses malformed, oversized and hostile reports with an ``InputError``
naming the file and the place."""

from __future__ import annotations

import json

import pytest

from meshward.errors import InputError
from meshward.formats.scans.registry import read_scan
from meshward.limits import Limits

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<OWASPZAPReport version="2.4.3"><site name="&lol3;"><alerts/></site></OWASPZAPReport>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<OWASPZAPReport version="2.4.3"><site name="&xxe;"><alerts/></site></OWASPZAPReport>
"""


def _refused(data: bytes, limits: Limits | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        if limits is None:
            read_scan(data, "evil.report")
        else:
            read_scan(data, "evil.report", limits=limits)
    assert caught.value.source == "evil.report"
    return caught.value


def test_billion_laughs_is_refused() -> None:
    assert "refused" in _refused(BILLION_LAUGHS).message.lower()


def test_external_entity_is_refused_and_never_read() -> None:
    error = _refused(EXTERNAL_ENTITY)
    assert "root:" not in str(error)


def test_not_json_or_xml() -> None:
    assert "not a recognised scan report" in _refused(b"hello, scanner").message


def test_broken_json_names_line_and_column() -> None:
    assert _refused(b'{"version": "2.1.0", "runs": [').place is not None


def test_broken_xml_names_line() -> None:
    error = _refused(b"<OWASPZAPReport><site></OWASPZAPReport>")
    assert error.place is not None and error.place.startswith("line ")


def test_wrong_top_level_shape() -> None:
    _refused(b"[1, 2, 3]")
    _refused(json.dumps({"runs": "none", "version": "2.1.0"}).encode())


def test_oversized_document() -> None:
    data = json.dumps({"version": "2.1.0", "runs": []}).encode()
    assert "larger than the limit" in _refused(data, Limits(max_bytes=10)).message


def test_deep_nesting_names_the_pointer() -> None:
    deep = b'{"version": "2.1.0", "runs": [{"properties": ' + b"[" * 200 + b"]" * 200 + b"}]}"
    error = _refused(deep)
    assert "nesting deeper" in error.message
    assert error.place is not None and error.place.startswith("/runs/0/properties")


def test_deep_xml_nesting() -> None:
    deep = b"<OWASPZAPReport>" + b"<a>" * 100 + b"</a>" * 100 + b"</OWASPZAPReport>"
    assert "nesting deeper" in _refused(deep).message


def test_huge_number() -> None:
    data = b'{"version": "2.1.0", "runs": [{"results": [], "x": ' + b"9" * 400 + b"}]}"
    assert "number longer" in _refused(data).message


def test_absurd_result_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHWARD_MAX_SCAN_RESULTS", "3")
    results = [{"ruleId": "r", "message": {"text": "m"}}] * 4
    data = json.dumps({"version": "2.1.0", "runs": [{"results": results}]}).encode()
    error = _refused(data)
    assert "more than the limit of 3" in error.message and error.place == "/runs"
    zap = {"@version": "2.15.0", "site": [{"alerts": [{"pluginid": "1", "riskcode": "1"}] * 4}]}
    assert "limit of 3" in _refused(json.dumps(zap).encode()).message


@pytest.mark.parametrize(
    ("document", "place"),
    [
        (
            {"@version": "2", "site": [{"alerts": [{"riskcode": "9", "pluginid": "1"}]}]},
            "/site/0/alerts/0/riskcode",
        ),
        ({"@version": "2", "site": [{"alerts": [{"riskcode": "1"}]}]}, "/site/0/alerts/0"),
        ({"@version": "2", "site": [{"alerts": {"x": 1}}]}, "/site/0/alerts"),
        (
            {"generated_at": "x", "metrics": {}, "results": [{"issue_cwe": "89"}]},
            "/results/0/issue_cwe",
        ),
        ({"paths": {}, "results": [{"check_id": ["x"]}]}, "/results/0/check_id"),
        (
            {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"CweIDs": "CWE-1"}]}]},
            "/Results/0/Vulnerabilities/0/CweIDs",
        ),
        (
            {"descriptor": {}, "matches": [{"vulnerability": {}, "artifact": 3}]},
            "/matches/0/artifact",
        ),
    ],
)
def test_wrong_shapes_in_each_json_format_name_the_place(document: object, place: str) -> None:
    assert _refused(json.dumps(document).encode()).place == place


def test_zap_xml_with_a_bad_risk_code_names_the_element() -> None:
    data = (
        b"<OWASPZAPReport version='2'><site name='s'><alerts><alertitem>"
        b"<pluginid>1</pluginid><riskcode>x</riskcode></alertitem></alerts></site>"
        b"</OWASPZAPReport>"
    )
    error = _refused(data)
    assert error.place == "/OWASPZAPReport/site[1]/alerts/alertitem[1]/riskcode"
