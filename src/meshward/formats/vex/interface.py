"""The normalised VEX statement every VEX reader produces and every VEX writer takes, and
the mapping between meshward's finding analysis states and the two outside vocabularies.

Readers only parse and normalise; the vulns service decides what a statement does to a
finding. ``status`` is always in OpenVEX's vocabulary (the smaller one); the CycloneDX
reader keeps the original ``analysis.state`` in ``cyclonedx_state`` only when it says
more than ``status`` does (``false_positive``, ``resolved_with_pedigree``), so a
CycloneDX round trip loses nothing and an OpenVEX one carries no CycloneDX residue.

State mappings (meshward -> OpenVEX / CycloneDX -> meshward), with the lossy choices:

=================  ==========================  ===================  ======================
meshward state     OpenVEX status              CycloneDX state      back to meshward
=================  ==========================  ===================  ======================
open               under_investigation         in_triage            in_triage (lossy)
in_triage          under_investigation         in_triage            in_triage
exploitable        affected                    exploitable          exploitable
not_affected       not_affected (+ its         not_affected (+ its  not_affected
                   justification, if any)      justification)
false_positive     not_affected +              false_positive       OpenVEX: not_affected
                   component_not_present                            (lossy); CycloneDX:
                   (unless one was given)                           false_positive
fixed              fixed                       resolved             fixed
=================  ==========================  ===================  ======================

- ``open`` means "matched, nobody has looked": neither vocabulary has that, and "someone
  should investigate" (under_investigation / in_triage) is the honest claim to publish.
- A false positive is a scanner matching an advisory to a package that is not really the
  vulnerable one: in OpenVEX terms the vulnerable component is not present.
- CycloneDX ``resolved_with_pedigree`` reads as ``fixed`` (the pedigree is not kept).

Justifications are kept as written by readers; writers translate them into their own
vocabulary with ``justification_to_openvex`` / ``justification_to_cyclonedx`` (tables
below; several CycloneDX reasons collapse onto one OpenVEX reason, so that direction is
lossy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CYCLONEDX_JUSTIFICATIONS",
    "CYCLONEDX_STATES",
    "MESHWARD_STATES",
    "OPENVEX_JUSTIFICATIONS",
    "OPENVEX_STATUSES",
    "VexDocument",
    "VexStatement",
    "cyclonedx_state_for_status",
    "cyclonedx_to_state",
    "justification_to_cyclonedx",
    "justification_to_openvex",
    "openvex_status_for_cyclonedx",
    "openvex_to_state",
    "state_to_cyclonedx",
    "state_to_openvex",
    "statement_state",
]

MESHWARD_STATES = ("open", "in_triage", "exploitable", "not_affected", "false_positive", "fixed")
OPENVEX_STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
CYCLONEDX_STATES = (
    "resolved",
    "resolved_with_pedigree",
    "exploitable",
    "in_triage",
    "false_positive",
    "not_affected",
)
OPENVEX_JUSTIFICATIONS = (
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
CYCLONEDX_JUSTIFICATIONS = (
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
)


@dataclass(slots=True)
class VexStatement:
    """One claim: ``vulnerability`` has ``status`` in ``product`` (through its
    ``subcomponents``, when named)."""

    vulnerability: str
    """The id as written (``CVE-...``, ``GHSA-...``, ``PYSEC-...``)."""
    aliases: list[str]
    """Other names of the vulnerability, when the document gives them."""
    product: str
    """Purl, bom-ref, BOM-Link or OpenVEX product ``@id`` of the affected product (the
    component version), as written."""
    subcomponents: list[str]
    """The packages concerned inside the product: canonical purls where the document gives
    or lets us resolve one, otherwise the reference as written."""
    status: str
    """OpenVEX vocabulary: ``not_affected``, ``affected``, ``fixed``, ``under_investigation``."""
    justification: str | None
    """OpenVEX or CycloneDX justification name, as written."""
    detail: str | None
    """impact_statement / action_statement / status_notes, or CycloneDX analysis.detail."""
    timestamp: str | None
    """When the statement was made or last updated (inherits the document's)."""
    author: str | None
    """Who made it (the document's author: neither format names one per statement)."""
    cyclonedx_state: str | None = field(default=None)
    """The CycloneDX analysis.state when it is finer than ``status`` (``false_positive``,
    ``resolved_with_pedigree``); None otherwise."""


@dataclass(slots=True)
class VexDocument:
    format: str
    """``OpenVEX`` or ``CycloneDX``."""
    spec_version: str
    author: str | None
    timestamp: str | None
    statements: list[VexStatement]


# --------------------------------------------------------------------------- justifications

_CYCLONEDX_TO_OPENVEX_JUSTIFICATION = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_dependency": "component_not_present",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
_OPENVEX_TO_CYCLONEDX_JUSTIFICATION = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}


def justification_to_openvex(justification: str | None) -> str | None:
    """The OpenVEX name for a justification written in either vocabulary.

    ``ValueError`` for a name in neither: a writer must not publish a made-up reason."""
    if justification is None or justification in OPENVEX_JUSTIFICATIONS:
        return justification
    try:
        return _CYCLONEDX_TO_OPENVEX_JUSTIFICATION[justification]
    except KeyError:
        raise ValueError(f"unknown VEX justification {justification!r}") from None


def justification_to_cyclonedx(justification: str | None) -> str | None:
    """The CycloneDX name for a justification written in either vocabulary (see above)."""
    if justification is None or justification in CYCLONEDX_JUSTIFICATIONS:
        return justification
    try:
        return _OPENVEX_TO_CYCLONEDX_JUSTIFICATION[justification]
    except KeyError:
        raise ValueError(f"unknown VEX justification {justification!r}") from None


# --------------------------------------------------------------------------- statuses

_CYCLONEDX_TO_OPENVEX_STATUS = {
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "affected",
    "in_triage": "under_investigation",
    "false_positive": "not_affected",
    "not_affected": "not_affected",
}
_OPENVEX_TO_CYCLONEDX_STATE = {
    "not_affected": "not_affected",
    "affected": "exploitable",
    "fixed": "resolved",
    "under_investigation": "in_triage",
}


def openvex_status_for_cyclonedx(state: str) -> str:
    """OpenVEX status for a CycloneDX analysis.state (``ValueError`` when unknown)."""
    try:
        return _CYCLONEDX_TO_OPENVEX_STATUS[state]
    except KeyError:
        raise ValueError(f"unknown CycloneDX analysis state {state!r}") from None


def cyclonedx_state_for_status(status: str) -> str:
    """The plain CycloneDX analysis.state for an OpenVEX status (``ValueError`` when
    unknown); ``false_positive`` / ``resolved_with_pedigree`` come only from
    ``VexStatement.cyclonedx_state``."""
    try:
        return _OPENVEX_TO_CYCLONEDX_STATE[status]
    except KeyError:
        raise ValueError(f"unknown OpenVEX status {status!r}") from None


# --------------------------------------------------------------------------- meshward states

_STATE_TO_OPENVEX = {
    "open": "under_investigation",
    "in_triage": "under_investigation",
    "exploitable": "affected",
    "not_affected": "not_affected",
    "false_positive": "not_affected",
    "fixed": "fixed",
}
_OPENVEX_TO_STATE = {
    "under_investigation": "in_triage",
    "affected": "exploitable",
    "not_affected": "not_affected",
    "fixed": "fixed",
}
_STATE_TO_CYCLONEDX = {
    "open": "in_triage",
    "in_triage": "in_triage",
    "exploitable": "exploitable",
    "not_affected": "not_affected",
    "false_positive": "false_positive",
    "fixed": "resolved",
}
_CYCLONEDX_TO_STATE = {
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "exploitable",
    "in_triage": "in_triage",
    "false_positive": "false_positive",
    "not_affected": "not_affected",
}


def _check_state(state: str) -> None:
    if state not in MESHWARD_STATES:
        raise ValueError(f"unknown finding analysis state {state!r}")


def state_to_openvex(state: str, justification: str | None = None) -> tuple[str, str | None]:
    """``(status, justification)`` to publish in OpenVEX for a finding's analysis.

    A justification is only published with ``not_affected`` (OpenVEX allows it nowhere
    else); a false positive without one gets ``component_not_present``."""
    _check_state(state)
    status = _STATE_TO_OPENVEX[state]
    if status != "not_affected":
        return status, None
    reason = justification_to_openvex(justification)
    if reason is None and state == "false_positive":
        reason = "component_not_present"
    return status, reason


def openvex_to_state(status: str) -> str:
    """The finding analysis state an OpenVEX status sets (never ``open`` or
    ``false_positive``: OpenVEX cannot say either)."""
    try:
        return _OPENVEX_TO_STATE[status]
    except KeyError:
        raise ValueError(f"unknown OpenVEX status {status!r}") from None


def state_to_cyclonedx(state: str, justification: str | None = None) -> tuple[str, str | None]:
    """``(analysis.state, analysis.justification)`` to publish in CycloneDX.

    As in OpenVEX, a justification goes only with ``not_affected``."""
    _check_state(state)
    cdx_state = _STATE_TO_CYCLONEDX[state]
    if cdx_state != "not_affected":
        return cdx_state, None
    return cdx_state, justification_to_cyclonedx(justification)


def cyclonedx_to_state(state: str) -> str:
    """The finding analysis state a CycloneDX analysis.state sets."""
    try:
        return _CYCLONEDX_TO_STATE[state]
    except KeyError:
        raise ValueError(f"unknown CycloneDX analysis state {state!r}") from None


def statement_state(statement: VexStatement) -> str:
    """The finding analysis state a read statement sets, using the finer CycloneDX state
    when the reader kept one."""
    if statement.cyclonedx_state is not None:
        return cyclonedx_to_state(statement.cyclonedx_state)
    return openvex_to_state(statement.status)
