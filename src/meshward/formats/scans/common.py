"""What every scan reader shares: shape checks that name the place, text clean-up, times,
severity scales, tool names and the result-count limit.

Decoding itself (size, depth, number length, DTDs) is the SBOM readers' hardened loading
(``formats.sbom.common.load_json``, ``formats.manifests.support.parse_xml``): one audited
path for every untrusted document.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from meshward.errors import InputError
from meshward.formats.sbom.common import json_pointer
from meshward.formats.scans.interface import Severity

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_SNIPPET_CHARS",
    "Place",
    "cap",
    "check_result_count",
    "html_to_text",
    "max_results",
    "parse_time",
    "read_results",
    "severity_from_score",
    "severity_from_word",
    "tool_name",
]

MAX_MESSAGE_CHARS = 4_000
MAX_SNIPPET_CHARS = 2_000
_DEFAULT_MAX_RESULTS = 1_000_000

T = TypeVar("T")


def max_results() -> int:
    """Most results one report may carry (MESHWARD_MAX_SCAN_RESULTS). A million is far past
    any honest scan; beyond it a file is a mistake or an attack on memory."""
    raw = os.environ.get("MESHWARD_MAX_SCAN_RESULTS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else _DEFAULT_MAX_RESULTS


def check_result_count(count: int, source: str, place: str) -> None:
    limit = max_results()
    if count > limit:
        raise InputError(
            source,
            place,
            f"{count:,} results, more than the limit of {limit:,} "
            "(raise MESHWARD_MAX_SCAN_RESULTS for an honest giant)",
        )


def read_results(
    top: Place, report: dict[str, Any], key: str, read: Callable[[Any, Place], T]
) -> list[T]:
    """A report's one flat, required result array, counted against the limit before any of
    it is normalised, each item read at its own place (Bandit, Semgrep, Grype)."""
    values = top.array(report.get(key), key, optional=False)
    check_result_count(len(values), top.source, f"/{key}")
    return [read(value, top / key / number) for number, value in enumerate(values)]


class Place:
    """A JSON pointer under construction plus typed accessors that fail with it.

    Readers walk untrusted JSON; every ``dict`` / ``list`` / ``str`` they expect is checked
    here so a wrong shape becomes an ``InputError`` at ``/runs/0/results/3/locations``
    rather than a ``TypeError`` somewhere below.
    """

    __slots__ = ("parts", "source")

    def __init__(self, source: str, *parts: str | int) -> None:
        self.source = source
        self.parts = parts

    def __truediv__(self, part: str | int) -> Place:
        return Place(self.source, *self.parts, part)

    def __str__(self) -> str:
        return json_pointer(*self.parts) or "/"

    def fail(self, message: str) -> NoReturn:
        raise InputError(self.source, str(self), message)

    def at(self, *parts: str | int) -> Place:
        return Place(self.source, *self.parts, *parts)

    # The accessors take the path below this place as trailing ``parts`` and only build the
    # longer pointer on failure: a 50,000-result log would otherwise allocate millions.

    def obj(self, value: Any, *parts: str | int, optional: bool = True) -> dict[str, Any]:
        """``value`` as an object; None/absent gives ``{}`` when optional."""
        if type(value) is dict:
            return value
        if value is None and optional:
            return {}
        self.at(*parts).fail(f"expected an object, found {_kind(value)}")

    def array(self, value: Any, *parts: str | int, optional: bool = True) -> list[Any]:
        if type(value) is list:
            return value
        if value is None and optional:
            return []
        self.at(*parts).fail(f"expected an array, found {_kind(value)}")

    def text(self, value: Any, *parts: str | int) -> str | None:
        """A string, a number turned into one, or None; anything else is an error."""
        if value is None or type(value) is str:
            return value
        if type(value) is int or type(value) is float:
            return str(value)
        self.at(*parts).fail(f"expected a string, found {_kind(value)}")

    def integer(self, value: Any, *parts: str | int) -> int | None:
        """A positive line or column number; junk is dropped (tools write ``0``/``-1`` for
        unknown), only a wrong JSON type is an error."""
        if value is None:
            return None
        if type(value) is int:
            return value if value > 0 else None
        if type(value) is str and value.strip().isdigit():
            number = int(value)
            return number if number > 0 else None
        if type(value) is float and value.is_integer() and value > 0:
            return int(value)
        if type(value) is str:
            return None
        self.at(*parts).fail(f"expected an integer, found {_kind(value)}")


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), "null")


def cap(text: str | None, limit: int) -> str | None:
    """Text at most ``limit`` characters, ending in an ellipsis when cut."""
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TAG = re.compile(r"<[^>]{0,2000}>")
_BLOCK_END = re.compile(r"</(?:p|li|div|br)\s*>|<br\s*/?>", re.IGNORECASE)


def html_to_text(text: str | None) -> str | None:
    """ZAP's descriptions are HTML fragments; the shape wants plain text."""
    if not text:
        return text
    spaced = _BLOCK_END.sub("\n", text)
    plain = html.unescape(_TAG.sub("", spaced))
    lines = (" ".join(line.split()) for line in plain.splitlines())
    return "\n".join(line for line in lines if line) or None


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (``Z`` allowed) or ZAP's ``Wed, 29 Oct 2025 10:53:54``; None otherwise.

    A time is context, not a finding: an odd one is dropped rather than failing the report.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for layout in ("%a, %d %b %Y %H:%M:%S", "%a, %d %b %Y %H:%M:%S %Z"):
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def severity_from_score(score: object) -> Severity | None:
    """A CVSS-like 0-10 score (SARIF ``security-severity``) on GitHub's bands: 9.0+
    critical, 7.0+ high, 4.0+ medium, 0.1+ low, else info."""
    try:
        number = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not 0.0 <= number <= 10.0:
        return None
    if number >= 9.0:
        return "critical"
    if number >= 7.0:
        return "high"
    if number >= 4.0:
        return "medium"
    if number >= 0.1:
        return "low"
    return "info"


_WORDS: dict[str, Severity] = {
    "critical": "critical",
    "blocker": "critical",
    "high": "high",
    "error": "high",
    "major": "high",
    "medium": "medium",
    "moderate": "medium",
    "warning": "medium",
    "low": "low",
    "minor": "low",
    "note": "low",
    "info": "info",
    "informational": "info",
    "information": "info",
    "negligible": "info",
    "none": "info",
    "unknown": "info",
    "undefined": "info",
}


def severity_from_word(word: object) -> Severity | None:
    """The tools' own words (``ERROR``, ``HIGH``, ``Negligible``, ``warning``) on our scale.
    SARIF ``level`` is one of them: error -> high, warning -> medium, note -> low."""
    if not isinstance(word, str):
        return None
    return _WORDS.get(word.strip().lower())


_KNOWN_TOOLS = (
    ("codeql", "codeql"),
    ("lgtm", "codeql"),
    ("semmle", "codeql"),
    ("semgrep", "semgrep"),
    ("bandit", "bandit"),
    ("eslint", "eslint"),
    ("owasp zap", "zap"),
    ("zap", "zap"),
    ("trivy", "trivy"),
    ("grype", "grype"),
)


def tool_name(name: str | None, hint: str | None = None) -> str:
    """Lower-case tool name, folding vendors' spellings (``Semgrep OSS``, ``CodeQL
    command-line toolchain``, ``LGTM.com``) into one; unknown tools are lower-cased as
    written. The hint (from the caller) fills in when the report names no tool."""
    text = " ".join((name or "").split()).lower()
    if not text:
        return " ".join((hint or "").split()).lower() or "unknown"
    for prefix, canonical in _KNOWN_TOOLS:
        if text == prefix or text.startswith(prefix + " ") or text.startswith(prefix + "."):
            return canonical
    return text
