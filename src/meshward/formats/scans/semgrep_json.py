"""Semgrep's own JSON output (``semgrep --json``).

CWEs are in ``extra.metadata.cwe`` as one string or a list, with titles
(``CWE-89: Improper ...``). Semgrep OSS writes ``requires login`` in place of
``extra.fingerprint`` and ``extra.lines``; those placeholders are treated as absent. A tool
fingerprint is hashed under SARIF's ``matchBasedId/v1`` key, so the same match read from
Semgrep's JSON or SARIF keeps one fingerprint. ``extra.is_ignored`` (a ``nosemgrep``
comment, reported with ``--disable-nosem``) suppresses in source.
"""

from __future__ import annotations

from typing import Any

from meshward.formats.sbom.common import head_text
from meshward.formats.scans.common import (
    MAX_MESSAGE_CHARS,
    MAX_SNIPPET_CHARS,
    Place,
    cap,
    read_results,
    severity_from_word,
)
from meshward.formats.scans.cwe import cwe_from_field, sorted_cwes
from meshward.formats.scans.fingerprint import sast_fingerprint, sca_fingerprint, tool_fingerprint
from meshward.formats.scans.interface import (
    JsonScanReader,
    Location,
    PackageRef,
    ScanFinding,
    ScanReport,
    Suppression,
)

__all__ = ["SemgrepJsonReader"]

_PLACEHOLDER = "requires login"


class SemgrepJsonReader(JsonScanReader):
    format = "semgrep-json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("{") and '"check_id"' in text

    def accepts(self, root: object) -> bool:
        if not isinstance(root, dict) or not isinstance(root.get("results"), list):
            return False
        if "paths" in root or "engine_requested" in root or "skipped_rules" in root:
            return True
        results = root["results"]
        return bool(results) and isinstance(results[0], dict) and "check_id" in results[0]

    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        top = Place(source)
        report = top.obj(root, optional=False)
        findings = read_results(top, report, "results", _finding)
        version = report.get("version")
        return ScanReport(
            format="semgrep-json",
            tool="semgrep",
            tool_version=version if isinstance(version, str) else None,
            kind="sca" if findings and all(f.package for f in findings) else "sast",
            started=None,
            finished=None,
            target=None,
            results=findings,
        )


def _real(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != _PLACEHOLDER else None


def _finding(value: Any, place: Place) -> ScanFinding:
    result = place.obj(value, optional=False)
    rule_id = place.text(result.get("check_id"), "check_id") or ""
    path = place.text(result.get("path"), "path")
    start = place.obj(result.get("start"), "start")
    end = place.obj(result.get("end"), "end")
    extra = place.obj(result.get("extra"), "extra")
    metadata = place.obj(extra.get("metadata"), "extra", "metadata")
    cwe_value = metadata.get("cwe")
    cwes = sorted_cwes(
        cwe_from_field(item) for item in (cwe_value if isinstance(cwe_value, list) else [cwe_value])
    )
    snippet = _real(extra.get("lines"))
    start_line = place.integer(start.get("line"), "start", "line")
    package = _package(extra, metadata)
    if package is not None:
        fingerprint = sca_fingerprint(
            "semgrep", package.vulnerability_id, package.name, package.version
        )
    else:
        fingerprint = tool_fingerprint(
            "semgrep", rule_id, None, {"matchBasedId/v1": _real(extra.get("fingerprint")) or ""}
        ) or sast_fingerprint("semgrep", rule_id, path, snippet, start_line)
    ignored = extra.get("is_ignored") is True
    tags = [
        f"{key}:{metadata[key]}"
        for key in ("category", "confidence")
        if isinstance(metadata.get(key), str)
    ]
    owasp = metadata.get("owasp")
    tags.extend(
        item for item in (owasp if isinstance(owasp, list) else [owasp]) if isinstance(item, str)
    )
    return ScanFinding(
        tool="semgrep",
        rule_id=rule_id,
        rule_name=rule_id.rsplit(".", 1)[-1] or None,
        message=cap(place.text(extra.get("message"), "extra", "message") or "", MAX_MESSAGE_CHARS)
        or "",
        severity=severity_from_word(extra.get("severity")) or "medium",
        cwes=cwes,
        location=Location(
            uri=path.replace("\\", "/") if path else None,
            start_line=start_line,
            end_line=place.integer(end.get("line"), "end", "line") or start_line,
            start_column=place.integer(start.get("col"), "start", "col"),
        ),
        snippet=cap(snippet, MAX_SNIPPET_CHARS),
        fingerprint=fingerprint,
        suppressed=ignored,
        suppression=Suppression(kind="inSource", justification="nosemgrep") if ignored else None,
        package=package,
        tags=tuple(tags),
    )


def _package(extra: dict[str, Any], metadata: dict[str, Any]) -> PackageRef | None:
    """Semgrep Supply Chain results carry the matched dependency in ``extra.sca_info``."""
    sca = extra.get("sca_info")
    if not isinstance(sca, dict):
        return None
    match = sca.get("dependency_match")
    found = match.get("found_dependency") if isinstance(match, dict) else None
    found = found if isinstance(found, dict) else {}
    vuln = metadata.get("sca-vuln-database-identifier")
    return PackageRef(
        name=found.get("package") if isinstance(found.get("package"), str) else None,
        version=found.get("version") if isinstance(found.get("version"), str) else None,
        vulnerability_id=vuln if isinstance(vuln, str) else None,
    )
