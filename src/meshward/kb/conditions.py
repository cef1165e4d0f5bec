"""Rule conditions as data: parsed, type-checked against the facts schema, evaluated with a trace.

A condition is a YAML mapping of exactly one of these shapes (no expression strings, nothing is
ever ``eval``-ed; pytm's evaluated ``condition`` strings are the counter-example)::

    {all: [C, ...]}   {any: [C, ...]}   {not: C}   {always: true}
    {fact: PATH, equals: V}        scalar fact equals V (str, bool or int)
    {fact: PATH, in: [V, ...]}     scalar fact is one of the values
    {fact: PATH, contains: V}      list fact contains V
    {fact: PATH, any_of: [V, ...]} list fact holds at least one of the values
    {fact: PATH, all_of: [V, ...]} list fact holds every value
    {fact: PATH, count: {at_least: N, at_most: M}}   list fact's length within bounds
    {fact: PATH, at_least: N} / {fact: PATH, at_most: N}   integer fact within bounds
    {fact: PATH, exists: true|false}   the fact is known (a survey answer was given)

Paths and values are checked when the KB loads (``check``): an unknown path, an operator that
does not fit the fact's type, or a value outside a question's options is a load error, never a
silent false. A missing fact makes every operator but ``exists: false`` false. Conditions are
bounded: at most ``MAX_NODES`` nodes and ``MAX_DEPTH`` levels each. ``evaluate`` returns the
verdict with a ``Trace`` so every threat can say *why* it applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshward.kb.facts import FactSchema, FactType

MAX_DEPTH = 8
MAX_NODES = 64
MAX_VALUES = 64

FactValue = str | bool | int | list[str]
Facts = Mapping[str, FactValue]

_GROUPS = ("all", "any", "not", "always")
_LEAF_OPS = (
    "equals",
    "in",
    "contains",
    "any_of",
    "all_of",
    "count",
    "at_least",
    "at_most",
    "exists",
)


class ConditionError(ValueError):
    """A condition that is malformed or does not fit the facts schema; ``where`` locates it."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class Condition:
    """One node of a parsed condition: a group (``all``/``any``/``not``/``always``) or a test."""

    op: str
    children: tuple[Condition, ...] = ()
    fact: str | None = None
    value: Any = None

    def facts_read(self) -> set[str]:
        if self.fact is not None:
            return {self.fact}
        out: set[str] = set()
        for child in self.children:
            out |= child.facts_read()
        return out

    def to_data(self) -> dict[str, Any]:
        """The YAML/JSON form it was parsed from (normalised)."""
        if self.op in ("all", "any"):
            return {self.op: [child.to_data() for child in self.children]}
        if self.op == "not":
            return {"not": self.children[0].to_data()}
        if self.op == "always":
            return {"always": bool(self.value)}
        return {"fact": self.fact, self.op: self.value}


@dataclass(slots=True)
class Trace:
    """How a condition came out: the node, its verdict, what the fact held, and the children."""

    text: str
    result: bool
    children: list[Trace] = field(default_factory=list)

    def reasons(self) -> list[str]:
        """The tests that made a true verdict true (the *why* shown beside a threat)."""
        if not self.result:
            return []
        if not self.children:
            return [self.text]
        out: list[str] = []
        for child in self.children:
            if child.result or self.text.startswith("not"):
                out += child.reasons() if child.result else [f"not ({child.text})"]
        return out or [self.text]

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"test": self.text, "result": self.result}
        if self.children:
            data["children"] = [child.to_data() for child in self.children]
        return data


def parse_condition(data: Any, where: str = "") -> Condition:
    """Parse and bound a condition; structure only (``check`` does the schema)."""
    counter = [0]
    return _parse(data, where, 1, counter)


def _parse(data: Any, where: str, depth: int, counter: list[int]) -> Condition:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ConditionError(where, f"condition has more than {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise ConditionError(where, f"condition nested deeper than {MAX_DEPTH} levels")
    if not isinstance(data, dict):
        raise ConditionError(where, f"a condition is a mapping, not {type(data).__name__}")
    keys = set(data)
    group = keys & set(_GROUPS)
    if group:
        if len(keys) != 1:
            raise ConditionError(where, f"{sorted(keys)}: a group has exactly one key")
        (op,) = group
        body = data[op]
        if op == "always":
            if body is not True:
                raise ConditionError(where, "'always' takes the value true")
            return Condition("always", value=True)
        if op == "not":
            return Condition("not", (_parse(body, f"{where}.not", depth + 1, counter),))
        if not isinstance(body, list) or not body:
            raise ConditionError(where, f"'{op}' takes a non-empty list of conditions")
        children = tuple(
            _parse(item, f"{where}.{op}[{index}]", depth + 1, counter)
            for index, item in enumerate(body)
        )
        return Condition(op, children)
    if "fact" not in keys:
        known = ", ".join((*_GROUPS, "fact"))
        raise ConditionError(where, f"unknown operator {sorted(keys)}; expected one of {known}")
    ops = keys - {"fact"}
    if len(ops) != 1 or not ops <= set(_LEAF_OPS):
        raise ConditionError(
            where,
            f"a test is {{fact: PATH, OP: VALUE}} with OP one of {', '.join(_LEAF_OPS)}; "
            f"got {sorted(ops) or 'no operator'}",
        )
    (op,) = ops
    path = data["fact"]
    if not isinstance(path, str) or not path:
        raise ConditionError(where, "'fact' names a fact path such as survey.exposure")
    value = data[op]
    if op in ("in", "any_of", "all_of"):
        if not isinstance(value, list) or not value or len(value) > MAX_VALUES:
            raise ConditionError(where, f"'{op}' takes a list of 1 to {MAX_VALUES} values")
        if not all(isinstance(v, str | bool | int) for v in value):
            raise ConditionError(where, f"'{op}' values must be strings, booleans or integers")
        value = list(value)
    elif op == "count":
        if not isinstance(value, dict) or not value or not set(value) <= {"at_least", "at_most"}:
            raise ConditionError(where, "'count' takes {at_least: N} and/or {at_most: N}")
        if not all(_small_int(v) for v in value.values()):
            raise ConditionError(where, "'count' bounds are integers from 0 to 1,000,000")
        value = dict(value)
    elif op in ("at_least", "at_most"):
        if not _small_int(value):
            raise ConditionError(where, f"'{op}' takes an integer from 0 to 1,000,000")
    elif op == "exists":
        if not isinstance(value, bool):
            raise ConditionError(where, "'exists' takes true or false")
    elif not isinstance(value, str | bool | int) or (isinstance(value, int) and not _fits(value)):
        raise ConditionError(where, f"'{op}' takes a string, boolean or integer")
    return Condition(op, fact=path, value=value)


def _small_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1_000_000


def _fits(value: int) -> bool:
    return isinstance(value, bool) or -1_000_000 <= value <= 1_000_000


def check(condition: Condition, schema: FactSchema, where: str = "") -> None:
    """Every path the condition reads exists and every operator and value fits its type."""
    if condition.fact is None:
        for child in condition.children:
            check(child, schema, where)
        return
    spec = schema.get(condition.fact)
    if spec is None:
        near = schema.closest(condition.fact)
        hint = f" (did you mean {near}?)" if near else ""
        raise ConditionError(where, f"unknown fact {condition.fact!r}{hint}")
    op, value = condition.op, condition.value
    allowed: dict[FactType, tuple[str, ...]] = {
        "bool": ("equals", "exists"),
        "str": ("equals", "in", "exists"),
        "int": ("equals", "at_least", "at_most", "exists"),
        "list": ("contains", "any_of", "all_of", "count", "exists"),
    }
    if op not in allowed[spec.type]:
        raise ConditionError(
            where,
            f"{condition.fact} is a {spec.type} fact: '{op}' does not apply "
            f"(use {', '.join(allowed[spec.type])})",
        )
    values: list[Any] = []
    if op in ("equals", "contains"):
        values = [value]
    elif op in ("in", "any_of", "all_of"):
        values = list(value)
    item_type = {"bool": bool, "str": str, "int": int, "list": str}[spec.type]
    for item in values:
        if not isinstance(item, item_type) or (item_type is int and isinstance(item, bool)):
            raise ConditionError(
                where, f"{condition.fact} holds {spec.type} values; {item!r} can never match"
            )
        if spec.values is not None and item not in spec.values:
            raise ConditionError(
                where,
                f"{item!r} is not a value of {condition.fact} "
                f"(one of: {', '.join(sorted(spec.values))})",
            )


def holds(condition: Condition, facts: Facts) -> bool:
    """The verdict alone, without building a trace (``evaluate`` gives the same answer)."""
    op = condition.op
    if op == "always":
        return True
    if op == "all":
        return all(holds(child, facts) for child in condition.children)
    if op == "any":
        return any(holds(child, facts) for child in condition.children)
    if op == "not":
        return not holds(condition.children[0], facts)
    path = condition.fact
    if op == "exists":
        return (path in facts) is condition.value
    return path in facts and _leaf(op, condition.value, facts[path])  # type: ignore[index]


def evaluate(condition: Condition, facts: Facts) -> Trace:
    """The verdict and its trace; never raises for missing facts (they make tests false)."""
    op = condition.op
    if op == "always":
        return Trace("always", True)
    if op in ("all", "any"):
        traces = [evaluate(child, facts) for child in condition.children]
        verdicts = [t.result for t in traces]
        verdict = all(verdicts) if op == "all" else any(verdicts)
        return Trace(f"{op} of {len(traces)}", verdict, traces)
    if op == "not":
        inner = evaluate(condition.children[0], facts)
        return Trace(f"not ({inner.text})", not inner.result, [inner])
    path = condition.fact
    assert path is not None
    present = path in facts
    actual = facts.get(path)
    value = condition.value
    if op == "exists":
        return Trace(f"{path} {'is' if value else 'is not'} known", present is value)
    if not present:
        return Trace(f"{path} {op} {_show(value)} (unknown)", False)
    return Trace(f"{path} {op} {_show(value)} (is {_show(actual)})", _leaf(op, value, actual))


def _leaf(op: str, value: Any, actual: Any) -> bool:
    """A test's verdict on a fact that is known."""
    if op == "equals":
        return bool(actual == value and type(actual) is type(value))
    if op == "in":
        return actual in value
    if op == "contains":
        return isinstance(actual, list) and value in actual
    if op == "any_of":
        return isinstance(actual, list) and any(v in actual for v in value)
    if op == "all_of":
        return isinstance(actual, list) and all(v in actual for v in value)
    if op == "count":
        size = len(actual) if isinstance(actual, list) else -1
        return bool(size >= value.get("at_least", 0) and size <= value.get("at_most", size))
    if op == "at_least":
        return isinstance(actual, int) and actual >= value
    return isinstance(actual, int) and actual <= value  # at_most


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)
