"""Layered drawing of a call graph, done on the server and sent as SVG.

Callers above the services they call (a Sugiyama-style layout, small enough to read): cycles
are broken by reversing the back edges a depth-first search finds, each node goes one layer
below its lowest caller (longest path), and a few barycentre sweeps order each layer so edges
cross less. Everything is deterministic: the same graph is drawn the same way every time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

NODE_W = 168
NODE_H = 46
GAP_X = 28
GAP_Y = 74
MARGIN = 16
SWEEPS = 4


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass
class Placed:
    id: str
    layer: int
    x: float
    y: float


@dataclass
class Line:
    source: str
    target: str
    d: str
    """The SVG path: from the bottom of the caller to the top of the callee."""
    back: bool
    """Drawn against the layering (a call back up, part of a cycle)."""


@dataclass
class Layout:
    nodes: dict[str, Placed]
    lines: list[Line]
    width: int
    height: int


def _acyclic(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The back edges of an iterative depth-first search, in node order."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(succ[root])))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, iter(sorted(succ[child]))))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def _layers(nodes: Sequence[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(nodes, 0)
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        preds[b].append(a)
        succ[a].append(b)
        indegree[b] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    while ready:
        node = ready.pop()
        for child in succ[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return layer


def _order(rows: list[list[str]], edges: list[tuple[str, str]]) -> list[list[str]]:
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        down[a].append(b)
        up[b].append(a)

    def sweep(fixed: list[str], row: list[str], links: dict[str, list[str]]) -> list[str]:
        pos = {n: i for i, n in enumerate(fixed)}

        def centre(n: str) -> float:
            near = [pos[m] for m in links[n] if m in pos]
            return sum(near) / len(near) if near else float(row.index(n))

        return sorted(row, key=lambda n: (centre(n), n))

    for _ in range(SWEEPS):
        for i in range(1, len(rows)):
            rows[i] = sweep(rows[i - 1], rows[i], up)
        for i in range(len(rows) - 2, -1, -1):
            rows[i] = sweep(rows[i + 1], rows[i], down)
    return rows


def layered_layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> Layout:
    """Positions for ``nodes`` (ids, in the order they should start in) and a path for each
    edge ``(caller, callee)``; edges to unknown nodes and self-loops are left out."""
    known = set(nodes)
    edges = [(a, b) for a, b in dict.fromkeys(edges) if a in known and b in known and a != b]
    back = _acyclic(nodes, edges)
    forward = [(b, a) if (a, b) in back else (a, b) for a, b in edges]
    layer = _layers(nodes, forward)
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for n in nodes:
        rows[layer[n]].append(n)
    rows = _order(rows, forward)
    widest = max((len(r) for r in rows), default=0)
    width = 2 * MARGIN + widest * NODE_W + max(widest - 1, 0) * GAP_X
    placed: dict[str, Placed] = {}
    for li, row in enumerate(rows):
        row_w = len(row) * NODE_W + max(len(row) - 1, 0) * GAP_X
        left = (width - row_w) / 2
        for i, n in enumerate(row):
            placed[n] = Placed(n, li, left + i * (NODE_W + GAP_X), MARGIN + li * (NODE_H + GAP_Y))
    lines = [_line(placed[a], placed[b], (a, b) in back) for a, b in edges]
    height = 2 * MARGIN + len(rows) * NODE_H + max(len(rows) - 1, 0) * GAP_Y
    return Layout(placed, lines, int(width), int(height))


def _line(a: Placed, b: Placed, back: bool) -> Line:
    if b.y > a.y:
        x1, y1, x2, y2 = a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2, b.y
    elif b.y < a.y:
        x1, y1, x2, y2 = a.x + NODE_W / 2, a.y, b.x + NODE_W / 2, b.y + NODE_H
    else:  # same layer: a call sideways
        left = a.x < b.x
        x1 = a.x + (NODE_W if left else 0)
        x2 = b.x + (0 if left else NODE_W)
        y1 = y2 = a.y + NODE_H / 2
    mid = (y1 + y2) / 2
    if y1 == y2:
        d = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
    else:
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
    return Line(a.id, b.id, d, back)
