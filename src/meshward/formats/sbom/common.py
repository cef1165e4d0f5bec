"""Helpers every SBOM reader shares: safe JSON loading, purl canonicalisation, hashes.

Why our own: cyclonedx-python-lib and spdx-tools are 30-100x slower on big documents (see
DESIGN.md, "Measured before we chose"), so readers decode with msgspec (orjson on the error
path) and normalise the few fields we keep themselves. Everything here either returns plain
values or raises ``InputError`` / ``ValueError``; nothing touches a database.
"""

from __future__ import annotations

import codecs
import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from itertools import chain, pairwise
from typing import Any

import msgspec
import orjson
from packageurl import PackageURL

from meshward.errors import InputError
from meshward.limits import Limits

__all__ = [
    "HASH_HEX_LENGTHS",
    "check_size",
    "gc_paused",
    "head_text",
    "json_pointer",
    "load_json",
    "normalize_hash",
    "normalize_hash_alg",
    "normalize_hex",
    "normalize_purl",
    "spdx_license_expression",
    "to_utf8",
]


# --------------------------------------------------------------------------- sizes, GC


def check_size(data: bytes, source: str, limits: Limits) -> None:
    """Refuse an oversized document before any parser sees it."""
    if len(data) > limits.max_bytes:
        raise InputError(
            source,
            None,
            f"document is {len(data):,} bytes, larger than the limit of {limits.max_bytes:,} "
            "(raise MESHWARD_MAX_DOCUMENT_BYTES for an honest giant)",
        )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC around a bulk decode: it halves orjson's time on big SBOMs.

    Decoded JSON holds no reference cycles, so nothing is lost by collecting later.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- encodings

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def to_utf8(data: bytes, source: str) -> bytes:
    """Return the document as UTF-8 without a byte-order mark.

    JSON and tag-value producers on Windows write a UTF-8 BOM or UTF-16; orjson accepts
    neither. XML declares its own encoding, so XML readers should not use this.
    """
    if data.startswith(_UTF8_BOM):
        return data[len(_UTF8_BOM) :]
    encoding: str | None = None
    if data.startswith(_UTF32_BOMS):
        encoding = "utf-32"
    elif data.startswith(_UTF16_BOMS):
        encoding = "utf-16"
    elif len(data) >= 4 and data[0] == 0 and data[1] != 0:
        encoding = "utf-16-be"  # RFC 4627 detection: first char is ASCII
    elif len(data) >= 4 and data[0] != 0 and data[1] == 0 and data[2] != 0:
        encoding = "utf-16-le"
    if encoding is None:
        return data
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeError as exc:
        raise InputError(source, None, f"not valid {encoding.upper()} text: {exc}") from None


def head_text(head: bytes) -> str:
    """The first bytes as text for a cheap ``sniff``: BOM-aware, never raises, leading
    whitespace stripped. A cut in the middle of a character is dropped."""
    try:
        if head.startswith(_UTF8_BOM):
            return head[len(_UTF8_BOM) :].decode("utf-8", errors="ignore").lstrip()
        if head.startswith(_UTF32_BOMS):
            return head.decode("utf-32", errors="ignore").lstrip()
        if head.startswith(_UTF16_BOMS):
            return head.decode("utf-16", errors="ignore").lstrip()
        if len(head) >= 2 and head[0] == 0 and head[1] != 0:
            return head.decode("utf-16-be", errors="ignore").lstrip()
        if len(head) >= 3 and head[0] != 0 and head[1] == 0 and head[2] != 0:
            return head.decode("utf-16-le", errors="ignore").lstrip()
        return head.decode("utf-8", errors="ignore").lstrip()
    except Exception:  # a sniff must never raise
        return ""


# --------------------------------------------------------------------------- JSON


def json_pointer(*parts: str | int) -> str:
    """RFC 6901 pointer for an error place: ``json_pointer("components", 12, "purl")``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]', re.DOTALL)


def _pointer_of_deep_container(text: str, max_depth: int) -> str | None:
    """Pointer to the first container nested deeper than ``max_depth``, from raw text.

    Only used on the error path (orjson's own depth limit, or ours tripped), so a
    regex tokenizer is fast enough and keeps working where the parser gave up.
    """
    # frame: [is_object, key_or_index, expecting_key]
    stack: list[list[Any]] = []
    for match in _TOKEN.finditer(text):
        tok = match.group()
        top = stack[-1] if stack else None
        if tok in "{[":
            if len(stack) + 1 > max_depth:
                return json_pointer(*(frame[1] for frame in stack))
            stack.append([tok == "{", 0 if tok == "[" else "", tok == "{"])
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok == ",":
            if top is not None:
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
        elif tok == ":":
            continue
        elif top is not None and top[0] and top[2]:
            try:
                top[1] = json.loads(tok)
            except ValueError:
                top[1] = tok[1:-1]
            top[2] = False
    return None


def _deeper_than(root: Any, max_depth: int) -> bool:
    """True when containers nest deeper than ``max_depth`` (the top level is depth 1).

    Level by level with C-level iteration: about 3x faster than a per-node stack walk,
    which matters on a 10,000-component SBOM (it visits every value once).
    """
    level = [root] if type(root) is dict or type(root) is list else []
    depth = 0
    values_of = dict.values
    while level:
        depth += 1
        if depth > max_depth:
            return True
        dicts = [node for node in level if type(node) is dict]
        lists = [node for node in level if type(node) is not dict]
        values = chain(chain.from_iterable(map(values_of, dicts)), chain.from_iterable(lists))
        level = [v for v in values if type(v) is dict or type(v) is list]
    return False


_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 46 for b in range(256))  # digit -> "0", else "."


def _long_number_place(data: bytes, max_digits: int) -> str | None:
    """Where a number literal longer than ``max_digits`` digits starts, or None.

    orjson silently turns integers beyond 64 bits into floats, so the literal is checked
    on the bytes: a fast scan for a long run of digits, then (only when one exists) a
    tokenizer that tells a number from digits inside a string.
    """
    if b"0" * (max_digits + 1) not in data.translate(_DIGITS_AS_ZERO):
        return None
    token = re.compile(rb'"(?:[^"\\]|\\.)*"|-?\d{%d,}' % (max_digits + 1), re.DOTALL)
    for match in token.finditer(data):
        if match.group()[:1] != b'"':
            start = match.start()
            line = data.count(b"\n", 0, start) + 1
            column = start - (data.rfind(b"\n", 0, start) + 1) + 1
            return f"line {line} column {column}"
    return None


@cache
def _orjson_depth_limit() -> int | None:
    """The deepest nesting orjson accepts (1024 in orjson 3.x), found by probing once, or
    None if it has no limit we can find."""

    def parses(depth: int) -> bool:
        try:
            orjson.loads(b"[" * depth + b"]" * depth)
        except orjson.JSONDecodeError:
            return False
        return True

    good = 1
    while parses(good * 2):
        good *= 2
        if good > 1 << 16:
            return None
    bad = good * 2
    while bad - good > 1:
        middle = (good + bad) // 2
        if parses(middle):
            good = middle
        else:
            bad = middle
    return good


def _decode_within_depth(data: bytes, max_depth: int) -> tuple[Any, bool]:
    """Decode ``data``; the flag is True when it nests deeper than ``max_depth``.

    orjson refuses documents deeper than its own fixed limit; wrapping the document in
    ``limit - max_depth`` arrays makes that refusal our limit, checked in Rust at no cost.
    That is about 5x cheaper than walking every decoded value in Python afterwards (the
    fallback, used when the wrapping cannot apply). A document that escapes the wrapper
    (``],[``) is caught when unwrapping and decoded again on its own, so it fails as the
    invalid JSON it is. Raises ``orjson.JSONDecodeError`` for malformed input.
    """
    limit = _orjson_depth_limit()
    if limit is None or not 0 < max_depth < limit or not data.strip():
        root = orjson.loads(data)
        return root, _deeper_than(root, max_depth)
    padding = limit - max_depth
    try:
        wrapped = orjson.loads(b"[" * padding + data + b"]" * padding)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            return None, True
        orjson.loads(data)  # the same error, with the document's own line and column
        raise  # pragma: no cover - the wrapper made valid JSON invalid: cannot happen
    for _ in range(padding):
        if type(wrapped) is not list or len(wrapped) != 1:
            root = orjson.loads(data)  # escaped the wrapper, so not valid on its own
            return root, _deeper_than(root, max_depth)  # pragma: no cover
        wrapped = wrapped[0]
    return wrapped, False


_NOT_STRUCTURE = bytes(range(256)).translate(None, b'"[]{}')
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")


def _nesting_within(data: bytes, max_depth: int) -> bool:
    """True when the containers of a *valid* JSON document nest at most ``max_depth`` deep.

    All in C-level bytes operations, without building anything: escapes are dropped, every
    byte but quotes and brackets is deleted, strings (now only quotes and brackets) go, and
    each ``replace`` of ``()`` then removes one level of the bracket tree."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = data.translate(_AS_PARENS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:  # strings holding brackets: every other piece is inside quotes
        skeleton = b"".join(skeleton.split(b'"')[::2])
    if b"(" * (max_depth + 1) in skeleton:  # a bomb, found in one scan
        return False
    for _ in range(max_depth):
        if not skeleton:
            return True
        skeleton = skeleton.replace(b"()", b"")
    return not skeleton


_decode = msgspec.json.Decoder().decode


def load_json(data: bytes, source: str, limits: Limits) -> Any:
    """Decode a JSON document safely: size limit, number-length limit, depth limit, with the
    GC paused. Every failure is an ``InputError`` naming the place (a JSON pointer or a
    line/column).

    msgspec builds the values straight from the bytes: its peak memory is about 5x the
    document, where orjson's intermediate tree peaks at about 17x. Anything msgspec refuses,
    and any document nested too deep, goes the exact way (orjson, with its line and column
    and the depth pointer), so what is accepted and every error stay as they were; the one
    difference is that integers beyond 64 bits stay exact instead of becoming floats."""
    check_size(data, source, limits)
    data = to_utf8(data, source)
    too_long = _long_number_place(data, limits.max_number_digits)
    if too_long is not None:
        raise InputError(source, too_long, f"number longer than {limits.max_number_digits} digits")
    orjson_limit = _orjson_depth_limit()
    max_depth = min(limits.max_depth, orjson_limit) if orjson_limit else limits.max_depth
    try:
        with gc_paused():
            root = _decode(data)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        pass
    else:
        if _nesting_within(data, max_depth):
            return root
        del root
    try:
        with gc_paused():
            root, too_deep = _decode_within_depth(data, max_depth)
    except orjson.JSONDecodeError as exc:
        message = str(exc.msg) if hasattr(exc, "msg") else str(exc)
        place = f"line {exc.lineno} column {exc.colno}"
        if "depth limit" in message or "recursion" in message:
            too_deep = True
        elif "infinity" in message:
            raise InputError(source, place, "number too large") from None
        else:
            raise InputError(source, place, f"not valid JSON: {message}") from None
    if too_deep:
        pointer = _pointer_of_deep_container(data.decode("utf-8", errors="replace"), max_depth)
        raise InputError(source, pointer, f"nesting deeper than the limit of {max_depth}")
    return root


# --------------------------------------------------------------------------- purls

# Types whose namespace / name packageurl-python lower-cases, or rewrites otherwise.
_LOWER_NAMESPACE = frozenset(
    {"bitbucket", "github", "pypi", "gitlab", "composer", "luarocks", "qpkg", "alpm", "apk", "hex"}
)
_LOWER_NAME = frozenset(
    {
        "bitbucket",
        "github",
        "pypi",
        "gitlab",
        "composer",
        "luarocks",
        "oci",
        "npm",
        "alpm",
        "apk",
        "bitnami",
        "hex",
        "pub",
    }
)
_SLOW_TYPES = frozenset({"mlflow", "pub", "hackage", "cpan", "huggingface", "oci"})

_PLAIN = r"[A-Za-z0-9._~-]"
# Possessive quantifiers: no backtracking, so a match costs about a microsecond.
_CANONICAL_SHAPE = re.compile(
    rf"pkg:([a-z][a-z0-9._-]*+)/"
    rf"((?:%40)?+{_PLAIN}++(?:/{_PLAIN}++)*+)"
    rf"(?:@({_PLAIN}*+(?:%2B{_PLAIN}*+)*+))?+"
    rf"(?:\?([a-z][a-z0-9._-]*+={_PLAIN}++(?:&[a-z][a-z0-9._-]*+={_PLAIN}++)*+))?+"
)
_LOWER_NS_RULE, _LOWER_NAME_RULE, _PYPI_RULE, _SLOW_RULE = 1, 2, 4, 8
_TYPE_RULES: dict[str, int] = {}
for _type in _LOWER_NAMESPACE:
    _TYPE_RULES[_type] = _TYPE_RULES.get(_type, 0) | _LOWER_NS_RULE
for _type in _LOWER_NAME:
    _TYPE_RULES[_type] = _TYPE_RULES.get(_type, 0) | _LOWER_NAME_RULE
for _type in _SLOW_TYPES:
    _TYPE_RULES[_type] = _SLOW_RULE
_TYPE_RULES["pypi"] |= _PYPI_RULE


def _already_canonical(purl: str) -> bool:
    """True when packageurl-python would give ``purl`` back unchanged.

    packageurl-python parses about 15,000 purls/s here, most of a big SBOM's ingest time;
    this check is one regex match and a few tests. It accepts only the common shapes
    (plain unreserved characters, an npm scope written ``%40``, ``%2B`` in versions, sorted
    lower-case qualifier keys with plain values, no subpath) and says False for anything
    else, which then goes through packageurl-python. Tests compare the two on every purl
    of the shared SBOM corpus and on generated strings.
    """
    match = _CANONICAL_SHAPE.fullmatch(purl)
    if match is None:
        return False
    ptype, path, version, qualifiers = match.groups()
    if version == "" or (path[0] == "%" and (ptype != "npm" or path.count("/") != 1)):
        return False
    rule = _TYPE_RULES.get(ptype)
    if rule is not None:
        if rule & _SLOW_RULE:
            return False
        namespace, _, name = path.rpartition("/")
        if rule & _LOWER_NS_RULE and namespace.lower() != namespace:
            return False
        if rule & _LOWER_NAME_RULE and name.lower() != name:
            return False
        if rule & _PYPI_RULE and "_" in name:
            return False
    if qualifiers is not None and "&" in qualifiers:
        keys = [pair.partition("=")[0] for pair in qualifiers.split("&")]
        if any(a >= b for a, b in pairwise(keys)):
            return False
    return True


@lru_cache(maxsize=1 << 17)
def normalize_purl(purl: str) -> str:
    """Canonical purl string, as packageurl-python's ``from_string(...).to_string()`` gives.

    Cached by string: an estate's SBOMs repeat the same purls many times. Raises
    ``ValueError`` for a malformed purl; readers turn it into ``InputError`` with the place.
    """
    if _already_canonical(purl):
        return purl
    try:
        canonical = PackageURL.from_string(purl).to_string()
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # packageurl-python has raised TypeError/IndexError on junk
        raise ValueError(f"malformed purl {purl!r}: {exc}") from None
    return str(canonical)


# --------------------------------------------------------------------------- hashes, licences

_HASH_ALGS = {
    "MD5": "MD5",
    "SHA1": "SHA-1",
    "SHA224": "SHA-224",
    "SHA256": "SHA-256",
    "SHA384": "SHA-384",
    "SHA512": "SHA-512",
    "SHA3224": "SHA3-224",
    "SHA3256": "SHA3-256",
    "SHA3384": "SHA3-384",
    "SHA3512": "SHA3-512",
    "BLAKE2B256": "BLAKE2B-256",
    "BLAKE2B384": "BLAKE2B-384",
    "BLAKE2B512": "BLAKE2B-512",
    "BLAKE3": "BLAKE3",
}


@lru_cache(maxsize=256)
def normalize_hash_alg(alg: str) -> str:
    """One spelling per algorithm across formats: ``sha256``/``SHA256``/``SHA-256`` ->
    ``SHA-256``. Unknown algorithms are kept, upper-cased."""
    key = alg.strip().upper()
    return _HASH_ALGS.get(key.replace("-", "").replace("_", ""), key)


_HEX = re.compile(r"[0-9a-fA-F]+")


def normalize_hex(content: str) -> str | None:
    """Lower-case hex digest, or None when the value is not hex (kept out rather than
    failing the whole document over one odd hash)."""
    content = content.strip()
    if not _HEX.fullmatch(content):
        return None
    return content.lower()


# Digest length in hex characters, for the algorithms whose length is fixed.
HASH_HEX_LENGTHS = {
    "MD5": 32,
    "SHA-1": 40,
    "SHA-224": 56,
    "SHA-256": 64,
    "SHA-384": 96,
    "SHA-512": 128,
    "SHA3-224": 56,
    "SHA3-256": 64,
    "SHA3-384": 96,
    "SHA3-512": 128,
    "BLAKE2B-256": 64,
    "BLAKE2B-384": 96,
    "BLAKE2B-512": 128,
}


def normalize_hash(alg: str, content: str) -> tuple[str, str]:
    """``(canonical algorithm, lower-case hex)``; ``ValueError`` when the digest is not hex
    or has the wrong length for a known algorithm. Readers decide what a bad digest costs
    (the CycloneDX readers drop it: real producers emit the odd broken one)."""
    name = normalize_hash_alg(alg)
    if _HEX.fullmatch(content) is None:
        content = content.strip()
        if _HEX.fullmatch(content) is None:
            raise ValueError(f"{name} digest is not hexadecimal: {content[:80]!r}")
    expected = HASH_HEX_LENGTHS.get(name)
    if expected is not None and len(content) != expected:
        raise ValueError(f"{name} digest has {len(content)} hex digits, expected {expected}")
    return name, content.lower()


def spdx_license_expression(value: str) -> str:
    """An SPDX licence expression or id as declared, whitespace collapsed.

    We keep expressions verbatim (``Apache-2.0 OR MIT``): evaluating them is a policy
    question for later, and rewriting risks changing their meaning."""
    return " ".join(value.split())
