"""Every spelling of a CWE reference that scanners write, normalised to ``CWE-<n>``.

Tools disagree: SARIF rule tags say ``CWE-89`` or CodeQL's zero-padded
``external/cwe/cwe-089``; Bandit writes ``external/cwe/cwe-89`` and ``cwe-None`` for none;
Semgrep writes the title along (``CWE-89: Improper Neutralization ...``); Bandit JSON, ZAP
and Trivy give bare numbers or ``CWE-79`` strings, ZAP ``-1`` or ``0`` for none. Controls are
matched on the canonical id, so a missed spelling silently loses a verification.

Free text (tags, titles) is only trusted when it says ``CWE`` explicitly; a bare number is
only a CWE in a field that is known to hold one (``cweid``, ``issue_cwe.id``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["cwe_from_field", "cwe_from_text", "sorted_cwes"]

_MAX_CWE = 9_999_999
"""CWE ids are small (under 2,000 today); anything longer is not an id."""

_IN_TEXT = re.compile(r"^\s*(?:external/cwe/)?cwe[-_ :]?\s*0*(\d{1,7})(?!\d)", re.IGNORECASE)
_BARE = re.compile(r"^\s*0*(\d{1,7})\s*$")


def _canonical(digits: str) -> str | None:
    number = int(digits)
    return f"CWE-{number}" if 0 < number <= _MAX_CWE else None


def cwe_from_text(text: object) -> str | None:
    """``CWE-<n>`` from a tag or title that names a CWE explicitly, else None.

    ``external/cwe/cwe-089`` -> ``CWE-89``; ``CWE-89: Improper ...`` -> ``CWE-89``;
    ``cwe-None``, ``security``, ``89`` -> None.
    """
    if not isinstance(text, str):
        return None
    match = _IN_TEXT.match(text)
    return _canonical(match.group(1)) if match else None


def cwe_from_field(value: object) -> str | None:
    """``CWE-<n>`` from a field meant to hold a CWE: a number, a numeric string or any
    spelling ``cwe_from_text`` knows. Zero, negatives, empty and ``None`` mean none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"CWE-{value}" if 0 < value <= _MAX_CWE else None
    if isinstance(value, str):
        match = _BARE.match(value)
        if match:
            return _canonical(match.group(1))
        return cwe_from_text(value)
    return None


def sorted_cwes(ids: Iterable[str | None]) -> tuple[str, ...]:
    """Canonical ids deduplicated, in numeric order (``CWE-79`` before ``CWE-89``)."""
    unique = {cwe for cwe in ids if cwe}
    return tuple(sorted(unique, key=lambda cwe: int(cwe[4:])))
