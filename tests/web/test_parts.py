"""The web UI's pure parts: layered layout, the trust-boundary rule, sessions, the sanitiser
and the trend chart."""

from __future__ import annotations

import time

from meshward.services.views import NodeFacts, TrendDay, edge_marks, trust_boundary
from meshward.web import session as websession
from meshward.web.charts import trend_chart
from meshward.web.layout import layered_layout
from meshward.web.markdown import render_markdown


def test_callers_are_drawn_above_what_they_call() -> None:
    edges = [("web", "checkout"), ("checkout", "cart"), ("checkout", "payment"), ("web", "cart")]
    layout = layered_layout(["cart", "checkout", "payment", "web"], edges)
    layer = {n: p.layer for n, p in layout.nodes.items()}
    assert layer == {"web": 0, "checkout": 1, "cart": 2, "payment": 2}
    assert all(layout.nodes[a].y < layout.nodes[b].y for a, b in edges)
    assert len(layout.lines) == 4 and not any(line.back for line in layout.lines)
    xs = [p.x for p in layout.nodes.values() if p.layer == 2]
    assert len(set(xs)) == 2  # no two nodes of a layer on top of each other


def test_a_cycle_is_drawn_with_one_back_edge() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "c"), ("a", "missing")]
    layout = layered_layout(["a", "b", "c"], edges)
    assert sorted(p.layer for p in layout.nodes.values()) == [0, 1, 2]
    assert len(layout.lines) == 3  # the self-loop and the unknown node are left out
    assert [(line.source, line.target) for line in layout.lines if line.back] == [("c", "a")]


def test_layout_is_deterministic_and_crossings_shrink() -> None:
    nodes = ["a1", "a2", "b1", "b2"]
    edges = [("a1", "b2"), ("a2", "b1")]
    one, two = layered_layout(nodes, edges), layered_layout(nodes, edges)
    assert [line.d for line in one.lines] == [line.d for line in two.lines]
    # the barycentre sweeps put b2 under a1 and b1 under a2: no crossing left
    assert (one.nodes["a1"].x < one.nodes["a2"].x) == (one.nodes["b2"].x < one.nodes["b1"].x)


def test_trust_boundary_prefers_namespaces_then_environments_then_domains() -> None:
    def facts(domain: str, ns: str | None = None, envs: tuple[str, ...] = ()) -> NodeFacts:
        return NodeFacts(domain, ns, frozenset(envs))

    assert trust_boundary(facts("a", "shop"), facts("b", "shop")) is None
    assert trust_boundary(facts("a", "shop"), facts("a", "pay")) == (
        "namespace shop calls namespace pay"
    )
    assert trust_boundary(facts("a", None, ("prod",)), facts("b", None, ("prod", "dev"))) is None
    assert trust_boundary(facts("a", None, ("staging",)), facts("a", None, ("prod",))) == (
        "runs in staging, calls a service in prod"
    )
    assert trust_boundary(facts("a"), facts("a", None, ("prod",))) is None
    assert trust_boundary(facts("a"), facts("b", None, ("prod",))) == "domain a calls domain b"
    marks = edge_marks(facts("a"), facts("b"), ["spoofing", "tampering"])
    assert marks.crosses_boundary and marks.threats == ["spoofing", "tampering"]


def test_session_cookies_are_signed_and_expire() -> None:
    key = b"k" * 32
    sess = websession.new_session("abc", "d" * 64)
    value = websession.encode(key, sess)
    assert websession.decode(key, value) == sess
    assert websession.decode(b"x" * 32, value) is None
    assert websession.decode(key, value[:-3] + "AAA") is None
    assert websession.decode(key, value, now=time.time() + websession.MAX_AGE + 5) is None
    token = websession.csrf_token(key, sess)
    assert websession.csrf_ok(key, sess, token)
    assert not websession.csrf_ok(key, websession.new_session(), token)
    assert not websession.csrf_ok(key, sess, "")


def test_markdown_keeps_formatting_and_drops_everything_active() -> None:
    html = str(
        render_markdown(
            "# T\n\n*em* `x` <iframe src=x></iframe> [a](javascript:alert(1)) "
            "[b](https://example.org 'ok')\n\n| h |\n|---|\n| c |"
        )
    )
    assert "<h1>T</h1>" in html and "<em>em</em>" in html and "<table>" in html
    assert "<iframe" not in html and 'href="javascript' not in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert str(render_markdown(None)) == ""


def test_trend_chart_scales_to_the_highest_count() -> None:
    days = [TrendDay("2026-11-01", 3, 7, 1, 0, 1.0), TrendDay("2026-11-02", 5, 9, 2, 1, 2.0)]
    chart = trend_chart(days)
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8", "10"]
    high = next(s for s in chart.series if s.name == "high")
    assert [v for _, _, v, _ in high.dots] == [7, 9]
    assert high.dots[1][1] < high.dots[0][1]  # more is drawn higher
    single = trend_chart(days[:1])
    assert single.series[0].dots[0][0] == (single.plot_left + single.plot_right) / 2
