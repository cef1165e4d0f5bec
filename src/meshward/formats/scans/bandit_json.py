"""Bandit's JSON output (``bandit -f json``).

CWEs are ``issue_cwe.id`` numbers. ``code`` is a numbered window of lines around the
finding; the snippet keeps only the flagged lines (``line_range``) without their numbers,
so the fingerprint survives code moving up or down. Bandit leaves ``# nosec`` lines out of
its results (it only counts them), so nothing here is suppressed unless the report says so.
"""

from __future__ import annotations

import re
from typing import Any

from meshward.formats.sbom.common import head_text
from meshward.formats.scans.common import (
    MAX_MESSAGE_CHARS,
    MAX_SNIPPET_CHARS,
    Place,
    cap,
    parse_time,
    read_results,
    severity_from_word,
)
from meshward.formats.scans.cwe import cwe_from_field
from meshward.formats.scans.fingerprint import sast_fingerprint
from meshward.formats.scans.interface import JsonScanReader, Location, ScanFinding, ScanReport

__all__ = ["BanditJsonReader"]

_NUMBERED = re.compile(r"^(\d+) ?(.*)$")
_DOCS_VERSION = re.compile(r"bandit\.readthedocs\.io/en/(\d[\w.]*)/")


class BanditJsonReader(JsonScanReader):
    format = "bandit-json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("{") and '"generated_at"' in text and '"metrics"' in text

    def accepts(self, root: object) -> bool:
        return (
            isinstance(root, dict)
            and "results" in root
            and "metrics" in root
            and "generated_at" in root
        )

    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        top = Place(source)
        report = top.obj(root, optional=False)
        findings = read_results(top, report, "results", _finding)
        version = None
        for value in report["results"]:
            found = _DOCS_VERSION.search(str(value.get("more_info", "")))
            if found:
                version = found.group(1)
                break
        return ScanReport(
            format="bandit-json",
            tool="bandit",
            tool_version=version,
            kind="sast",
            started=None,
            finished=parse_time(report.get("generated_at")),
            target=None,
            results=findings,
        )


def _flagged_lines(code: str | None, lines: list[Any]) -> str | None:
    if not code:
        return None
    wanted = {line for line in lines if type(line) is int}
    kept = []
    for row in code.splitlines():
        match = _NUMBERED.match(row)
        if match and (not wanted or int(match.group(1)) in wanted):
            kept.append(match.group(2))
    return "\n".join(kept) or None


def _finding(value: Any, place: Place) -> ScanFinding:
    result = place.obj(value, optional=False)
    rule_id = place.text(result.get("test_id"), "test_id") or ""
    path = place.text(result.get("filename"), "filename")
    line = place.integer(result.get("line_number"), "line_number")
    line_range = place.array(result.get("line_range"), "line_range")
    snippet = _flagged_lines(place.text(result.get("code"), "code"), line_range)
    cwe = place.obj(result.get("issue_cwe"), "issue_cwe").get("id")
    column = result.get("col_offset")
    confidence = result.get("issue_confidence")
    return ScanFinding(
        tool="bandit",
        rule_id=rule_id,
        rule_name=place.text(result.get("test_name"), "test_name"),
        message=cap(place.text(result.get("issue_text"), "issue_text") or "", MAX_MESSAGE_CHARS)
        or "",
        severity=severity_from_word(result.get("issue_severity")) or "medium",
        cwes=tuple(filter(None, [cwe_from_field(cwe)])),
        location=Location(
            uri=path.replace("\\", "/") if path else None,
            start_line=line,
            end_line=max((n for n in line_range if type(n) is int), default=line),
            start_column=column + 1 if type(column) is int and column >= 0 else None,
        ),
        snippet=cap(snippet, MAX_SNIPPET_CHARS),
        fingerprint=sast_fingerprint("bandit", rule_id, path, snippet, line),
        tags=(f"confidence:{confidence.lower()}",) if isinstance(confidence, str) else (),
    )
