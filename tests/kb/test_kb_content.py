"""The shipped KB as a whole: the floor issue 7 sets for content, and references that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshward.kb.loader import KnowledgeBase, load_kb

from .support import SEVEN_STACKS, asvs_5_chapter, known_asvs_ids

# CWE Top 25: the 2024 list and the 2025 list (the current one), so coverage holds across both.
CWE_TOP_25_2024 = {
    79,
    787,
    89,
    352,
    22,
    125,
    78,
    416,
    862,
    434,
    94,
    20,
    77,
    287,
    269,
    502,
    200,
    863,
    918,
    119,
    476,
    798,
    190,
    400,
    306,
}
CWE_TOP_25_2025 = {
    79,
    89,
    352,
    862,
    787,
    22,
    416,
    125,
    78,
    94,
    120,
    434,
    476,
    121,
    502,
    122,
    863,
    20,
    284,
    200,
    306,
    918,
    77,
    639,
    770,
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb(overlay=False)


def test_size_floor(kb: KnowledgeBase) -> None:
    assert len(kb.threats) >= 40
    assert len(kb.controls) >= 60
    assert len([t for t in kb.threats.values() if t.scope == "link"]) >= 8
    assert kb.changelog[0].version == kb.version


def test_every_threat_mitigated_and_every_control_testable(kb: KnowledgeBase) -> None:
    assert [t for t in kb.threats if not kb.controls_by_threat.get(t)] == []
    for control in kb.controls.values():
        assert len(control.test_plan) >= 3, control.id
    stride = {t.stride for t in kb.threats.values()}
    assert len(stride) == 6


def test_cwe_top_25_covered_by_controls(kb: KnowledgeBase) -> None:
    covered = {cwe for c in kb.controls.values() for cwe in c.verification.cwe}
    assert sorted((CWE_TOP_25_2024 | CWE_TOP_25_2025) - covered) == []


def test_code_samples_cover_the_stacks(kb: KnowledgeBase) -> None:
    present = {(s.language, s.framework) for c in kb.controls.values() for s in c.code_samples}
    assert present >= SEVEN_STACKS
    injection = kb.controls_by_threat["T-SQL-INJECTION"]
    assert any(
        {(s.language, s.framework) for s in c.code_samples} >= SEVEN_STACKS for c in injection
    )


def test_compliance_references_every_standard(kb: KnowledgeBase) -> None:
    standards = {s for c in kb.controls.values() for s in c.compliance}
    assert standards == {"pci-dss", "hipaa", "gdpr", "soc2", "nist-800-53"}


def test_scanner_coverage_names_real_controls(kb: KnowledgeBase) -> None:
    assert {"bandit", "semgrep", "codeql", "eslint", "zap", "trivy", "grype", "meshward"} <= set(
        kb.tools
    )
    assert "C-REVIEW-UNMAPPED-FINDINGS" in kb.controls


def test_asvs_ids_exist_and_cover_every_5_0_chapter(kb: KnowledgeBase, shared_data: Path) -> None:
    known = known_asvs_ids(shared_data)
    cited = {a for c in kb.controls.values() for a in c.asvs}
    assert sorted(cited - known) == []
    chapters = {asvs_5_chapter(a) for a in cited} - {None}
    all_chapters = {asvs_5_chapter(k) for k in known} - {None}
    assert chapters == all_chapters
