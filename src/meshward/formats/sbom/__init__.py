"""SBOM formats in (CycloneDX, SPDX) and out (CycloneDX, VEX)."""
