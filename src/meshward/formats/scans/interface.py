"""The normalised scan report every SAST, DAST and SCA reader produces.

The verification service matches findings to threat-model controls by CWE and keeps them
across re-scans by fingerprint, so those two fields are what every reader must get right;
the rest is what a person needs to find and judge the finding. Everything is frozen: a
report is a value, read once and handed on. Readers only parse; they never touch a database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from meshward.errors import InputError
from meshward.formats.sbom.common import load_json
from meshward.limits import DEFAULT_LIMITS, Limits

Severity = Literal["critical", "high", "medium", "low", "info"]
"""Ordered from worst to least; ``SEVERITIES`` gives the order."""
ScanKind = Literal["sast", "dast", "sca"]
ScanFormat = Literal[
    "sarif", "semgrep-json", "bandit-json", "zap-json", "zap-xml", "trivy-json", "grype-json"
]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
FORMATS: tuple[ScanFormat, ...] = (
    "sarif",
    "semgrep-json",
    "bandit-json",
    "zap-json",
    "zap-xml",
    "trivy-json",
    "grype-json",
)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: a file region for SAST, a request for DAST, a file for SCA."""

    uri: str | None = None
    """File path or URI as the tool reported it, backslashes turned into slashes."""
    start_line: int | None = None
    end_line: int | None = None
    start_column: int | None = None
    url: str | None = None
    """DAST: the requested URL (query kept as reported)."""
    method: str | None = None
    """DAST: the HTTP method, upper-case."""
    param: str | None = None
    """DAST: the attacked parameter or header, when the tool names one."""


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding does not count: a ``nosemgrep`` comment, a triage decision in the tool."""

    kind: str
    """SARIF ``inSource`` / ``external``; ``falsePositive`` for a ZAP alert a person marked."""
    status: str | None = None
    """SARIF ``accepted`` / ``underReview`` / ``rejected``; None when the tool gave none."""
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class PackageRef:
    """SCA: the vulnerable package and the vulnerability that hit it."""

    name: str | None = None
    version: str | None = None
    purl: str | None = None
    vulnerability_id: str | None = None
    """``CVE-2021-44228``, ``GHSA-...``: the tool's primary id for the vulnerability."""
    fixed_version: str | None = None


@dataclass(frozen=True, slots=True)
class ScanFinding:
    tool: str
    """Lower-case tool name (``semgrep``, ``codeql``, ``zap``); per finding because one SARIF
    file may hold runs of several tools."""
    rule_id: str
    rule_name: str | None
    message: str
    """Plain text, at most ``MAX_MESSAGE_CHARS`` characters."""
    severity: Severity
    cwes: tuple[str, ...]
    """``CWE-<n>`` ids, deduplicated, in numeric order."""
    location: Location
    snippet: str | None
    """Offending code or DAST evidence, at most ``MAX_SNIPPET_CHARS`` characters."""
    fingerprint: str
    """Stable across runs of the same code; see ``formats.scans.fingerprint``."""
    suppressed: bool = False
    suppression: Suppression | None = None
    package: PackageRef | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanRule:
    """A rule the tool ran, found or not: evidence that a weakness was looked for."""

    tool: str
    rule_id: str
    name: str | None
    cwes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScanReport:
    format: ScanFormat
    tool: str
    """The report's (first run's) tool, lower-case."""
    tool_version: str | None
    kind: ScanKind
    started: datetime | None
    finished: datetime | None
    """Times in UTC when the report gives them with a zone; naive when it gives none."""
    target: str | None
    """What was scanned: a site URL, an image, a directory, when the report says."""
    results: list[ScanFinding]
    rules: tuple[ScanRule, ...] = field(default=())
    """Rules the report declares (SARIF ``tool.driver.rules``); empty for formats without."""


class ScanReader(ABC):
    """One outside scan-report format. Registered in ``formats.scans.registry``."""

    format: ScanFormat

    @abstractmethod
    def sniff(self, head: bytes) -> bool:
        """True when the first bytes (up to 64 KiB) look like ours. Cheap; never raises."""

    @abstractmethod
    def read(
        self,
        data: bytes,
        source: str,
        tool_hint: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> ScanReport:
        """Parse a whole report. Raise ``meshward.errors.InputError(source, place, msg)``
        for anything malformed, oversized or hostile; never any other exception."""


class JsonScanReader(ScanReader):
    """A JSON format: the registry decodes a document once and asks each JSON reader
    whether the decoded top level is its own, so detection never parses twice."""

    @abstractmethod
    def accepts(self, root: object) -> bool:
        """True when a decoded document's top level has this format's telling keys."""

    @abstractmethod
    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        """Normalise an already decoded (safely loaded) document."""

    def read(
        self,
        data: bytes,
        source: str,
        tool_hint: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> ScanReport:
        root = load_json(data, source, limits)
        with last_guard(source, self.format):
            return self.from_json(root, source, tool_hint)


@contextmanager
def last_guard(source: str, what: str | None = None) -> Iterator[None]:
    """Readers raise ``InputError`` only; should one have a bug, the user still gets an
    error naming the file (and ``what`` was being read) instead of a traceback."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        label = f"could not read {what}" if what else "could not read"
        raise InputError(source, None, f"{label}: {type(exc).__name__}: {exc}") from None
