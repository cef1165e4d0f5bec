"""Every SBOM reader, and the one entry point that picks one from a document's content.

The file name is never trusted: ``bom.json`` may be SPDX and ``sbom.txt`` CycloneDX XML.
Each reader's ``sniff`` looks at the first 64 KiB; a JSON document whose telling keys come
later (a producer that writes ``components`` before ``bomFormat``) is decoded once to look
at its top-level keys. Adding a format is one module and one line in ``_READER_CLASSES``.
"""

from __future__ import annotations

import importlib
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import check_size, head_text, load_json
from meshward.formats.sbom.interface import SbomDocument, SbomReader
from meshward.limits import DEFAULT_LIMITS, Limits

SNIFF_BYTES = 64 * 1024

_READER_CLASSES: list[tuple[str, str]] = [
    ("meshward.formats.sbom.cyclonedx_json", "CycloneDxJsonReader"),
    ("meshward.formats.sbom.cyclonedx_xml", "CycloneDxXmlReader"),
    ("meshward.formats.sbom.spdx3", "Spdx3Reader"),
    ("meshward.formats.sbom.spdx_json", "SpdxJsonReader"),
    ("meshward.formats.sbom.spdx_tagvalue", "SpdxTagValueReader"),
]


def _load_readers() -> list[SbomReader]:
    readers: list[SbomReader] = []
    for module_name, class_name in _READER_CLASSES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a reader still being written must not break the others
            continue
        readers.append(getattr(module, class_name)())
    return readers


READERS: list[SbomReader] = _load_readers()


def supported_formats() -> str:
    """``CycloneDX (json), CycloneDX (xml), ...`` for error messages."""
    return ", ".join(f"{reader.format} ({reader.encoding})" for reader in READERS)


def _reader_for(format_: str, encoding: str) -> SbomReader | None:
    for reader in READERS:
        if reader.format == format_ and reader.encoding == encoding:
            return reader
    return None


def _detect_from_keys(root: Any) -> SbomReader | None:
    """For a JSON document whose first 64 KiB did not say what it is."""
    if type(root) is not dict:
        return None
    if "bomFormat" in root or ("specVersion" in root and "components" in root):
        return _reader_for("CycloneDX", "json")
    if "spdxVersion" in root:
        return _reader_for("SPDX", "json")
    context = root.get("@context")
    if isinstance(context, str) and "spdx" in context.lower():
        return _reader_for("SPDX", "json-ld")
    return None


def detect(data: bytes, source: str = "<input>", limits: Limits = DEFAULT_LIMITS) -> SbomReader:
    """The reader for ``data``, judged by content; ``InputError`` listing the supported
    formats when none fits."""
    head = data[:SNIFF_BYTES]
    for reader in READERS:
        try:
            if reader.sniff(head):
                return reader
        except Exception:  # noqa: S112 - a sniff must not raise; a broken one just says no
            continue
    text = head_text(head)
    if text.startswith(("{", "[")):
        found = _detect_from_keys(load_json(data, source, limits))
        if found is not None:
            return found
    raise InputError(
        source,
        None,
        f"not a recognised SBOM; supported formats: {supported_formats()}",
    )


def read_sbom(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
    """Detect the format from the content and read the document. Raises only
    ``InputError``."""
    check_size(data, source, limits)
    try:
        reader = detect(data, source, limits)
        return reader.read(data, source, limits)
    except InputError:
        raise
    except Exception as exc:  # readers raise InputError only; this is the last guard
        raise InputError(source, None, f"could not read: {type(exc).__name__}: {exc}") from None
