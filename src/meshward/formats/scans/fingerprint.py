"""Finding fingerprints that stay the same across runs, so a re-scan updates findings
instead of duplicating them and a person's triage decision is not lost.

The choice, by kind of finding:

- **SARIF with a tool fingerprint.** The tool knows best: ``partialFingerprints`` first,
  taking the first well-known key present (``primaryLocationLineHash``, which CodeQL and
  GitHub compute from the line's content, not its number), else every key in sorted order;
  then full ``fingerprints`` the same way. Semgrep OSS writes the placeholder
  ``requires login``; placeholders are ignored.
- **SAST without one.** tool + rule id + the file (uri with backslashes turned into
  slashes, ``file://`` and a leading ``./`` dropped) + a hash of the snippet with its
  whitespace collapsed. Line numbers drift when code above the finding changes, so the line
  is used only when there is no snippet.
- **DAST.** tool + rule + method + URL with query *values* dropped (names kept, sorted:
  ``?id=7`` and ``?id=8`` are the same weakness) + parameter.
- **SCA.** tool + vulnerability id + package name + installed version.

Every fingerprint is a SHA-256 hex digest over the parts joined with NUL, prefixed with the
scheme (``tool:``, ``sast:``, ``dast:``, ``sca:``) so two schemes can never collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = [
    "dast_fingerprint",
    "normalize_uri",
    "sast_fingerprint",
    "sca_fingerprint",
    "tool_fingerprint",
]

WELL_KNOWN_KEYS = (
    "primaryLocationLineHash",
    "matchBasedId/v1",
)
"""Tried in this order; the first present wins."""
_PLACEHOLDERS = frozenset({"", "requires login"})


def _digest(scheme: str, *parts: object) -> str:
    joined = "\x00".join("" if part is None else str(part) for part in parts)
    return scheme + hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _pick(fingerprints: Mapping[str, object] | None) -> str | None:
    if not fingerprints:
        return None
    usable = {
        str(key): str(value)
        for key, value in fingerprints.items()
        if isinstance(value, str | int) and str(value) not in _PLACEHOLDERS
    }
    for key in WELL_KNOWN_KEYS:
        if key in usable:
            return f"{key}={usable[key]}"
    if not usable:
        return None
    return "&".join(f"{key}={usable[key]}" for key in sorted(usable))


def tool_fingerprint(
    tool: str,
    rule_id: str,
    partial: Mapping[str, object] | None,
    full: Mapping[str, object] | None,
) -> str | None:
    """From SARIF ``partialFingerprints`` / ``fingerprints``, or None when neither has a
    usable value. Tool and rule are mixed in because tools only promise uniqueness within a
    rule."""
    chosen = _pick(partial) or _pick(full)
    return None if chosen is None else _digest("tool:", tool, rule_id, chosen)


def normalize_uri(uri: str | None) -> str:
    """A file reference in one spelling: ``.\\src\\a.py`` and ``file:src/a.py`` -> ``src/a.py``."""
    if not uri:
        return ""
    text = uri.strip().replace("\\", "/")
    if text.lower().startswith("file://"):
        text = text[7:]
    elif text.lower().startswith("file:"):
        text = text[5:]
    while text.startswith("./"):
        text = text[2:]
    while "//" in text:
        text = text.replace("//", "/")
    return text


def _snippet_hash(snippet: str) -> str:
    return hashlib.sha256(" ".join(snippet.split()).encode("utf-8", "surrogatepass")).hexdigest()


def sast_fingerprint(
    tool: str, rule_id: str, uri: str | None, snippet: str | None, start_line: int | None
) -> str:
    """For a code finding the tool gave no fingerprint for."""
    if snippet and snippet.strip():
        anchor = "snippet:" + _snippet_hash(snippet)
    else:
        anchor = f"line:{start_line if start_line is not None else ''}"
    return _digest("sast:", tool, rule_id, normalize_uri(uri), anchor)


def _url_without_query_values(url: str | None) -> str:
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    except ValueError:
        return url.strip()
    query = "&".join(names)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def dast_fingerprint(
    tool: str, rule_id: str, method: str | None, url: str | None, param: str | None
) -> str:
    return _digest(
        "dast:", tool, rule_id, (method or "").upper(), _url_without_query_values(url), param
    )


def sca_fingerprint(
    tool: str, vulnerability_id: str | None, package: str | None, version: str | None
) -> str:
    return _digest("sca:", tool, vulnerability_id, package, version)
