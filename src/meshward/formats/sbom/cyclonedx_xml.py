"""CycloneDX 1.2-1.7 in XML (namespaces ``http://cyclonedx.org/schema/bom/1.x``).

Parsed with defusedxml: any DTD is refused, so billion-laughs expansion and external
entities (XXE) never happen; nesting deeper than ``Limits.max_depth`` elements is refused
while parsing, before the tree grows. The same strict/lenient split as the JSON reader
applies (see ``cyclonedx_json``); places are element paths such as
``/bom/components/component[13]/purl`` (1-based, counting ``component`` siblings).

XML-only decisions: text values are stripped of surrounding whitespace (pretty printers);
a ``license`` with more than one ``id`` or ``name`` is an error (a CycloneDX 1.0 defect the
later schemas forbid); ``dependency`` elements nest (1.2+), each level giving edges from the
element to its children.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from defusedxml.common import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser

from meshward.errors import InputError
from meshward.formats.sbom._cyclonedx import (
    SCOPES,
    SUPPORTED_SPEC_VERSIONS,
    XML_NAMESPACE_PREFIX,
    DocumentBuilder,
    tool_label,
    unsupported_version,
)
from meshward.formats.sbom.common import (
    check_size,
    gc_paused,
    head_text,
    normalize_hash,
    normalize_purl,
    spdx_license_expression,
)
from meshward.formats.sbom.interface import SbomDocument, SbomPackage, SbomReader
from meshward.limits import DEFAULT_LIMITS, Limits

_ROOT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?bom[\s>][^>]*?http://cyclonedx\.org/schema/bom/")


class _TooDeep(Exception):
    def __init__(self, path: list[str]) -> None:
        super().__init__("too deep")
        self.path = path


class _DepthLimitedTreeBuilder(ET.TreeBuilder):
    """Refuses elements nested deeper than ``max_depth`` as they are opened."""

    def __init__(self, max_depth: int) -> None:
        super().__init__()
        self._max_depth = max_depth
        self._open: list[str] = []

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._open.append(tag)
        if len(self._open) > self._max_depth:
            raise _TooDeep([t.rpartition("}")[2] for t in self._open])
        return super().start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self._open.pop()
        return super().end(tag)


def _parse(data: bytes, source: str, limits: Limits) -> ET.Element:
    check_size(data, source, limits)
    builder = _DepthLimitedTreeBuilder(limits.max_depth)
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(data)
        root: ET.Element = parser.close()
    except DTDForbidden:
        raise InputError(
            source,
            None,
            "XML with a DTD (<!DOCTYPE ...>) is refused: entity expansion and external "
            "entities are not allowed",
        ) from None
    except EntitiesForbidden as exc:
        raise InputError(source, None, f"XML entity declarations are refused ({exc})") from None
    except DefusedXmlException as exc:
        raise InputError(source, None, f"XML refused: {exc}") from None
    except _TooDeep as exc:
        raise InputError(
            source,
            "/" + "/".join(exc.path),
            f"elements nest deeper than the limit of {limits.max_depth}",
        ) from None
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        message = str(exc).split(":", 1)[0]
        raise InputError(
            source, f"line {line} column {column + 1}", f"not well-formed XML: {message}"
        ) from None
    return root


class CycloneDxXmlReader(SbomReader):
    format = "CycloneDX"
    encoding = "xml"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        return text.startswith("<") and _ROOT.search(text) is not None

    def read(self, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
        try:
            with gc_paused():
                return _Reader(_parse(data, source, limits), source).read()
        except InputError:
            raise
        except Exception as exc:  # a reader raises InputError only
            raise InputError(
                source, None, f"could not read CycloneDX XML: {type(exc).__name__}: {exc}"
            ) from None


def _text(element: ET.Element) -> str:
    return (element.text or "").strip()


class _Reader:
    def __init__(self, root: ET.Element, source: str) -> None:
        self.root = root
        self.source = source
        tag = root.tag if isinstance(root.tag, str) else ""
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if local != "bom" or not namespace.startswith(XML_NAMESPACE_PREFIX):
            raise InputError(
                source,
                "/" + (local or "?"),
                "not a CycloneDX document: the root element is not "
                f"<bom xmlns='{XML_NAMESPACE_PREFIX}1.x'> (found {tag!r})",
            )
        self.spec_version = namespace[len(XML_NAMESPACE_PREFIX) :]
        if self.spec_version not in SUPPORTED_SPEC_VERSIONS:
            raise InputError(source, "/bom", unsupported_version(self.spec_version))
        q = "{" + namespace + "}"
        self.q = q
        self.t_component = q + "component"
        self.t_components = q + "components"
        self.builder = DocumentBuilder(source)

    # ------------------------------------------------------------------ document

    def read(self) -> SbomDocument:
        q = self.q
        root = self.root
        builder = self.builder
        name: str | None = None
        created: str | None = None
        tools: list[str] = []

        metadata = root.find(q + "metadata")
        if metadata is not None:
            timestamp = metadata.find(q + "timestamp")
            if timestamp is not None:
                created = _text(timestamp) or None
            tools_element = metadata.find(q + "tools")
            if tools_element is not None:
                tools = self._tools(tools_element)
            subject = metadata.find(self.t_component)
            if subject is not None:
                builder.root_index = len(builder.packages)
                self._flatten([(subject, "/bom/metadata/component", -1)])
                name = builder.packages[builder.root_index].name

        components = root.find(self.t_components)
        if components is not None:
            self._flatten(self._children(components, "/bom/components", -1))

        dependencies = root.find(q + "dependencies")
        if dependencies is not None:
            self._dependencies(dependencies)

        serial = root.get("serialNumber")
        return builder.build(
            spec_version=self.spec_version,
            encoding="xml",
            name=name,
            serial=serial.strip() if serial else None,
            created=created,
            tools=tools,
        )

    def _children(
        self, components: ET.Element, base: str, parent: int
    ) -> list[tuple[ET.Element, str, int]]:
        tag = self.t_component
        return [
            (element, f"{base}/component[{i}]", parent)
            for i, element in enumerate(components.iterfind(tag), start=1)
        ]

    # ------------------------------------------------------------------ components

    def _flatten(self, top: list[tuple[ET.Element, str, int]]) -> None:
        stack = list(reversed(top))
        builder = self.builder
        while stack:
            element, place, parent = stack.pop()
            package, ref, nested = self._component(element, place)
            index = builder.add(package, ref, parent, place)
            if nested is not None:
                children = self._children(nested, place + "/components", index)
                children.reverse()
                stack.extend(children)

    def _component(
        self, element: ET.Element, place: str
    ) -> tuple[SbomPackage, str | None, ET.Element | None]:
        q = self.q
        source = self.source
        name: str | None = None
        version = group = cpe = purl = scope = supplier = None
        licenses: list[str] = []
        hashes: dict[str, str] = {}
        nested: ET.Element | None = None
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or not tag.startswith(q):
                continue  # comments, processing instructions, extension namespaces
            local = tag[len(q) :]
            if local == "name":
                name = _text(child)
            elif local == "version":
                version = _text(child)
            elif local == "group":
                group = _text(child)
            elif local == "cpe":
                cpe = _text(child)
            elif local == "purl":
                purl = _text(child)
            elif local == "scope":
                scope = _text(child)
                if scope not in SCOPES:
                    raise InputError(
                        source,
                        place + "/scope",
                        f"scope {scope!r} is not one of {', '.join(sorted(SCOPES))}",
                    )
            elif local == "supplier":
                supplier_name = child.find(q + "name")
                if supplier_name is not None:
                    supplier = _text(supplier_name)
            elif local == "hashes":
                hashes = self._hashes(child)
            elif local == "licenses":
                licenses = self._licenses(child, place)
            elif local == "components":
                nested = child
        if name is None:
            raise InputError(source, place, "component has no name")
        if purl is not None:
            try:
                purl = normalize_purl(purl)
            except ValueError as exc:
                raise InputError(source, place + "/purl", f"malformed purl: {exc}") from None
        package = SbomPackage(
            ref="",
            name=name,
            version=version,
            purl=purl,
            cpe=cpe,
            licenses=licenses,
            hashes=hashes,
            scope=scope,
            supplier=supplier,
            type=element.get("type"),
            group=group,
        )
        return package, element.get("bom-ref"), nested

    def _hashes(self, element: ET.Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for child in element.iterfind(self.q + "hash"):
            alg = child.get("alg")
            if alg is None:
                continue  # nothing to key it by; the JSON form cannot even say this
            try:
                name, digest = normalize_hash(alg, child.text or "")
            except ValueError:
                continue  # a broken digest is dropped, as in the JSON reader
            out[name] = digest
        return out

    def _licenses(self, element: ET.Element, place: str) -> list[str]:
        q = self.q
        out: list[str] = []
        index = 0
        for child in element:
            if child.tag == q + "expression":
                out.append(spdx_license_expression(_text(child)))
            elif child.tag == q + "expression-detailed":  # 1.7
                expression = child.get("expression")
                if not expression:
                    raise InputError(
                        self.source, place + "/licenses", "expression-detailed has no expression"
                    )
                out.append(spdx_license_expression(expression))
            elif child.tag == q + "license":
                index += 1
                where = f"{place}/licenses/license[{index}]"
                ids = child.findall(q + "id")
                names = child.findall(q + "name")
                if len(ids) > 1 or len(names) > 1:
                    raise InputError(
                        self.source, where, "licence has more than one id or more than one name"
                    )
                chosen = ids or names or child.findall(q + "url")
                if not chosen:
                    raise InputError(self.source, where, "licence has neither id nor name")
                out.append(_text(chosen[0]))
        return out

    # ------------------------------------------------------------------ graph, tools

    def _dependencies(self, element: ET.Element) -> None:
        tag = self.q + "dependency"
        edges = self.builder.edges
        stack: list[tuple[ET.Element, str]] = [
            (child, f"/bom/dependencies/dependency[{i}]")
            for i, child in enumerate(element.iterfind(tag), start=1)
        ]
        stack.reverse()  # document order (pre-order), like the JSON reader's
        while stack:
            dependency, place = stack.pop()
            ref = dependency.get("ref")
            if not ref:
                raise InputError(
                    self.source, place, "dependency has no ref" if ref is None else "ref is empty"
                )
            deeper: list[tuple[ET.Element, str]] = []
            for i, child in enumerate(dependency.iterfind(tag), start=1):
                target = child.get("ref")
                where = f"{place}/dependency[{i}]"
                if not target:
                    raise InputError(
                        self.source,
                        where,
                        "dependency has no ref" if target is None else "ref is empty",
                    )
                edges.append((ref, target))
                if len(child):
                    deeper.append((child, where))
            deeper.reverse()
            stack.extend(deeper)

    def _tools(self, element: ET.Element) -> list[str]:
        q = self.q
        out: list[str] = []
        entries: list[ET.Element] = list(element.iterfind(q + "tool"))  # 1.2-1.4
        for group, tag in (("components", "component"), ("services", "service")):  # 1.5+
            container = element.find(q + group)
            if container is not None:
                entries.extend(container.iterfind(q + tag))
        for entry in entries:
            parts: dict[str, Any] = {}
            for field in ("vendor", "group", "name", "version"):
                found = entry.find(q + field)
                if found is not None:
                    parts[field] = _text(found)
            label = tool_label(
                parts.get("vendor") or parts.get("group"), parts.get("name"), parts.get("version")
            )
            if label:
                out.append(label)
        return out
