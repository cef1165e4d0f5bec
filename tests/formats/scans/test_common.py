from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshward.formats.scans.common import (
    html_to_text,
    parse_time,
    severity_from_score,
    severity_from_word,
    tool_name,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Semgrep OSS", "semgrep"),
        ("CodeQL command-line toolchain", "codeql"),
        ("LGTM.com", "codeql"),
        ("Bandit", "bandit"),
        ("ESLint", "eslint"),
        ("OWASP ZAP", "zap"),
        ("Trivy", "trivy"),
        ("Micro Focus Fortify  Static Code Analyzer", "micro focus fortify static code analyzer"),
        ("zapper", "zapper"),
    ],
)
def test_tool_name(name: str, expected: str) -> None:
    assert tool_name(name) == expected


def test_tool_hint_only_when_the_report_names_none() -> None:
    assert tool_name(None, "Bandit") == "bandit"
    assert tool_name("Semgrep OSS", "bandit") == "semgrep"
    assert tool_name(None) == "unknown"


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ("9.8", "critical"),
        (9.0, "critical"),
        ("8.8", "high"),
        (7, "high"),
        ("5.3", "medium"),
        (0.1, "low"),
        (0, "info"),
        ("n/a", None),
        (11, None),
        (None, None),
    ],
)
def test_severity_from_score(score: object, expected: str | None) -> None:
    assert severity_from_score(score) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("error", "high"),
        ("warning", "medium"),
        ("note", "low"),
        ("none", "info"),
        ("CRITICAL", "critical"),
        ("Negligible", "info"),
        ("UNDEFINED", "info"),
        ("odd", None),
    ],
)
def test_severity_from_word(word: str, expected: str | None) -> None:
    assert severity_from_word(word) == expected


def test_parse_time() -> None:
    assert parse_time("2026-11-24T07:14:34Z") == datetime(2026, 11, 24, 7, 14, 34, tzinfo=UTC)
    assert parse_time("Fri, 29 Jan 2016 12:17:58") == datetime(2016, 1, 29, 12, 17, 58)
    assert parse_time("yesterday") is None
    assert parse_time(17) is None


def test_html_to_text() -> None:
    assert html_to_text("<p>One &amp; two</p><p>three</p>") == "One & two\nthree"
    assert html_to_text(None) is None
