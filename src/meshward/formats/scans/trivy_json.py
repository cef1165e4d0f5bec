"""Trivy's JSON report (``trivy image|fs --format json``, schema version 2).

Each ``Results[]`` entry is one target (an OS layer, a lock file); vulnerabilities there are
SCA findings with ``CweIDs``; ``Misconfigurations`` (only ``FAIL``) and ``Secrets`` are kept
too, as code findings located in the target file. Nothing is invented: a secret has no CWE
unless Trivy gives one.
"""

from __future__ import annotations

from typing import Any

from meshward.formats.sbom.common import head_text
from meshward.formats.scans.common import (
    MAX_MESSAGE_CHARS,
    MAX_SNIPPET_CHARS,
    Place,
    cap,
    check_result_count,
    parse_time,
    severity_from_word,
)
from meshward.formats.scans.cwe import cwe_from_field, sorted_cwes
from meshward.formats.scans.fingerprint import sast_fingerprint, sca_fingerprint
from meshward.formats.scans.interface import (
    JsonScanReader,
    Location,
    PackageRef,
    ScanFinding,
    ScanReport,
)

__all__ = ["TrivyJsonReader"]


class TrivyJsonReader(JsonScanReader):
    format = "trivy-json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("{") and '"SchemaVersion"' in text and '"ArtifactName"' in text

    def accepts(self, root: object) -> bool:
        return (
            isinstance(root, dict)
            and "SchemaVersion" in root
            and ("Results" in root or "ArtifactName" in root)
        )

    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        top = Place(source)
        report = top.obj(root, optional=False)
        results = top.array(report.get("Results"), "Results")
        entries: list[tuple[str, list[Any], Place, str | None]] = []
        for number, value in enumerate(results):
            at = top / "Results" / number
            result = at.obj(value, optional=False)
            target = at.text(result.get("Target"), "Target")
            for key in ("Vulnerabilities", "Misconfigurations", "Secrets"):
                entries.append((key, at.array(result.get(key), key), at / key, target))
        check_result_count(sum(len(items) for _, items, _, _ in entries), source, "/Results")
        findings: list[ScanFinding] = []
        for key, items, at, target in entries:
            for number, item in enumerate(items):
                finding = _READERS[key](at.obj(item, optional=False), at / number, target)
                if finding is not None:
                    findings.append(finding)
        trivy = report.get("Trivy")
        version = trivy.get("Version") if isinstance(trivy, dict) else None
        return ScanReport(
            format="trivy-json",
            tool="trivy",
            tool_version=version if isinstance(version, str) else None,
            kind="sca",
            started=None,
            finished=parse_time(report.get("CreatedAt")),
            target=top.text(report.get("ArtifactName"), "ArtifactName"),
            results=findings,
        )


def _vulnerability(item: dict[str, Any], place: Place, target: str | None) -> ScanFinding:
    vuln_id = place.text(item.get("VulnerabilityID"), "VulnerabilityID") or ""
    name = place.text(item.get("PkgName"), "PkgName")
    version = place.text(item.get("InstalledVersion"), "InstalledVersion")
    identifier = place.obj(item.get("PkgIdentifier"), "PkgIdentifier")
    cwe_ids = place.array(item.get("CweIDs"), "CweIDs")
    title = place.text(item.get("Title"), "Title")
    description = place.text(item.get("Description"), "Description")
    path = place.text(item.get("PkgPath"), "PkgPath") or target
    return ScanFinding(
        tool="trivy",
        rule_id=vuln_id,
        rule_name=title,
        message=cap(description or title or vuln_id, MAX_MESSAGE_CHARS) or "",
        severity=severity_from_word(item.get("Severity")) or "info",
        cwes=sorted_cwes(cwe_from_field(cwe) for cwe in cwe_ids),
        location=Location(uri=path),
        snippet=None,
        fingerprint=sca_fingerprint("trivy", vuln_id, name, version),
        package=PackageRef(
            name=name,
            version=version,
            purl=place.text(identifier.get("PURL"), "PkgIdentifier", "PURL"),
            vulnerability_id=vuln_id or None,
            fixed_version=place.text(item.get("FixedVersion"), "FixedVersion") or None,
        ),
        tags=tuple(str(ref) for ref in (item.get("VendorIDs") or []) if isinstance(ref, str)),
    )


def _misconfiguration(item: dict[str, Any], place: Place, target: str | None) -> ScanFinding | None:
    if item.get("Status") not in (None, "FAIL"):
        return None
    rule_id = place.text(item.get("AVDID"), "AVDID") or place.text(item.get("ID"), "ID") or ""
    cause = place.obj(item.get("CauseMetadata"), "CauseMetadata")
    line = place.integer(cause.get("StartLine"), "CauseMetadata", "StartLine")
    message = place.text(item.get("Message"), "Message") or place.text(item.get("Title"), "Title")
    return ScanFinding(
        tool="trivy",
        rule_id=rule_id,
        rule_name=place.text(item.get("Title"), "Title"),
        message=cap(message or rule_id, MAX_MESSAGE_CHARS) or "",
        severity=severity_from_word(item.get("Severity")) or "info",
        cwes=(),
        location=Location(
            uri=target,
            start_line=line,
            end_line=place.integer(cause.get("EndLine"), "CauseMetadata", "EndLine") or line,
        ),
        snippet=None,
        fingerprint=sast_fingerprint("trivy", rule_id, target, None, line),
        tags=("misconfiguration",),
    )


def _secret(item: dict[str, Any], place: Place, target: str | None) -> ScanFinding:
    rule_id = place.text(item.get("RuleID"), "RuleID") or ""
    line = place.integer(item.get("StartLine"), "StartLine")
    match = place.text(item.get("Match"), "Match")
    title = place.text(item.get("Title"), "Title")
    return ScanFinding(
        tool="trivy",
        rule_id=rule_id,
        rule_name=title,
        message=cap(title or rule_id, MAX_MESSAGE_CHARS) or "",
        severity=severity_from_word(item.get("Severity")) or "info",
        cwes=(),
        location=Location(
            uri=target,
            start_line=line,
            end_line=place.integer(item.get("EndLine"), "EndLine") or line,
        ),
        snippet=cap(match, MAX_SNIPPET_CHARS),
        fingerprint=sast_fingerprint("trivy", rule_id, target, match, line),
        tags=("secret",),
    )


_READERS = {
    "Vulnerabilities": _vulnerability,
    "Misconfigurations": _misconfiguration,
    "Secrets": _secret,
}
