"""Templates, navigation, pagination and drawn graphs: what every page shares.

``NAV`` and ``COMPONENT_VERSION_SECTIONS`` are the extension points: a new page (the controls
board, the knowledge base) appends a ``NavItem``; a new part of the component version page
(its threat model) appends a ``Section`` whose loader returns the template's context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from meshward import __version__
from meshward.services.auth import Principal
from meshward.store.models import ComponentVersion
from meshward.web.layout import NODE_H, NODE_W, layered_layout
from meshward.web.markdown import render_markdown

PAGE_SIZE = 50

env = Environment(
    loader=PackageLoader("meshward.web", "templates"),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["markdown"] = render_markdown


def count_of(n: int, noun: str) -> str:
    """``1 service``, ``3 services``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


env.filters["count_of"] = count_of


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    need: str = "read"
    """``admin``: shown only to estate admins."""


NAV: list[NavItem] = [
    NavItem("Overview", "/ui/"),
    NavItem("Domains", "/ui/domains"),
    NavItem("Findings", "/ui/findings"),
    NavItem("Blast radius", "/ui/blast-radius"),
    NavItem("Audit log", "/ui/audit", "admin"),
]


@dataclass(frozen=True)
class Section:
    """One more part of the component version page: ``template`` is included with the
    context ``load`` returns (None leaves the section out)."""

    title: str
    template: str
    load: Callable[[Session, Principal, ComponentVersion], dict[str, Any] | None]


COMPONENT_VERSION_SECTIONS: list[Section] = []


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    principal: Principal | None = None,
    csrf: str | None = None,
) -> HTMLResponse:
    nav = [
        n
        for n in NAV
        if principal is not None and (n.need != "admin" or principal.may("admin", None))
    ]
    html = env.get_template(template).render(
        request=request,
        path=request.url.path,
        principal=principal,
        csrf=csrf,
        nav=nav,
        version=__version__,
        **context,
    )
    return HTMLResponse(html, status_code=status)


@dataclass
class Pager:
    """Page numbers in the query string; a list query fetches ``size`` + 1 rows to know
    whether a next page exists, never a count of the whole list."""

    request: Request
    number: int
    size: int = PAGE_SIZE
    param: str = "page"
    more: bool = False

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def fetch(self) -> int:
        return self.size + 1

    def take(self, rows: Sequence[Any]) -> list[Any]:
        self.more = len(rows) > self.size
        return list(rows[: self.size])

    @property
    def end(self) -> int:
        """How many rows of a list, from its start, this page needs (``slice``)."""
        return self.offset + self.fetch

    def slice(self, rows: Sequence[Any]) -> list[Any]:
        """The page of a list held from its start to at least ``end``."""
        return self.take(rows[self.offset : self.end])

    def url(self, number: int) -> str:
        url = self.request.url.include_query_params(**{self.param: number})
        return f"{url.path}?{url.query}"

    @property
    def next_url(self) -> str | None:
        return self.url(self.number + 1) if self.more else None

    @property
    def prev_url(self) -> str | None:
        return self.url(self.number - 1) if self.number > 1 else None


def page_number(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100_000))
    except ValueError:
        return 1


def page_size(value: str | None, default: int = PAGE_SIZE) -> int:
    """Rows per page as asked (``?size=``), from 1 to 200."""
    try:
        return max(1, min(int(value or default), 200))
    except ValueError:
        return default


# ---------------------------------------------------------------- drawn graphs


@dataclass
class DrawnNode:
    id: str
    label: str
    sublabel: str
    href: str | None
    css: str
    title: str
    x: float = 0
    y: float = 0


@dataclass
class DrawnEdge:
    d: str
    css: str
    title: str
    source: str
    target: str


@dataclass
class Drawing:
    width: int
    height: int
    nodes: list[DrawnNode]
    edges: list[DrawnEdge]
    node_w: int = NODE_W
    node_h: int = NODE_H
    left_out: int = 0
    """Nodes not drawn (the table lists them all)."""
    labels: dict[str, str] = field(default_factory=dict)


def short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def draw(
    nodes: Sequence[DrawnNode],
    edges: Sequence[tuple[str, str, str, str]],
    *,
    limit: int = 80,
) -> Drawing:
    """Lay out ``nodes`` (at most ``limit``, in the order given) and ``edges``
    (caller, callee, css class, tooltip) as an SVG drawing."""
    shown = list(nodes[:limit])
    ids = [n.id for n in shown]
    layout = layered_layout(ids, [(a, b) for a, b, _, _ in edges])
    for n in shown:
        placed = layout.nodes[n.id]
        n.x, n.y = placed.x, placed.y
    marks = {(a, b): (css, title) for a, b, css, title in edges}
    drawn_edges = [
        DrawnEdge(
            line.d,
            " ".join(
                filter(None, [marks[(line.source, line.target)][0], "back" if line.back else ""])
            ),
            marks[(line.source, line.target)][1],
            line.source,
            line.target,
        )
        for line in layout.lines
    ]
    return Drawing(
        layout.width, layout.height, shown, drawn_edges, left_out=len(nodes) - len(shown)
    )
