"""Mapping rules: which component (and version) a container image is.

A rules file is YAML::

    rules:
      - image: us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/{name}
        component: "{name}"          # the default when the pattern has {name}
        version: tag                 # or label:app.kubernetes.io/version
        strip_prefix: v              # v0.10.6 -> 0.10.6
      - image: redis                 # docker.io/library/redis, as the runtime reads it
        component: redis-cart
        namespace: shop-*            # optional filters (fnmatch) on the workload
        workload: redis-cart

``image`` is matched against the image's normalised ``registry/repository`` one path segment
at a time: a segment is either a whole ``{placeholder}`` (captures that segment) or an fnmatch
glob (``*``, ``?``, ``[...]``). There are no user regular expressions, so a rule cannot make
matching slow (ReDoS). A pattern's first segment is its registry when it looks like a host,
is a glob or a placeholder; otherwise Docker Hub is implied, as for an image. ``component``
may use the pattern's placeholders and ``{workload}``, ``{container}``, ``{namespace}``.
The first rule that matches wins.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshward.errors import InputError
from meshward.formats.k8s.images import split_registry
from meshward.formats.k8s.objects import Container, Workload
from meshward.formats.safe_yaml import load_yaml_documents
from meshward.limits import Limits

MAX_RULES = 1000
MAX_PATTERN = 255
MAX_SEGMENTS = 16
VERSION_LABEL = "app.kubernetes.io/version"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]{0,30})\}")
_BUILTIN = frozenset({"workload", "container", "namespace"})
_RULE_KEYS = frozenset({"image", "component", "version", "strip_prefix", "namespace", "workload"})


@dataclass(frozen=True, slots=True)
class MappingRule:
    image: str
    segments: tuple[str, ...]
    component: str
    version: str
    """``tag`` or ``label:<key>``."""
    strip_prefix: str | None = None
    namespace: str | None = None
    workload: str | None = None


@dataclass(frozen=True, slots=True)
class MappingRules:
    rules: tuple[MappingRule, ...] = ()
    source: str = "(no rules)"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: int
    """Index in the rules file."""
    component: str
    version: str | None
    why_no_version: str | None


def _pattern_segments(pattern: str) -> tuple[str, ...]:
    first = pattern.split("/", 1)[0]
    if "/" in pattern and (any(c in first for c in "*?[{") or first == "localhost"):
        return tuple(pattern.split("/"))
    registry, rest = split_registry(pattern)
    return (registry, *rest.split("/"))


def parse_rules(text: str, source: str, limits: Limits) -> MappingRules:
    """A rules file, every problem an InputError naming the rule and field."""
    documents = load_yaml_documents(text, source, limits)
    if not documents:
        return MappingRules((), source)
    if len(documents) > 1:
        raise InputError(source, "document 2", "a rules file is one YAML document")
    root = documents[0][1]
    raw_rules = root.get("rules") if isinstance(root, dict) else root
    if not isinstance(raw_rules, list):
        raise InputError(source, "rules", "expected a list of rules")
    if len(raw_rules) > MAX_RULES:
        raise InputError(source, "rules", f"more than {MAX_RULES} rules")
    return MappingRules(tuple(_rule(r, source, i) for i, r in enumerate(raw_rules)), source)


def _rule(raw: Any, source: str, index: int) -> MappingRule:
    place = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise InputError(source, place, "expected a mapping with image and component")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise InputError(
            source, f"{place}.{unknown[0]}", f"unknown field (known: {sorted(_RULE_KEYS)})"
        )

    def text(key: str, *, required: bool = False) -> str | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_PATTERN:
            raise InputError(
                source, f"{place}.{key}", f"expected a string of 1-{MAX_PATTERN} characters"
            )
        return value.strip()

    image = text("image", required=True) or ""
    segments = _pattern_segments(image)
    if len(segments) > MAX_SEGMENTS:
        raise InputError(source, f"{place}.image", f"more than {MAX_SEGMENTS} path segments")
    captured: list[str] = []
    for segment in segments:
        whole = _PLACEHOLDER.fullmatch(segment)
        if whole:
            if whole.group(1) in captured or whole.group(1) in _BUILTIN:
                raise InputError(
                    source, f"{place}.image", f"placeholder {segment} used twice or reserved"
                )
            captured.append(whole.group(1))
        elif "{" in segment or "}" in segment:
            raise InputError(
                source, f"{place}.image", f"a placeholder fills a whole path segment: {segment!r}"
            )
    component = text("component") or ("{name}" if "name" in captured else None)
    if component is None:
        raise InputError(source, f"{place}.component", "needed when the image has no {name}")
    for name in _PLACEHOLDER.findall(component):
        if name not in captured and name not in _BUILTIN:
            raise InputError(source, f"{place}.component", f"unknown placeholder {{{name}}}")
    leftover = _PLACEHOLDER.sub("", component)
    if "{" in leftover or "}" in leftover:
        raise InputError(source, f"{place}.component", "unbalanced braces")
    version = text("version") or "tag"
    if version != "tag" and not (version.startswith("label:") and len(version) > 6):
        raise InputError(source, f"{place}.version", "expected tag or label:<label key>")
    return MappingRule(
        image,
        segments,
        component,
        version,
        text("strip_prefix"),
        text("namespace"),
        text("workload"),
    )


def _match_segments(pattern: tuple[str, ...], name: str) -> dict[str, str] | None:
    parts = name.split("/")
    if len(parts) != len(pattern):
        return None
    captured: dict[str, str] = {}
    for want, have in zip(pattern, parts, strict=True):
        whole = _PLACEHOLDER.fullmatch(want)
        if whole:
            captured[whole.group(1)] = have
        elif not fnmatch.fnmatchcase(have, want):
            return None
    return captured


def version_for(
    workload: Workload, container: Container, how: str = "tag", strip_prefix: str | None = None
) -> tuple[str | None, str | None]:
    """(version, None) or (None, why not): the image tag (``latest`` is no version: then the
    ``app.kubernetes.io/version`` label), or the named label of the workload or its pods."""
    if how.startswith("label:"):
        key = how[len("label:") :]
        value = workload.labels.get(key) or workload.pod_labels.get(key)
        return (value, None) if value else (None, f"no label {key}")
    tag = container.ref.effective_tag if container.ref else None
    if tag and tag != "latest":
        if strip_prefix and tag.startswith(strip_prefix) and len(tag) > len(strip_prefix):
            tag = tag[len(strip_prefix) :]
        return tag, None
    label = workload.labels.get(VERSION_LABEL) or workload.pod_labels.get(VERSION_LABEL)
    if label:
        return label, None
    what = f"tag {tag}" if tag else "no tag (digest only)"
    return None, f"{what} and no {VERSION_LABEL} label"


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def match_rules(rules: MappingRules, workload: Workload, container: Container) -> RuleMatch | None:
    if container.ref is None:
        return None
    for index, rule in enumerate(rules.rules):
        if rule.namespace and not fnmatch.fnmatchcase(workload.namespace, rule.namespace):
            continue
        if rule.workload and not fnmatch.fnmatchcase(workload.name, rule.workload):
            continue
        captured = _match_segments(rule.segments, container.ref.name)
        if captured is None:
            continue
        values: Mapping[str, str] = {
            **captured,
            "workload": workload.name,
            "container": container.name,
            "namespace": workload.namespace,
        }
        component = _fill(rule.component, values)
        version, why = version_for(workload, container, rule.version, rule.strip_prefix)
        return RuleMatch(index, component, version, why)
    return None


def read_rules(path: Path, limits: Limits) -> MappingRules:
    """A rules file from disk, refused over the size limit before it is read."""
    source = str(path)
    try:
        if path.stat().st_size > limits.max_bytes:
            raise InputError(source, None, f"more than the limit of {limits.max_bytes} bytes")
        data = path.read_bytes()
    except OSError as error:
        raise InputError(source, None, f"cannot read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(source, f"byte {error.start}", "not valid UTF-8 text") from None
    return parse_rules(text, source, limits)
