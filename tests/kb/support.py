"""What the KB content tests check against: the shipped content folder, the seven stacks a
central coding control must show, and the real ASVS and CWE catalogues in shared data."""

from __future__ import annotations

import json
from pathlib import Path

CONTENT = Path(__file__).resolve().parents[2] / "src" / "meshward" / "kb" / "content"

SEVEN_STACKS = {
    ("python", "django"),
    ("python", "flask"),
    ("python", "fastapi"),
    ("java", "spring"),
    ("go", None),
    ("javascript", "express"),
    ("csharp", "aspnetcore"),
}

# The two ASVS versions the KB may cite, each by its flat JSON export.
ASVS_EXPORTS = (("5.0.0", "*5.0.0_en.flat.json"), ("4.0.3", "*4.0.3-en.flat.json"))


def known_asvs_ids(shared_data: Path) -> set[str]:
    """Every requirement id of those exports, spelt as the KB cites it (``v5.0.0-1.2.3``)."""
    known: set[str] = set()
    for version, pattern in ASVS_EXPORTS:
        for path in (shared_data / "standards" / "asvs" / version).glob(pattern):
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data["requirements"] if isinstance(data, dict) else data
            known |= {f"v{version}-{row['req_id'].removeprefix('V')}" for row in rows}
    assert known, "no ASVS export found"
    return known


def asvs_5_chapter(ref: str) -> int | None:
    """The ASVS 5.0 chapter an id cites (``v5.0.0-11.2.1`` -> 11); None for other versions."""
    if not ref.startswith("v5.0.0-"):
        return None
    return int(ref.split("-")[1].split(".")[0])


def known_cwe_ids(shared_data: Path) -> set[int]:
    """Weakness and category ids of MITRE's CWE catalogue: both may be cited."""
    catalogue = shared_data / "standards" / "cwe"
    taxonomy = json.loads((catalogue / "CweTaxonomy.sarif").read_text(encoding="utf-8"))
    known = {int(t["id"][4:]) for tx in taxonomy["runs"][0]["taxonomies"] for t in tx["taxa"]}
    categories = json.loads((catalogue / "CweCategories.json").read_text(encoding="utf-8"))
    return known | {int(k[4:]) for k in categories["categories"]}
