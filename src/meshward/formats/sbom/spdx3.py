"""SPDX 3.0 JSON-LD (``@context`` https://spdx.org/rdf/3.0.x/spdx-context.jsonld).

SPDX 3 is a graph: packages, licences, agents and relationships are sibling elements of
``@graph`` that point at each other by ``spdxId``. We read the compacted form the context
produces (``software_Package``, ``software_packageVersion`` ...), which is what every
producer writes; full IRIs for element types are understood too. The core and software
profiles give what we keep; ``ai_AIPackage`` and ``dataset_DatasetPackage`` are packages
as well (both are subclasses of ``software_Package``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import (
    gc_paused,
    head_text,
    load_json,
    normalize_hash_alg,
    normalize_hex,
    normalize_purl,
    spdx_license_expression,
)
from meshward.formats.sbom.interface import SbomDocument, SbomPackage, SbomReader
from meshward.formats.sbom.spdx2 import NO_VALUE, JsonFields, json_kind, purl_error
from meshward.limits import DEFAULT_LIMITS, Limits

_CONTEXT_VERSION = re.compile(r"spdx\.org/rdf/(3\.\d+)(?:\.\d+)?/")
_TYPE_IRI = re.compile(r"https?://spdx\.org/rdf/3\.\d+(?:\.\d+)?/terms/(\w+)/(\w+)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

PACKAGE_TYPES = frozenset({"software_Package", "ai_AIPackage", "dataset_DatasetPackage"})
_BOM_TYPES = frozenset({"software_Sbom", "Bom", "Bundle", "SpdxDocument"})
_EDGE_TYPES = frozenset({"dependsOn", "contains", "hasDynamicLink", "hasStaticLink"})
_LICENSE_TYPES = ("hasConcludedLicense", "hasDeclaredLicense")
_LISTED_LICENSE = re.compile(r"https?://spdx\.org/licenses/([A-Za-z0-9.+-]+)")
_NO_LICENSE = re.compile(r"/(?:NoAssertionLicense|NoneLicense)$")
_LICENSE_SETS = {
    "expandedlicensing_ConjunctiveLicenseSet": " AND ",
    "expandedlicensing_DisjunctiveLicenseSet": " OR ",
}
_LICENSE_OPERATORS = frozenset(
    {"expandedlicensing_OrLaterOperator", "expandedlicensing_WithAdditionOperator"}
)
_MAX_LICENSE_DEPTH = 16


@lru_cache(maxsize=512)
def _compact_type(value: str) -> str:
    """``https://spdx.org/rdf/3.0.1/terms/Software/Package`` -> ``software_Package``."""
    match = _TYPE_IRI.fullmatch(value)
    if match is None:
        return value
    profile, name = match.groups()
    return name if profile == "Core" else f"{profile.lower()}_{name}"


def _tail(value: str) -> str:
    """Vocabulary values may be written as IRIs: keep the last segment."""
    return value.rsplit("/", 1)[-1] if "/" in value else value


def _purpose(value: str | None) -> str | None:
    """``operatingSystem`` -> ``operating-system``, as CycloneDX and our SPDX 2 reader say."""
    if value is None or not value.strip():
        return None
    return _CAMEL.sub("-", _tail(value.strip())).lower()


class _Reader(JsonFields):
    __slots__ = ("by_id", "graph_path")
    strip_required = True

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.by_id: dict[str, dict[str, Any]] = {}
        self.graph_path: tuple[str | int, ...] = ("@graph",)

    def list_of(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> list[Any]:
        """A multi-valued property: JSON-LD lets a single value stand without an array."""
        value = obj.get(key)
        if value is None:
            return []
        if type(value) is list:
            return value
        return [value]

    def refs(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> list[str]:
        out: list[str] = []
        for index, value in enumerate(self.list_of(obj, key, path)):
            if type(value) is str:
                out.append(value.strip())
            elif type(value) is dict and type(value.get("spdxId", value.get("@id"))) is str:
                out.append(str(value.get("spdxId", value.get("@id"))).strip())
            else:
                where = (*path, key, index) if type(obj.get(key)) is list else (*path, key)
                raise self.fail(where, f"expected an element id, got {json_kind(value)}")
        return out

    @staticmethod
    def element_id(obj: dict[str, Any]) -> Any:
        return obj["spdxId"] if "spdxId" in obj else obj.get("@id")

    def element_type(self, obj: dict[str, Any], path: tuple[str | int, ...]) -> str:
        key = "type" if "type" in obj else "@type"
        value = obj.get(key)
        if type(value) is list and value and all(type(v) is str for v in value):
            compact = [_compact_type(v) for v in value]
            return next((t for t in compact if t in PACKAGE_TYPES), compact[0])
        if type(value) is str:
            return _compact_type(value)
        if value is None:
            raise self.fail((*path, "type"), "missing required field 'type'")
        raise self.fail((*path, key), f"expected a string, got {json_kind(value)}")

    # ------------------------------------------------------------------ document

    def read(self, root: Any) -> SbomDocument:
        if type(root) is not dict:
            raise InputError(self.source, "/", f"expected a JSON object, got {json_kind(root)}")
        spec_version = self.context_version(root)
        if "@graph" in root:
            elements = root["@graph"]
            if type(elements) is not list:
                raise self.fail(("@graph",), f"expected an array, got {json_kind(elements)}")
        else:  # a document of one element, written without @graph
            elements = [{k: v for k, v in root.items() if k != "@context"}]
            self.graph_path = ()

        typed: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = []
        by_id = self.by_id
        for index, element in enumerate(elements):
            path = (*self.graph_path, index) if self.graph_path else ()
            if type(element) is not dict:
                raise self.fail(path, f"expected an element object, got {json_kind(element)}")
            kind = self.element_type(element, path)
            element_id = self.element_id(element)
            if element_id is not None and type(element_id) is not str:
                key = "spdxId" if "spdxId" in element else "@id"
                raise self.fail((*path, key), f"expected a string, got {json_kind(element_id)}")
            if element_id:
                by_id.setdefault(element_id.strip(), element)
            typed.append((kind, element, path))

        packages: list[SbomPackage] = []
        package_refs: dict[str, SbomPackage] = {}
        relationships: list[tuple[str, str, list[str], tuple[str | int, ...]]] = []
        roots: list[str] = []
        bom_roots: dict[str, list[str]] = {}
        document: tuple[dict[str, Any], tuple[str | int, ...]] | None = None
        for kind, element, path in typed:
            if kind in PACKAGE_TYPES:
                package = self.package(element, path)
                if package.ref in package_refs:
                    raise self.fail((*path, "spdxId"), f"duplicate spdxId {package.ref!r}")
                package_refs[package.ref] = package
                packages.append(package)
            elif kind.endswith("Relationship"):
                source_ref = self.req_str(element, "from", path)
                rel_type = _tail(self.req_str(element, "relationshipType", path))
                relationships.append((source_ref, rel_type, self.refs(element, "to", path), path))
            if kind in _BOM_TYPES and "rootElement" in element:
                element_id = self.element_id(element)
                bom_roots[str(element_id or "")] = self.refs(element, "rootElement", path)
            if kind == "SpdxDocument" and document is None:
                document = (element, path)
            if kind == "software_Sbom":
                roots.extend(bom_roots.get(str(self.element_id(element) or ""), []))

        if document is not None:
            roots[:0] = bom_roots.get(str(self.element_id(document[0]) or ""), [])

        licenses: dict[str, dict[str, list[str]]] = {}
        edges: dict[tuple[str, str], None] = {}
        for source_ref, rel_type, targets, path in relationships:
            if rel_type == "describes":
                roots.extend(targets)
            elif rel_type in _EDGE_TYPES:
                if source_ref in package_refs:
                    for target in targets:
                        if target in package_refs and target != source_ref:
                            edges[(source_ref, target)] = None
            elif rel_type in _LICENSE_TYPES and source_ref in package_refs:
                found = licenses.setdefault(source_ref, {})
                for index, target in enumerate(targets):
                    expression = self.license_of(target, (*path, "to", index))
                    if expression is not None:
                        found.setdefault(rel_type, []).append(expression)
        for ref, found in licenses.items():
            package_refs[ref].licenses = found.get("hasConcludedLicense") or found.get(
                "hasDeclaredLicense", []
            )

        return SbomDocument(
            format="SPDX",
            spec_version=spec_version,
            encoding="json-ld",
            packages=packages,
            dependencies=list(edges),
            root_refs=self.package_roots(roots, bom_roots, package_refs),
            **self.document_fields(document),
        )

    def context_version(self, root: dict[str, Any]) -> str:
        context = root.get("@context")
        if context is None:
            if "spdxVersion" in root:
                raise self.fail(("@context",), "SPDX 2 JSON is not SPDX 3 JSON-LD")
            raise self.fail(("@context",), "missing: this is not an SPDX 3 JSON-LD document")
        for value in context if type(context) is list else [context]:
            if type(value) is str:
                match = _CONTEXT_VERSION.search(value)
                if match is not None:
                    if match.group(1) != "3.0":
                        raise self.fail(
                            ("@context",), f"unsupported SPDX version {match.group(1)} (3.0)"
                        )
                    return match.group(1)
        raise self.fail(("@context",), "not the SPDX 3.0 context (https://spdx.org/rdf/3.0.x/...)")

    def package_roots(
        self,
        candidates: list[str],
        bom_roots: dict[str, list[str]],
        package_refs: dict[str, SbomPackage],
    ) -> list[str]:
        """Root packages: a root that is itself an SBOM/bundle stands for its own roots."""
        out: dict[str, None] = {}
        seen: set[str] = set()
        stack = list(reversed(candidates))
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            if ref in package_refs:
                out[ref] = None
            elif ref in bom_roots:
                stack.extend(reversed(bom_roots[ref]))
        return list(out)

    def document_fields(
        self, document: tuple[dict[str, Any], tuple[str | int, ...]] | None
    ) -> dict[str, Any]:
        if document is None:
            return {"name": None, "serial": None, "created": None, "tools": []}
        element, path = document
        info: Any = element.get("creationInfo")
        if type(info) is str:
            info = self.by_id.get(info.strip())
        created: str | None = None
        tools: list[str] = []
        if type(info) is dict:
            value = info.get("created")
            created = value if type(value) is str else None
            used = info.get("createdUsing")
            for tool in used if type(used) is list else [used]:
                if type(tool) is str:
                    tool = self.by_id.get(tool.strip())
                if type(tool) is dict and type(tool.get("name")) is str and tool["name"].strip():
                    tools.append(tool["name"].strip())
        element_id = self.element_id(element)
        return {
            "name": self.opt_str(element, "name", path),
            "serial": element_id if type(element_id) is str else None,
            "created": created,
            "tools": tools,
        }

    # ------------------------------------------------------------------ packages

    def package(self, obj: dict[str, Any], path: tuple[str | int, ...]) -> SbomPackage:
        id_key = "spdxId" if "spdxId" in obj or "@id" not in obj else "@id"
        ref = self.req_str(obj, id_key, path)
        name = self.req_str(obj, "name", path)
        version = self.opt_str(obj, "software_packageVersion", path)
        if version is not None:
            version = version.strip()
            if version in NO_VALUE:
                version = None

        purl: str | None = None
        raw_purl = self.opt_str(obj, "software_packageUrl", path)
        if raw_purl is not None and raw_purl.strip():
            purl = self.purl(raw_purl, (*path, "software_packageUrl"))
        cpe: str | None = None
        cpe22: str | None = None
        identifiers = self.list_of(obj, "externalIdentifier", path)
        for index, ident in enumerate(identifiers):
            ident_path = (*path, "externalIdentifier", index)
            if type(ident) is not dict:
                raise self.fail(ident_path, f"expected an object, got {json_kind(ident)}")
            kind = _tail(self.req_str(ident, "externalIdentifierType", ident_path))
            if kind == "packageUrl":
                value = self.purl(
                    self.req_str(ident, "identifier", ident_path), (*ident_path, "identifier")
                )
                if purl is None:
                    purl = value
            elif kind == "cpe23":
                value = self.req_str(ident, "identifier", ident_path)
                cpe = cpe or value
            elif kind == "cpe22":
                value = self.req_str(ident, "identifier", ident_path)
                cpe22 = cpe22 or value

        hashes: dict[str, str] = {}
        for index, method in enumerate(self.list_of(obj, "verifiedUsing", path)):
            method_path = (*path, "verifiedUsing", index)
            if type(method) is not dict:
                raise self.fail(method_path, f"expected an object, got {json_kind(method)}")
            if _compact_type(str(method.get("type", method.get("@type", "")))) != "Hash":
                continue  # e.g. PackageVerificationCode: a digest of files, not of the package
            algorithm = _tail(self.req_str(method, "algorithm", method_path))
            digest = normalize_hex(self.req_str(method, "hashValue", method_path))
            if digest is not None:
                hashes.setdefault(normalize_hash_alg(algorithm), digest)

        return SbomPackage(
            ref=ref,
            name=name,
            version=version,
            purl=purl,
            cpe=cpe if cpe is not None else cpe22,
            hashes=hashes,
            supplier=self.agent_name(obj.get("suppliedBy"), (*path, "suppliedBy")),
            type=_purpose(self.opt_str(obj, "software_primaryPurpose", path)),
        )

    def purl(self, value: str, path: tuple[str | int, ...]) -> str:
        try:
            return normalize_purl(value.strip())
        except ValueError as exc:
            raise self.fail(path, purl_error(value, exc)) from None

    def agent_name(self, value: Any, path: tuple[str | int, ...]) -> str | None:
        if value is None:
            return None
        if type(value) is str:
            agent = self.by_id.get(value.strip())
        elif type(value) is dict:
            agent = value
        else:
            raise self.fail(path, f"expected an agent id, got {json_kind(value)}")
        if agent is None:
            return None
        name = agent.get("name")
        if type(name) is str and name.strip() and name.strip() not in NO_VALUE:
            return name.strip()
        return None

    def license_of(self, target: str, path: tuple[str | int, ...], depth: int = 0) -> str | None:
        """The licence an element id stands for, as an SPDX expression.

        A simple-licensing expression is kept as written; listed licences become their
        id; expanded-licensing sets and operators are written back as an expression; a
        custom licence is its name. NOASSERTION and NONE stand for no licence.
        """
        element = self.by_id.get(target)
        listed = _LISTED_LICENSE.fullmatch(target)
        if element is None:
            if listed is not None:
                return listed.group(1)
            if _NO_LICENSE.search(target) or target in NO_VALUE:
                return None
            return spdx_license_expression(target) or None
        kind = self.element_type(element, path)
        if kind == "simplelicensing_LicenseExpression":
            value = element.get("simplelicensing_licenseExpression")
            if type(value) is not str:
                return None
            expression = spdx_license_expression(value)
            return None if expression in NO_VALUE else expression
        if kind in _LICENSE_SETS:
            if depth >= _MAX_LICENSE_DEPTH:
                return None
            members = [
                self.license_of(member.strip(), path, depth + 1)
                for member in self.list_of(element, "expandedlicensing_member", path)
                if type(member) is str
            ]
            parts = [member for member in members if member]
            if len(parts) <= 1:
                return parts[0] if parts else None
            return "(" + _LICENSE_SETS[kind].join(parts) + ")"
        if kind in _LICENSE_OPERATORS:
            if depth >= _MAX_LICENSE_DEPTH:
                return None
            subject = element.get("expandedlicensing_subjectLicense")
            if subject is None:
                subject = element.get("expandedlicensing_subjectExtendableLicense")
            base = (
                self.license_of(subject.strip(), path, depth + 1) if type(subject) is str else None
            )
            if base is None:
                return None
            if kind == "expandedlicensing_OrLaterOperator":
                return base + "+"
            addition = element.get("expandedlicensing_subjectAddition")
            if type(addition) is not str:
                return base
            added = self.by_id.get(addition.strip()) or {}
            addition_id = added.get("expandedlicensing_additionId")
            if type(addition_id) is not str:
                addition_id = _tail(addition.strip())
            return f"{base} WITH {addition_id}"
        if listed is not None:
            return listed.group(1)
        name = element.get("name")
        if type(name) is str and name.strip():
            return name.strip()
        return target


class Spdx3Reader(SbomReader):
    """SPDX 3.0 JSON-LD documents."""

    format = "SPDX"
    encoding = "json-ld"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        if not text.startswith("{"):
            return False
        # plain searches, not a regex: a sniff sees 64 KiB of anything and must stay linear
        start = text.find('"@context"')
        return start >= 0 and "spdx.org/rdf/3." in text[start : start + 1024]

    def read(self, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
        root = load_json(data, source, limits)
        with gc_paused():  # the decoded tree is big and acyclic: no GC passes over it
            return _Reader(source).read(root)
