"""The whole real OSV corpus, matched against real SBOMs and real manifests (../shared)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from meshward.services import catalog, findings
from meshward.services.advisories import import_advisories
from meshward.services.findings import FindingFilter
from meshward.services.sboms import sbom_from_manifest_paths, upload_sbom


@pytest.mark.shared
def test_real_corpus_against_real_estates(session: Session, shared_data: Path) -> None:
    boutique = shared_data / "apps" / "online-boutique" / "v0.3.0" / "src"
    for service in sorted(p for p in boutique.iterdir() if p.is_dir()):
        catalog.create_component(session, service.name)
        sbom_from_manifest_paths(session, service.name, "0.3.0", [service])
    bridge = shared_data / "sboms" / "cyclonedx" / "bom-examples" / "SBOM" / "proton-bridge"
    catalog.create_component(session, "proton-bridge")
    for version, name in (
        ("1.6.3", "proton-bridge-v1.6.3.bom.json"),
        ("1.8.0", "proton-bridge-v1.8.0.bom.xml"),
    ):
        upload_sbom(session, "proton-bridge", version, (bridge / name).read_bytes(), name)

    report = import_advisories(session, [shared_data / "osv"])  # every record, zero errors
    assert report.read > 15_000 and report.withdrawn > 0

    rows = findings.list_findings(session, FindingFilter())
    per_component = Counter(r.component for r in rows)
    # Python services pin urllib3 1.25.10: CVE-2023-43804 (fixed in 1.26.17) from PyPA's records
    email = findings.list_findings(
        session, FindingFilter(component="emailservice", vulnerability="CVE-2023-43804")
    )
    assert [(r.installed, r.fixed_version, r.severity) for r in email] == [
        ("1.25.10", "1.26.17", "high")
    ]
    for go_service in ("frontend", "checkoutservice", "productcatalogservice", "shippingservice"):
        assert per_component[go_service] > 5  # Go vulndb against their go.mod requires
    assert per_component["proton-bridge"] > 0
    old = findings.list_findings(session, FindingFilter(component="proton-bridge", version="1.6.3"))
    new = findings.list_findings(session, FindingFilter(component="proton-bridge", version="1.8.0"))
    assert old and new
    # every finding carries a known vulnerability id and a purl from the SBOM
    assert all(r.vulnerability and r.purl.startswith("pkg:") for r in rows)
