"""``load_json``'s fast path (msgspec, and a depth check on the bytes) must accept exactly
what the exact path (orjson, and a walk of the decoded values) accepts."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshward.errors import InputError
from meshward.formats.sbom import common
from meshward.formats.sbom.common import load_json
from meshward.limits import Limits

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRICKY = st.text(alphabet='ab[]{}"\\,:/\n\u00e9\u2028\U0001f600', max_size=8)


def json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TRICKY | st.floats(0, 1)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
        max_leaves=30,
    )


def spellings(value: Any) -> list[bytes]:
    """The same value written compactly, indented, and with every non-ASCII escaped."""
    return [
        orjson.dumps(value),
        orjson.dumps(value, option=orjson.OPT_INDENT_2),
        json.dumps(value, ensure_ascii=True).encode(),
    ]


@FUZZ
@given(json_values(), st.integers(min_value=1, max_value=8))
def test_the_bytes_depth_check_agrees_with_a_walk(value: Any, max_depth: int) -> None:
    expected = not common._deeper_than(value, max_depth)
    for data in spellings(value):
        assert common._nesting_within(data, max_depth) is expected, data


@FUZZ
@given(json_values(), st.integers(min_value=1, max_value=8))
def test_load_json_accepts_and_refuses_as_before(value: Any, max_depth: int) -> None:
    limits = Limits(max_depth=max_depth)
    for data in spellings(value):
        if common._deeper_than(value, max_depth):
            with pytest.raises(InputError) as caught:
                load_json(data, "f", limits)
            assert "deeper than the limit" in caught.value.message
        else:
            assert load_json(data, "f", limits) == orjson.loads(data)


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b'{"a": "[[[[[[[["}', 1),
        (b'{"a": "\\\\", "b": [[1]]}', 3),
        (b'{"a\\"[": ["\\"", "]\\\\"]}', 2),
        (b'["\\u005b\\u005b", [[[]]]]', 4),
    ],
)
def test_brackets_and_escapes_inside_strings_do_not_count(data: bytes, depth: int) -> None:
    assert common._nesting_within(data, depth)
    assert not common._nesting_within(data, depth - 1)
    assert load_json(data, "f", Limits(max_depth=depth)) == orjson.loads(data)


def test_a_bomb_is_refused_by_the_fast_check() -> None:
    assert not common._nesting_within(b"[" * 100_000 + b"]" * 100_000, 64)
    assert not common._nesting_within(b'{"a":' * 70 + b"1" + b"}" * 70, 64)


def test_integers_beyond_64_bits_stay_exact() -> None:
    assert load_json(b'{"n": 123456789012345678901234567890}', "f", Limits()) == {
        "n": 123456789012345678901234567890
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON"),
        (b"[1,]", "not valid JSON"),
        (b'{"a": 1} x', "not valid JSON"),
        (b'"\\ud800"', "not valid JSON"),
        (b"[1e400]", "number too large"),
    ],
)
def test_refusals_still_name_line_and_column(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_json(data, "f", Limits())
    assert message in caught.value.message
    assert caught.value.place is not None and caught.value.place.startswith("line 1 column")
