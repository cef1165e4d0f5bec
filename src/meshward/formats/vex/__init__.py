"""VEX in and out: OpenVEX and CycloneDX, as pure adapters (no database)."""

from meshward.formats.vex.cyclonedx_vex import read_cyclonedx_vex, write_cyclonedx_vex
from meshward.formats.vex.interface import (
    VexDocument,
    VexStatement,
    cyclonedx_to_state,
    openvex_to_state,
    state_to_cyclonedx,
    state_to_openvex,
    statement_state,
)
from meshward.formats.vex.openvex import read_openvex, write_openvex
from meshward.formats.vex.registry import read_vex

__all__ = [
    "VexDocument",
    "VexStatement",
    "cyclonedx_to_state",
    "openvex_to_state",
    "read_cyclonedx_vex",
    "read_openvex",
    "read_vex",
    "state_to_cyclonedx",
    "state_to_openvex",
    "statement_state",
    "write_cyclonedx_vex",
    "write_openvex",
]
