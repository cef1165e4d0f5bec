"""SPDX 2.2 / 2.3 JSON (2.0 and 2.1 documents read the same way).

Decoded with orjson and normalised here, never through spdx-tools: 0.14-0.16 s against
3.9 s for 10,000 packages (DESIGN.md, "Measured before we chose"). Every shape we rely on
is checked, and a wrong one is an ``InputError`` carrying its JSON pointer.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import (
    gc_paused,
    head_text,
    load_json,
    normalize_purl,
)
from meshward.formats.sbom.interface import SbomDocument, SbomPackage, SbomReader
from meshward.formats.sbom.spdx2 import (
    NO_VALUE,
    JsonFields,
    Spdx2Graph,
    chosen_licenses,
    creator_tool,
    hash_algorithm,
    json_kind,
    package_type,
    purl_error,
    relationship_type,
    spdx2_version,
    supplier_name,
)
from meshward.limits import DEFAULT_LIMITS, Limits

_HEX_DIGITS = "0123456789abcdef"
_SPDX2_KEY = re.compile(r'"(?:spdxVersion|SPDXID)"\s*:')
_JSON_LD = re.compile(r'"@(?:context|graph)"\s*:')

# Key spellings of pre-2.2 producers (spdx-tools-java 2.1 drafts, GUAC's test data).
_CONCLUDED_KEYS = ("licenseConcluded", "packageLicenseConcluded")
_DECLARED_KEYS = ("licenseDeclared", "packageLicenseDeclared")


# The hot loop builds SbomPackage positionally (twice as fast as keywords); should the
# dataclass change its field order, fail at import rather than fill the wrong fields.
_POSITIONAL_FIELDS = (
    "ref",
    "name",
    "version",
    "purl",
    "cpe",
    "licenses",
    "hashes",
    "scope",
    "supplier",
    "type",
)
if tuple(f.name for f in fields(SbomPackage))[: len(_POSITIONAL_FIELDS)] != _POSITIONAL_FIELDS:
    raise RuntimeError("SbomPackage fields changed order: update SpdxJsonReader.packages")


def _position(items: list[Any], item: Any) -> int:
    """Index of ``item`` (by identity) in ``items``: pointers are built on the error path."""
    return next(index for index, candidate in enumerate(items) if candidate is item)


class _Reader(JsonFields):
    """One read: the source name for errors and the graph being built."""

    __slots__ = ("graph", "package_list")

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.graph = Spdx2Graph()
        self.package_list: list[Any] = []

    def opt_list(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if type(value) is list:
            return value
        raise self.fail((*path, key), f"expected an array, got {json_kind(value)}")

    def opt_obj(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> dict[str, Any]:
        value = obj.get(key)
        if value is None:
            return {}
        if type(value) is dict:
            return value
        raise self.fail((*path, key), f"expected an object, got {json_kind(value)}")

    # ------------------------------------------------------------------ document

    def read(self, root: Any) -> SbomDocument:
        if type(root) is not dict:
            raise InputError(self.source, "/", f"expected a JSON object, got {json_kind(root)}")
        raw_version = root.get("spdxVersion")
        if raw_version is None:
            if "@context" in root or "@graph" in root:
                raise self.fail(("spdxVersion",), "SPDX 3 JSON-LD is not SPDX 2 JSON")
            raise self.fail(("spdxVersion",), "missing: this is not an SPDX 2 JSON document")
        if type(raw_version) is not str:
            raise self.fail(
                ("spdxVersion",),
                f"expected a string like 'SPDX-2.3', got {json_kind(raw_version)}",
            )
        spec_version = spdx2_version(raw_version)
        if spec_version is None:
            raise self.fail(
                ("spdxVersion",), f"unsupported SPDX version {raw_version[:40]!r} (2.0-2.3)"
            )
        graph = self.graph
        graph.document_ref = self.req_str(root, "SPDXID", ()).strip()
        name = self.opt_str(root, "name", ())
        serial = self.opt_str(root, "documentNamespace", ())
        info = self.opt_obj(root, "creationInfo", ())
        created = self.opt_str(info, "created", ("creationInfo",))
        tools: list[str] = []
        for creator in self.opt_list(info, "creators", ("creationInfo",)):
            # Only tools are kept from creators, so an odd entry (GUAC's test data writes
            # {"Person": "..."}) is skipped rather than failing the document.
            tool = creator_tool(creator) if type(creator) is str else None
            if tool is not None:
                tools.append(tool)

        self.package_list = self.opt_list(root, "packages", ())
        self.packages(self.package_list)
        for index, ref in enumerate(self.opt_list(root, "documentDescribes", ())):
            if type(ref) is not str:
                raise self.fail(
                    ("documentDescribes", index), f"expected a string, got {json_kind(ref)}"
                )
            graph.describes.append(ref.strip())
        self.relationships(self.opt_list(root, "relationships", ()))
        # Files, snippets and extracted licences are not packages: only their ids matter,
        # and only as relationship ends that the graph drops. Their shapes are not checked.
        return graph.document(
            spec_version=spec_version,
            encoding="json",
            name=name,
            serial=serial,
            created=created,
            tools=tools,
        )

    # ------------------------------------------------------------------ packages

    def wrong(self, obj: dict[str, Any], key: str, path: tuple[str | int, ...]) -> InputError:
        """The error for a field that failed the fast check (missing, empty or not a string)."""
        value = obj.get(key)
        if value is None:
            return self.fail((*path, key), f"missing required field {key!r}")
        if type(value) is str:
            return self.fail((*path, key), "must not be empty")
        return self.fail((*path, key), f"expected a string, got {json_kind(value)}")

    def wrong_of(
        self, obj: dict[str, Any], keys: tuple[str, ...], path: tuple[str | int, ...]
    ) -> InputError:
        """The error for the first of ``keys`` that is missing, empty or not a string."""
        for key in keys:
            value = obj.get(key)
            if type(value) is not str or not value.strip():
                return self.wrong(obj, key, path)
        raise AssertionError(f"no bad field among {keys}")  # pragma: no cover

    def packages(self, items: list[Any]) -> None:
        """Turn ``packages`` into ``SbomPackage`` objects.

        The hot loop of a big SBOM (about 10 us a package on the 2-core box): checks are
        inline, helpers are bound to locals, and an error (with its JSON pointer) is built
        only when a check fails. Fields we do not keep are not checked at all.
        """
        graph = self.graph
        refs = graph.refs
        add_ref = refs.add
        append = graph.packages.append
        purl_of = normalize_purl
        algorithm_of = hash_algorithm
        algorithms: dict[str, str] = {}
        licenses_of = chosen_licenses
        supplier_of = supplier_name
        type_of = package_type
        no_value = NO_VALUE
        for index, obj in enumerate(items):
            if type(obj) is not dict:
                raise self.fail(
                    ("packages", index), f"expected a package object, got {json_kind(obj)}"
                )
            get = obj.get
            ref = get("SPDXID")
            if type(ref) is not str or not (ref := ref.strip()):
                raise self.wrong(obj, "SPDXID", ("packages", index))
            if ref in refs:
                raise self.fail(("packages", index, "SPDXID"), f"duplicate SPDXID {ref!r}")
            name = get("name")
            if type(name) is not str or not (name := name.strip()):
                name_key = "name" if "name" in obj or "packageName" not in obj else "packageName"
                name = get(name_key)
                if type(name) is not str or not (name := name.strip()):
                    raise self.wrong(obj, name_key, ("packages", index))
            version = get("versionInfo")
            if version is not None:
                if type(version) is not str:
                    raise self.wrong(obj, "versionInfo", ("packages", index))
                version = version.strip()
                if version in no_value:
                    version = None

            purl: str | None = None
            cpe: str | None = None
            cpe22: str | None = None
            ext_refs = get("externalRefs")
            if ext_refs is not None:
                if type(ext_refs) is not list:
                    raise self.fail(
                        ("packages", index, "externalRefs"),
                        f"expected an array, got {json_kind(ext_refs)}",
                    )
                for ext in ext_refs:
                    if type(ext) is not dict:
                        raise self.fail(
                            ("packages", index, "externalRefs", _position(ext_refs, ext)),
                            f"expected an object, got {json_kind(ext)}",
                        )
                    kind = ext.get("referenceType")
                    if kind == "purl":
                        locator = ext.get("referenceLocator")
                        if type(locator) is not str:
                            raise self.wrong(ext, "referenceLocator", self.ext_path(obj, ext))
                        locator = locator.strip()
                        try:
                            canonical = purl_of(locator)
                        except ValueError as exc:
                            raise self.fail(
                                (*self.ext_path(obj, ext), "referenceLocator"),
                                purl_error(locator, exc),
                            ) from None
                        if purl is None:
                            purl = canonical
                    elif kind == "cpe23Type" or kind == "cpe22Type":
                        if (cpe if kind == "cpe23Type" else cpe22) is not None:
                            continue  # only the first of each is kept (syft writes several)
                        locator = ext.get("referenceLocator")
                        if type(locator) is not str or not (locator := locator.strip()):
                            raise self.wrong(ext, "referenceLocator", self.ext_path(obj, ext))
                        if kind == "cpe23Type":
                            cpe = locator
                        else:
                            cpe22 = locator
                    elif kind is not None and type(kind) is not str:
                        raise self.wrong(ext, "referenceType", self.ext_path(obj, ext))

            hashes: dict[str, str] = {}
            checksums = get("checksums")
            if checksums is not None:
                if type(checksums) is not list:
                    raise self.fail(
                        ("packages", index, "checksums"),
                        f"expected an array, got {json_kind(checksums)}",
                    )
                for checksum in checksums:
                    if type(checksum) is dict:
                        algorithm = checksum.get("algorithm")
                        value = checksum.get("checksumValue")
                        if type(algorithm) is str and type(value) is str:
                            spelling = algorithms.get(algorithm)
                            if spelling is None and algorithm.strip():
                                spelling = algorithms[algorithm] = algorithm_of(algorithm)
                            if spelling is not None:
                                # lower-case hex, or left out: one odd value is no reason
                                # to refuse the document
                                digest = value.strip().lower()
                                if digest and not digest.strip(_HEX_DIGITS):
                                    hashes.setdefault(spelling, digest)
                                continue
                        raise self.wrong_of(
                            checksum,
                            ("algorithm", "checksumValue"),
                            ("packages", index, "checksums", _position(checksums, checksum)),
                        )
                    raise self.fail(
                        ("packages", index, "checksums", _position(checksums, checksum)),
                        f"expected an object, got {json_kind(checksum)}",
                    )

            concluded = get("licenseConcluded")
            if concluded is None:
                concluded = get("packageLicenseConcluded")
            declared = get("licenseDeclared")
            if declared is None:
                declared = get("packageLicenseDeclared")
            supplier = get("supplier")
            purpose = get("primaryPackagePurpose")
            if not (
                (concluded is None or type(concluded) is str)
                and (declared is None or type(declared) is str)
                and (supplier is None or type(supplier) is str)
                and (purpose is None or type(purpose) is str)
            ):
                path: tuple[str | int, ...] = ("packages", index)
                for key in (*_CONCLUDED_KEYS, *_DECLARED_KEYS, "supplier", "primaryPackagePurpose"):
                    self.opt_str(obj, key, path)

            add_ref(ref)
            # positional, in the order _POSITIONAL_FIELDS checks at import
            append(
                SbomPackage(
                    ref,
                    name,
                    version,
                    purl,
                    cpe if cpe is not None else cpe22,
                    licenses_of(concluded, declared),
                    hashes,
                    None,  # scope: SPDX 2 has none
                    supplier_of(supplier),
                    type_of(purpose),
                )
            )

    def ext_path(self, package: dict[str, Any], ext: dict[str, Any]) -> tuple[str | int, ...]:
        """Pointer parts of an external reference, found again on the error path only."""
        items = self.package_list
        index = _position(items, package)
        return ("packages", index, "externalRefs", _position(package["externalRefs"], ext))

    # ------------------------------------------------------------------ relationships

    def relationships(self, items: list[Any]) -> None:
        append = self.graph.relationships.append
        for index, obj in enumerate(items):
            if type(obj) is dict:
                element = obj.get("spdxElementId")
                kind = obj.get("relationshipType")
                related = obj.get("relatedSpdxElement")
                if (
                    type(element) is str
                    and type(kind) is str
                    and type(related) is str
                    and (element := element.strip())
                    and kind.strip()
                    and (related := related.strip())
                ):
                    append((element, relationship_type(kind), related))
                    continue
            self.relationship(obj, ("relationships", index))

    def relationship(self, obj: Any, path: tuple[str | int, ...]) -> None:
        if type(obj) is not dict:
            raise self.fail(path, f"expected a relationship object, got {json_kind(obj)}")
        element = self.req_str(obj, "spdxElementId", path).strip()
        kind = self.req_str(obj, "relationshipType", path)
        related = self.req_str(obj, "relatedSpdxElement", path).strip()
        self.graph.relationships.append((element, relationship_type(kind), related))


class SpdxJsonReader(SbomReader):
    """SPDX 2.x JSON documents (``spdxVersion: SPDX-2.3``)."""

    format = "SPDX"
    encoding = "json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head).lstrip()
        if not text.startswith("{"):
            return False
        return _SPDX2_KEY.search(text) is not None and _JSON_LD.search(text) is None

    def read(self, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
        root = load_json(data, source, limits)
        with gc_paused():  # the decoded tree is big and acyclic: no GC passes over it
            return _Reader(source).read(root)
