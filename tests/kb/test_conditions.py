"""The rule language: parsing limits, schema checks, evaluation and traces."""

from __future__ import annotations

import pytest

from meshward.kb.conditions import (
    MAX_DEPTH,
    MAX_NODES,
    ConditionError,
    check,
    evaluate,
    holds,
    parse_condition,
)
from meshward.kb.facts import FactSpec, service_schema

SCHEMA = service_schema(
    [
        ("exposure", FactSpec("str", "exposure", frozenset({"internet", "internal"}))),
        ("features", FactSpec("list", "features", frozenset({"sql", "renders_html", "xml"}))),
        ("sessions", FactSpec("bool", "sessions")),
    ]
)


def parsed(data: object) -> object:
    rule = parse_condition(data)
    check(rule, SCHEMA)
    return rule


@pytest.mark.parametrize(
    ("rule", "facts", "expected"),
    [
        ({"always": True}, {}, True),
        ({"fact": "survey.exposure", "equals": "internet"}, {"survey.exposure": "internet"}, True),
        ({"fact": "survey.exposure", "equals": "internet"}, {}, False),
        ({"fact": "survey.exposure", "in": ["internal"]}, {"survey.exposure": "internet"}, False),
        ({"fact": "survey.features", "contains": "sql"}, {"survey.features": ["sql"]}, True),
        ({"fact": "survey.features", "any_of": ["xml", "sql"]}, {"survey.features": ["sql"]}, True),
        (
            {"fact": "survey.features", "all_of": ["xml", "sql"]},
            {"survey.features": ["sql"]},
            False,
        ),
        (
            {"fact": "survey.features", "count": {"at_least": 2}},
            {"survey.features": ["sql", "xml"]},
            True,
        ),
        ({"fact": "survey.features", "count": {"at_most": 0}}, {"survey.features": []}, True),
        ({"fact": "graph.consumer_count", "at_least": 3}, {"graph.consumer_count": 2}, False),
        ({"fact": "graph.consumer_count", "at_most": 3}, {"graph.consumer_count": 2}, True),
        ({"fact": "survey.sessions", "exists": False}, {}, True),
        ({"fact": "survey.sessions", "exists": True}, {"survey.sessions": False}, True),
        ({"not": {"fact": "survey.sessions", "equals": True}}, {}, True),
        (
            {"all": [{"fact": "survey.sessions", "equals": True}, {"always": True}]},
            {"survey.sessions": True},
            True,
        ),
        (
            {
                "any": [
                    {"fact": "survey.sessions", "equals": True},
                    {"fact": "graph.runs_in_prod", "equals": True},
                ]
            },
            {"graph.runs_in_prod": False},
            False,
        ),
        # 1 == True in Python; a bool fact never equals an int rule value, nor the reverse
        ({"fact": "graph.consumer_count", "equals": 1}, {"graph.consumer_count": True}, False),
    ],
)
def test_evaluate(rule: dict[str, object], facts: dict[str, object], expected: bool) -> None:
    assert evaluate(parse_condition(rule), facts).result is expected  # type: ignore[arg-type]
    assert holds(parse_condition(rule), facts) is expected  # type: ignore[arg-type]


def test_trace_says_why() -> None:
    rule = parse_condition(
        {
            "all": [
                {"fact": "survey.exposure", "equals": "internet"},
                {"not": {"fact": "survey.sessions", "equals": True}},
            ]
        }
    )
    trace = evaluate(rule, {"survey.exposure": "internet", "survey.sessions": False})
    assert trace.result
    assert trace.reasons() == [
        "survey.exposure equals internet (is internet)",
        "not (survey.sessions equals true (is false))",
    ]
    assert trace.to_data()["children"][1]["result"] is True


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"fact": "survey.exposur", "equals": "internet"},
            "unknown fact 'survey.exposur' (did you mean survey.exposure?)",
        ),
        (
            {"fact": "survey.exposure", "equals": "everyone"},
            "'everyone' is not a value of survey.exposure",
        ),
        (
            {"fact": "survey.features", "equals": "sql"},
            "survey.features is a list fact: 'equals' does not apply",
        ),
        ({"fact": "survey.sessions", "contains": True}, "survey.sessions is a bool fact"),
        ({"fact": "graph.consumer_count", "equals": "3"}, "holds int values; '3' can never match"),
    ],
)
def test_schema_checks(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parsed(rule)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"fact": "survey.exposure", "matches": ".*"}, "OP one of"),
        ({"eval": "__import__('os')"}, "unknown operator ['eval']"),
        ({"all": []}, "non-empty list"),
        ({"all": [{"always": True}], "any": [{"always": True}]}, "exactly one key"),
        ({"always": "yes"}, "takes the value true"),
        ("survey.exposure == 'internet'", "a condition is a mapping, not str"),
        ({"fact": "survey.features", "any_of": list(range(100))}, "list of 1 to 64 values"),
        ({"fact": "graph.consumer_count", "at_least": 10**30}, "integer from 0 to 1,000,000"),
        ({"fact": "survey.exposure", "equals": 10**30}, "takes a string, boolean or integer"),
    ],
)
def test_structure_errors(rule: object, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(rule)
    assert message in str(caught.value)


def test_size_and_depth_limits() -> None:
    deep: dict[str, object] = {"always": True}
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    with pytest.raises(ConditionError, match="deeper than"):
        parse_condition(deep)
    wide = {"any": [{"always": True}] * MAX_NODES}
    with pytest.raises(ConditionError, match="more than"):
        parse_condition(wide)
