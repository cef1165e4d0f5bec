"""Open Threat Model (OTM 0.2.0, the format of IriusRisk's StartLeft and Threat Dragon's
importer): read safely into plain values. Writing is plain dicts built by ``services.otm``.

Only what meshward uses is read: components (id, name, parent trust zone, attributes, threats
with their mitigation states), dataflows, threats and mitigations. Everything else is kept out.
JSON or YAML, detected from the content; the hardened loaders and the usual limits apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from meshward.errors import InputError
from meshward.formats.safe_yaml import load_config_document
from meshward.limits import DEFAULT_LIMITS, Limits

OTM_VERSION = "0.2.0"
MAX_OTM_BYTES = 20 * 1024 * 1024
MAX_ITEMS = 50_000


@dataclass(frozen=True)
class OtmThreatRef:
    threat: str
    state: str
    mitigations: tuple[tuple[str, str], ...]
    """(mitigation id, state) pairs."""


@dataclass(frozen=True)
class OtmComponent:
    id: str
    name: str
    trust_zone: str | None
    attributes: dict[str, Any]
    threats: tuple[OtmThreatRef, ...]


@dataclass
class OtmDocument:
    version: str
    project_id: str
    project_name: str
    components: list[OtmComponent] = field(default_factory=list)
    dataflows: list[tuple[str, str, str]] = field(default_factory=list)
    """(id, source, destination)."""
    threats: dict[str, str] = field(default_factory=dict)
    """threat id -> name."""
    mitigations: dict[str, str] = field(default_factory=dict)


def read_otm(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> OtmDocument:
    root = load_config_document(data, source, replace(limits, max_bytes=MAX_OTM_BYTES))
    return _document(root, source)


def _document(root: Any, source: str) -> OtmDocument:
    if not isinstance(root, dict) or "otmVersion" not in root:
        raise InputError(source, "/", "not an Open Threat Model document (no otmVersion)")
    version = _text(root, "otmVersion", source, "/otmVersion")
    project = root.get("project")
    if not isinstance(project, dict):
        raise InputError(source, "/project", "project must be an object with id and name")
    doc = OtmDocument(
        version,
        _text(project, "id", source, "/project/id"),
        _text(project, "name", source, "/project/name"),
    )
    for index, item in enumerate(_list(root, "threats", source)):
        where = f"/threats/{index}"
        doc.threats[_text(item, "id", source, where + "/id")] = _text(
            item, "name", source, where + "/name"
        )
    for index, item in enumerate(_list(root, "mitigations", source)):
        where = f"/mitigations/{index}"
        doc.mitigations[_text(item, "id", source, where + "/id")] = _text(
            item, "name", source, where + "/name"
        )
    for index, item in enumerate(_list(root, "components", source)):
        where = f"/components/{index}"
        parent = item.get("parent") or {}
        if not isinstance(parent, dict):
            raise InputError(source, where + "/parent", "parent must be an object")
        zone = parent.get("trustZone")
        attributes = item.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise InputError(source, where + "/attributes", "attributes must be an object")
        threats = tuple(
            _threat_ref(ref, source, f"{where}/threats/{n}")
            for n, ref in enumerate(_list(item, "threats", source, where))
        )
        doc.components.append(
            OtmComponent(
                _text(item, "id", source, where + "/id"),
                _text(item, "name", source, where + "/name"),
                zone if isinstance(zone, str) else None,
                {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)},
                threats,
            )
        )
    for index, item in enumerate(_list(root, "dataflows", source)):
        where = f"/dataflows/{index}"
        doc.dataflows.append(
            (
                _text(item, "id", source, where + "/id"),
                _text(item, "source", source, where + "/source"),
                _text(item, "destination", source, where + "/destination"),
            )
        )
    return doc


def _threat_ref(item: Any, source: str, where: str) -> OtmThreatRef:
    if not isinstance(item, dict):
        raise InputError(source, where, "a threat reference is an object")
    mitigations = []
    for n, mit in enumerate(_list(item, "mitigations", source, where)):
        mitigations.append(
            (
                _text(mit, "mitigation", source, f"{where}/mitigations/{n}/mitigation"),
                _text(mit, "state", source, f"{where}/mitigations/{n}/state"),
            )
        )
    return OtmThreatRef(
        _text(item, "threat", source, where + "/threat"),
        _text(item, "state", source, where + "/state"),
        tuple(mitigations),
    )


def _list(obj: Any, key: str, source: str, where: str = "") -> list[Any]:
    if not isinstance(obj, dict):
        raise InputError(source, where or "/", "expected an object")
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(source, f"{where}/{key}", "expected a list")
    if len(value) > MAX_ITEMS:
        raise InputError(source, f"{where}/{key}", f"more than {MAX_ITEMS:,} entries")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InputError(source, f"{where}/{key}/{index}", "expected an object")
    return value


def _text(obj: Any, key: str, source: str, where: str) -> str:
    if not isinstance(obj, dict):
        raise InputError(source, where, "expected an object")
    value = obj.get(key)
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise InputError(source, where, "required text (1 to 1,000 characters)")
    return value
