"""Shared SBOM helpers: safe JSON loading, purl canonicalisation (fast path checked against
packageurl-python), hashes, encodings."""

from __future__ import annotations

import gc
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packageurl import PackageURL

from meshward.errors import InputError
from meshward.formats.sbom import common
from meshward.formats.sbom.common import (
    check_size,
    gc_paused,
    head_text,
    json_pointer,
    load_json,
    normalize_hash,
    normalize_hash_alg,
    normalize_hex,
    normalize_purl,
    spdx_license_expression,
    to_utf8,
)
from meshward.limits import Limits

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_purl(purl: str) -> str | None:
    """What packageurl-python alone says (None: it refuses the string)."""
    try:
        return str(PackageURL.from_string(purl).to_string())
    except Exception:
        return None


def ours(purl: str) -> str | None:
    try:
        return normalize_purl(purl)
    except ValueError:
        return None


# --------------------------------------------------------------------------- purls


@pytest.mark.parametrize(
    ("given_purl", "canonical"),
    [
        ("pkg:pypi/Django@4.2.1", "pkg:pypi/django@4.2.1"),
        ("pkg:pypi/typing_extensions@4.0", "pkg:pypi/typing-extensions@4.0"),
        ("pkg:npm/@angular/core@17.0.1", "pkg:npm/%40angular/core@17.0.1"),
        ("pkg:npm/%40angular/core@17.0.1", "pkg:npm/%40angular/core@17.0.1"),
        ("pkg:NPM/Lodash@4.17.21", "pkg:npm/lodash@4.17.21"),
        (
            "pkg:maven/org.apache/commons@1.0?type=jar&classifier=sources",
            "pkg:maven/org.apache/commons@1.0?classifier=sources&type=jar",
        ),
        ("pkg:golang/github.com/foo/bar@v1.2.3+incompatible", None),
        ("pkg:github/Package-URL/purl-spec@244fd47e", "pkg:github/package-url/purl-spec@244fd47e"),
        ("pkg:deb/debian/curl@7.50.3-1?distro=jessie&arch=i386", None),
    ],
)
def test_normalize_purl_gives_packageurl_canonical_form(
    given_purl: str, canonical: str | None
) -> None:
    expected = canonical or reference_purl(given_purl)
    assert normalize_purl(given_purl) == expected == reference_purl(given_purl)


@pytest.mark.parametrize(
    "bad", ["", "not a purl", "pkg:", "pkg:npm", "pkg:npm/", "pkg:1npm/x", "http://x/y"]
)
def test_normalize_purl_raises_value_error_for_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_purl(bad)


def test_normalize_purl_is_cached_by_string() -> None:
    normalize_purl.cache_clear()
    normalize_purl("pkg:pypi/Flask@3.0.0")
    normalize_purl("pkg:pypi/Flask@3.0.0")
    info = normalize_purl.cache_info()
    assert info.hits == 1
    assert info.misses == 1


PURL_TYPES = [
    "npm", "pypi", "maven", "golang", "github", "gitlab", "bitbucket", "deb", "apk", "rpm",
    "generic", "nuget", "cargo", "gem", "composer", "hex", "alpm", "oci", "pub", "hackage",
    "cpan", "mlflow", "huggingface", "luarocks", "qpkg", "bitnami", "docker", "x.y-z_",
    "NPM", "PyPI", "1bad",
]  # fmt: skip
PIECES = st.sampled_from(
    [*"abzAZ09._~-", "%40", "%2B", "%2b", "%3A", "%20", "%", "@", "/", "?", "=", "&", "#", ":",
     "+", " ", "é", "_", "A_b"]
)  # fmt: skip
TEXT = st.lists(PIECES, max_size=12).map("".join)


@st.composite
def purl_like(draw: st.DrawFn) -> str:
    ptype = draw(st.sampled_from(PURL_TYPES))
    namespace = draw(st.lists(TEXT, max_size=3))
    name = draw(TEXT)
    version = draw(st.none() | TEXT)
    qualifiers = draw(st.lists(st.tuples(TEXT, TEXT), max_size=3))
    purl = f"pkg:{ptype}/" + "".join(f"{segment}/" for segment in namespace) + name
    if version is not None:
        purl += f"@{version}"
    if qualifiers:
        purl += "?" + "&".join(f"{k}={v}" for k, v in qualifiers)
    return purl


@FUZZ
@given(purl_like() | st.text(max_size=60))
def test_fast_path_agrees_with_packageurl(purl: str) -> None:
    if common._already_canonical(purl):
        assert reference_purl(purl) == purl
    assert ours(purl) == reference_purl(purl)


@pytest.mark.shared
def test_normalize_purl_agrees_with_packageurl_on_every_corpus_purl(shared_data: Path) -> None:
    purls: set[str] = set()
    for path in (shared_data / "sboms").rglob("*.json"):
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            continue
        stack: list[Any] = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("purl", "referenceLocator") and isinstance(value, str):
                        purls.add(value)
                    else:
                        stack.append(value)
            elif isinstance(node, list):
                stack.extend(node)
    for path in (shared_data / "sboms" / "cyclonedx").rglob("*.xml"):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        purls.update((e.text or "").strip() for e in root.iter() if str(e.tag).endswith("}purl"))
    purls = {p for p in purls if p.startswith("pkg:")}
    assert len(purls) > 3000
    fast = sum(1 for p in purls if common._already_canonical(p))
    assert fast > len(purls) // 2  # the fast path does carry the common case
    disagreements = [p for p in purls if ours(p) != reference_purl(p)]
    assert disagreements == []


# --------------------------------------------------------------------------- JSON


def test_load_json_decodes_plain_documents() -> None:
    assert load_json(b'{"a": [1, 2.5, "x", null, true]}', "f.json", Limits()) == {
        "a": [1, 2.5, "x", None, True]
    }
    assert load_json(b'"just a string"', "f.json", Limits()) == "just a string"


def test_load_json_size_limit_names_the_file() -> None:
    with pytest.raises(InputError) as caught:
        load_json(b'{"a": "' + b"x" * 100 + b'"}', "big.json", Limits(max_bytes=50))
    assert caught.value.source == "big.json"
    assert "limit" in caught.value.message


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        (b'{"a": [{"b": ' + b"[" * 70 + b"]" * 70 + b"}]}", "/a/0/b" + "/0" * 61),
        (b'{"k/~": ' + b'{"d": ' * 70 + b"1" + b"}" * 71, "/k~1~0" + "/d" * 63),
        (b"[" * 100_000 + b"]" * 100_000, "/0" * 64),
    ],
)
def test_load_json_depth_limit_names_the_json_pointer(document: bytes, pointer: str) -> None:
    with pytest.raises(InputError) as caught:
        load_json(document, "deep.json", Limits())
    assert caught.value.source == "deep.json"
    assert caught.value.place == pointer
    assert "deeper than the limit of 64" in caught.value.message


def test_load_json_depth_limit_is_exact() -> None:
    limits = Limits(max_depth=5)
    assert load_json(b"[[[[[]]]]]", "f", limits) == [[[[[]]]]]
    assert load_json(b'{"a":{"b":{"c":{"d":{"e":1}}}}}', "f", limits)
    with pytest.raises(InputError):
        load_json(b"[[[[[[]]]]]]", "f", limits)
    with pytest.raises(InputError):
        load_json(b'{"a":{"b":{"c":{"d":{"e":{}}}}}}', "f", limits)


@pytest.mark.parametrize(
    "document", [b"],[", b"1],[2", b"]]]", b"[1]]", b"{}]", b"],[" * 3, b"]" + b"," + b"["]
)
def test_load_json_rejects_documents_that_escape_the_depth_wrapper(document: bytes) -> None:
    with pytest.raises(InputError) as caught:
        load_json(document, "escape.json", Limits())
    assert "not valid JSON" in caught.value.message


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.text(alphabet='ab[]{}"\\,:')
        | (st.floats(allow_nan=False, allow_infinity=False))
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=max_leaves,
    )


@FUZZ
@given(json_values(), st.integers(min_value=1, max_value=8))
def test_depth_check_matches_a_plain_walk(value: Any, max_depth: int) -> None:
    data = orjson.dumps(value)
    too_deep = common._deeper_than(value, max_depth)
    if too_deep:
        with pytest.raises(InputError):
            load_json(data, "f", Limits(max_depth=max_depth))
    else:
        assert load_json(data, "f", Limits(max_depth=max_depth)) == orjson.loads(data)


@pytest.mark.parametrize(
    "document",
    [
        b'{"n": ' + b"9" * 65 + b"}",
        b'{"n": -' + b"1" * 200 + b"}",
        b'{"n": ' + b"7" * 5000 + b"}",
        b'{"n": 1' + b"0" * 400 + b".5}",
    ],
)
def test_load_json_rejects_huge_numbers(document: bytes) -> None:
    with pytest.raises(InputError) as caught:
        load_json(document, "num.json", Limits())
    assert caught.value.source == "num.json"
    assert caught.value.place == "line 1 column 7"
    assert "digits" in caught.value.message


def test_load_json_accepts_long_digit_runs_inside_strings_and_64_digit_numbers() -> None:
    digits = "1" * 200
    assert load_json(json.dumps({"s": digits}).encode(), "f", Limits()) == {"s": digits}
    value = load_json(b'{"n": ' + b"9" * 64 + b"}", "f", Limits())
    assert value["n"] == pytest.approx(1e64)
    with pytest.raises(InputError):
        load_json(b'{"n": 123456}', "f", Limits(max_number_digits=5))


def test_load_json_number_too_large_for_a_double() -> None:
    with pytest.raises(InputError) as caught:
        load_json(b'{"n": 1e400}', "f", Limits())
    assert "too large" in caught.value.message


@pytest.mark.parametrize(
    ("document", "place"),
    [
        (b'{"a": 1', "line 1 column 8"),
        (b'{\n  "a": tru\n}', "line 2 column 8"),
        (b"", "line 1 column 1"),
        (b"   ", "line 1 column 1"),
        (b'{"a": "\xff"}', "line 1 column 1"),
        (b'{"a": NaN}', "line 1 column 7"),
    ],
)
def test_load_json_syntax_errors_name_line_and_column(document: bytes, place: str) -> None:
    with pytest.raises(InputError) as caught:
        load_json(document, "bad.json", Limits())
    assert caught.value.source == "bad.json"
    assert caught.value.place == place
    assert "not valid JSON" in caught.value.message


def test_load_json_handles_byte_order_marks_and_utf16() -> None:
    text = '{"name": "café"}'
    for encoded in (
        b"\xef\xbb\xbf" + text.encode(),
        text.encode("utf-16"),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        text.encode("utf-32"),
    ):
        assert load_json(encoded, "f", Limits()) == {"name": "café"}


def test_to_utf8_and_head_text() -> None:
    assert to_utf8(b"\xef\xbb\xbf{}", "f") == b"{}"
    assert to_utf8("{}".encode("utf-16"), "f") == b"{}"
    assert to_utf8(b"{}", "f") == b"{}"
    with pytest.raises(InputError):
        to_utf8(b"\xff\xfe\x00\xd8", "f")  # a lone surrogate
    assert head_text(b"  \n<bom>") == "<bom>"
    assert head_text("<bom>".encode("utf-16")) == "<bom>"
    assert head_text("<bom>".encode("utf-16-le")) == "<bom>"
    assert head_text("{}".encode("utf-16")[:-1]) == "{"  # cut mid-character
    assert head_text(b"\xef\xbb\xbf{") == "{"


def test_json_pointer_escapes() -> None:
    assert json_pointer("components", 12, "purl") == "/components/12/purl"
    assert json_pointer("a/b", "c~d") == "/a~1b/c~0d"
    assert json_pointer() == ""


def test_check_size() -> None:
    check_size(b"1234", "f", Limits(max_bytes=4))
    with pytest.raises(InputError):
        check_size(b"12345", "f", Limits(max_bytes=4))


def test_gc_paused_restores_the_previous_state() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


# --------------------------------------------------------------------------- hashes, licences


@pytest.mark.parametrize(
    ("alg", "canonical"),
    [
        ("sha256", "SHA-256"),
        ("SHA256", "SHA-256"),
        ("SHA-256", "SHA-256"),
        ("sha_1", "SHA-1"),
        ("SHA3-512", "SHA3-512"),
        ("BLAKE2b-256", "BLAKE2B-256"),
        ("md5", "MD5"),
        ("Streebog-256", "STREEBOG-256"),
    ],
)
def test_normalize_hash_alg(alg: str, canonical: str) -> None:
    assert normalize_hash_alg(alg) == canonical


def test_normalize_hash() -> None:
    md5 = "3942447FAC867AE5CDB3229B658F4D48"
    assert normalize_hash("md5", f" {md5} ") == ("MD5", md5.lower())
    assert normalize_hash("FOO", "abc") == ("FOO", "abc")
    for alg, content in [("MD5", "foo"), ("MD5", md5[:-2]), ("SHA-256", ""), ("SHA-1", "ab cd")]:
        with pytest.raises(ValueError):
            normalize_hash(alg, content)


def test_normalize_hex_and_licence_expression() -> None:
    assert normalize_hex(" ABCdef ") == "abcdef"
    assert normalize_hex("xyz") is None
    assert spdx_license_expression("  MIT   OR\nApache-2.0 ") == "MIT OR Apache-2.0"


def test_a_depth_limit_above_orjsons_own_is_capped_by_it() -> None:
    limits = Limits(max_depth=5000)
    assert load_json(b"[" * 1000 + b"]" * 1000, "f", limits)
    with pytest.raises(InputError) as caught:
        load_json(b"[" * 2000 + b"]" * 2000, "f", limits)
    assert "limit of 1024" in caught.value.message
    assert caught.value.place == "/0" * 1024
