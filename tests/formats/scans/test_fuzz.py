"""Whatever JSON sits where a reader expects a report, it answers with a report or an
``InputError`` naming the file: never a ``TypeError`` from deep inside."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshward.errors import InputError
from meshward.formats.scans.registry import read_scan

KEYS = st.sampled_from(
    [
        "ruleId", "ruleIndex", "rule", "message", "text", "id", "index", "locations",
        "physicalLocation", "artifactLocation", "uri", "region", "startLine", "snippet",
        "properties", "tags", "cwe", "taxa", "toolComponent", "suppressions", "status",
        "kind", "level", "partialFingerprints", "fingerprints", "webRequest", "rules",
        "relationships", "target", "name", "instances", "riskcode", "cweid", "pluginid",
        "alertRef", "extra", "metadata", "start", "issue_cwe", "CweIDs", "artifact",
        "vulnerability", "cwes", "found", "matchDetails",
    ]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8) | st.floats(-1, 11),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)

SHAPES = [
    lambda x: {"version": "2.1.0", "runs": [{"tool": {"driver": {"rules": [x]}}, "results": [x]}]},
    lambda x: {"version": "2.1.0", "runs": [{"taxonomies": [x], "results": [x, x]}]},
    lambda x: {"paths": {}, "results": [x]},
    lambda x: {"generated_at": "", "metrics": {}, "results": [x]},
    lambda x: {"@version": "2", "site": [{"alerts": [x]}]},
    lambda x: {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [x], "Secrets": [x]}]},
    lambda x: {"descriptor": {}, "matches": [x]},
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.integers(0, len(SHAPES) - 1), value=JSON)
def test_any_value_gives_a_report_or_an_input_error(shape: int, value: object) -> None:
    data = json.dumps(SHAPES[shape](value)).encode()
    try:
        report = read_scan(data, "fuzz.json")
    except InputError as error:
        assert error.source == "fuzz.json"
        assert "could not read" not in error.message, error  # the last guard caught a bug
    else:
        assert all(isinstance(f.fingerprint, str) and f.fingerprint for f in report.results)
