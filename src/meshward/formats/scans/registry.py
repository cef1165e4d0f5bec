"""Every scan-report reader, and ``read_scan``, which picks one from the content.

The file name is never trusted (``report.json`` may be SARIF, Semgrep, Bandit, ZAP, Trivy
or Grype). XML goes to the XML readers by their root element; JSON is decoded once with the
hardened loader and offered to each JSON reader by its top-level keys. Adding a format is
one module and one line in ``_READER_CLASSES``.
"""

from __future__ import annotations

import importlib

from meshward.errors import InputError
from meshward.formats.sbom.common import check_size, gc_paused, head_text, load_json
from meshward.formats.scans.interface import JsonScanReader, ScanReader, ScanReport, last_guard
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = ["READERS", "detect_format", "read_scan", "supported_formats"]

SNIFF_BYTES = 64 * 1024

_READER_CLASSES: list[tuple[str, str]] = [
    ("meshward.formats.scans.sarif", "SarifReader"),
    ("meshward.formats.scans.semgrep_json", "SemgrepJsonReader"),
    ("meshward.formats.scans.bandit_json", "BanditJsonReader"),
    ("meshward.formats.scans.zap_json", "ZapJsonReader"),
    ("meshward.formats.scans.trivy_json", "TrivyJsonReader"),
    ("meshward.formats.scans.grype_json", "GrypeJsonReader"),
    ("meshward.formats.scans.zap_xml", "ZapXmlReader"),
]


def _load_readers() -> list[ScanReader]:
    readers: list[ScanReader] = []
    for module_name, class_name in _READER_CLASSES:
        module = importlib.import_module(module_name)
        readers.append(getattr(module, class_name)())
    return readers


READERS: list[ScanReader] = _load_readers()


def supported_formats() -> str:
    return ", ".join(reader.format for reader in READERS)


def _unknown(source: str) -> InputError:
    return InputError(
        source, None, f"not a recognised scan report; supported formats: {supported_formats()}"
    )


def detect_format(data: bytes, source: str = "<input>", limits: Limits = DEFAULT_LIMITS) -> str:
    """The format name (``sarif``, ``zap-xml``, ...) of ``data``, judged by content."""
    return _pick(data, source, limits)[0].format


def _pick(data: bytes, source: str, limits: Limits) -> tuple[ScanReader, object]:
    """The reader, plus the decoded JSON root when detection had to decode it."""
    text = head_text(data[:SNIFF_BYTES])
    if text.startswith("<"):
        for reader in READERS:
            if not isinstance(reader, JsonScanReader) and reader.sniff(data[:SNIFF_BYTES]):
                return reader, None
        raise _unknown(source)
    if not text.startswith(("{", "[")):
        raise _unknown(source)
    root = load_json(data, source, limits)
    for reader in READERS:
        if isinstance(reader, JsonScanReader) and reader.accepts(root):
            return reader, root
    raise _unknown(source)


def read_scan(
    data: bytes,
    source: str,
    tool_hint: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ScanReport:
    """Detect the format from the content and read the report. Raises only ``InputError``.

    ``tool_hint`` names the tool when the report does not (a SARIF run without a driver
    name); a name in the report always wins.
    """
    check_size(data, source, limits)
    # Normalising allocates a dataclass or more per result; with the decoded tree alive,
    # each cyclic-GC pass would walk all of it (2-3x slower on a 50,000-result log).
    with last_guard(source), gc_paused():
        reader, root = _pick(data, source, limits)
        if root is not None and isinstance(reader, JsonScanReader):
            return reader.from_json(root, source, tool_hint)
        return reader.read(data, source, tool_hint, limits)
