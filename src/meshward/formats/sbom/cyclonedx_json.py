"""CycloneDX 1.2-1.7 in JSON.

Strict about what we keep, lenient about the rest. These fail the document with an
``InputError`` whose place is a JSON pointer (``/components/12/purl``): a field we read
with the wrong JSON type, a component without a name, a malformed purl, a ``scope`` other
than required/optional/excluded, a licence entry with both ``license`` and ``expression``
or with neither (or a licence with no id, name or url), an empty or repeated ``bom-ref``,
a dependency without ``ref``.

Accepted although a schema validator would refuse them: unknown fields; enums that newer
specs keep extending (component ``type``, hash ``alg``: kept as given, upper-cased);
licence ids outside the SPDX list; free-form timestamps and serial numbers. A digest that
is not hex of the right length is dropped from ``hashes`` rather than failing the document
(real producers emit such hashes; we never match on a broken one). A licence given only
as a URL keeps the URL. Ref and edge rules are in ``_cyclonedx``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom._cyclonedx import (
    SCOPES,
    SUPPORTED_SPEC_VERSIONS,
    DocumentBuilder,
    tool_label,
    unsupported_version,
)
from meshward.formats.sbom.common import (
    HASH_HEX_LENGTHS,
    gc_paused,
    head_text,
    load_json,
    normalize_hash,
    normalize_hash_alg,
    normalize_purl,
    spdx_license_expression,
)
from meshward.formats.sbom.interface import SbomDocument, SbomPackage, SbomReader
from meshward.limits import DEFAULT_LIMITS, Limits

_BOM_FORMAT = re.compile(r'"bomFormat"\s*:\s*"CycloneDX"')
_SCHEMA = re.compile(r'"\$schema"\s*:\s*"https?://cyclonedx\.org/schema/bom-1\.\d')


def _wrong_type(source: str, place: str, what: str, expected: str) -> InputError:
    return InputError(source, place, f"{what} must be {expected}")


class CycloneDxJsonReader(SbomReader):
    format = "CycloneDX"
    encoding = "json"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        if not text.startswith("{"):
            return False
        return bool(_BOM_FORMAT.search(text) or _SCHEMA.search(text))

    def read(self, data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
        try:
            with gc_paused():
                return _read(data, source, limits)
        except InputError:
            raise
        except Exception as exc:  # a reader raises InputError only
            raise InputError(
                source, None, f"could not read CycloneDX JSON: {type(exc).__name__}: {exc}"
            ) from None


def _read(data: bytes, source: str, limits: Limits) -> SbomDocument:
    root = load_json(data, source, limits)
    if type(root) is not dict:
        raise InputError(source, None, "not a CycloneDX document: the top level is not an object")
    bom_format = root.get("bomFormat")
    if bom_format != "CycloneDX":
        raise InputError(
            source,
            "/bomFormat",
            f"not a CycloneDX document: bomFormat is {bom_format!r}, expected 'CycloneDX'",
        )
    spec_version = root.get("specVersion")
    if type(spec_version) is not str:
        raise _wrong_type(source, "/specVersion", "specVersion", "a string such as '1.6'")
    if spec_version not in SUPPORTED_SPEC_VERSIONS:
        raise InputError(source, "/specVersion", unsupported_version(spec_version))

    builder = DocumentBuilder(source)
    name: str | None = None
    created: str | None = None
    tools: list[str] = []

    metadata = root.get("metadata")
    if metadata is not None:
        if type(metadata) is not dict:
            raise _wrong_type(source, "/metadata", "metadata", "an object")
        timestamp = metadata.get("timestamp")
        if timestamp is not None:
            if type(timestamp) is not str:
                raise _wrong_type(source, "/metadata/timestamp", "timestamp", "a string")
            created = timestamp
        tools = _tools(metadata.get("tools"))
        subject = metadata.get("component")
        if subject is not None:
            builder.root_index = len(builder.packages)
            _flatten([subject], "/metadata", builder, single=True)
            name = builder.packages[builder.root_index].name

    components = root.get("components")
    if components is not None:
        if type(components) is not list:
            raise _wrong_type(source, "/components", "components", "an array")
        _flatten(components, "", builder, single=False)

    dependencies = root.get("dependencies")
    if dependencies is not None:
        if type(dependencies) is not list:
            raise _wrong_type(source, "/dependencies", "dependencies", "an array")
        _dependencies(dependencies, builder)

    serial = root.get("serialNumber")
    return builder.build(
        spec_version=spec_version,
        encoding="json",
        name=name,
        serial=serial if type(serial) is str else None,
        created=created,
        tools=tools,
    )


def _flatten(components: list[Any], base: str, builder: DocumentBuilder, *, single: bool) -> None:
    """Pre-order walk (children right after their parent) with an explicit stack of
    iterators, since an operator may raise the depth limit. This loop is the reader's hot
    path: checks are inlined and a precise error is worked out only once something is
    wrong."""
    first: Iterator[tuple[int | str, Any]]
    if single:
        first = iter([("", components[0])])
        base += "/component"
    else:
        first = enumerate(components)
        base += "/components/"
    stack: list[tuple[Iterator[tuple[int | str, Any]], str, int]] = [(first, base, -1)]
    source = builder.source
    packages = builder.packages
    places = builder.places
    declared = builder.declared
    while stack:
        items, prefix, parent = stack[-1]
        for position, c in items:
            place = f"{prefix}{position}"
            if type(c) is not dict:
                raise _wrong_type(source, place, "a component", "an object")
            get = c.get
            name = get("name")
            ref = get("bom-ref")
            version = get("version")
            group = get("group")
            cpe = get("cpe")
            kind = get("type")
            if not (
                type(name) is str
                and (ref is None or type(ref) is str)
                and (version is None or type(version) is str)
                and (group is None or type(group) is str)
                and (cpe is None or type(cpe) is str)
                and (kind is None or type(kind) is str)
            ):
                raise _field_error(c, place, source)
            scope = get("scope")
            if scope is not None and (type(scope) is not str or scope not in SCOPES):
                raise _scope_error(scope, place, source)
            purl = get("purl")
            if purl is not None:
                if type(purl) is not str:
                    raise _wrong_type(source, place + "/purl", "purl", "a string")
                try:
                    purl = normalize_purl(purl)
                except ValueError as exc:
                    raise InputError(source, place + "/purl", f"malformed purl: {exc}") from None
            supplier = get("supplier")
            if supplier is not None:
                if type(supplier) is not dict:
                    raise _wrong_type(source, place + "/supplier", "supplier", "an object")
                supplier = supplier.get("name")
                if supplier is not None and type(supplier) is not str:
                    raise _wrong_type(source, place + "/supplier/name", "supplier name", "a string")
            licenses = get("licenses")
            hashes = get("hashes")
            # Positional: 2.5x faster than keywords for a slots dataclass, and this runs per
            # component. Order: ref, name, version, purl, cpe, licenses, hashes, scope,
            # supplier, type, group, parent_ref (mypy checks the types).
            package = SbomPackage(
                "",
                name,
                version,
                purl,
                cpe,
                [] if licenses is None else _licenses(licenses, place, source),
                {} if hashes is None else _hashes(hashes, place, source),
                scope,
                supplier,
                kind,
                group,
                None,
            )
            index = len(packages)  # inlined DocumentBuilder.add: this runs per component
            if ref is None:
                builder.unnamed.append(index)
            else:
                if not ref or ref in declared:
                    raise builder.ref_error(ref, place)
                declared[ref] = index
                package.ref = ref
            if parent >= 0:
                builder.children.append((index, parent))
            packages.append(package)
            places.append(place)
            children = get("components")
            if children:
                if type(children) is not list:
                    raise _wrong_type(source, place + "/components", "components", "an array")
                stack.append((enumerate(children), place + "/components/", index))
                break  # the children first; this iterator resumes after them
            if children is not None and type(children) is not list:
                raise _wrong_type(source, place + "/components", "components", "an array")
        else:
            stack.pop()


def _field_error(c: dict[str, Any], place: str, source: str) -> InputError:
    name = c.get("name")
    if name is None:
        return InputError(source, place, "component has no name")
    for key in ("name", "bom-ref", "version", "group", "cpe", "type"):
        value = c.get(key)
        if value is not None and type(value) is not str:
            return _wrong_type(source, f"{place}/{key}", key, "a string")
    return InputError(source, place, "malformed component")  # pragma: no cover


def _scope_error(scope: Any, place: str, source: str) -> InputError:
    return InputError(
        source,
        place + "/scope",
        f"scope {scope!r} is not one of {', '.join(sorted(SCOPES))}",
    )


def _licenses(entries: Any, place: str, source: str) -> list[str]:
    if type(entries) is not list:
        raise _wrong_type(source, place + "/licenses", "licenses", "an array")
    out: list[str] = []
    for entry in entries:
        if type(entry) is dict:
            license_ = entry.get("license")
            if license_ is not None:
                if type(license_) is dict and "expression" not in entry:
                    value = license_.get("id")
                    if value is None:
                        value = license_.get("name")
                        if value is None:  # CycloneDX for .NET gives only a URL
                            value = license_.get("url")
                    if type(value) is str:
                        out.append(value)
                        continue
            else:
                expression = entry.get("expression")
                if type(expression) is str:
                    out.append(spdx_license_expression(expression))
                    continue
        raise _license_error(entries, place, source)
    return out


def _license_error(entries: list[Any], place: str, source: str) -> InputError:
    for i, entry in enumerate(entries):
        where = f"{place}/licenses/{i}"
        if type(entry) is not dict:
            return _wrong_type(source, where, "a licence entry", "an object")
        license_ = entry.get("license")
        expression = entry.get("expression")
        if license_ is not None and expression is not None:
            return InputError(source, where, "licence entry has both 'license' and 'expression'")
        if license_ is None and expression is None:
            return InputError(source, where, "licence entry has neither 'license' nor 'expression'")
        if expression is not None and type(expression) is not str:
            return _wrong_type(source, where + "/expression", "expression", "a string")
        if license_ is not None:
            if type(license_) is not dict:
                return _wrong_type(source, where + "/license", "license", "an object")
            for key in ("id", "name", "url"):
                value = license_.get(key)
                if value is not None:
                    if type(value) is not str:
                        return _wrong_type(
                            source, f"{where}/license/{key}", f"licence {key}", "a string"
                        )
                    break
            else:
                return InputError(source, where + "/license", "licence has neither id nor name")
    return InputError(source, place + "/licenses", "malformed licences")  # pragma: no cover


_ALG_INFO: dict[str, tuple[str, int]] = {}
"""alg as written -> (canonical name, hex length or 0); bounded, fed by untrusted input."""


def _alg_info(alg: str) -> tuple[str, int]:
    info = _ALG_INFO.get(alg)
    if info is None:
        name = normalize_hash_alg(alg)
        info = (name, HASH_HEX_LENGTHS.get(name, 0))
        if len(_ALG_INFO) < 256:
            _ALG_INFO[alg] = info
    return info


def _hashes(entries: Any, place: str, source: str) -> dict[str, str]:
    if type(entries) is not list:
        raise _wrong_type(source, place + "/hashes", "hashes", "an array")
    out: dict[str, str] = {}
    for entry in entries:
        if type(entry) is not dict:
            raise _hash_error(entries, place, source)
        alg = entry.get("alg")
        content = entry.get("content")
        if type(alg) is not str or type(content) is not str:
            raise _hash_error(entries, place, source)
        name, expected = _ALG_INFO.get(alg) or _alg_info(alg)
        # Fast path: bytes.fromhex validates in C; it also skips spaces, hence the length.
        try:
            size = len(bytes.fromhex(content)) * 2
        except ValueError:
            size = -1
        if size == len(content) and size and (expected == size or not expected):
            out[name] = content.lower()
            continue
        try:
            name, digest = normalize_hash(alg, content)
        except ValueError:
            continue  # a broken digest is dropped, not guessed at (see module doc)
        out[name] = digest
    return out


def _hash_error(entries: list[Any], place: str, source: str) -> InputError:
    for i, entry in enumerate(entries):
        if type(entry) is not dict:
            return _wrong_type(source, f"{place}/hashes/{i}", "a hash", "an object")
        for key in ("alg", "content"):
            if type(entry.get(key)) is not str:
                return _wrong_type(source, f"{place}/hashes/{i}/{key}", key, "a string")
    return InputError(source, place + "/hashes", "malformed hashes")  # pragma: no cover


def _dependencies(entries: list[Any], builder: DocumentBuilder) -> None:
    source = builder.source
    edges = builder.edges
    extend = edges.extend
    first = len(edges)
    for i, entry in enumerate(entries):
        if type(entry) is not dict:
            raise _wrong_type(source, f"/dependencies/{i}", "a dependency", "an object")
        ref = entry.get("ref")
        if type(ref) is not str or not ref:
            if ref is None:
                raise InputError(source, f"/dependencies/{i}", "dependency has no ref")
            raise _wrong_type(source, f"/dependencies/{i}/ref", "ref", "a non-empty string")
        depends_on = entry.get("dependsOn")
        if type(depends_on) is list:
            extend(zip(repeat(ref), depends_on))
        elif depends_on is not None:
            raise _wrong_type(source, f"/dependencies/{i}/dependsOn", "dependsOn", "an array")
    # The targets are checked in one C-level pass; the place is found only on failure.
    targets = list(map(_second, edges[first:]))
    if not all(map(_is_str, targets)) or "" in targets:
        for i, entry in enumerate(entries):
            for j, target in enumerate(entry.get("dependsOn") or ()):
                if type(target) is not str or not target:
                    raise _wrong_type(
                        source, f"/dependencies/{i}/dependsOn/{j}", "a ref", "a non-empty string"
                    )


_second = itemgetter(1)
_is_str = str.__instancecheck__


def _tools(tools: Any) -> list[str]:
    """Tool names for provenance. Best effort: tools never fail a document."""
    entries: list[Any] = []
    if type(tools) is list:  # 1.2-1.4 (deprecated in 1.5+)
        entries = tools
    elif type(tools) is dict:  # 1.5+: {components: [...], services: [...]}
        for key in ("components", "services"):
            value = tools.get(key)
            if type(value) is list:
                entries.extend(value)
    out: list[str] = []
    for entry in entries:
        if type(entry) is dict:
            vendor = entry.get("vendor") or entry.get("group")
            label = tool_label(vendor, entry.get("name"), entry.get("version"))
            if label:
                out.append(label)
    return out
