"""Grype's JSON report (``grype <target> -o json``).

One finding per ``matches[]`` entry. CWEs come from ``vulnerability.cwes[].cwe`` and, where
Grype put them there instead, ``relatedVulnerabilities[].cwes`` and
``matchDetails[].found.cwes``; related vulnerability ids (the CVE behind a GHSA) are kept as
tags so the verification service can join on either.
"""

from __future__ import annotations

from typing import Any

from meshward.formats.sbom.common import head_text
from meshward.formats.scans.common import (
    MAX_MESSAGE_CHARS,
    Place,
    cap,
    parse_time,
    read_results,
    severity_from_word,
)
from meshward.formats.scans.cwe import cwe_from_field, sorted_cwes
from meshward.formats.scans.fingerprint import sca_fingerprint
from meshward.formats.scans.interface import (
    JsonScanReader,
    Location,
    PackageRef,
    ScanFinding,
    ScanReport,
)

__all__ = ["GrypeJsonReader"]


class GrypeJsonReader(JsonScanReader):
    format = "grype-json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("{") and '"matches"' in text and '"matchDetails"' in text

    def accepts(self, root: object) -> bool:
        return (
            isinstance(root, dict)
            and "matches" in root
            and ("descriptor" in root or "source" in root)
        )

    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        top = Place(source)
        report = top.obj(root, optional=False)
        findings = read_results(top, report, "matches", _finding)
        descriptor = top.obj(report.get("descriptor"), "descriptor")
        version = descriptor.get("version")
        return ScanReport(
            format="grype-json",
            tool="grype",
            tool_version=version if isinstance(version, str) else None,
            kind="sca",
            started=None,
            finished=parse_time(descriptor.get("timestamp")),
            target=_target(report.get("source")),
            results=findings,
        )


def _target(source: Any) -> str | None:
    if not isinstance(source, dict):
        return None
    target = source.get("target")
    if isinstance(target, str):
        return target
    if isinstance(target, dict):
        for key in ("userInput", "path", "imageID"):
            if isinstance(target.get(key), str):
                return str(target[key])
    return None


def _cwes_in(value: Any) -> list[str | None]:
    if not isinstance(value, list):
        return []
    return [cwe_from_field(item.get("cwe")) for item in value if isinstance(item, dict)]


def _finding(value: Any, place: Place) -> ScanFinding:
    match = place.obj(value, optional=False)
    vuln = place.obj(match.get("vulnerability"), "vulnerability", optional=False)
    artifact = place.obj(match.get("artifact"), "artifact", optional=False)
    vuln_id = place.text(vuln.get("id"), "vulnerability", "id") or ""
    name = place.text(artifact.get("name"), "artifact", "name")
    version = place.text(artifact.get("version"), "artifact", "version")
    cwes = _cwes_in(vuln.get("cwes"))
    related_ids = []
    for related in place.array(match.get("relatedVulnerabilities"), "relatedVulnerabilities"):
        if isinstance(related, dict):
            cwes.extend(_cwes_in(related.get("cwes")))
            if isinstance(related.get("id"), str) and related["id"] != vuln_id:
                related_ids.append(related["id"])
    for detail in place.array(match.get("matchDetails"), "matchDetails"):
        found = detail.get("found") if isinstance(detail, dict) else None
        if isinstance(found, dict):
            cwes.extend(_cwes_in(found.get("cwes")))
    fix = vuln.get("fix")
    fixed = fix.get("versions") if isinstance(fix, dict) else None
    locations = artifact.get("locations")
    path = None
    if isinstance(locations, list) and locations and isinstance(locations[0], dict):
        path = locations[0].get("path") if isinstance(locations[0].get("path"), str) else None
    description = place.text(vuln.get("description"), "vulnerability", "description")
    return ScanFinding(
        tool="grype",
        rule_id=vuln_id,
        rule_name=None,
        message=cap(description or vuln_id, MAX_MESSAGE_CHARS) or "",
        severity=severity_from_word(vuln.get("severity")) or "info",
        cwes=sorted_cwes(cwes),
        location=Location(uri=path),
        snippet=None,
        fingerprint=sca_fingerprint("grype", vuln_id, name, version),
        package=PackageRef(
            name=name,
            version=version,
            purl=place.text(artifact.get("purl"), "artifact", "purl") or None,
            vulnerability_id=vuln_id or None,
            fixed_version=str(fixed[0]) if isinstance(fixed, list) and fixed else None,
        ),
        tags=tuple(dict.fromkeys(related_ids)),
    )
