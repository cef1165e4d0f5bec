"""A gate verdict as SARIF 2.1.0, which code-scanning views (GitHub, GitLab, Azure DevOps)
show beside the code: one run of the tool ``meshward``, a reporting descriptor per policy
rule, a result per broken item.

Every item broke the gate, so every result is ``error``. A failed control points at the
code its scan results found; a finding names its package as a logical location. Code
scanning drops results with no physical location, so those (findings, missing tools,
unverified controls) point at the policy file when the caller gives its path: the policy
is where that rule is written. ``partialFingerprints`` keep a result the same alert across
runs, so a fixed item closes instead of piling up.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from meshward import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def sarif_log(verdict: dict[str, Any], *, policy_uri: str | None = None) -> dict[str, Any]:
    rules = verdict["rules"]
    descriptors = [
        {
            "id": rule["id"],
            "name": _pascal(rule["id"]),
            "shortDescription": {"text": rule["description"]},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "meshward-gate"]},
        }
        for rule in rules
    ]
    subject = f"{verdict['component']}@{verdict['version']}"
    results = [
        _result(index, rule["id"], item, subject, policy_uri)
        for index, rule in enumerate(rules)
        for item in rule["broken"]
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "meshward",
                        "version": __version__,
                        "rules": descriptors,
                    }
                },
                "automationDetails": {"id": f"meshward-gate/{verdict['component']}/"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "endTimeUtc": verdict["evaluated_at"],
                        "properties": {"passed": verdict["passed"], "subject": subject},
                    }
                ],
                "results": results,
            }
        ],
    }


def sarif_bytes(verdict: dict[str, Any], *, policy_uri: str | None = None) -> bytes:
    return orjson.dumps(sarif_log(verdict, policy_uri=policy_uri), option=orjson.OPT_INDENT_2)


def _result(
    index: int, rule_id: str, item: dict[str, Any], subject: str, policy_uri: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": "error",
        "message": {"text": f"{subject}: {item['message']}"},
        "partialFingerprints": {
            "meshwardGate/v1": hashlib.sha256(
                f"{rule_id}\0{item['kind']}\0{item['id']}".encode()
            ).hexdigest()
        },
        "properties": {"kind": item["kind"], "item": item["id"]},
    }
    if item.get("severity"):
        out["properties"]["severity"] = item["severity"]
    locations: list[dict[str, Any]] = []
    for loc in item.get("locations", []):
        physical: dict[str, Any] = {"artifactLocation": {"uri": loc["uri"]}}
        if loc.get("start_line"):
            physical["region"] = {"startLine": loc["start_line"]}
        locations.append({"physicalLocation": physical})
    purl = item.get("details", {}).get("purl")
    if not locations and policy_uri:
        locations.append(
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": policy_uri},
                    "region": {"startLine": 1},
                }
            }
        )
    if purl:
        logical = [{"name": purl, "fullyQualifiedName": purl, "kind": "module"}]
        if locations:
            locations[0]["logicalLocations"] = logical
        else:
            locations.append({"logicalLocations": logical})
    if locations:
        out["locations"] = locations
    return out


def _pascal(rule_id: str) -> str:
    """``controls.fail_on_failed`` -> ``ControlsFailOnFailed`` (SARIF's ``name`` style)."""
    return "".join(part.capitalize() for part in rule_id.replace(".", "_").split("_") if part)
