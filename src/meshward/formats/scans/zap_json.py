"""ZAP's traditional JSON report and its ``-plus`` variant (which adds requests and
responses, ignored here). Recognised by ``site`` beside ZAP's ``@version`` /
``@programName`` attributes; the shared semantics are in ``_zap``."""

from __future__ import annotations

from typing import Any

from meshward.formats.sbom.common import head_text
from meshward.formats.scans._zap import (
    ALERT_FIELDS,
    INSTANCE_FIELDS,
    ZapAlert,
    ZapSite,
    zap_report,
)
from meshward.formats.scans.common import Place
from meshward.formats.scans.interface import JsonScanReader, ScanReport

__all__ = ["ZapJsonReader"]


class ZapJsonReader(JsonScanReader):
    format = "zap-json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("{") and '"site"' in text and '"@version"' in text

    def accepts(self, root: object) -> bool:
        return (
            isinstance(root, dict)
            and "site" in root
            and ("@version" in root or "@programName" in root or "@generated" in root)
        )

    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        top = Place(source)
        report = top.obj(root, optional=False)
        site_value = report.get("site")
        if isinstance(site_value, dict):  # one site written as an object by old versions
            site_value = [site_value]
        sites = [
            _site(site, top / "site" / number)
            for number, site in enumerate(top.array(site_value, "site"))
        ]
        attributes = {
            "version": top.text(report.get("@version")),
            "generated": top.text(report.get("@generated")),
            "created": top.text(report.get("created")),
        }
        return zap_report("zap-json", attributes, sites, source, "/site")


def _site(value: Any, place: Place) -> ZapSite:
    site = place.obj(value, optional=False)
    alerts = place.array(site.get("alerts"), "alerts")
    return ZapSite(
        name=place.text(site.get("@name"), "@name"),
        alerts=[_alert(alert, place / "alerts" / number) for number, alert in enumerate(alerts)],
    )


def _alert(value: Any, place: Place) -> ZapAlert:
    alert = place.obj(value, optional=False)
    fields = {key: place.text(alert.get(key), key) for key in ALERT_FIELDS}
    instances = []
    for number, item in enumerate(place.array(alert.get("instances"), "instances")):
        at = place / "instances" / number
        instance = at.obj(item, optional=False)
        instances.append({key: at.text(instance.get(key), key) for key in INSTANCE_FIELDS})
    return ZapAlert(fields=fields, instances=instances, place=str(place), tags=_tags(alert))


def _tags(alert: dict[str, Any]) -> list[str]:
    """ZAP 2.12+ writes ``tags`` as a name -> link object or a list of ``{tag, link}``."""
    tags = alert.get("tags")
    if isinstance(tags, dict):
        return [str(name) for name in tags]
    if isinstance(tags, list):
        return [
            str(item.get("tag")) if isinstance(item, dict) else str(item)
            for item in tags
            if isinstance(item, dict | str)
        ]
    return []
