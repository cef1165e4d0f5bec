"""SPDX 2.2 / 2.3 tag-value (``Tag: value`` lines; 2.0 and 2.1 read the same way).

A document is a flat run of tags; a ``PackageName`` opens a package section and
``FileName``, ``SnippetSPDXID`` or ``LicenseID`` open sections we do not keep, so the
ambiguous ``SPDXID`` tag belongs to whichever section is open. Values may span lines
inside ``<text>...</text>``. Errors carry the line number (``line 42``).
"""

from __future__ import annotations

import re

from meshward.errors import InputError
from meshward.formats.sbom.common import (
    check_size,
    gc_paused,
    head_text,
    normalize_purl,
    to_utf8,
)
from meshward.formats.sbom.interface import SbomDocument, SbomPackage, SbomReader
from meshward.formats.sbom.spdx2 import (
    CPE_TYPES,
    PURL_TYPE,
    Spdx2Graph,
    add_hash,
    chosen_licenses,
    creator_tool,
    package_type,
    purl_error,
    relationship_type,
    spdx2_version,
    supplier_name,
    version_or_none,
)
from meshward.limits import DEFAULT_LIMITS, Limits

_VERSION_LINE = re.compile(r"^[ \t]*SPDXVersion[ \t]*:[ \t]*SPDX-", re.MULTILINE)
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_OPEN = "<text>"
_CLOSE = "</text>"

# Tags that open a section this reader does not keep (their SPDXID is not a package's).
_OTHER_SECTIONS = frozenset({"FileName", "SnippetSPDXID", "LicenseID"})
_PACKAGE_TAGS = frozenset(
    {
        "PackageVersion",
        "PackageSupplier",
        "PackageChecksum",
        "PackageLicenseConcluded",
        "PackageLicenseDeclared",
        "ExternalRef",
        "PrimaryPackagePurpose",
    }
)


class _Package:
    """A package section while it is open; becomes an ``SbomPackage`` when it closes."""

    __slots__ = (
        "concluded",
        "cpe",
        "cpe22",
        "declared",
        "hashes",
        "line",
        "name",
        "purl",
        "purpose",
        "ref",
        "ref_line",
        "supplier",
        "version",
    )

    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line
        self.ref: str | None = None
        self.ref_line = line
        self.version: str | None = None
        self.purl: str | None = None
        self.cpe: str | None = None
        self.cpe22: str | None = None
        self.concluded: str | None = None
        self.declared: str | None = None
        self.hashes: dict[str, str] = {}
        self.supplier: str | None = None
        self.purpose: str | None = None


def _lines(text: str) -> list[str]:
    """Split on LF, CRLF and lone CR (some producers write classic-Mac line ends)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


class _Reader:
    __slots__ = (
        "created",
        "document_line",
        "document_ref",
        "graph",
        "name",
        "package",
        "section",
        "serial",
        "source",
        "spec_version",
        "tools",
        "version_line",
    )

    def __init__(self, source: str) -> None:
        self.source = source
        self.graph = Spdx2Graph()
        self.spec_version: str | None = None
        self.version_line = 0
        self.document_ref: str | None = None
        self.document_line = 0
        self.name: str | None = None
        self.serial: str | None = None
        self.created: str | None = None
        self.tools: list[str] = []
        self.package: _Package | None = None
        self.section = "document"

    def fail(self, line: int, message: str) -> InputError:
        return InputError(self.source, f"line {line}", message)

    def read(self, text: str) -> SbomDocument:
        lines = _lines(text)
        count = len(lines)
        seen_tags: set[str] = set()
        index = 0
        while index < count:
            line = lines[index]
            number = index + 1
            index += 1
            stripped = line.strip()
            if not stripped or stripped[0] == "#":
                continue
            tag, sep, value = line.partition(":")
            tag = tag.strip()
            if not sep or (tag not in seen_tags and _TAG.fullmatch(tag) is None):
                raise self.fail(number, f"expected 'Tag: value', got {stripped[:80]!r}")
            seen_tags.add(tag)  # a document uses a few dozen tags: each is matched once
            value = value.strip()
            if value.startswith(_OPEN):
                value = value[len(_OPEN) :]
                end = value.find(_CLOSE)
                if end >= 0:
                    value = value[:end]
                else:
                    parts = [value]
                    while True:
                        if index >= count:
                            raise self.fail(number, f"{tag}: <text> is never closed by </text>")
                        more = lines[index]
                        index += 1
                        end = more.find(_CLOSE)
                        if end >= 0:
                            parts.append(more[:end])
                            break
                        parts.append(more)
                    value = "\n".join(parts)
                value = value.strip()
            self.tag(tag, value, number)
        return self.finish()

    # ------------------------------------------------------------------ tags

    def tag(self, tag: str, value: str, line: int) -> None:
        if tag == "SPDXVersion":
            if self.spec_version is not None:
                raise self.fail(
                    line,
                    f"a second SPDXVersion (the first is on line {self.version_line}): "
                    "one document per file",
                )
            version = spdx2_version(value)
            if version is None:
                raise self.fail(line, f"unsupported SPDX version {value[:40]!r} (2.0-2.3)")
            self.spec_version = version
            self.version_line = line
            return
        if self.spec_version is None:
            raise self.fail(line, f"{tag} before SPDXVersion: not an SPDX tag-value document")
        if tag == "PackageName":
            self.close_package()
            if not value:
                raise self.fail(line, "PackageName must not be empty")
            self.package = _Package(value, line)
            self.section = "package"
        elif tag in _OTHER_SECTIONS:
            self.close_package()
            self.section = tag
        elif tag == "SPDXID":
            self.spdx_id(value, line)
        elif tag in _PACKAGE_TAGS:
            package = self.package
            if package is None or self.section != "package":
                raise self.fail(line, f"{tag} outside a package section (no PackageName above)")
            self.package_tag(package, tag, value, line)
        elif tag == "Relationship":
            parts = value.split()
            if len(parts) != 3:
                raise self.fail(
                    line, f"expected 'Relationship: <id> <TYPE> <id>', got {value[:80]!r}"
                )
            self.graph.relationships.append((parts[0], relationship_type(parts[1]), parts[2]))
        elif self.section == "document":
            if tag == "DocumentName":
                self.name = value or None
            elif tag == "DocumentNamespace":
                self.serial = value or None
            elif tag == "Created":
                self.created = value or None
            elif tag == "Creator":
                tool = creator_tool(value)
                if tool is not None:
                    self.tools.append(tool)
        # Every other tag (file, snippet, licence, annotation, review fields ...) is skipped.

    def spdx_id(self, value: str, line: int) -> None:
        if not value:
            raise self.fail(line, "SPDXID must not be empty")
        if self.section == "document":
            if self.document_ref is not None:
                raise self.fail(
                    line,
                    f"a second document SPDXID (the first is on line {self.document_line}); "
                    "an element's SPDXID goes after its PackageName or FileName",
                )
            self.document_ref = value
            self.document_line = line
        elif self.section == "package" and self.package is not None:
            package = self.package
            if package.ref is not None:
                raise self.fail(line, f"a second SPDXID for package {package.name!r}")
            if value in self.graph.refs:
                raise self.fail(line, f"duplicate SPDXID {value!r}")
            package.ref = value
            package.ref_line = line

    def package_tag(self, package: _Package, tag: str, value: str, line: int) -> None:
        if tag == "PackageVersion":
            package.version = version_or_none(value)
        elif tag == "ExternalRef":
            parts = value.split(None, 2)
            if len(parts) != 3:
                raise self.fail(
                    line, f"expected 'ExternalRef: <CATEGORY> <type> <locator>', got {value[:80]!r}"
                )
            kind, locator = parts[1], parts[2].strip()
            if kind == PURL_TYPE:
                try:
                    canonical = normalize_purl(locator)
                except ValueError as exc:
                    raise self.fail(line, purl_error(locator, exc)) from None
                if package.purl is None:
                    package.purl = canonical
            elif kind == CPE_TYPES[0]:
                if package.cpe is None:
                    package.cpe = locator
            elif kind == CPE_TYPES[1] and package.cpe22 is None:
                package.cpe22 = locator
        elif tag == "PackageChecksum":
            algorithm, sep, digest = value.partition(":")
            if not sep or not algorithm.strip():
                raise self.fail(
                    line, f"expected 'PackageChecksum: <ALGORITHM>: <hex>', got {value[:80]!r}"
                )
            add_hash(package.hashes, algorithm, digest)
        elif tag == "PackageLicenseConcluded":
            package.concluded = value
        elif tag == "PackageLicenseDeclared":
            package.declared = value
        elif tag == "PackageSupplier":
            package.supplier = value
        elif tag == "PrimaryPackagePurpose":
            package.purpose = value

    def close_package(self) -> None:
        package = self.package
        if package is None:
            return
        self.package = None
        if package.ref is None:
            raise self.fail(package.line, f"package {package.name!r} has no SPDXID")
        graph = self.graph
        graph.refs.add(package.ref)
        graph.packages.append(
            SbomPackage(
                ref=package.ref,
                name=package.name,
                version=package.version,
                purl=package.purl,
                cpe=package.cpe if package.cpe is not None else package.cpe22,
                licenses=chosen_licenses(package.concluded, package.declared),
                hashes=package.hashes,
                supplier=supplier_name(package.supplier),
                type=package_type(package.purpose),
            )
        )

    def finish(self) -> SbomDocument:
        self.close_package()
        if self.spec_version is None:
            raise InputError(
                self.source, None, "no SPDXVersion tag: not an SPDX tag-value document"
            )
        if self.document_ref is None:
            raise InputError(self.source, None, "the document has no SPDXID")
        self.graph.document_ref = self.document_ref
        return self.graph.document(
            spec_version=self.spec_version,
            encoding="tag-value",
            name=self.name,
            serial=self.serial,
            created=self.created,
            tools=self.tools,
        )


class SpdxTagValueReader(SbomReader):
    """SPDX 2.x tag-value documents (``SPDXVersion: SPDX-2.3``)."""

    format = "SPDX"
    encoding = "tag-value"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        if "\r" in text:
            text = text.replace("\r", "\n")
        return _VERSION_LINE.search(text) is not None

    def read(self, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
        check_size(data, source, limits)
        data = to_utf8(data, source)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = len(_lines(data[: exc.start].decode("utf-8", errors="replace")))
            raise InputError(source, f"line {line}", "not valid UTF-8 text") from None
        if "\x00" in text:
            line = len(_lines(text[: text.index("\x00")]))
            raise InputError(source, f"line {line}", "a NUL character: this is not text")
        with gc_paused():  # tens of thousands of small objects, none of them cyclic
            return _Reader(source).read(text)
