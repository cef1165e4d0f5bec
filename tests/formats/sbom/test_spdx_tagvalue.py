"""SPDX 2.2 / 2.3 tag-value reader: fixtures, line-numbered errors, the corpus, fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshward.errors import InputError
from meshward.formats.sbom.interface import SbomDocument
from meshward.formats.sbom.spdx_json import SpdxJsonReader
from meshward.formats.sbom.spdx_tagvalue import SpdxTagValueReader
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures" / "spdx"
SHOP = FIXTURES / "shop-2.3.spdx"
READER = SpdxTagValueReader()

MINIMAL = """SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: tiny
PackageName: left-pad
SPDXID: SPDXRef-left-pad
PackageVersion: 1.3.0
ExternalRef: PACKAGE-MANAGER purl pkg:npm/left-pad@1.3.0
"""


def read(text: str | bytes, limits: Limits | None = None) -> SbomDocument:
    data = text.encode() if isinstance(text, str) else text
    if limits is None:
        return READER.read(data, "sbom.spdx")
    return READER.read(data, "sbom.spdx", limits)


def error_of(text: str | bytes, limits: Limits | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        read(text, limits)
    assert info.value.source == "sbom.spdx"
    return info.value


# --------------------------------------------------------------------------- the fixture


def test_same_document_as_the_json_rendering() -> None:
    from_tv = READER.read(SHOP.read_bytes(), "shop.spdx")
    from_json = SpdxJsonReader().read((FIXTURES / "shop-2.3.spdx.json").read_bytes(), "j")
    assert (from_tv.format, from_tv.spec_version, from_tv.encoding) == ("SPDX", "2.3", "tag-value")
    as_tv = dataclasses.asdict(from_tv)
    as_json = dataclasses.asdict(from_json)
    as_tv.pop("encoding")
    as_json.pop("encoding")
    assert as_tv == as_json


def test_reads_fields() -> None:
    doc = READER.read(SHOP.read_bytes(), "shop.spdx")
    # "PackageName: not-a-package" and "SPDXID: ..." inside <text> blocks are text, not tags
    assert [p.name for p in doc.packages] == ["shop-api", "Django", "sqlparse", "openssl"]
    django = doc.packages[1]
    assert django.purl == "pkg:pypi/django@4.2.1"
    assert django.hashes["SHA-256"].startswith("7e4225ec")
    assert django.licenses == ["BSD-3-Clause"]
    assert doc.packages[3].type == "operating-system"
    assert doc.tools == ["syft-1.0.1"]
    assert doc.root_refs == ["SPDXRef-shop-api"]
    assert doc.dependencies == [
        ("SPDXRef-shop-api", "SPDXRef-django"),
        ("SPDXRef-django", "SPDXRef-sqlparse"),
        ("SPDXRef-shop-api", "SPDXRef-openssl"),
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(newline: str) -> None:
    doc = read(MINIMAL.replace("\n", newline))
    assert [(p.ref, p.version, p.purl) for p in doc.packages] == [
        ("SPDXRef-left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0")
    ]


def test_multi_line_text_and_comments() -> None:
    text = MINIMAL.replace(
        "PackageVersion: 1.3.0\n",
        "PackageDescription: <text>line one\n# not a comment\nSPDXID: not-an-id\n"
        "PackageVersion: 9.9.9</text>\n  # an indented comment\n\nPackageVersion: 1.3.0\n",
    )
    doc = read(text)
    assert doc.packages[0].version == "1.3.0"
    assert doc.packages[0].ref == "SPDXRef-left-pad"


def test_text_on_one_line_and_spdx_2_1() -> None:
    text = MINIMAL.replace("SPDX-2.3", "SPDX-2.1") + "PackageLicenseConcluded: <text>MIT</text>\n"
    doc = read(text)
    assert doc.spec_version == "2.1"
    assert doc.packages[0].licenses == ["MIT"]


def test_utf8_bom() -> None:
    assert len(read(b"\xef\xbb\xbf" + MINIMAL.encode()).packages) == 1


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (SHOP.read_bytes()[:200], True),
        (b"\n\nSPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\n", True),
        (b"SPDXVersion: SPDX-2.2\rDataLicense: CC0-1.0\r", True),
        (b"\xef\xbb\xbfSPDXVersion: SPDX-2.3\n", True),
        (b'{"spdxVersion": "SPDX-2.3"}', False),
        (b"<?xml version='1.0'?><bom/>", False),
        (b"", False),
        (b"\x00\x01\x02", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert READER.sniff(head) is expected


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "place", "fragment"),
    [
        (MINIMAL.replace("DocumentName: tiny", "DocumentName tiny"), "line 4", "Tag: value"),
        (MINIMAL + "PackageComment: <text>never\nclosed\n", "line 9", "never closed"),
        (
            MINIMAL.replace("PackageName: left-pad\nSPDXID: SPDXRef-left-pad\n", ""),
            "line 5",
            "outside a package section",
        ),
        (MINIMAL.replace("SPDXID: SPDXRef-left-pad\n", ""), "line 5", "has no SPDXID"),
        (MINIMAL.replace("PackageName: left-pad", "PackageName:"), "line 5", "must not be empty"),
        (
            MINIMAL + "SPDXID: SPDXRef-other\n",
            "line 9",
            "a second SPDXID for package",
        ),
        (
            MINIMAL + "PackageName: b\nSPDXID: SPDXRef-left-pad\n",
            "line 10",
            "duplicate SPDXID",
        ),
        (
            MINIMAL.replace("pkg:npm/left-pad@1.3.0", "pkg:npm"),
            "line 8",
            "bad purl",
        ),
        (
            MINIMAL.replace("PACKAGE-MANAGER purl pkg", "purl:pkg"),
            "line 8",
            "ExternalRef: <CATEGORY>",
        ),
        (MINIMAL + "PackageChecksum: abc\n", "line 9", "PackageChecksum: <ALGORITHM>"),
        (
            MINIMAL + "FileName: ./a.js\nSPDXID: SPDXRef-a\nPackageVersion: 2\n",
            "line 11",
            "outside a package section",
        ),
        (MINIMAL + "Relationship: SPDXRef-a DEPENDS_ON\n", "line 9", "Relationship: <id>"),
        (MINIMAL + "SPDXVersion: SPDX-2.3\n", "line 9", "one document per file"),
        (MINIMAL.replace("SPDX-2.3", "SPDX-3.0"), "line 1", "unsupported SPDX version"),
        ("DataLicense: CC0-1.0\nSPDXVersion: SPDX-2.3\n", "line 1", "before SPDXVersion"),
        (
            MINIMAL.replace("PackageName: left-pad", "SPDXID: SPDXRef-Package\nPackageName: x"),
            "line 5",
            "a second document SPDXID",
        ),
        (MINIMAL.encode().replace(b"tiny", b"t\xffny"), "line 4", "not valid UTF-8"),
        (MINIMAL.replace("tiny", "t\x00ny"), "line 4", "NUL"),
    ],
)
def test_bad_documents_name_the_line(text: str | bytes, place: str, fragment: str) -> None:
    error = error_of(text)
    assert error.place == place
    assert fragment in error.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no SPDXVersion"),
        ("# only a comment\n\n", "no SPDXVersion"),
        ("SPDXVersion: SPDX-2.3\nPackageName: x\nSPDXID: SPDXRef-x\n", "no SPDXID"),
    ],
)
def test_bad_documents_without_a_line(text: str, fragment: str) -> None:
    error = error_of(text)
    assert error.place is None
    assert fragment in error.message


def test_size_limit() -> None:
    assert "larger than the limit" in error_of(MINIMAL, Limits(max_bytes=50)).message


# --------------------------------------------------------------------------- shared corpus

TAG_VALUE_REJECTS = {
    # the file was cut off in the middle of a licence text (3,407,872 bytes = 0x340000)
    "bom-shelter-in-the-wild/istio-source.spdx": "line 59827",
    # every element's SPDXID is written before its FileName/PackageName, and all 13
    # packages share the id SPDXRef-Package
    "bom-shelter-in-the-wild/vast-sbom.spdx": "line 7",
}

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def package_name_lines(data: bytes) -> int:
    """An independent count: lines that start with ``PackageName:``."""
    text = data.decode("utf-8", errors="replace")
    return sum(1 for line in _LINE_BREAK.split(text) if line.startswith("PackageName:"))


@pytest.mark.shared
def test_corpus_package_counts(shared_data: Path) -> None:
    base = shared_data / "sboms" / "spdx"
    files = [p for p in sorted(base.rglob("*")) if p.is_file() and READER.sniff(p.read_bytes())]
    assert len(files) >= 30
    accepted, problems = 0, []
    for path in files:
        name = path.relative_to(base).as_posix()
        data = path.read_bytes()
        try:
            doc = READER.read(data, name)
        except InputError as exc:
            if exc.place != TAG_VALUE_REJECTS.get(name, "accepted"):
                problems.append(f"{name}: unexpected {exc}")
            continue
        if name in TAG_VALUE_REJECTS:
            problems.append(f"{name}: accepted, expected an error")
            continue
        if len(doc.packages) != package_name_lines(data):
            problems.append(
                f"{name}: {len(doc.packages)} packages, line scan says {package_name_lines(data)}"
            )
        accepted += 1
    assert not problems, "\n".join(problems)
    # .spdx files with tag-value content, and grype-sbom-modified.spdx.json (tag-value too)
    assert accepted >= 30


# --------------------------------------------------------------------------- fuzzing

TAGS = [
    "SPDXVersion",
    "SPDXID",
    "PackageName",
    "PackageVersion",
    "ExternalRef",
    "PackageChecksum",
    "PackageLicenseConcluded",
    "PackageLicenseDeclared",
    "PackageSupplier",
    "PrimaryPackagePurpose",
    "Relationship",
    "FileName",
    "LicenseID",
    "SnippetSPDXID",
    "Creator",
    "PackageComment",
]
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "<text>",
            "</text>",
            "<text>a</text>",
            "SPDX-2.3",
            "SPDXRef-django",
            "SPDXRef-DOCUMENT DESCRIBES SPDXRef-django",
            "SPDXRef-django DEPENDS_ON SPDXRef-sqlparse",
            "PACKAGE-MANAGER purl pkg:npm/a@1",
            "PACKAGE-MANAGER purl pkg:",
            "SECURITY cpe23Type cpe:2.3:a:b:c:1",
            "SHA256: abc",
            "NOASSERTION",
            "Organization: ()",
        ]
    ),
)
LINES = st.one_of(
    st.builds(lambda t, v: f"{t}: {v}", st.sampled_from(TAGS), VALUES),
    st.text(max_size=40),
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHOP_LINES = SHOP.read_text().splitlines()


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    READER.sniff(data)
    with contextlib.suppress(InputError):
        READER.read(data, "fuzz.spdx")


@FUZZ
@given(st.lists(LINES, max_size=20))
def test_fuzz_lines(lines: list[str]) -> None:
    text = "\n".join(["SPDXVersion: SPDX-2.3", "SPDXID: SPDXRef-DOCUMENT", *lines])
    with contextlib.suppress(InputError):
        READER.read(text.encode("utf-8", errors="surrogatepass"), "fuzz.spdx")


@FUZZ
@given(st.data())
def test_fuzz_mutated_documents(data: st.DataObject) -> None:
    lines = list(SHOP_LINES)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        op = data.draw(st.sampled_from(["delete", "duplicate", "replace", "insert", "swap", "cut"]))
        index = data.draw(st.integers(min_value=0, max_value=max(0, len(lines) - 1)))
        if not lines:
            lines.append(data.draw(LINES))
        elif op == "delete":
            del lines[index]
        elif op == "duplicate":
            lines.insert(index, lines[index])
        elif op == "replace":
            lines[index] = data.draw(LINES)
        elif op == "insert":
            lines.insert(index, data.draw(LINES))
        elif op == "swap":
            other = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        else:
            lines[index] = lines[index][: data.draw(st.integers(0, len(lines[index])))]
    encoded = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    READER.sniff(encoded)
    try:
        READER.read(encoded, "fuzz.spdx")
    except InputError as exc:
        assert exc.source == "fuzz.spdx"
