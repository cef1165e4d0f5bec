"""What ZAP's JSON and XML reports share once decoded: alerts per site, one finding per
instance (the request that showed the alert).

Decisions: ``riskcode`` 3/2/1/0 is high/medium/low/info (ZAP has no critical); a ``cweid``
of zero, a negative or empty means the alert has none; only when ``cweid`` is missing (ZAP
2.4's reports often leave it out) is our ``zap_alerts`` table asked, by ``alertRef`` and
then ``pluginid``; ``confidence`` 0 is ZAP's "false positive" mark, set
by a person, so such a finding is suppressed (kind ``falsePositive``); an alert without
instances (old reports cut them) still gives one finding, located at the site.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshward.errors import InputError
from meshward.formats.scans.common import (
    MAX_MESSAGE_CHARS,
    MAX_SNIPPET_CHARS,
    cap,
    check_result_count,
    html_to_text,
    parse_time,
)
from meshward.formats.scans.cwe import cwe_from_field
from meshward.formats.scans.fingerprint import dast_fingerprint
from meshward.formats.scans.interface import (
    Location,
    ScanFinding,
    ScanFormat,
    ScanReport,
    Severity,
    Suppression,
)
from meshward.formats.scans.zap_alerts import ZAP_ALERT_CWE

_RISK: dict[str, Severity] = {"3": "high", "2": "medium", "1": "low", "0": "info"}
ALERT_FIELDS = (
    "pluginid",
    "alertRef",
    "alert",
    "name",
    "riskcode",
    "confidence",
    "desc",
    "cweid",
    "wascid",
)
"""Alert fields both encodings carry under the same names, the ones ``zap_report`` reads."""
INSTANCE_FIELDS = ("uri", "method", "param", "attack", "evidence")


@dataclass(slots=True)
class ZapAlert:
    """One alert item as both encodings give it: field name -> text, plus instances."""

    fields: dict[str, str | None]
    instances: list[dict[str, str | None]]
    place: str
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ZapSite:
    name: str | None
    alerts: list[ZapAlert]


def zap_report(
    format_: ScanFormat,
    attributes: dict[str, str | None],
    sites: list[ZapSite],
    source: str,
    place_of_sites: str,
) -> ScanReport:
    total = sum(max(1, len(alert.instances)) for site in sites for alert in site.alerts)
    check_result_count(total, source, place_of_sites)
    findings = [
        finding
        for site in sites
        for alert in site.alerts
        for finding in _findings(alert, site.name, source)
    ]
    names = [site.name for site in sites if site.name]
    version = attributes.get("version")
    return ScanReport(
        format=format_,
        tool="zap",
        tool_version=version or None,
        kind="dast",
        started=None,
        finished=parse_time(attributes.get("created")) or parse_time(attributes.get("generated")),
        target=", ".join(dict.fromkeys(names)) or None,
        results=findings,
    )


def _cwes(fields: dict[str, str | None]) -> tuple[str, ...]:
    raw = fields.get("cweid")
    if raw is not None:  # the report decides; "-1", "0" and "" say the alert has none
        own = cwe_from_field(raw)
        return (own,) if own else ()
    for key in ("alertRef", "pluginid"):
        ref = (fields.get(key) or "").strip()
        if ref in ZAP_ALERT_CWE:
            return (f"CWE-{ZAP_ALERT_CWE[ref]}",)
    return ()


def _findings(alert: ZapAlert, site: str | None, source: str) -> list[ScanFinding]:
    fields = alert.fields
    rule_id = (fields.get("alertRef") or fields.get("pluginid") or "").strip()
    if not rule_id:
        raise InputError(source, alert.place, "alert has neither 'alertRef' nor 'pluginid'")
    risk = (fields.get("riskcode") or "").strip()
    if risk not in _RISK:
        raise InputError(source, alert.place + "/riskcode", f"unknown ZAP risk code {risk!r}")
    name = fields.get("name") or fields.get("alert")
    message = html_to_text(fields.get("desc")) or name or rule_id
    confidence = (fields.get("confidence") or "").strip()
    suppression = (
        Suppression(kind="falsePositive", status="accepted", justification="ZAP confidence 0")
        if confidence == "0"
        else None
    )
    tags = list(alert.tags)
    wasc = (fields.get("wascid") or "").strip()
    if wasc.isdigit() and int(wasc) > 0:
        tags.append(f"WASC-{int(wasc)}")
    cwes = _cwes(fields)
    shared = _Shared(rule_id, name, cap(message, MAX_MESSAGE_CHARS) or "", _RISK[risk], cwes)
    instances = alert.instances or [{"uri": site}]
    return [shared.finding(instance, suppression, tuple(tags)) for instance in instances]


@dataclass(frozen=True, slots=True)
class _Shared:
    rule_id: str
    name: str | None
    message: str
    severity: Severity
    cwes: tuple[str, ...]

    def finding(
        self,
        instance: dict[str, str | None],
        suppression: Suppression | None,
        tags: tuple[str, ...],
    ) -> ScanFinding:
        url = instance.get("uri") or None
        method = (instance.get("method") or "").strip().upper() or None
        param = instance.get("param") or None
        evidence = instance.get("evidence") or instance.get("attack") or None
        return ScanFinding(
            tool="zap",
            rule_id=self.rule_id,
            rule_name=self.name,
            message=self.message,
            severity=self.severity,
            cwes=self.cwes,
            location=Location(url=url, method=method, param=param),
            snippet=cap(evidence, MAX_SNIPPET_CHARS),
            fingerprint=dast_fingerprint("zap", self.rule_id, method, url, param),
            suppressed=suppression is not None,
            suppression=suppression,
            tags=tags,
        )
