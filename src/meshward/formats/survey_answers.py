"""A survey answers file: one YAML or JSON mapping of question id to answer.

The file comes from a person or a pipeline, so it is read like every other untrusted input:
bounded in size and nesting, JSON through the strict reader, YAML through the hardened loader
(no tags beyond JSON types, no alias bombs). Only the shape is checked here; whether each
answer fits its question is the survey's business (``threat_models.answer_survey``).
"""

from __future__ import annotations

from typing import Any

from meshward.errors import InputError
from meshward.formats.safe_yaml import load_yaml_documents
from meshward.formats.sbom.common import load_json
from meshward.limits import Limits

ANSWERS_LIMITS = Limits(max_bytes=256 * 1024, max_depth=8)
"""A survey is a few dozen short answers; anything near these bounds is not one."""


def read_answers(data: bytes, source: str, limits: Limits = ANSWERS_LIMITS) -> dict[str, Any]:
    if len(data) > limits.max_bytes:
        raise InputError(source, None, f"{len(data):,} bytes: larger than {limits.max_bytes:,}")
    if data.lstrip()[:1] == b"{":
        root = load_json(data, source, limits)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(source, f"byte {exc.start}", "not UTF-8 text") from None
        documents = load_yaml_documents(text, source, limits)
        if len(documents) != 1:
            raise InputError(source, None, f"expected one document, found {len(documents)}")
        root = documents[0][1]
    if not isinstance(root, dict):
        raise InputError(source, "/", "expected a mapping of question id to answer")
    for key in root:
        if not isinstance(key, str):
            raise InputError(source, f"/{key}", "question ids are text")
    return root
