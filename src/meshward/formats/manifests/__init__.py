"""Lockfiles and build manifests in: an SBOM for teams that have no SBOM generator."""
