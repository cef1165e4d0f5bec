"""Hardened YAML reading shared by every YAML input (Backstage catalogs, the KB, Kubernetes).

Only PyYAML's ``SafeConstructor`` builds objects (so ``!!python/...`` tags are errors), from
libyaml's event parser when available. Nesting deeper than ``Limits.max_depth`` is refused while
composing, done in Python on purpose: libyaml's C composer recurses and crashed the interpreter on
100,000 nested brackets. Anchors and aliases are allowed (merge keys are common) but a document
whose aliases expand to more than ``MAX_ALIAS_EXPANSION`` extra nodes (billion laughs) or refer
to themselves is refused before any Python object is built. Scalars resolve closer to YAML 1.2:
``yes``/``no``/``on``/``off`` and dates stay strings. Duplicate keys and the non-JSON tags
``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``, ``!!timestamp`` are errors.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from meshward.errors import InputError
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = ["MAX_ALIAS_EXPANSION", "load_yaml_documents"]

MAX_ALIAS_EXPANSION = 100_000
"""Nodes that aliases may add to a document beyond its own; far above any honest merge-key use."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_NON_JSON_TAGS = frozenset(
    {
        "tag:yaml.org,2002:binary",
        "tag:yaml.org,2002:set",
        "tag:yaml.org,2002:omap",
        "tag:yaml.org,2002:pairs",
        _TIMESTAMP_TAG,
    }
)
_C_PARSER: Any = getattr(yaml, "cyaml", None) and getattr(yaml.cyaml, "CParser", None)
"""libyaml's event parser when present. Its composer is *not* used: it recurses in C and
crashes the interpreter on a few hundred thousand nested brackets, so nodes are composed in
Python by ``_DepthComposer``, which stops at ``Limits.max_depth``."""


class _NodeProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    @classmethod
    def at(cls, node: Node, message: str) -> _NodeProblem:
        return cls(node.start_mark.line + 1, message)


class _DepthComposer(Composer):
    """PyYAML's composer, refusing nesting deeper than ``max_depth`` before it recurses."""

    max_depth = DEFAULT_LIMITS.max_depth
    _depth = 0

    saw_alias = False

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            event = self.peek_event()  # type: ignore[attr-defined]
            if self._depth > self.max_depth:
                raise _NodeProblem(
                    event.start_mark.line + 1, f"nesting deeper than {self.max_depth} levels"
                )
            if isinstance(event, AliasEvent):
                self.saw_alias = True
            node: Node | None = super().compose_node(parent, index)
            if node is not None and node.tag in _NON_JSON_TAGS:
                raise _NodeProblem.at(node, f"the YAML type {node.tag} has no JSON equivalent")
            return node
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        keys: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in keys:
                    raise _NodeProblem.at(key_node, f"duplicate key {key_node.value!r}")
                keys.add(key_node.value)
        return node


def _init_c_loader(self: Any, stream: str) -> None:
    _C_PARSER.__init__(self, stream)
    _DepthComposer.__init__(self)
    SafeConstructor.__init__(self)
    Resolver.__init__(self)


def _init_py_loader(self: Any, stream: str) -> None:
    Reader.__init__(self, stream)
    Scanner.__init__(self)
    Parser.__init__(self)
    _DepthComposer.__init__(self)
    SafeConstructor.__init__(self)
    Resolver.__init__(self)


def _make_loader() -> Any:
    """A safe loader (libyaml events when available) resolving scalars closer to YAML 1.2."""
    replaced = {_BOOL_TAG, _INT_TAG, _TIMESTAMP_TAG}
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in replaced]
        for first, entries in Resolver.yaml_implicit_resolvers.items()
    }
    namespace: dict[str, Any] = {"yaml_implicit_resolvers": resolvers}
    if _C_PARSER is not None:
        bases: tuple[type, ...] = (_DepthComposer, _C_PARSER, SafeConstructor, Resolver)
        namespace["__init__"] = _init_c_loader
    else:
        bases = (Reader, Scanner, Parser, _DepthComposer, SafeConstructor, Resolver)
        namespace["__init__"] = _init_py_loader
    loader: Any = type("_CatalogLoader", bases, namespace)
    loader.add_implicit_resolver(
        _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    loader.add_implicit_resolver(
        _INT_TAG,
        re.compile(
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
        ),
        list("-+0123456789"),
    )
    return loader


_CatalogLoader: Any = _make_loader()


class _NodeCheck:
    """Walks a composed document that uses aliases once (aliases memoised) before anything is
    constructed: how many nodes would the aliases expand to, and how deep."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.seen: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
        self.on_path: set[int] = set()

    def run(self, root: Node) -> tuple[int, int]:
        """Return (expanded node count, distinct node count)."""
        size, _ = self._walk(root, 1)
        return size, len(self.seen)

    def _walk(self, node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in self.on_path:
            raise _NodeProblem.at(node, "an alias refers to the node that contains it")
        known = self.seen.get(key)
        if known is not None:
            if depth - 1 + known[1] > self.max_depth:
                raise _NodeProblem.at(node, f"nesting deeper than {self.max_depth} levels")
            return known
        if depth > self.max_depth:
            raise _NodeProblem.at(node, f"nesting deeper than {self.max_depth} levels")
        self.on_path.add(key)
        size, height = 1, 1
        children: list[Node] = []
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                children += (key_node, value_node)
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        for child in children:
            child_size, child_height = self._walk(child, depth + 1)
            size += child_size
            height = max(height, child_height + 1)
        self.on_path.discard(key)
        self.seen[key] = (size, height)
        return size, height


def load_yaml_documents(text: str, source: str, limits: Limits) -> list[tuple[int, Any]]:
    """All documents of a file as (number from 1, value), raising InputError on any problem."""
    documents: list[tuple[int, Any]] = []
    loader = _CatalogLoader(text)
    loader.max_depth = limits.max_depth
    try:
        number = 0
        while loader.check_node():
            loader.saw_alias = False
            node = loader.get_node()
            number += 1
            if node is None:
                continue
            if loader.saw_alias:
                expanded, distinct = _NodeCheck(limits.max_depth).run(node)
            else:
                expanded = distinct = 0
            if expanded - distinct > MAX_ALIAS_EXPANSION:
                raise _NodeProblem.at(
                    node,
                    f"aliases expand document {number} by {expanded - distinct} nodes "
                    f"(more than {MAX_ALIAS_EXPANSION}): refused as an alias bomb",
                )
            documents.append((number, loader.construct_document(node)))
    except _NodeProblem as problem:
        raise InputError(source, f"line {problem.line}", problem.message) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}" if mark is not None else None
        what = error.problem or error.context or "unreadable"
        if "maximum nesting depth" in what:  # PyYAML >= 6.0.4 stops at 1,000 levels itself
            raise InputError(
                source, where, f"nesting deeper than {limits.max_depth} levels"
            ) from None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise InputError(source, where, f"invalid YAML: {what}{column}") from None
    except yaml.YAMLError as error:
        raise InputError(source, None, f"invalid YAML: {error}") from None
    except RecursionError:
        raise InputError(source, None, "YAML nested too deeply to read") from None
    finally:
        loader.dispose()
    return documents


def load_config_document(data: bytes, source: str, limits: Limits, empty: Any = None) -> Any:
    """One small document a person wrote (survey answers, a gate policy, an OTM model): JSON
    when it starts like JSON, else YAML with exactly one document; bounded in size and depth.
    An empty file gives ``empty``."""
    from meshward.formats.sbom.common import load_json  # the one JSON reader with limits

    if len(data) > limits.max_bytes:
        raise InputError(source, None, f"{len(data):,} bytes: larger than {limits.max_bytes:,}")
    if data.lstrip()[:1] in (b"{", b"["):
        return load_json(data, source, limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"byte {exc.start}", "not UTF-8 text") from None
    documents = load_yaml_documents(text, source, limits)
    if len(documents) > 1:
        raise InputError(source, "document 2", "expected one document")
    return documents[0][1] if documents else empty
