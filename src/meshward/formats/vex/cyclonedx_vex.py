"""CycloneDX VEX in (JSON and XML, spec 1.2-1.7) and out (JSON, spec 1.6).

How a CycloneDX ``vulnerabilities[]`` entry becomes statements (it has one analysis but
may list several ``affects`` targets):

- The *subject* is ``metadata.component``; its id is its purl as written, else its
  bom-ref, else ``name@version``.
- A target that is the subject (its bom-ref, or a BOM-Link into this document naming it)
  is the product itself.
- A target declared among this document's components is a package inside the subject:
  it becomes a subcomponent (its canonical purl, or its bom-ref when it has none) of a
  statement whose product is the subject. Without a subject, it is itself the product.
- A BOM-Link into another BOM (``urn:cdx:<serial>/<version>#<bom-ref>``) whose fragment is
  a purl names a package of that BOM: product ``urn:cdx:<serial>/<version>``, subcomponent
  the purl. Any other target not declared here is a product, as written.
- With no targets, the product is the subject, else this BOM (``urn:cdx:<serial>/<version>``),
  else ``""``.

So one entry gives one statement per distinct product. ``status`` is the OpenVEX one
(``interface`` has the table); ``false_positive`` and ``resolved_with_pedigree`` are kept in
``cyclonedx_state``. An entry without ``analysis.state`` (a plain vulnerability report)
takes its status from ``affects[].versions[].status``: any ``affected`` -> affected,
all ``unaffected`` -> not_affected, otherwise under_investigation. The timestamp is
analysis.lastUpdated, else analysis.firstIssued, else the document's; the author is
the document's (``metadata.authors[0].name``, else manufacturer, else supplier).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from packageurl import PackageURL

from meshward.errors import InputError
from meshward.formats.manifests.support import child_text, children, local_name, parse_xml
from meshward.formats.sbom._cyclonedx import (
    SUPPORTED_SPEC_VERSIONS,
    XML_NAMESPACE_PREFIX,
    unsupported_version,
)
from meshward.formats.sbom.common import load_json
from meshward.formats.vex._fields import (
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
    CYCLONEDX_JUSTIFICATIONS,
    CYCLONEDX_STATES,
    OPENVEX_STATUSES,
    VexDocument,
    VexStatement,
    cyclonedx_state_for_status,
    justification_to_cyclonedx,
    openvex_status_for_cyclonedx,
)
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "cyclonedx_vex_from_json",
    "is_cyclonedx",
    "read_cyclonedx_vex",
    "read_cyclonedx_vex_xml",
    "write_cyclonedx_vex",
]

SPEC_VERSION = "1.6"
_FINER_STATES = frozenset({"false_positive", "resolved_with_pedigree"})
_VERSION_STATUSES = ("affected", "unaffected", "unknown")


def is_cyclonedx(root: Any) -> bool:
    return isinstance(root, dict) and root.get("bomFormat") == "CycloneDX"


# --------------------------------------------------------------------------- reading


def read_cyclonedx_vex(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse a CycloneDX JSON document's vulnerabilities as VEX statements."""
    return cyclonedx_vex_from_json(load_json(data, source, limits), source)


def cyclonedx_vex_from_json(root: Any, source: str) -> VexDocument:
    doc = as_object(root, source, "")
    if doc.get("bomFormat") != "CycloneDX":
        raise InputError(source, "/bomFormat", "not a CycloneDX document")
    return _Reader(source).read(doc)


@dataclass(slots=True)
class _Reader:
    """Reads the JSON shape; the XML reader first converts elements to that shape, so
    both encodings follow one set of rules (XML places read as paths in that shape)."""

    source: str
    purls: dict[str, str | None] = field(default_factory=dict)
    """bom-ref of every declared component -> its canonical purl (None without one)."""

    def read(self, doc: dict[str, Any]) -> VexDocument:
        source = self.source
        spec_version = req_str(doc, "specVersion", source, "")
        if spec_version not in SUPPORTED_SPEC_VERSIONS:
            raise InputError(source, "/specVersion", unsupported_version(spec_version))
        serial = opt_str(doc, "serialNumber", source, "")
        bom_version = doc.get("version", 1)
        this_bom = None
        if serial is not None and serial.startswith("urn:uuid:"):
            this_bom = f"urn:cdx:{serial.removeprefix('urn:uuid:')}/{bom_version}"

        metadata = opt_object(doc, "metadata", source, "") or {}
        timestamp = opt_str(metadata, "timestamp", source, "/metadata")
        author = self._author(metadata)
        subject_id: str | None = None
        subject_ref: str | None = None
        subject = opt_object(metadata, "component", source, "/metadata")
        if subject is not None:
            place = "/metadata/component"
            subject_ref = opt_str(subject, "bom-ref", source, place)
            purl = opt_str(subject, "purl", source, place)
            if purl is not None:
                check_purl(purl, source, pointer(place, "purl"))
            name = opt_str(subject, "name", source, place)
            version = opt_str(subject, "version", source, place)
            subject_id = purl or subject_ref or (f"{name}@{version}" if version else name)
            self._components(
                opt_list(subject, "components", source, place), pointer(place, "components")
            )
        self._components(opt_list(doc, "components", source, ""), "/components")

        statements: list[VexStatement] = []
        for index, raw in enumerate(opt_list(doc, "vulnerabilities", source, "")):
            statements.extend(
                self._vulnerability(
                    raw,
                    pointer("/vulnerabilities", index),
                    subject_id=subject_id,
                    subject_ref=subject_ref,
                    this_bom=this_bom,
                    timestamp=timestamp,
                    author=author,
                )
            )
        return VexDocument(
            format="CycloneDX",
            spec_version=spec_version,
            author=author,
            timestamp=timestamp,
            statements=statements,
        )

    def _author(self, metadata: dict[str, Any]) -> str | None:
        source = self.source
        for index, raw in enumerate(opt_list(metadata, "authors", source, "/metadata")):
            contact = as_object(raw, source, pointer("/metadata/authors", index))
            name = opt_str(contact, "name", source, pointer("/metadata/authors", index))
            if name is not None:
                return name
        for key in ("manufacturer", "manufacture", "supplier"):
            entity = opt_object(metadata, key, source, "/metadata")
            if entity is not None:
                name = opt_str(entity, "name", source, pointer("/metadata", key))
                if name is not None:
                    return name
        return None

    def _components(self, items: list[Any], place: str) -> None:
        """Record every declared bom-ref (nested components too) with its purl."""
        stack = [(items, place)]
        while stack:
            batch, batch_place = stack.pop()
            for index, raw in enumerate(batch):
                item_place = pointer(batch_place, index)
                component = as_object(raw, self.source, item_place)
                ref = opt_str(component, "bom-ref", self.source, item_place)
                purl = opt_str(component, "purl", self.source, item_place)
                canonical = (
                    package_ref(purl, self.source, pointer(item_place, "purl"))
                    if purl is not None
                    else None
                )
                if ref is not None:
                    self.purls[ref] = canonical
                nested = opt_list(component, "components", self.source, item_place)
                if nested:
                    stack.append((nested, pointer(item_place, "components")))

    def _vulnerability(
        self,
        raw: Any,
        place: str,
        *,
        subject_id: str | None,
        subject_ref: str | None,
        this_bom: str | None,
        timestamp: str | None,
        author: str | None,
    ) -> list[VexStatement]:
        source = self.source
        vuln = as_object(raw, source, place)
        vuln_id = req_str(vuln, "id", source, place)
        aliases: list[str] = []
        for index, ref_raw in enumerate(opt_list(vuln, "references", source, place)):
            ref_place = pointer(place, "references", index)
            reference = as_object(ref_raw, source, ref_place)
            alias = req_str(reference, "id", source, ref_place)
            if alias != vuln_id and alias not in aliases:
                aliases.append(alias)

        analysis = opt_object(vuln, "analysis", source, place) or {}
        analysis_place = pointer(place, "analysis")
        state = opt_str(analysis, "state", source, analysis_place)
        one_of(
            state, CYCLONEDX_STATES, "CycloneDX analysis state", source, analysis_place + "/state"
        )
        justification = opt_str(analysis, "justification", source, analysis_place)
        one_of(
            justification,
            CYCLONEDX_JUSTIFICATIONS,
            "CycloneDX justification",
            source,
            analysis_place + "/justification",
        )
        detail = opt_str(analysis, "detail", source, analysis_place)
        stamp = (
            opt_str(analysis, "lastUpdated", source, analysis_place)
            or opt_str(analysis, "firstIssued", source, analysis_place)
            or timestamp
        )

        groups: dict[str, list[str]] = {}
        version_statuses: list[str] = []
        for index, target_raw in enumerate(opt_list(vuln, "affects", source, place)):
            target_place = pointer(place, "affects", index)
            target = as_object(target_raw, source, target_place)
            ref = req_str(target, "ref", source, target_place)
            product, subcomponent = self._target(
                ref, subject_id, subject_ref, this_bom, target_place
            )
            members = groups.setdefault(product, [])
            if subcomponent is not None and subcomponent not in members:
                members.append(subcomponent)
            for v_index, v_raw in enumerate(opt_list(target, "versions", source, target_place)):
                v_place = pointer(target_place, "versions", v_index)
                version = as_object(v_raw, source, v_place)
                v_status = opt_str(version, "status", source, v_place)
                one_of(v_status, _VERSION_STATUSES, "version status", source, v_place + "/status")
                version_statuses.append(v_status or "affected")
        if not groups:
            groups[subject_id or this_bom or ""] = []

        if state is not None:
            status = openvex_status_for_cyclonedx(state)
        elif "affected" in version_statuses:
            status = "affected"
        elif version_statuses and all(s == "unaffected" for s in version_statuses):
            status = "not_affected"
        else:
            status = "under_investigation"
        return [
            VexStatement(
                vulnerability=vuln_id,
                aliases=list(aliases),
                product=product,
                subcomponents=subcomponents,
                status=status,
                justification=justification,
                detail=detail,
                timestamp=stamp,
                author=author,
                cyclonedx_state=state if state in _FINER_STATES else None,
            )
            for product, subcomponents in groups.items()
        ]

    def _target(
        self,
        ref: str,
        subject_id: str | None,
        subject_ref: str | None,
        this_bom: str | None,
        place: str,
    ) -> tuple[str, str | None]:
        """(product, subcomponent or None) for one ``affects[].ref``."""
        local = ref
        bom_link, hash_sign, fragment = ref.partition("#")
        if hash_sign and bom_link.startswith("urn:cdx:"):
            if this_bom is None or bom_link != this_bom:
                fragment = unquote(fragment)
                if fragment.startswith("pkg:"):
                    return bom_link, package_ref(fragment, self.source, pointer(place, "ref"))
                return ref, None
            local = unquote(fragment)
        if subject_id is not None and local == subject_ref:
            return subject_id, None
        if local in self.purls:
            resolved = self.purls[local] or local
            if subject_id is None:
                return resolved, None
            return subject_id, resolved
        if ref.startswith("pkg:"):
            check_purl(ref, self.source, pointer(place, "ref"))
        return ref, None


# --------------------------------------------------------------------------- XML


def read_cyclonedx_vex_xml(
    data: bytes, source: str, limits: Limits = DEFAULT_LIMITS
) -> VexDocument:
    """Parse a CycloneDX XML document (defusedxml: no DTD, no entities) as VEX."""
    root = parse_xml(data, source, limits)
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if local_name(root.tag) != "bom" or not namespace.startswith(XML_NAMESPACE_PREFIX):
        raise InputError(source, f"<{local_name(root.tag)}>", "not a CycloneDX XML document")
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": namespace.removeprefix(XML_NAMESPACE_PREFIX),
        "version": root.get("version", "1"),
    }
    if root.get("serialNumber"):
        doc["serialNumber"] = root.get("serialNumber")
    for metadata in children(root, "metadata")[:1]:
        doc["metadata"] = _xml_metadata(metadata)
    doc["components"] = _xml_components(root)
    doc["vulnerabilities"] = [
        _xml_vulnerability(v)
        for container in children(root, "vulnerabilities")
        for v in children(container, "vulnerability")
    ]
    return _Reader(source).read(doc)


def _drop_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _xml_metadata(element: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"timestamp": child_text(element, "timestamp")}
    out["authors"] = [
        _drop_none({"name": child_text(a, "name")})
        for authors in children(element, "authors")
        for a in children(authors, "author")
    ]
    for key in ("manufacturer", "manufacture", "supplier"):
        for entity in children(element, key)[:1]:
            out[key] = _drop_none({"name": child_text(entity, "name")})
    for component in children(element, "component")[:1]:
        out["component"] = _xml_component(component)
    return _drop_none(out)


def _xml_components(parent: Any) -> list[dict[str, Any]]:
    return [
        _xml_component(c)
        for container in children(parent, "components")
        for c in children(container, "component")
    ]


def _xml_component(element: Any) -> dict[str, Any]:
    out = {
        "bom-ref": element.get("bom-ref"),
        "name": child_text(element, "name"),
        "version": child_text(element, "version"),
        "purl": child_text(element, "purl"),
        "components": _xml_components(element) or None,
    }
    return _drop_none(out)


def _xml_vulnerability(element: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": child_text(element, "id")}
    out["references"] = [
        _drop_none({"id": child_text(r, "id")})
        for refs in children(element, "references")
        for r in children(refs, "reference")
    ]
    for analysis in children(element, "analysis")[:1]:
        out["analysis"] = _drop_none(
            {
                key: child_text(analysis, key)
                for key in ("state", "justification", "detail", "firstIssued", "lastUpdated")
            }
        )
    targets = []
    for affects in children(element, "affects"):
        for target in children(affects, "target"):
            versions = [
                _drop_none({"version": child_text(v, "version"), "status": child_text(v, "status")})
                for container in children(target, "versions")
                for v in children(container, "version")
            ]
            targets.append(_drop_none({"ref": child_text(target, "ref"), "versions": versions}))
    out["affects"] = targets
    return _drop_none(out)


# --------------------------------------------------------------------------- writing


def write_cyclonedx_vex(
    doc: VexDocument,
    *,
    subject_name: str,
    subject_version: str,
    subject_ref: str | None = None,
) -> bytes:
    """A CycloneDX 1.6 JSON BOM describing the subject, its affected packages (each a
    component whose bom-ref is its purl, so every ``affects`` ref resolves) and one
    ``vulnerabilities[]`` entry per statement.

    The subject's bom-ref is ``subject_ref``, else the product most statements name (the
    first of equals), else ``name@version``; a purl subject is also its purl. A statement
    about another product is written with that product as its target; such a statement
    cannot carry subcomponents (CycloneDX would read them as the subject's), which is a
    ``ValueError``, as are unknown statuses and justifications."""
    if subject_ref is None:
        products = Counter(s.product for s in doc.statements if s.product)
        subject_ref = (
            products.most_common(1)[0][0] if products else f"{subject_name}@{subject_version}"
        )
    subject: dict[str, Any] = {
        "type": "application",
        "bom-ref": subject_ref,
        "name": subject_name,
        "version": subject_version,
    }
    if subject_ref.startswith("pkg:"):
        subject["purl"] = subject_ref
    metadata: dict[str, Any] = {}
    if doc.timestamp:
        metadata["timestamp"] = doc.timestamp
    metadata["tools"] = {"components": [{"type": "application", "name": "meshward"}]}
    if doc.author:
        metadata["authors"] = [{"name": doc.author}]
    metadata["component"] = subject

    components: dict[str, dict[str, Any]] = {}
    vulnerabilities = []
    for number, stmt in enumerate(doc.statements):
        if stmt.status not in OPENVEX_STATUSES:
            raise ValueError(f"statement {number}: unknown OpenVEX status {stmt.status!r}")
        product = stmt.product or subject_ref
        refs = [s for s in dict.fromkeys(stmt.subcomponents) if s != subject_ref]
        if product != subject_ref and refs:
            raise ValueError(
                f"statement {number} is about {product!r}, not the subject {subject_ref!r}, "
                "and names subcomponents: a CycloneDX VEX cannot say that"
            )
        for ref in refs:
            if ref not in components:
                components[ref] = _component(ref)
        vulnerabilities.append(_vulnerability_json(stmt, number, refs or [product]))

    out: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": metadata,
        "components": list(components.values()),
        "vulnerabilities": vulnerabilities,
    }
    return orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n"


def _component(ref: str) -> dict[str, Any]:
    if ref.startswith("pkg:"):
        purl = PackageURL.from_string(ref)
        component: dict[str, Any] = {"type": "library", "bom-ref": ref}
        if purl.namespace:
            component["group"] = purl.namespace
        component["name"] = purl.name
        if purl.version:
            component["version"] = purl.version
        component["purl"] = ref
        return component
    return {"type": "library", "bom-ref": ref, "name": ref}


def _source(vuln_id: str) -> dict[str, str]:
    if vuln_id.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{vuln_id}"}
    if vuln_id.startswith("GHSA-"):
        return {"name": "GitHub", "url": f"https://github.com/advisories/{vuln_id}"}
    return {"name": "OSV", "url": f"https://osv.dev/vulnerability/{vuln_id}"}


def _vulnerability_json(stmt: VexStatement, number: int, refs: list[str]) -> dict[str, Any]:
    if stmt.cyclonedx_state is not None:
        if stmt.cyclonedx_state not in CYCLONEDX_STATES or (
            openvex_status_for_cyclonedx(stmt.cyclonedx_state) != stmt.status
        ):
            raise ValueError(
                f"statement {number}: CycloneDX state {stmt.cyclonedx_state!r} "
                f"contradicts status {stmt.status!r}"
            )
        state = stmt.cyclonedx_state
    else:
        state = cyclonedx_state_for_status(stmt.status)
    analysis: dict[str, Any] = {"state": state}
    if state == "not_affected":
        justification = justification_to_cyclonedx(stmt.justification)
        if justification is not None:
            analysis["justification"] = justification
    if stmt.detail:
        analysis["detail"] = stmt.detail
    if stmt.timestamp:
        analysis["lastUpdated"] = stmt.timestamp
    out: dict[str, Any] = {"id": stmt.vulnerability, "source": _source(stmt.vulnerability)}
    if stmt.aliases:
        out["references"] = [{"id": a, "source": _source(a)} for a in stmt.aliases]
    out["analysis"] = analysis
    out["affects"] = [{"ref": r} for r in refs]
    return out
