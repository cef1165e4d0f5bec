from __future__ import annotations

import pytest

from meshward.formats.scans.cwe import cwe_from_field, cwe_from_text, sorted_cwes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CWE-89", "CWE-89"),
        ("cwe-89", "CWE-89"),
        ("external/cwe/cwe-089", "CWE-89"),  # CodeQL, zero-padded
        ("external/cwe/cwe-79", "CWE-79"),  # Bandit SARIF
        ("external/cwe/cwe-None", None),  # Bandit: no CWE
        ("cwe-None", None),
        ("CWE-89: Improper Neutralization of Special Elements used in an SQL Command", "CWE-89"),
        ("CWE-0", None),
        ("CWE-00079", "CWE-79"),
        ("CWE79", "CWE-79"),
        ("security", None),
        ("89", None),  # a bare number in free text is not a CWE
        ("owasp-a03", None),
        ("cwe te", None),
        (89, None),
        (None, None),
    ],
)
def test_cwe_from_text(text: object, expected: str | None) -> None:
    assert cwe_from_text(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (89, "CWE-89"),
        ("89", "CWE-89"),
        (" 079 ", "CWE-79"),
        ("CWE-502", "CWE-502"),
        ("CWE-798: Use of Hard-coded Credentials", "CWE-798"),
        (0, None),
        (-1, None),
        ("-1", None),
        ("0", None),
        ("", None),
        (None, None),
        (True, None),
        (12345678, None),  # longer than any CWE id
        ({"id": 89}, None),
    ],
)
def test_cwe_from_field(value: object, expected: str | None) -> None:
    assert cwe_from_field(value) == expected


def test_sorted_cwes_dedupes_in_numeric_order() -> None:
    assert sorted_cwes(["CWE-89", None, "CWE-798", "CWE-79", "CWE-89"]) == (
        "CWE-79",
        "CWE-89",
        "CWE-798",
    )
