from __future__ import annotations

from meshward.formats.scans.fingerprint import (
    dast_fingerprint,
    normalize_uri,
    sast_fingerprint,
    sca_fingerprint,
    tool_fingerprint,
)


def test_partial_fingerprints_prefer_well_known_key() -> None:
    both = {"primaryLocationLineHash": "39fa2ee980eb94b0:1", "other/v1": "x"}
    only = {"primaryLocationLineHash": "39fa2ee980eb94b0:1"}
    assert tool_fingerprint("codeql", "js/x", both, None) == tool_fingerprint(
        "codeql", "js/x", only, None
    )
    assert tool_fingerprint("codeql", "js/x", only, None) != tool_fingerprint(
        "codeql", "js/y", only, None
    )


def test_other_keys_are_used_sorted_and_full_fingerprints_follow() -> None:
    a = tool_fingerprint("t", "r", {"b/v1": "2", "a/v1": "1"}, None)
    b = tool_fingerprint("t", "r", {"a/v1": "1", "b/v1": "2"}, None)
    assert a == b and a is not None
    assert tool_fingerprint("t", "r", None, {"matchBasedId/v1": "abc"}) is not None


def test_placeholders_are_no_fingerprint() -> None:
    assert tool_fingerprint("semgrep", "r", None, {"matchBasedId/v1": "requires login"}) is None
    assert tool_fingerprint("semgrep", "r", {}, {}) is None


def test_sast_fingerprint_survives_line_drift_and_reformatting() -> None:
    first = sast_fingerprint("bandit", "B608", "./svc\\app.py", "q = 'a' %  x", 21)
    moved = sast_fingerprint("bandit", "B608", "svc/app.py", "q = 'a' % x", 40)
    assert first == moved
    assert first != sast_fingerprint("bandit", "B608", "svc/app.py", "q = 'b' % x", 21)


def test_sast_fingerprint_uses_line_only_without_snippet() -> None:
    assert sast_fingerprint("t", "r", "a.py", None, 3) != sast_fingerprint(
        "t", "r", "a.py", None, 4
    )
    assert sast_fingerprint("t", "r", "a.py", "x", 3) == sast_fingerprint("t", "r", "a.py", "x", 4)


def test_normalize_uri() -> None:
    assert normalize_uri("file://src//a.py") == "src/a.py"
    assert normalize_uri(".\\src\\a.py") == "src/a.py"
    assert normalize_uri(None) == ""


def test_dast_fingerprint_drops_query_values_not_names() -> None:
    base = dast_fingerprint("zap", "40018", "get", "http://h/p.jsp?id=7&b=1", "id")
    assert base == dast_fingerprint("zap", "40018", "GET", "HTTP://H/p.jsp?b=2&id=8", "id")
    assert base != dast_fingerprint("zap", "40018", "GET", "http://h/p.jsp?other=7", "id")
    assert base != dast_fingerprint("zap", "40018", "POST", "http://h/p.jsp?id=7&b=1", "id")


def test_sca_fingerprint_depends_on_package_version() -> None:
    one = sca_fingerprint("trivy", "CVE-2019-1549", "libcrypto1.1", "1.1.1c-r0")
    assert one == sca_fingerprint("trivy", "CVE-2019-1549", "libcrypto1.1", "1.1.1c-r0")
    assert one != sca_fingerprint("trivy", "CVE-2019-1549", "libcrypto1.1", "1.1.1d-r0")
    assert one.startswith("sca:") and len(one) == 4 + 64
