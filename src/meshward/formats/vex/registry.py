"""Read any VEX document meshward accepts, telling the format from the content.

OpenVEX JSON (also wrapped as the predicate of an in-toto attestation), CycloneDX JSON
and CycloneDX XML. JSON is decoded once and handed to the matching reader; adding a
format is one module and one branch here.
"""

from __future__ import annotations

from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import head_text, load_json
from meshward.formats.vex.cyclonedx_vex import (
    cyclonedx_vex_from_json,
    is_cyclonedx,
    read_cyclonedx_vex_xml,
)
from meshward.formats.vex.interface import VexDocument
from meshward.formats.vex.openvex import is_openvex, openvex_from_json
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = ["read_vex"]


def read_vex(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> VexDocument:
    """Parse an OpenVEX or CycloneDX VEX document; ``InputError`` when it is neither, or
    malformed, oversized or hostile."""
    if head_text(data[:1024]).startswith("<"):
        return read_cyclonedx_vex_xml(data, source, limits)
    root = load_json(data, source, limits)
    if is_openvex(root):
        return openvex_from_json(root, source)
    if is_cyclonedx(root):
        return cyclonedx_vex_from_json(root, source)
    predicate = _attested_openvex(root)
    if predicate is not None:
        return openvex_from_json(predicate, source, "/predicate")
    raise InputError(source, None, "not an OpenVEX or CycloneDX VEX document")


def _attested_openvex(root: Any) -> Any:
    """The OpenVEX predicate of an in-toto statement, or None."""
    if not isinstance(root, dict):
        return None
    predicate_type = root.get("predicateType")
    if isinstance(predicate_type, str) and predicate_type.startswith("https://openvex.dev/ns"):
        return root.get("predicate")
    return None
