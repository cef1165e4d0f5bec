"""Loading the KB and company overlays; hostile overlays are refused with file and place."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.kb.loader import MAX_FILE_BYTES, KnowledgeBase, load_kb

BASE = Path(__file__).parents[1] / "services" / "fixtures" / "threats" / "kb"


def overlay(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "overlay"
    folder.mkdir(exist_ok=True)
    (folder / "overlay.yaml").write_text(text)
    return folder


def test_overlay_adds_overrides_disables(tmp_path: Path) -> None:
    folder = overlay(
        tmp_path,
        """
version: acme-3
changelog:
  - {version: acme-3, date: "2026-11-01", changes: [company samples]}
disable_threats: [T-XXE]
control_texts:
  C-PARAMS: {title: Use the ORM or bound parameters}
code_samples:
  C-PARAMS:
    - {language: python, framework: django, code: "Order.objects.filter(id=order_id)"}
controls:
  - id: C-ACME-REVIEW
    title: Security review by the AppSec guild
    description: Book a review.
    priority: medium
    mitigates: [T-SQLI]
    test_plan: [Check the review ticket is closed]
""",
    )
    kb = load_kb(BASE, overlay=folder)
    assert kb.version == "1.0+acme-3"
    assert "T-XXE" not in kb.threats
    assert "C-XML" not in kb.controls  # it mitigated only the disabled threat
    assert kb.controls["C-PARAMS"].title == "Use the ORM or bound parameters"
    first = kb.controls["C-PARAMS"].code_samples[0]
    assert (first.framework, first.approved) == ("django", True)
    assert [c.id for c in kb.controls_by_threat["T-SQLI"]] == ["C-PARAMS", "C-ACME-REVIEW"]
    assert KnowledgeBase.from_data(kb.to_data()).digest == kb.digest


def test_env_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHWARD_KB_PATH", str(overlay(tmp_path, "version: x1\n")))
    assert load_kb(BASE).version == "1.0+x1"


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        (
            "version: x\ncontrols:\n  - {id: C-X, title: X, description: d, priority: low, "
            "mitigates: [T-SQLI], test_plan: [step], "
            "applies_when: {fact: survey.zone, regex: '.*'}}\n",
            "overlay (C-X) field controls.0.applies_when",
            "OP one of",
        ),
        (
            "version: x\nthreats:\n  - {id: T-X, title: X, stride: spoofing, description: d, "
            "applies_when: {fact: survey.colour, equals: red}}\n",
            "threat T-X applies_when",
            "unknown fact 'survey.colour'",
        ),
        (
            "version: x\ncontrols:\n  - {id: C-X, title: X, description: d, priority: low, "
            "mitigates: [T-NOPE], test_plan: [step]}\n",
            "control C-X mitigates",
            "unknown threat 'T-NOPE'",
        ),
        ("version: x\ndisable_threats: [T-NOPE]\n", "disable_threats T-NOPE", "no such entry"),
        ("version: x\nscripts: [rm -rf]\n", "overlay field scripts", "Extra inputs"),
        (
            "version: !!python/object/apply:os.system ['echo owned']\n",
            "line 1",
            "could not determine a constructor",
        ),
        (
            "version: x\ncontrols:\n  - {id: C-X, title: X, description: d, priority: urgent, "
            "mitigates: [T-SQLI], test_plan: [step]}\n",
            "overlay (C-X) field controls.0.priority",
            "Input should be",
        ),
    ],
)
def test_hostile_or_wrong_overlays(tmp_path: Path, text: str, place: str, message: str) -> None:
    folder = overlay(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_kb(BASE, overlay=folder)
    error = caught.value
    assert error.source.endswith("overlay.yaml")
    assert error.place is not None and place in error.place
    assert message in error.message


def test_billion_laughs_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    folder = overlay(tmp_path, "version: x\n" + "\n".join(lines) + "\n")
    with pytest.raises(InputError, match="alias bomb"):
        load_kb(BASE, overlay=folder)


def test_huge_and_deep_files_refused(tmp_path: Path) -> None:
    folder = overlay(tmp_path, "version: x\n# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(InputError, match="larger than"):
        load_kb(BASE, overlay=folder)
    folder = overlay(tmp_path, "version: x\nthreats: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(InputError, match="nesting deeper"):
        load_kb(BASE, overlay=folder)


def test_every_problem_reported(tmp_path: Path) -> None:
    folder = overlay(tmp_path, "version: x\ndisable_threats: [T-A, T-B]\n")
    with pytest.raises(InputError) as caught:
        load_kb(BASE, overlay=folder)
    assert "(and 1 more problems)" in str(caught.value)


def test_not_a_kb_or_overlay(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no kb\.yaml"):
        load_kb(tmp_path)
    with pytest.raises(InputError, match=r"no overlay\.yaml"):
        load_kb(BASE, overlay=tmp_path)


def test_duplicate_ids(tmp_path: Path) -> None:
    folder = overlay(
        tmp_path,
        "version: x\nthreats:\n  - {id: T-SQLI, title: again, stride: spoofing, "
        "description: d, applies_when: {always: true}}\n",
    )
    with pytest.raises(InputError, match="duplicate id"):
        load_kb(BASE, overlay=folder)
