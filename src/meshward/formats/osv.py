"""OSV advisories in: one record, a folder of records, or an osv.dev ``all.zip``.

The reader keeps the whole record (typed fields plus the decoded dict in ``raw``) so the store
can re-derive anything later without a re-download, and it never touches the database.
It is strict about structure and types (a wrong type is an ``InputError`` naming the JSON
pointer) but lenient about meaning: unknown fields, unknown range types, a range without an
``introduced`` event are kept as given; the range evaluation in ``meshward.ecosystems.ranges``
decides what they match.

Zip archives are read member by member, in memory, never unpacked: osv.dev's ``all.zip`` for
one ecosystem holds hundreds of thousands of members, and a hostile archive must not be able
to fill the disk or the memory.
"""

from __future__ import annotations

import lzma
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import load_json
from meshward.limits import DEFAULT_LIMITS, Limits

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")

MAX_COMPRESSION_RATIO = 500
"""Uncompressed/compressed size above which a zip member is refused as a bomb. Real OSV
records compress 3-50x (AlmaLinux errata, one near-identical entry per sub-package, are the
most repetitive); deflate reaches ~1000x only on degenerate input such as a run of spaces.
The per-member size cap (``Limits.max_bytes``) stays the hard bound either way."""
RATIO_CHECK_FLOOR = 1024 * 1024
"""Members smaller than this are never refused for their ratio (a tiny member is harmless)."""

ErrorHandler = Callable[[InputError], None]

_UNPACK_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
)


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Severity:
    type: str
    """``CVSS_V2``, ``CVSS_V3``, ``CVSS_V4``, ``Ubuntu`` or a newer type, as given."""
    score: str
    """A CVSS vector for the CVSS types; an Ubuntu priority (``medium``) for ``Ubuntu``."""

    @property
    def base_score(self) -> float | None:
        return severity_score(self.score) if self.type.startswith("CVSS_") else None


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    """``introduced``, ``fixed``, ``last_affected`` or ``limit``."""
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str
    """``SEMVER``, ``ECOSYSTEM`` or ``GIT`` (other values kept as given)."""
    events: tuple[Event, ...]
    repo: str | None = None
    database_specific: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Package:
    ecosystem: str
    """As in the record, suffix included: ``PyPI``, ``AlmaLinux:8``, ``Ubuntu:Pro:20.04:LTS``."""
    name: str
    purl: str | None = None

    @property
    def base_ecosystem(self) -> str:
        """The ecosystem without its release/repository suffix (``AlmaLinux`` for
        ``AlmaLinux:8``, ``Maven`` for ``Maven:https://maven.google.com``)."""
        return self.ecosystem.split(":", 1)[0]

    @property
    def ecosystem_suffix(self) -> str | None:
        _, sep, suffix = self.ecosystem.partition(":")
        return suffix if sep else None


@dataclass(frozen=True, slots=True)
class Affected:
    package: Package | None
    """None for commit-only entries (a GIT range on a repository, no package ecosystem)."""
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: tuple[Severity, ...] = ()
    ecosystem_specific: dict[str, Any] | None = None
    database_specific: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    type: str
    url: str


@dataclass(frozen=True, slots=True)
class Credit:
    name: str
    contact: tuple[str, ...] = ()
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    modified: str
    """RFC 3339 text exactly as given; ``modified_at`` parses it."""
    published: str | None = None
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    summary: str | None = None
    details: str | None = None
    severity: tuple[Severity, ...] = ()
    affected: tuple[Affected, ...] = ()
    references: tuple[Reference, ...] = ()
    credits: tuple[Credit, ...] = ()
    database_specific: dict[str, Any] | None = None
    schema_version: str | None = None
    """None when absent, which the spec says means 1.0.0."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The record as decoded, every field kept, for storage."""
    source: str | None = field(default=None, compare=False)
    """Where it was read from: a file path, or ``archive.zip#member.json``."""

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn is not None

    @property
    def modified_at(self) -> datetime | None:
        return parse_timestamp(self.modified)

    @property
    def published_at(self) -> datetime | None:
        return parse_timestamp(self.published)

    @property
    def withdrawn_at(self) -> datetime | None:
        return parse_timestamp(self.withdrawn)

    @property
    def all_ids(self) -> tuple[str, ...]:
        """The id followed by its aliases: every name this vulnerability is known by here."""
        return (self.id, *self.aliases)


def parse_timestamp(text: str | None) -> datetime | None:
    """RFC 3339 (``2021-03-08T16:02:43Z``, any fraction length) to an aware datetime;
    None when absent or unreadable (the text itself stays on the record)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------- parsing


class _RecordParser:
    """Walks one decoded record; every complaint names the JSON pointer of the culprit.

    Keys are the schema's own names, which hold no ``~`` or ``/``, so pointers need no
    escaping."""

    __slots__ = ("place_prefix", "source")

    def __init__(self, source: str, place_prefix: str | None) -> None:
        self.source = source
        self.place_prefix = place_prefix

    @property
    def origin(self) -> str:
        return f"{self.source}#{self.place_prefix}" if self.place_prefix else self.source

    def fail(self, pointer: str, message: str) -> InputError:
        where = pointer or "/"
        place = f"{self.place_prefix}#{where}" if self.place_prefix else where
        return InputError(self.source, place, message)

    # -- scalar helpers

    def text(self, obj: Mapping[str, Any], key: str, pointer: str) -> str | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{pointer}/{key}", f"{key} must be a string")
        return value

    def required_text(self, obj: Mapping[str, Any], key: str, pointer: str) -> str:
        value = self.text(obj, key, pointer)
        if value is None or not value.strip():
            raise self.fail(f"{pointer}/{key}", f"{key} is required")
        return value

    def texts(self, obj: Mapping[str, Any], key: str, pointer: str) -> tuple[str, ...]:
        values = self.items(obj, key, pointer)
        for index, item in enumerate(values):
            if not isinstance(item, str):
                raise self.fail(f"{pointer}/{key}/{index}", f"{key} entries must be strings")
        return tuple(values)

    def items(self, obj: Mapping[str, Any], key: str, pointer: str) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{pointer}/{key}", f"{key} must be an array")
        return value

    def mapping(self, obj: Mapping[str, Any], key: str, pointer: str) -> dict[str, Any] | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(f"{pointer}/{key}", f"{key} must be an object")
        return value

    def objects(
        self, obj: Mapping[str, Any], key: str, pointer: str
    ) -> Iterator[tuple[dict[str, Any], str]]:
        here = f"{pointer}/{key}"
        for index, item in enumerate(self.items(obj, key, pointer)):
            if not isinstance(item, dict):
                raise self.fail(f"{here}/{index}", f"{key} entries must be objects")
            yield item, f"{here}/{index}"

    # -- structure

    def advisory(self, obj: Any) -> Advisory:
        if not isinstance(obj, dict):
            raise self.fail("", "an OSV record must be a JSON object")
        return Advisory(
            id=self.required_text(obj, "id", ""),
            modified=self.required_text(obj, "modified", ""),
            published=self.text(obj, "published", ""),
            withdrawn=self.text(obj, "withdrawn", ""),
            aliases=self.texts(obj, "aliases", ""),
            related=self.texts(obj, "related", ""),
            upstream=self.texts(obj, "upstream", ""),
            summary=self.text(obj, "summary", ""),
            details=self.text(obj, "details", ""),
            severity=self.severities(obj, ""),
            affected=tuple(self.affected(a, p) for a, p in self.objects(obj, "affected", "")),
            references=tuple(
                Reference(self.required_text(r, "type", p), self.required_text(r, "url", p))
                for r, p in self.objects(obj, "references", "")
            ),
            credits=tuple(
                Credit(
                    self.required_text(c, "name", p),
                    self.texts(c, "contact", p),
                    self.text(c, "type", p),
                )
                for c, p in self.objects(obj, "credits", "")
            ),
            database_specific=self.mapping(obj, "database_specific", ""),
            schema_version=self.text(obj, "schema_version", ""),
            raw=obj,
            source=self.origin,
        )

    def severities(self, obj: Mapping[str, Any], pointer: str) -> tuple[Severity, ...]:
        return tuple(
            Severity(self.required_text(s, "type", p), self.required_text(s, "score", p))
            for s, p in self.objects(obj, "severity", pointer)
        )

    def affected(self, obj: dict[str, Any], pointer: str) -> Affected:
        package: Package | None = None
        raw_package = self.mapping(obj, "package", pointer)
        if raw_package is not None:
            here = f"{pointer}/package"
            package = Package(
                ecosystem=self.required_text(raw_package, "ecosystem", here),
                name=self.required_text(raw_package, "name", here),
                purl=self.text(raw_package, "purl", here),
            )
        return Affected(
            package=package,
            ranges=tuple(self.range(r, p) for r, p in self.objects(obj, "ranges", pointer)),
            versions=self.texts(obj, "versions", pointer),
            severity=self.severities(obj, pointer),
            ecosystem_specific=self.mapping(obj, "ecosystem_specific", pointer),
            database_specific=self.mapping(obj, "database_specific", pointer),
        )

    def range(self, obj: dict[str, Any], pointer: str) -> Range:
        if obj.get("events") is None:
            raise self.fail(f"{pointer}/events", "events is required")
        events: list[Event] = []
        for raw_event, here in self.objects(obj, "events", pointer):
            kinds = [kind for kind in EVENT_KINDS if kind in raw_event]
            if len(kinds) != 1:
                raise self.fail(
                    here,
                    "an event needs exactly one of introduced, fixed, last_affected, limit",
                )
            events.append(Event(kinds[0], self.required_text(raw_event, kinds[0], here)))
        return Range(
            type=self.required_text(obj, "type", pointer),
            events=tuple(events),
            repo=self.text(obj, "repo", pointer),
            database_specific=self.mapping(obj, "database_specific", pointer),
        )


def parse_advisory(obj: Any, source: str, place: str | None = None) -> Advisory:
    """One decoded OSV record to an ``Advisory``. ``place`` prefixes every error's JSON pointer
    (a zip member name); ``source`` names the file."""
    return _RecordParser(source, place).advisory(obj)


def read_advisory_bytes(
    data: bytes, source: str, limits: Limits = DEFAULT_LIMITS, *, place: str | None = None
) -> Advisory:
    """One OSV JSON document (size, depth and number limits enforced by ``load_json``)."""
    try:
        obj = load_json(data, source, limits)
    except InputError as exc:
        if place is None:
            raise
        inner = f"#{exc.place}" if exc.place else ""
        raise InputError(source, f"{place}{inner}", exc.message) from exc
    return parse_advisory(obj, source, place)


def iter_advisories(
    path: Path, limits: Limits = DEFAULT_LIMITS, *, on_error: ErrorHandler | None = None
) -> Iterator[Advisory]:
    """Every record under ``path``: a ``.json`` file, a folder tree of ``*.json`` (sorted,
    symlinked folders not followed), or a zip archive such as osv.dev's ``all.zip``.

    A bad record raises ``InputError``, unless ``on_error`` is given: then it is handed the
    error and the walk goes on (one broken record should not block a feed of 100,000).
    An unreadable archive or path always raises.
    """
    path = Path(path)
    if path.is_dir():
        yield from _iter_directory(path, limits, on_error)
    elif zipfile.is_zipfile(path):
        yield from _iter_zip(path, limits, on_error)
    elif path.is_file():
        advisory = _guarded(partial(_read_file, path, limits), on_error)
        if advisory is not None:
            yield advisory
    else:
        raise InputError(str(path), None, "no such file or directory")


def _guarded(read: Callable[[], Advisory], on_error: ErrorHandler | None) -> Advisory | None:
    if on_error is None:
        return read()
    try:
        return read()
    except InputError as exc:
        on_error(exc)
        return None


def _read_file(path: Path, limits: Limits) -> Advisory:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputError(
                source, None, f"file is {size} bytes, over the limit of {limits.max_bytes}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(source, None, f"cannot read: {exc.strerror or exc}") from exc
    return read_advisory_bytes(data, source, limits)


def _iter_directory(
    root: Path, limits: Limits, on_error: ErrorHandler | None
) -> Iterator[Advisory]:
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            if name.lower().endswith(".json"):
                file_path = Path(folder, name)
                advisory = _guarded(partial(_read_file, file_path, limits), on_error)
                if advisory is not None:
                    yield advisory


def _iter_zip(archive: Path, limits: Limits, on_error: ErrorHandler | None) -> Iterator[Advisory]:
    source = str(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(source, None, f"not a readable zip archive: {exc}") from exc
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".json"):
                continue
            advisory = _guarded(partial(_read_member, zf, info, source, limits), on_error)
            if advisory is not None:
                yield advisory


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, limits: Limits
) -> Advisory:
    member = info.filename
    if info.file_size > limits.max_bytes:
        raise InputError(
            source,
            member,
            f"member unpacks to {info.file_size} bytes, over the limit of {limits.max_bytes}",
        )
    if info.file_size > RATIO_CHECK_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(
        info.compress_size, 1
    ):
        raise InputError(
            source,
            member,
            f"member compresses {info.file_size // max(info.compress_size, 1)}:1, "
            f"refused as a zip bomb (limit {MAX_COMPRESSION_RATIO}:1)",
        )
    try:
        with zf.open(info) as stream:
            # The declared size bounds zipfile's output, but never trust a header alone.
            data = stream.read(limits.max_bytes + 1)
    except _UNPACK_ERRORS as exc:  # corrupt data, bad CRC, encrypted, unknown method
        raise InputError(source, member, f"cannot unpack member: {exc}") from exc
    if len(data) > limits.max_bytes:
        raise InputError(source, member, f"member is over the limit of {limits.max_bytes} bytes")
    return read_advisory_bytes(data, source, limits, place=member)


# --------------------------------------------------------------------------- severity


class SeverityLabel(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


_TEXT_LABELS = {
    "critical": SeverityLabel.CRITICAL,
    "high": SeverityLabel.HIGH,
    "important": SeverityLabel.HIGH,
    "moderate": SeverityLabel.MEDIUM,
    "medium": SeverityLabel.MEDIUM,
    "low": SeverityLabel.LOW,
    "negligible": SeverityLabel.LOW,
    "none": SeverityLabel.NONE,
}
"""GHSA (``MODERATE``), RustSec/Go/PyPI ecosystem_specific, Red Hat (``Important``) and
Ubuntu priorities (``negligible``) folded onto the CVSS qualitative scale."""


def severity_score(vector: str) -> float | None:
    """CVSS base score of a v2, v3.0/3.1 or v4.0 vector; None when it is not a valid one."""
    from cvss import CVSS2, CVSS3, CVSS4  # type: ignore[import-untyped]  # no py.typed
    from cvss.exceptions import CVSSError  # type: ignore[import-untyped]

    text = vector.strip()
    try:
        if text.startswith("CVSS:4."):
            return float(CVSS4(text).base_score)
        if text.startswith("CVSS:3."):
            return float(CVSS3(text).base_score)
        if text.startswith("CVSS:2.0/"):
            text = text.removeprefix("CVSS:2.0/")
        elif text.startswith("CVSS:"):
            return None
        return float(CVSS2(text).base_score)
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def severity_label(score: float | None) -> SeverityLabel | None:
    """The CVSS v3/v4 qualitative rating of a base score (0 none, <4 low, <7 medium, <9 high)."""
    if score is None:
        return None
    if score <= 0:
        return SeverityLabel.NONE
    if score < 4.0:
        return SeverityLabel.LOW
    if score < 7.0:
        return SeverityLabel.MEDIUM
    if score < 9.0:
        return SeverityLabel.HIGH
    return SeverityLabel.CRITICAL


def label_from_text(text: object) -> SeverityLabel | None:
    """A free-text rating (``HIGH``, ``MODERATE``, ``Important``, ``negligible``) or None."""
    if not isinstance(text, str):
        return None
    return _TEXT_LABELS.get(text.strip().lower())


@dataclass(frozen=True, slots=True)
class SeverityRating:
    score: float | None
    label: SeverityLabel | None
    source: str
    """What it came from: ``CVSS_V3 vector``, ``database_specific.severity`` ... or ``none``."""
    vector: str | None = None


_CVSS_PREFERENCE = {"CVSS_V4": 3, "CVSS_V3": 2, "CVSS_V2": 1}


def rate_severity(advisory: Advisory, affected: Affected | None = None) -> SeverityRating:
    """One score and label for an advisory (or one affected package of it).

    Vectors first, package-level before record-level (the spec allows only one of the two),
    the newest CVSS version that scores winning: it is the publisher's latest assessment.
    Then the databases' own words: ``database_specific.severity`` (GHSA),
    ``ecosystem_specific.severity`` (RustSec, Go), an ``Ubuntu`` priority.
    """
    vector_groups = [affected.severity] if affected is not None else []
    vector_groups.append(advisory.severity)
    for group in vector_groups:
        best: tuple[int, float, Severity] | None = None
        for item in group:
            rank = _CVSS_PREFERENCE.get(item.type)
            score = item.base_score if rank else None
            if rank and score is not None and (best is None or (rank, score) > best[:2]):
                best = (rank, score, item)
        if best is not None:
            _, score, item = best
            return SeverityRating(score, severity_label(score), f"{item.type} vector", item.score)
    holders: list[tuple[str, dict[str, Any] | None]] = []
    if affected is not None:
        holders.append(("affected.database_specific", affected.database_specific))
        holders.append(("affected.ecosystem_specific", affected.ecosystem_specific))
    holders.append(("database_specific", advisory.database_specific))
    for name, holder in holders:
        label = label_from_text((holder or {}).get("severity"))
        if label is not None:
            return SeverityRating(None, label, f"{name}.severity")
    for group in vector_groups:
        for item in group:
            if item.type == "Ubuntu" and (label := label_from_text(item.score)) is not None:
                return SeverityRating(None, label, "Ubuntu priority")
    return SeverityRating(None, None, "none")
