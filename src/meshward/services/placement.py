"""Where a package sits in an SBOM: its dependency kind and its shortest path from a root.

Each occurrence stores, at ingest, the node before it on its shortest path from a root
(``Occurrence.path_parent_ref``), so a path is one short recursive chain per package.
Occurrences stored before that column (NULL) fall back to the SBOM walk: a recursive CTE
with ``UNION``, which keeps each row once: it collects the dependency edges above the hit
packages, ends on any cycle and never enumerates paths (exponential on a dense graph); the
shortest path is then read off the edges with one breadth-first pass in Python.

The matcher stores each finding's placement (``Finding.dependency``, ``Finding.path``), so
a blast radius of an advisory reads it with the finding; a purl or name query places its
hits here, and keeps what it found by document (``impact._placements``)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import aliased

from meshward.store.models import Occurrence, SbomDependency, SbomDocument

CHUNK = 500

Placement = tuple[str, Sequence[str]]
"""Where a package sits in an SBOM: its dependency kind (``root``, ``direct``,
``transitive``, ``unknown``) and its shortest path from a root (labels, root first; empty
when no root reaches it), over all its occurrences there. Placed here: a tuple; read back
from a finding: the list its JSON decodes to."""

UNPLACED: Placement = ("unknown", ())

_Occurrence = tuple[int, str, str, str | None]
"""(document, ref, dependency kind, path parent) of a hit in its version's current SBOM."""


KIND_ORDER = {"root": 0, "direct": 1, "transitive": 2, "unknown": 3}


def place(
    conn: Any, hits: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, str, Placement]]:
    """(component version, package) -> (document, digest, placement) of each hit in its
    version's current SBOM: of the package's occurrences there, the one with the shortest
    path wins, then the closer kind, then the ref. Hits with no occurrence are left out.
    A fixed number of statements per ``CHUNK`` hits, whatever the paths' length."""

    def run(statement: Any, values: dict[str, Any]) -> Sequence[Any]:
        return conn.execute(statement, values).all()  # type: ignore[no-any-return]

    occurrences: dict[tuple[int, int], list[_Occurrence]] = defaultdict(list)
    digests: dict[int, str] = {}
    for start in range(0, len(hits), CHUNK):
        part = set(hits[start : start + CHUNK])
        found = run(
            _occurrence_statement(),
            {"versions": sorted({v for v, _ in part}), "packages": sorted({p for _, p in part})},
        )
        for cv, pkg, doc, ref, kind, parent, digest in found:
            if (cv, pkg) in part:  # the two lists also pair versions and packages of no hit
                occurrences[(cv, pkg)].append((doc, ref, kind, parent))
                digests[doc] = digest

    def read(statement: Any) -> Callable[[list[int], list[str]], Sequence[Any]]:
        return lambda documents, refs: run(statement, {"documents": documents, "refs": refs})

    paths = _paths(occurrences, read(_walk_statement()), read(_chain_statement()))
    out: dict[tuple[int, int], tuple[int, str, Placement]] = {}
    for key, held in occurrences.items():
        best: tuple[int, int, str] | None = None
        placed = UNPLACED
        for doc, ref, kind, _ in held:
            path = paths.get((doc, ref), ())
            rank = (len(path) if path else 1 << 30, KIND_ORDER.get(kind, 3), ref)
            if best is None or rank < best:
                best, placed = rank, (kind, path)
        doc = held[0][0]
        out[key] = (doc, digests[doc], placed)
    return out


_Paths = dict[tuple[int, str], tuple[str, ...]]


def _paths(
    occurrences: dict[tuple[int, int], list[_Occurrence]],
    walk: Callable[[list[int], list[str]], Sequence[Any]],
    chains: Callable[[list[int], list[str]], Sequence[Any]],
) -> _Paths:
    """(document, ref) -> shortest dependency path, for each of ``occurrences``: read off the
    chain stored at ingest (``Occurrence.path_parent_ref``: one short chain per package) or,
    when an occurrence predates it, off the edges the recursive walk collects (``walk``),
    which reads every ancestor edge of each package (~0.15 ms per affected version)."""
    parents = {(doc, ref): parent for held in occurrences.values() for doc, ref, _, parent in held}
    targets = list(parents)
    stored = all(parent is not None for parent in parents.values())
    rows: list[Any] = []
    for start in range(0, len(targets), CHUNK):
        part = targets[start : start + CHUNK]
        rows += (chains if stored else walk)(
            sorted({d for d, _ in part}), sorted({r for _, r in part})
        )
    return _chain_paths(rows, targets) if stored else _dependency_paths(rows, set(targets))


def _chain_paths(rows: Sequence[Any], targets: Iterable[tuple[int, str]]) -> _Paths:
    """(document, ref) -> path, root first, by following each target's stored chain."""
    nodes = {
        (doc, ref): (parent, _label(ref, purl, name, version))
        for doc, ref, parent, purl, name, version in rows
    }
    out: _Paths = {}
    for doc, ref in targets:
        chain: list[str] = []
        node = ref
        while len(chain) <= len(nodes):  # (a chain is a tree path: this only guards)
            found = nodes.get((doc, node))
            if found is None or found[0] == node:  # unreached by any root
                chain = []
                break
            chain.append(found[1])
            if not found[0]:
                break
            node = found[0]
        if chain:
            out[(doc, ref)] = tuple(reversed(chain))
    return out


def _dependency_paths(rows: Sequence[Any], targets: set[tuple[int, str]]) -> _Paths:
    """(document, ref) -> shortest path from a root of the document, as labels, read off the
    edges the CTE collected with one breadth-first pass per document."""
    children: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    labels: dict[tuple[int, str], str] = {}
    roots: dict[int, set[str]] = defaultdict(set)
    for doc, src, dst, purl, name, version, dependency in rows:
        children[doc][src].add(dst)
        labels[(doc, src)] = _label(src, purl, name, version)
        if dependency == "root":
            roots[doc].add(src)
    out: _Paths = {}
    for doc, graph in children.items():
        came_from: dict[str, str] = dict.fromkeys(roots[doc], "")
        queue = deque(sorted(roots[doc]))
        while queue:
            current = queue.popleft()
            for child in sorted(graph.get(current, ())):
                if child not in came_from:
                    came_from[child] = current
                    queue.append(child)
        for ref in came_from:
            if (doc, ref) not in targets:
                continue
            chain = [ref]
            while came_from[chain[-1]]:
                chain.append(came_from[chain[-1]])
            out[(doc, ref)] = tuple(labels.get((doc, r), r) for r in reversed(chain))
    return out


def _label(ref: str, purl: str | None, name: str | None, version: str | None) -> str:
    if purl:
        return purl
    if name:
        return f"{name}@{version}" if version else name
    return ref


@cache
def _occurrence_statement() -> Any:
    """Where some hits occur in their version's current SBOM: (version, package, document,
    ref, dependency kind, path parent, document digest). Versions and packages are bound
    separately; the caller keeps its own pairs."""
    return (
        select(
            Occurrence.component_version_id,
            Occurrence.package_id,
            Occurrence.document_id,
            Occurrence.ref,
            Occurrence.dependency,
            Occurrence.path_parent_ref,
            SbomDocument.digest,
        )
        .join(SbomDocument, SbomDocument.id == Occurrence.document_id)
        .where(
            Occurrence.component_version_id.in_(bindparam("versions", expanding=True)),
            Occurrence.package_id.in_(bindparam("packages", expanding=True)),
            SbomDocument.current.is_(True),
        )
    )


@cache
def _walk_statement() -> Any:
    """The dependency edges above some packages (for occurrences with no stored chain):
    walked *upwards* (to_ref -> from_ref), touching only their ancestors, not the whole
    SBOM; UNION keeps each edge once. Bound like ``_chain_statement``: the pairs of the
    two lists that are no target only add their own ancestors, which leave the targets'
    shortest paths as they are."""
    edge = aliased(SbomDependency)
    up = (
        select(edge.document_id, edge.from_ref, edge.to_ref)
        .where(
            edge.document_id.in_(bindparam("documents", expanding=True)),
            edge.to_ref.in_(bindparam("refs", expanding=True)),
        )
        .cte("up", recursive=True)
    )
    parent = aliased(SbomDependency)
    up = up.union(
        select(parent.document_id, parent.from_ref, parent.to_ref).join(
            up, and_(parent.document_id == up.c.document_id, parent.to_ref == up.c.from_ref)
        )
    )
    node = aliased(Occurrence)
    return (
        select(
            up.c.document_id,
            up.c.from_ref,
            up.c.to_ref,
            node.purl,
            node.name,
            node.version,
            node.dependency,
        )
        .select_from(up)
        .outerjoin(node, and_(node.document_id == up.c.document_id, node.ref == up.c.from_ref))
    )


@cache
def _chain_statement() -> Any:
    """The stored shortest-path chains (``Occurrence.path_parent_ref``) above some packages:
    one short chain each, where the walk reads every ancestor edge. Documents and refs are
    bound separately (a row-value IN is not portable), so the caller keeps its own pairs."""

    def columns(o: Any) -> tuple[Any, ...]:
        return (o.document_id, o.ref, o.path_parent_ref, o.purl, o.name, o.version)

    node = aliased(Occurrence)
    chain = (
        select(*columns(node))
        .where(
            node.document_id.in_(bindparam("documents", expanding=True)),
            node.ref.in_(bindparam("refs", expanding=True)),
        )
        .cte("chain", recursive=True)
    )
    parent = aliased(Occurrence)
    chain = chain.union(
        select(*columns(parent)).join(
            chain,
            and_(parent.document_id == chain.c.document_id, parent.ref == chain.c.path_parent_ref),
        )
    )
    return select(chain)
