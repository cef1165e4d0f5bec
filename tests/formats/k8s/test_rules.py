"""Mapping rules: placeholders and fnmatch, never user regular expressions."""

from __future__ import annotations

import pytest

from meshward.errors import InputError
from meshward.formats.k8s.objects import K8sRead, Workload
from meshward.formats.k8s.reader import read_text
from meshward.formats.k8s.rules import RuleMatch, match_rules, parse_rules
from meshward.limits import Limits

RULES = """
rules:
  - image: registry.acme.example:5000/shop/{name}
    strip_prefix: v
  - image: ghcr.io/acme/{team}/{service}
    component: "{team}-{service}"
    version: label:app.kubernetes.io/version
  - image: "redis"
    component: redis-{namespace}
    namespace: "shop*"
  - image: "*.example/*/thing-?"
    component: thing
"""


def _workload(image: str, labels: str = "{}", namespace: str = "shop") -> Workload:
    read = K8sRead()
    read_text(
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w, namespace: {namespace}, "
        f"labels: {labels}}}\nspec: {{template: {{spec: {{containers: [{{name: c, "
        f"image: '{image}'}}]}}}}}}\n".encode(),
        "w.yaml",
        Limits(),
        read,
        "default",
    )
    return read.workloads[0]


def _match(image: str, labels: str = "{}", namespace: str = "shop") -> RuleMatch | None:
    rules = parse_rules(RULES, "rules.yaml", Limits())
    w = _workload(image, labels, namespace)
    return match_rules(rules, w, w.containers[0])


def test_placeholders_globs_and_versions() -> None:
    assert _match("registry.acme.example:5000/shop/web:v1.4.0") == RuleMatch(
        0, "web", "1.4.0", None
    )
    assert _match("registry.acme.example:5000/shop/web:latest") == RuleMatch(
        0, "web", None, "tag latest and no app.kubernetes.io/version label"
    )
    assert _match(
        "registry.acme.example:5000/shop/web", "{app.kubernetes.io/version: '2.0'}"
    ) == RuleMatch(0, "web", "2.0", None)
    assert _match("ghcr.io/acme/pay/api:9", "{app.kubernetes.io/version: '3.1'}") == RuleMatch(
        1, "pay-api", "3.1", None
    )
    assert _match("ghcr.io/acme/pay/api:9") == RuleMatch(
        1, "pay-api", None, "no label app.kubernetes.io/version"
    )
    assert _match("redis:7.2") == RuleMatch(2, "redis-shop", "7.2", None)
    assert _match("docker.io/library/redis:7.2", namespace="shop-eu") == RuleMatch(
        2, "redis-shop-eu", "7.2", None
    )
    assert _match("redis:7.2", namespace="billing") is None
    assert _match("cdn.example/x/thing-1:5") == RuleMatch(3, "thing", "5", None)
    assert _match("cdn.example/x/thing-12:5") is None
    assert _match("registry.acme.example:5000/shop/a/b:1") is None  # one segment per {name}


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        ("rules: 3\n", "rules", "list of rules"),
        ("rules: [{component: x}]\n", "rules[0].image", "expected a string"),
        ("rules: [{image: a/b}]\n", "rules[0].component", "needed"),
        ("rules: [{image: 'a/{x}y'}]\n", "rules[0].image", "whole path segment"),
        ("rules: [{image: 'a/{workload}'}]\n", "rules[0].image", "reserved"),
        ("rules: [{image: 'a/{name}', component: '{nope}'}]\n", "rules[0].component", "unknown"),
        ("rules: [{image: 'a/{name}', regex: '.*'}]\n", "rules[0].regex", "unknown field"),
        ("rules: [{image: 'a/{name}', version: digest}]\n", "rules[0].version", "tag or label"),
        ("rules: [{image: 'a/{name}', component: '{name'}]\n", "rules[0].component", "braces"),
    ],
)
def test_rule_errors(text: str, place: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_rules(text, "rules.yaml", Limits())
    assert (caught.value.source, caught.value.place) == ("rules.yaml", place)
    assert message in caught.value.message


def test_hostile_rules_files_are_refused() -> None:
    with pytest.raises(InputError, match="constructor"):
        parse_rules("rules: !!python/object/apply:os.system [id]\n", "r.yaml", Limits())
    with pytest.raises(InputError, match="more than 1000 rules"):
        parse_rules("rules:\n" + "  - {image: a, component: a}\n" * 1001, "r.yaml", Limits())


def test_a_glob_cannot_make_matching_slow() -> None:
    import time

    pattern = "docker.io/" + "*a" * 12 + "*b/y"
    rules = parse_rules(f"rules: [{{image: '{pattern}', component: x}}]\n", "r", Limits())
    w = _workload("docker.io/" + "a" * 200 + "/y:1")
    start = time.perf_counter()
    assert match_rules(rules, w, w.containers[0]) is None
    assert time.perf_counter() - start < 0.5
