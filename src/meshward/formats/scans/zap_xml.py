"""ZAP's traditional XML report (``<OWASPZAPReport>``), ``-plus`` variant included, back
to the legacy layout of ZAP 2.4 (no ``alertRef``, ``name`` or sometimes ``cweid``).

Parsed with the hardened loader the manifest readers use (defusedxml: any DTD refused, so
no entity expansion and no external entity; nesting limited). Places are element paths
such as ``/OWASPZAPReport/site[1]/alerts/alertitem[3]`` (1-based).
"""

from __future__ import annotations

import re
from typing import Any

from meshward.errors import InputError
from meshward.formats.manifests.support import children, local_name, parse_xml
from meshward.formats.sbom.common import head_text
from meshward.formats.scans._zap import (
    ALERT_FIELDS,
    INSTANCE_FIELDS,
    ZapAlert,
    ZapSite,
    zap_report,
)
from meshward.formats.scans.interface import ScanReader, ScanReport, last_guard
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = ["ZapXmlReader"]

_ROOT = re.compile(r"<OWASPZAPReport[\s>]")


class ZapXmlReader(ScanReader):
    format = "zap-xml"

    def sniff(self, head: bytes) -> bool:
        return _ROOT.search(head_text(head)) is not None

    def read(
        self,
        data: bytes,
        source: str,
        tool_hint: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> ScanReport:
        root = parse_xml(data, source, limits)
        if local_name(root.tag) != "OWASPZAPReport":
            raise InputError(
                source, f"/{local_name(root.tag)}", "not a ZAP report (<OWASPZAPReport>)"
            )
        with last_guard(source, "ZAP XML"):
            sites = [
                _site(site, f"/OWASPZAPReport/site[{number}]")
                for number, site in enumerate(children(root, "site"), start=1)
            ]
            attributes = {key: root.get(key) for key in ("version", "generated", "created")}
            return zap_report("zap-xml", attributes, sites, source, "/OWASPZAPReport")


def _text(element: Any, name: str) -> str | None:
    """A child's text, surrounding whitespace stripped (pretty printers), None if absent."""
    for child in element:
        if local_name(child.tag) == name:
            return (child.text or "").strip()
    return None


def _site(site: Any, place: str) -> ZapSite:
    alerts = [
        alert
        for container in children(site, "alerts")
        for alert in children(container, "alertitem")
    ]
    return ZapSite(
        name=site.get("name"),
        alerts=[
            _alert(alert, f"{place}/alerts/alertitem[{number}]")
            for number, alert in enumerate(alerts, start=1)
        ],
    )


def _alert(alert: Any, place: str) -> ZapAlert:
    instances = [
        {key: _text(instance, key) for key in INSTANCE_FIELDS}
        for container in children(alert, "instances")
        for instance in children(container, "instance")
    ]
    if not instances and _text(alert, "uri") is not None:  # pre-2.4 single-instance layout
        instances = [{key: _text(alert, key) for key in INSTANCE_FIELDS}]
    return ZapAlert(
        fields={key: _text(alert, key) for key in ALERT_FIELDS}, instances=instances, place=place
    )
