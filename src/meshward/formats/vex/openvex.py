"""OpenVEX JSON in (0.0.x and 0.2.0) and out (0.2.0).

Reading: one ``VexStatement`` per (statement, product), so a statement naming three
products gives three. 0.0.x documents write the vulnerability as a plain string and the
products (and statement-level subcomponents) as strings; 0.2.0 uses objects with ``@id``
or ``identifiers.purl``. A statement's timestamp is its ``last_updated``, else its
``timestamp``, else the document's (the spec's inheritance rule); the author is the
document's. Subcomponent purls are canonicalised; products are kept as written (a
malformed purl is refused either way).

Writing: one OpenVEX statement per ``VexStatement``. OpenVEX requires an
``impact_statement`` for ``not_affected`` without a justification and an
``action_statement`` for ``affected``: ``detail`` fills them, and a fixed sentence stands
in when there is none (so an unfinished analysis still exports a valid document).
``detail`` of the other statuses goes to ``status_notes``. A justification is written
only with ``not_affected``, translated to OpenVEX's vocabulary when it is CycloneDX's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from meshward.errors import InputError
from meshward.formats.sbom.common import load_json
from meshward.formats.vex._fields import (
    as_list,
    as_object,
    check_purl,
    one_of,
    opt_list,
    opt_object,
    opt_str,
    package_ref,
    pointer,
    req_str,
)
from meshward.formats.vex.interface import (
    OPENVEX_JUSTIFICATIONS,
    OPENVEX_STATUSES,
    VexDocument,
    VexStatement,
    justification_to_openvex,
)
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "CONTEXT",
    "MISSING_ACTION_STATEMENT",
    "MISSING_IMPACT_STATEMENT",
    "is_openvex",
    "openvex_from_json",
    "read_openvex",
    "write_openvex",
]

CONTEXT = "https://openvex.dev/ns/v0.2.0"
MISSING_IMPACT_STATEMENT = "No justification has been recorded for this assessment."
MISSING_ACTION_STATEMENT = "No remediation action has been recorded yet."

_CONTEXT_VERSION = re.compile(r"^https?://openvex\.dev/ns(?:/v(\d+\.\d+\.\d+))?/?$")


def is_openvex(root: Any) -> bool:
    """True when a decoded JSON value is an OpenVEX document (by its ``@context``)."""
    if not isinstance(root, dict):
        return False
    context = root.get("@context")
    return isinstance(context, str) and _CONTEXT_VERSION.match(context) is not None


# --------------------------------------------------------------------------- reading


def read_openvex(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse an OpenVEX JSON document; ``InputError`` for anything malformed or hostile."""
    return openvex_from_json(load_json(data, source, limits), source)


def openvex_from_json(root: Any, source: str, base: str = "") -> VexDocument:
    """Normalise a decoded OpenVEX document found at pointer ``base`` (``""`` for the
    whole file, ``"/predicate"`` inside an in-toto attestation)."""
    doc = as_object(root, source, base)
    context = doc.get("@context")
    match = _CONTEXT_VERSION.match(context) if isinstance(context, str) else None
    if match is None:
        raise InputError(
            source,
            pointer(base, "@context"),
            f"not an OpenVEX document (@context is {context!r}, expected {CONTEXT!r})",
        )
    spec_version = match.group(1) or "0.0.1"
    author = opt_str(doc, "author", source, base)
    timestamp = opt_str(doc, "timestamp", source, base)
    statements: list[VexStatement] = []
    place = pointer(base, "statements")
    for index, raw in enumerate(as_list(doc.get("statements"), source, place)):
        statements.extend(
            _statements(raw, source, pointer(place, index), author=author, timestamp=timestamp)
        )
    return VexDocument(
        format="OpenVEX",
        spec_version=spec_version,
        author=author,
        timestamp=timestamp,
        statements=statements,
    )


def _statements(
    raw: Any, source: str, place: str, *, author: str | None, timestamp: str | None
) -> list[VexStatement]:
    stmt = as_object(raw, source, place)
    name, aliases = _vulnerability(stmt, source, place)
    status = req_str(stmt, "status", source, place)
    one_of(status, OPENVEX_STATUSES, "OpenVEX status", source, pointer(place, "status"))
    justification = opt_str(stmt, "justification", source, place)
    one_of(
        justification,
        OPENVEX_JUSTIFICATIONS,
        "OpenVEX justification",
        source,
        pointer(place, "justification"),
    )
    shared_subcomponents = [
        _identifier(item, source, pointer(place, "subcomponents", i), subcomponent=True)
        for i, item in enumerate(opt_list(stmt, "subcomponents", source, place))
    ]
    products = opt_list(stmt, "products", source, place)
    if not products:
        raise InputError(source, pointer(place, "products"), "statement names no product")
    stamp = (
        opt_str(stmt, "last_updated", source, place)
        or opt_str(stmt, "timestamp", source, place)
        or timestamp
    )
    detail = _detail(stmt, status, source, place)
    out: list[VexStatement] = []
    for index, item in enumerate(products):
        item_place = pointer(place, "products", index)
        product = _identifier(item, source, item_place, subcomponent=False)
        subcomponents = list(shared_subcomponents)
        if isinstance(item, dict):
            subcomponents.extend(
                _identifier(sub, source, pointer(item_place, "subcomponents", i), subcomponent=True)
                for i, sub in enumerate(opt_list(item, "subcomponents", source, item_place))
            )
        out.append(
            VexStatement(
                vulnerability=name,
                aliases=aliases,
                product=product,
                subcomponents=list(dict.fromkeys(subcomponents)),
                status=status,
                justification=justification,
                detail=detail,
                timestamp=stamp,
                author=author,
            )
        )
    return out


def _vulnerability(stmt: dict[str, Any], source: str, place: str) -> tuple[str, list[str]]:
    value = stmt.get("vulnerability")
    vuln_place = pointer(place, "vulnerability")
    if isinstance(value, str):  # OpenVEX 0.0.x
        if not value.strip():
            raise InputError(source, vuln_place, "vulnerability is empty")
        return value, []
    if value is None:
        raise InputError(source, vuln_place, "'vulnerability' is missing")
    vuln = as_object(value, source, vuln_place)
    name = opt_str(vuln, "name", source, vuln_place) or opt_str(vuln, "@id", source, vuln_place)
    if name is None:
        raise InputError(source, pointer(vuln_place, "name"), "vulnerability has no name")
    aliases: list[str] = []
    for index, alias in enumerate(opt_list(vuln, "aliases", source, vuln_place)):
        if not isinstance(alias, str):
            raise InputError(source, pointer(vuln_place, "aliases", index), "expected a string")
        if alias.strip() and alias != name and alias not in aliases:
            aliases.append(alias)
    return name, aliases


def _identifier(value: Any, source: str, place: str, *, subcomponent: bool) -> str:
    """A product or subcomponent: a string (0.0.x) or an object with ``@id`` or
    ``identifiers.purl`` (0.2.0)."""
    if isinstance(value, str):
        ident: str | None = value if value.strip() else None
        ident_place = place
    else:
        obj = as_object(value, source, place)
        ident = opt_str(obj, "@id", source, place)
        ident_place = pointer(place, "@id")
        if ident is None:
            identifiers = opt_object(obj, "identifiers", source, place)
            if identifiers is not None:
                ident = opt_str(identifiers, "purl", source, pointer(place, "identifiers"))
                ident_place = pointer(place, "identifiers", "purl")
    if ident is None:
        raise InputError(source, place, "names no @id or identifiers.purl")
    if subcomponent:
        return package_ref(ident, source, ident_place)
    return check_purl(ident, source, ident_place)


def _detail(stmt: dict[str, Any], status: str, source: str, place: str) -> str | None:
    impact = opt_str(stmt, "impact_statement", source, place)
    action = opt_str(stmt, "action_statement", source, place)
    notes = opt_str(stmt, "status_notes", source, place)
    if status == "not_affected":
        return impact or notes or action
    if status == "affected":
        return action or notes or impact
    return notes or action or impact


# --------------------------------------------------------------------------- writing


def write_openvex(doc: VexDocument, *, doc_id: str) -> bytes:
    """An OpenVEX 0.2.0 JSON document. ``ValueError`` for a statement meshward should never
    produce (unknown status or justification, no product)."""
    timestamp = doc.timestamp or datetime.now(UTC).isoformat(timespec="seconds")
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": doc_id,
        "author": doc.author or "Unknown",
        "timestamp": timestamp,
        "version": 1,
        "tooling": "meshward",
        "statements": [_statement_json(s, n) for n, s in enumerate(doc.statements)],
    }
    return orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n"


def _statement_json(stmt: VexStatement, number: int) -> dict[str, Any]:
    if stmt.status not in OPENVEX_STATUSES:
        raise ValueError(f"statement {number}: unknown OpenVEX status {stmt.status!r}")
    if not stmt.product:
        raise ValueError(f"statement {number}: no product")
    vulnerability: dict[str, Any] = {"name": stmt.vulnerability}
    if stmt.aliases:
        vulnerability["aliases"] = list(stmt.aliases)
    product: dict[str, Any] = {"@id": stmt.product}
    if stmt.subcomponents:
        product["subcomponents"] = [{"@id": s} for s in stmt.subcomponents]
    out: dict[str, Any] = {"vulnerability": vulnerability}
    if stmt.timestamp:
        out["timestamp"] = stmt.timestamp
    out["products"] = [product]
    out["status"] = stmt.status
    if stmt.status == "not_affected":
        justification = justification_to_openvex(stmt.justification)
        if justification is not None:
            out["justification"] = justification
        if stmt.detail or justification is None:
            out["impact_statement"] = stmt.detail or MISSING_IMPACT_STATEMENT
    elif stmt.status == "affected":
        out["action_statement"] = stmt.detail or MISSING_ACTION_STATEMENT
    elif stmt.detail:
        out["status_notes"] = stmt.detail
    return out
