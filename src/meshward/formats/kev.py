"""CISA's Known Exploited Vulnerabilities (KEV) catalog, JSON feed, in.

The catalog is small (about 1,500 entries) and lists vulnerabilities exploited in the wild; the
risk score treats presence in it as the strongest exploitation evidence there is. The reader
keeps the few fields the score and the reports need and refuses a damaged file as a whole, so
an import is all-or-nothing. It never touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import load_json
from meshward.limits import DEFAULT_LIMITS, Limits

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")


@dataclass(frozen=True, slots=True)
class KevEntry:
    cve: str
    vendor: str | None
    product: str | None
    name: str | None
    date_added: date
    due_date: date | None
    ransomware: bool
    """``knownRansomwareCampaignUse`` is ``Known``."""


@dataclass(frozen=True, slots=True)
class KevCatalog:
    catalog_version: str
    released: datetime | None
    entries: tuple[KevEntry, ...]


def read_kev(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> KevCatalog:
    """Parse a KEV catalog; any malformed part is an ``InputError`` naming its JSON pointer."""
    root = load_json(data, source, limits)
    if not isinstance(root, dict):
        raise InputError(source, "/", "a KEV catalog is a JSON object")
    version = root.get("catalogVersion")
    if not isinstance(version, str) or not version.strip():
        raise InputError(source, "/catalogVersion", "missing or not a string")
    released = _timestamp(root.get("dateReleased"), source, "/dateReleased")
    vulns = root.get("vulnerabilities")
    if not isinstance(vulns, list):
        raise InputError(source, "/vulnerabilities", "missing or not an array")
    entries: list[KevEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(vulns):
        pointer = f"/vulnerabilities/{i}"
        if not isinstance(item, dict):
            raise InputError(source, pointer, "an entry is a JSON object")
        cve = _text(item, "cveID", source, pointer)
        if cve is None or not CVE_ID.fullmatch(cve.strip().upper()):
            raise InputError(source, f"{pointer}/cveID", f"not a CVE id: {cve!r}")
        cve = cve.strip().upper()
        if cve in seen:
            raise InputError(source, f"{pointer}/cveID", f"{cve} is listed twice")
        seen.add(cve)
        added = _date(item.get("dateAdded"), source, f"{pointer}/dateAdded")
        if added is None:
            raise InputError(source, f"{pointer}/dateAdded", "missing")
        ransomware = _text(item, "knownRansomwareCampaignUse", source, pointer)
        entries.append(
            KevEntry(
                cve=cve,
                vendor=_text(item, "vendorProject", source, pointer),
                product=_text(item, "product", source, pointer),
                name=_text(item, "vulnerabilityName", source, pointer),
                date_added=added,
                due_date=_date(item.get("dueDate"), source, f"{pointer}/dueDate"),
                ransomware=(ransomware or "").strip().lower() == "known",
            )
        )
    return KevCatalog(version.strip(), released, tuple(entries))


def _text(obj: dict[str, Any], key: str, source: str, pointer: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(source, f"{pointer}/{key}", "not a string")
    return value


def _date(value: Any, source: str, pointer: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(source, pointer, "not a string")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise InputError(source, pointer, f"not a date (YYYY-MM-DD): {value!r}") from None


def _timestamp(value: Any, source: str, pointer: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(source, pointer, "not a string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(source, pointer, f"not an ISO 8601 time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
