"""A survey answers file: one YAML or JSON mapping of question id to answer.

The file comes from a person or a pipeline, so it is read like every other untrusted input:
bounded in size and nesting, JSON through the strict reader, YAML through the hardened loader
(no tags beyond JSON types, no alias bombs). Only the shape is checked here; whether each
answer fits its question is the survey's business (``threat_models.answer_survey``).
"""

from __future__ import annotations

from typing import Any

from meshward.errors import InputError
from meshward.formats.safe_yaml import load_config_document
from meshward.limits import Limits

ANSWERS_LIMITS = Limits(max_bytes=256 * 1024, max_depth=8)
"""A survey is a few dozen short answers; anything near these bounds is not one."""


def read_answers(data: bytes, source: str, limits: Limits = ANSWERS_LIMITS) -> dict[str, Any]:
    root = load_config_document(data, source, limits, empty={})
    if not isinstance(root, dict):
        raise InputError(source, "/", "expected a mapping of question id to answer")
    for key in root:
        if not isinstance(key, str):
            raise InputError(source, f"/{key}", "question ids are text")
    return root
