"""FIRST's Exploit Prediction Scoring System (EPSS) daily CSV, in (plain or gzip).

The file starts with a comment line naming the model and the day scored
(``#model_version:v2025.03.14,score_date:2025-06-01T12:55:00Z``), then the header
``cve,epss,percentile`` and one row per CVE (about 280,000). ``epss`` is the probability of
exploitation activity in the next 30 days, ``percentile`` its rank among all scored CVEs.
The reader refuses a damaged file as a whole, naming the line, so an import is
all-or-nothing; it never touches the database.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zlib
from dataclasses import dataclass
from datetime import date

from meshward.errors import InputError
from meshward.formats.sbom.common import check_size, to_utf8
from meshward.limits import DEFAULT_LIMITS, Limits

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
GZIP_MAGIC = b"\x1f\x8b"
MAX_FIELD = 200
"""Longest field accepted: a CVE id or a decimal number is far shorter."""


@dataclass(frozen=True, slots=True)
class EpssScore:
    cve: str
    score: float
    percentile: float


@dataclass(frozen=True, slots=True)
class EpssFile:
    model_version: str | None
    score_date: date | None
    scores: tuple[EpssScore, ...]


def read_epss(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> EpssFile:
    """Parse an EPSS CSV; any malformed line is an ``InputError`` naming it."""
    check_size(data, source, limits)
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(data, source, limits)
    try:
        text = to_utf8(data, source).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"byte {exc.start}", "not valid UTF-8 text") from None
    lines = io.StringIO(text, newline="")
    model_version: str | None = None
    score_date: date | None = None
    first = lines.readline()
    line_no = 1
    if first.startswith("#"):
        model_version, score_date = _comment(first[1:].strip(), source)
        header_line = lines.readline()
        line_no = 2
    else:
        header_line = first
    header = [h.strip().lower() for h in next(csv.reader([header_line]), [])]
    if header[:3] != ["cve", "epss", "percentile"]:
        raise InputError(
            source, f"line {line_no}", f"expected the header cve,epss,percentile, got {header!r}"
        )
    scores: list[EpssScore] = []
    seen: set[str] = set()
    reader = csv.reader(lines)
    try:
        for offset, row in enumerate(reader, start=line_no + 1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            place = f"line {offset}"
            if len(row) < 3:
                raise InputError(source, place, f"expected 3 fields, got {len(row)}")
            if any(len(field) > MAX_FIELD for field in row):
                raise InputError(source, place, f"field longer than {MAX_FIELD} characters")
            cve = row[0].strip().upper()
            if not CVE_ID.fullmatch(cve):
                raise InputError(source, place, f"not a CVE id: {row[0]!r}")
            if cve in seen:
                raise InputError(source, place, f"{cve} is listed twice")
            seen.add(cve)
            scores.append(
                EpssScore(
                    cve,
                    _probability(row[1], source, place, "epss"),
                    _probability(row[2], source, place, "percentile"),
                )
            )
    except csv.Error as exc:
        raise InputError(source, f"line {reader.line_num + line_no}", str(exc)) from None
    return EpssFile(model_version, score_date, tuple(scores))


def _gunzip(data: bytes, source: str, limits: Limits) -> bytes:
    """Decompress with the size limit applied to the output, so a gzip bomb stops early."""
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(1024 * 1024):
                out.write(chunk)
                if out.tell() > limits.max_bytes:
                    raise InputError(
                        source,
                        None,
                        f"decompresses to more than the limit of {limits.max_bytes:,} bytes",
                    )
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(source, None, f"not a readable gzip file: {exc}") from None
    return out.getvalue()


def _comment(text: str, source: str) -> tuple[str | None, date | None]:
    """``model_version:v2023.03.01,score_date:2023-06-14T00:00:00+0000``."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    model = fields.get("model_version") or None
    raw_date = fields.get("score_date")
    if not raw_date:
        return model, None
    try:
        return model, date.fromisoformat(raw_date[:10])
    except ValueError:
        raise InputError(source, "line 1", f"score_date is not a date: {raw_date!r}") from None


def _probability(text: str, source: str, place: str, name: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError(source, place, f"{name} is not a number: {text!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise InputError(source, place, f"{name} must be between 0 and 1, got {text!r}")
    return value
