"""Hard limits on what an importer accepts, so hostile input fails fast and clearly.

Every limit can be raised with an environment variable for the rare honest giant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw and raw.isdigit() else default


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 200 * 1024 * 1024
    """Largest document accepted (MESHWARD_MAX_DOCUMENT_BYTES)."""
    max_depth: int = 64
    """Deepest nesting of objects/arrays/elements (MESHWARD_MAX_DEPTH)."""
    max_number_digits: int = 64
    """Longest integer literal accepted in JSON."""

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_bytes=_env_int("MESHWARD_MAX_DOCUMENT_BYTES", cls.max_bytes),
            max_depth=_env_int("MESHWARD_MAX_DEPTH", cls.max_depth),
        )


DEFAULT_LIMITS = Limits()
