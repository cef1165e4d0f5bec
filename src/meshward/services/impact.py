"""Blast radius: when an advisory lands (or a package is suspect), who is hit.

One call answers, for an advisory (by its id or any alias), a purl (with or without a version
or a version range) or a bare package name across ecosystems:

- the affected component versions, with the package path that brings the package in;
- the application versions that contain them, the latest version of each application first;
- the environments where an affected version runs now, and since when;
- the consumers: every component that calls an affected component over an API link,
  transitively, with the shortest path (component -> api -> component ...);
- per affected package, the smallest upgrade that clears what affects it.

Query forms (``parse_package_query`` documents the purl ones):

=============================================  ==============================================
``CVE-2021-44228``, ``GHSA-jfh8-c2jp-5v3q``      an advisory, by OSV id or any alias
``pkg:pypi/django``                             every version of a package
``pkg:pypi/django@3.2.4``                       one version (equal in the ecosystem's order)
``pkg:pypi/django@>=3.0,<3.2.5``                a range: comma-separated ``>=``, ``>``,
                                                ``<=``, ``<``, ``=``/``==``, ``!=``, all of
                                                which must hold, in the ecosystem's own order
``log4j-core``                                  a bare name: the name part of a package in any
                                                ecosystem (``org.apache...:log4j-core``,
                                                ``npm log4j-core``), or its full name
=============================================  ==============================================

Everything is set-based: a fixed number of queries whatever the size of the answer, each
restricted by the same ``hits`` subquery (component version x package). The SBOM walk is a
recursive CTE with ``UNION``, which keeps each row once: it collects the dependency edges
above the hit packages, ends on any cycle and never enumerates paths (exponential on a dense
graph); the shortest path is then read off the edges with one breadth-first pass in Python,
and kept, since a stored SBOM never changes. The API walk runs in memory over the estate's
API links, read once per catalog change (``api_graph``): every blast radius walks them,
while they change only on catalog import.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from meshward.ecosystems.purls import coordinates
from meshward.ecosystems.registry import UnknownEcosystem, get_ecosystem
from meshward.errors import MeshwardError, NotFoundError
from meshward.formats.sbom.common import gc_paused
from meshward.services import catalog
from meshward.services.advisories import find_advisory
from meshward.services.refs import split_key
from meshward.store.models import (
    Advisory,
    AdvisoryAlias,
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Entity,
    Environment,
    Finding,
    Occurrence,
    Package,
    Relation,
    SbomDependency,
    SbomDocument,
)
from meshward.store.types import UTCDateTime, utcnow

CHUNK = 500
SEVERITY_RANK = {None: 0, "none": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

_ADVISORY_ID = re.compile(
    r"^(GHSA(-[0-9a-z]{4}){3}|[a-z][a-z0-9]*-\d{4}-[0-9a-z._-]+)$", re.IGNORECASE
)
"""What looks like an advisory id (CVE-2021-44228, PYSEC-2022-213, GO-2023-2102, GHSA-...):
when no advisory has it, the error says so rather than "no package"."""

_COMPARATOR = re.compile(r"^\s*(>=|<=|!=|==|=|>|<)\s*([^\s<>=!,]+)\s*$")


# ---------------------------------------------------------------- the answer


@dataclass
class Vulnerability:
    """One vulnerability affecting one package of one component version (a finding)."""

    vulnerability: str
    severity: str | None
    score: float | None
    fixed_version: str | None
    state: str


@dataclass
class AffectedComponent:
    component: str
    key: str
    owner: str | None
    version: str
    purl: str
    package: str
    """The package name as its ecosystem spells it (``org.apache.logging.log4j:log4j-core``)."""
    ecosystem: str | None
    installed: str | None
    dependency: str
    """``direct``, ``transitive``, ``root`` (the package is the described subject) or
    ``unknown`` (the SBOM has no dependency graph reaching it)."""
    path: list[str]
    """Shortest dependency path, root first and the package last (purls, or name@version
    where a node has no purl); empty when no path from a root is known."""
    vulnerabilities: list[Vulnerability]
    upgrade_to: str | None
    """Smallest version that clears every listed vulnerability; None when one of them has no
    fix (or nothing is listed)."""
    environments: list[str]
    """Where this version runs now."""


@dataclass
class PackageFix:
    purl: str
    fixed_version: str | None


@dataclass
class AdvisoryView:
    vulnerability: str
    ids: list[str]
    """The OSV records of this vulnerability."""
    aliases: list[str]
    summary: str | None
    severity: str | None
    score: float | None
    withdrawn: bool
    fixes: list[PackageFix]
    """For each affected package version held in the estate, its smallest fix."""


@dataclass
class AppVersionHit:
    application: str
    version: str
    seq: int
    latest: bool
    components: list[str]
    """The affected members, ``component@version``."""


@dataclass
class RunningVersion:
    environment: str
    production: bool
    component: str
    version: str
    since: str


@dataclass
class Consumer:
    component: str
    key: str
    owner: str | None
    depth: int
    """API hops from the nearest affected component (1: calls it directly)."""
    via: str
    """The affected component the path starts from."""
    path: list[str]
    """``affected, api, component, api, ..., this component``: shortest, by name."""


@dataclass
class PackageQuery:
    """How a purl or bare-name query was read."""

    ecosystem: str | None
    name: str
    version: str | None = None
    range: str | None = None
    type: str | None = None


@dataclass
class BlastRadius:
    query: str
    kind: str
    """``advisory``, ``purl`` or ``package`` (a bare name)."""
    vulnerability: str | None
    package: PackageQuery | None
    environment: str | None
    at: str
    packages: list[str]
    advisories: list[AdvisoryView]
    components: list[AffectedComponent]
    applications: list[AppVersionHit]
    environments: list[RunningVersion]
    consumers: list[Consumer]
    summary: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- reading the query


@dataclass(frozen=True)
class _Target:
    kind: str
    vulnerability: str | None = None
    package_ids: tuple[int, ...] = ()
    package: PackageQuery | None = None


def parse_version_range(text: str) -> list[tuple[str, str]]:
    """``>=3.0,<3.2.5`` to ``[(">=", "3.0"), ("<", "3.2.5")]``; every part must hold."""
    parts = []
    for piece in text.split(","):
        m = _COMPARATOR.match(piece)
        if not m:
            raise MeshwardError(
                f"version range {text!r}: use comparators joined by commas, e.g. '>=3.0,<3.2.5'"
            )
        parts.append((m.group(1).replace("==", "="), m.group(2)))
    return parts


def parse_package_query(text: str) -> PackageQuery:
    """``pkg:type/namespace/name[@version | @range]``; qualifiers and subpath are ignored.

    The part after the last ``@`` that follows the last ``/`` is the version, so npm scopes
    (``pkg:npm/@babel/core``) need no escaping. A version that starts with a comparator
    (``<``, ``>``, ``=``, ``!``) is a range (``parse_version_range``)."""
    body = text.strip().split("#", 1)[0].split("?", 1)[0]
    if not body.lower().startswith("pkg:"):
        raise MeshwardError(f"not a purl: {text!r}")
    at = body.find("@", body.rfind("/") + 1)
    path, spec = (body[:at], body[at + 1 :].strip()) if at != -1 else (body, "")
    try:
        c = coordinates("pkg:" + path[4:].replace("@", "%40"))
    except (ValueError, UnknownEcosystem) as exc:
        raise MeshwardError(f"not a purl: {text!r}") from exc
    query = PackageQuery(ecosystem=c.ecosystem, name=c.name, type=c.type)
    if spec and spec[0] in "<>=!":
        parse_version_range(spec)
        if c.ecosystem is None:
            raise MeshwardError(f"{text!r}: version ranges need a known ecosystem")
        query.range = spec
    elif spec:
        query.version = spec
    return query


def _sort_key_of(ecosystem: str | None) -> Any:
    if ecosystem is None:
        return None
    try:
        return get_ecosystem(ecosystem).sort_key
    except UnknownEcosystem:
        return None


def _version_filter(query: PackageQuery) -> Any:
    """A predicate on package versions for the query's version or range."""
    key = _sort_key_of(query.ecosystem)
    if query.range:
        assert key is not None
        bounds = []
        for op, bound in parse_version_range(query.range):
            try:
                bounds.append((op, key(bound)))
            except ValueError as exc:
                raise MeshwardError(f"{bound!r} is not a {query.ecosystem} version") from exc
        checks = {
            ">=": lambda a, b: a >= b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            "<": lambda a, b: a < b,
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
        }

        def in_range(version: str | None) -> bool:
            if not version:
                return False
            try:
                have = key(version)
            except ValueError:
                return False
            return all(checks[op](have, b) for op, b in bounds)

        return in_range
    if query.version:
        wanted = query.version
        try:
            wanted_key = key(wanted) if key else None
        except ValueError:
            wanted_key = None

        def equal(version: str | None) -> bool:
            if version == wanted:
                return True
            if version is None or wanted_key is None:
                return False
            try:
                return bool(key(version) == wanted_key)
            except ValueError:
                return False

        return equal
    return lambda version: True


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _advisory_vulnerability(session: Session, text: str) -> str | None:
    """The vulnerability an id or alias names. Exact spellings first (an index lookup), then
    any case for what looks like an advisory id."""
    spellings = {text, text.upper()}
    if text.upper().startswith("GHSA-"):
        spellings.add("GHSA-" + text[5:].lower())
    found = session.scalars(
        select(Advisory.vulnerability)
        .join(AdvisoryAlias, AdvisoryAlias.advisory_id == Advisory.id)
        .where(AdvisoryAlias.alias.in_(sorted(spellings)))
        .order_by(Advisory.withdrawn.is_not(None), Advisory.osv_id)
        .limit(1)
    ).first()
    if found is None and _ADVISORY_ID.match(text):
        try:
            found = find_advisory(session, text).vulnerability
        except NotFoundError:
            return None
    return found


def _resolve(session: Session, query: str) -> _Target:
    text = query.strip()
    if not text:
        raise MeshwardError("blast radius of what? give an advisory id, a purl or a name")
    if text.lower().startswith("pkg:"):
        pq = parse_package_query(text)
        cond = [Package.name == pq.name]
        if pq.ecosystem is not None:
            cond.append(Package.ecosystem == pq.ecosystem)
        else:
            cond += [Package.type == pq.type, Package.ecosystem.is_(None)]
        rows = session.execute(select(Package.id, Package.version).where(*cond)).all()
        if not rows:
            raise NotFoundError(f"no SBOM holds any version of {text.split('@')[0]!r}")
        keep = _version_filter(pq)
        ids = tuple(sorted(i for i, v in rows if keep(v)))
        return _Target("purl", package_ids=ids, package=pq)
    vulnerability = _advisory_vulnerability(session, text)
    if vulnerability is not None:
        return _Target("advisory", vulnerability=vulnerability)
    name = text.lower()
    lname = func.lower(Package.name)
    names = {name, re.sub(r"[-_.]+", "-", name)}
    ids = tuple(
        sorted(
            session.scalars(
                select(Package.id).where(
                    or_(
                        lname.in_(sorted(names)),
                        lname.like("%:" + _like_escape(name), escape="\\"),
                        lname.like("%/" + _like_escape(name), escape="\\"),
                    )
                )
            ).all()
        )
    )
    if not ids:
        if _ADVISORY_ID.match(text):
            raise NotFoundError(f"no advisory {text!r} (by id or alias), and no package named so")
        raise NotFoundError(
            f"nothing matches {text!r}: no advisory has this id or alias, and no SBOM holds "
            "a package of this name"
        )
    return _Target("package", package_ids=ids, package=PackageQuery(ecosystem=None, name=text))


# ---------------------------------------------------------------- the statements
#
# Built once per (query kind, environment filter or not) with bound parameters, so a call
# costs neither statement construction nor compilation (SQLAlchemy caches the compiled
# form). Every statement is restricted by the same ``hits`` subquery.


@dataclass(frozen=True)
class _Statements:
    entries: Any
    vulnerabilities: Any
    paths: Any
    deployments: Any
    applications: Any


def _is_running(environment: bool) -> Any:
    """Deployments running at ``:now`` (in ``:environment_id``)."""
    now = bindparam("now", type_=UTCDateTime())
    cond = and_(
        Deployment.started_at <= now,
        or_(Deployment.ended_at.is_(None), Deployment.ended_at > now),
    )
    if environment:
        cond = and_(cond, Deployment.environment_id == bindparam("environment_id"))
    return cond


@cache
def _statements(kind: str, environment: bool) -> _Statements:
    hits_query: Any
    if kind == "advisory":
        hits_query = select(
            Finding.component_version_id.label("cv"), Finding.package_id.label("pkg")
        ).where(Finding.vulnerability == bindparam("vulnerability"), Finding.active.is_(True))
    else:
        hits_query = (
            select(Occurrence.component_version_id.label("cv"), Occurrence.package_id.label("pkg"))
            .join(SbomDocument, SbomDocument.id == Occurrence.document_id)
            .where(
                SbomDocument.current.is_(True),
                Occurrence.package_id.in_(bindparam("package_ids", expanding=True)),
            )
            .distinct()
        )
    if environment:
        hits_query = hits_query.where(
            hits_query.selected_columns.cv.in_(
                select(Deployment.component_version_id).where(_is_running(True))
            )
        )
    hits = hits_query.subquery("hits")
    hit_versions = select(hits.c.cv)

    entries = (
        select(
            hits.c.cv,
            hits.c.pkg,
            ComponentVersion.version,
            ComponentVersion.created_at,
            Component.name,
            Component.key,
            Component.owner,
            Package.purl,
            Package.name,
            Package.ecosystem,
            Package.version,
            Occurrence.document_id,
            Occurrence.ref,
            Occurrence.dependency,
            SbomDocument.digest,
        )
        .select_from(hits)
        .join(
            Occurrence,
            and_(Occurrence.component_version_id == hits.c.cv, Occurrence.package_id == hits.c.pkg),
        )
        .join(SbomDocument, SbomDocument.id == Occurrence.document_id)
        .join(ComponentVersion, ComponentVersion.id == hits.c.cv)
        .join(Component, Component.id == ComponentVersion.component_id)
        .join(Package, Package.id == hits.c.pkg)
        .where(SbomDocument.current.is_(True))
    )

    vulnerabilities = (
        select(
            Finding.component_version_id,
            Finding.package_id,
            Finding.vulnerability,
            Finding.severity,
            Finding.severity_score,
            Finding.fixed_version,
            Finding.state,
        )
        .join(
            hits,
            and_(hits.c.cv == Finding.component_version_id, hits.c.pkg == Finding.package_id),
        )
        .where(Finding.active.is_(True))
    )
    if kind == "advisory":
        vulnerabilities = vulnerabilities.where(Finding.vulnerability == bindparam("vulnerability"))

    # Dependency paths: walk *upwards* from the hit packages (to_ref -> from_ref), touching
    # only their ancestors, not the whole SBOM; UNION keeps each edge once.
    targets = (
        select(Occurrence.document_id, Occurrence.ref)
        .join(
            hits,
            and_(hits.c.cv == Occurrence.component_version_id, hits.c.pkg == Occurrence.package_id),
        )
        .join(SbomDocument, SbomDocument.id == Occurrence.document_id)
        .where(SbomDocument.current.is_(True))
        .subquery("targets")
    )
    edge = aliased(SbomDependency)
    up = (
        select(edge.document_id, edge.from_ref, edge.to_ref)
        .join(
            targets,
            and_(edge.document_id == targets.c.document_id, edge.to_ref == targets.c.ref),
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
    paths = (
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

    deployments = (
        select(
            Environment.name,
            Environment.production,
            Deployment.component_version_id,
            Deployment.started_at,
        )
        .join(Environment, Environment.id == Deployment.environment_id)
        .where(Deployment.component_version_id.in_(hit_versions), _is_running(environment))
    )

    hit_apps = (
        select(
            ApplicationVersion.application_id,
            ApplicationVersion.version,
            ApplicationVersion.seq,
            ApplicationVersionMember.component_version_id,
        )
        .join(
            ApplicationVersion,
            ApplicationVersion.id == ApplicationVersionMember.application_version_id,
        )
        .where(ApplicationVersionMember.component_version_id.in_(hit_versions))
        .subquery("hit_apps")
    )
    newest = aliased(ApplicationVersion)
    applications = (
        select(
            Application.name,
            hit_apps.c.version,
            hit_apps.c.seq,
            select(func.max(newest.seq))
            .where(newest.application_id == hit_apps.c.application_id)
            .scalar_subquery(),
            hit_apps.c.component_version_id,
        )
        .select_from(hit_apps)
        .join(Application, Application.id == hit_apps.c.application_id)
    )

    return _Statements(entries, vulnerabilities, paths, deployments, applications)


# ---------------------------------------------------------------- the walk


def blast_radius(
    session: Session,
    query: str,
    *,
    environment: str | None = None,
    at: datetime | None = None,
    consumer_limit: int | None = None,
) -> BlastRadius:
    """Who is hit by ``query`` (an advisory id or alias, a purl, a purl with a version or a
    range, or a bare package name), now or at ``at``.

    With ``environment``, the answer is the blast radius *in* that environment: only the
    affected component versions that run there (at ``at``), and what follows from them.
    Findings count whatever their analysis state (each carries its ``state``); a finding
    that re-matching turned off (``active`` false) does not.

    ``consumer_limit`` lists only the nearest consumers (by depth, then name); the summary
    still counts them all. A shared platform service is called, transitively, by most of
    an estate: thousands of consumers nobody reads one by one."""
    with gc_paused():  # tens of thousands of small objects, no cycles
        return _blast_radius(session, query, environment, at, consumer_limit)


def _blast_radius(
    session: Session,
    query: str,
    environment: str | None,
    at: datetime | None,
    consumer_limit: int | None,
) -> BlastRadius:
    now = at or utcnow()
    target = _resolve(session, query)
    env_id = catalog.get_environment(session, environment).id if environment else None
    statements = _statements(
        "advisory" if target.kind == "advisory" else "package", env_id is not None
    )
    params: dict[str, Any] = {"now": now}
    if target.kind == "advisory":
        params["vulnerability"] = target.vulnerability
    else:
        params["package_ids"] = list(target.package_ids)
    if env_id is not None:
        params["environment_id"] = env_id
    session.flush()  # the statements run on the connection, past the ORM's autoflush
    conn = session.connection()

    def run(statement: Any) -> Sequence[Any]:
        return conn.execute(statement, params).all()

    entries = _entries(run(statements.entries))
    vulns = _vulnerabilities(run(statements.vulnerabilities))
    paths = _known_paths(conn, entries, lambda: run(statements.paths))
    running = [(e, bool(p), cv, s) for e, p, cv, s in run(statements.deployments)]
    apps = _applications(run(statements.applications), entries)
    components = _components(entries, vulns, paths, running)
    advisories = _advisories(session, vulns, entries, target.vulnerability)
    consumers, consumer_count = _consumers(api_graph(session), components, consumer_limit)

    cv_names = {cv: (e.component, e.version) for (cv, _), e in entries.items()}
    deployed = [
        RunningVersion(env, prod, *cv_names[cv_id], _iso(since))
        for env, prod, cv_id, since in running
    ]
    deployed.sort(key=lambda d: (not d.production, d.environment, d.component, d.version))
    summary = {
        "components": len({c.key for c in components}),
        "component_versions": len({(c.key, c.version) for c in components}),
        "applications": len({a.application for a in apps}),
        "application_versions": len(apps),
        "environments": len({d.environment for d in deployed}),
        "running": len({(d.environment, d.component, d.version) for d in deployed}),
        "consumers": consumer_count,
    }
    return BlastRadius(
        query=query,
        kind=target.kind,
        vulnerability=target.vulnerability,
        package=target.package,
        environment=environment,
        at=_iso(now),
        packages=sorted({c.purl for c in components}),
        advisories=advisories,
        components=components,
        applications=apps,
        environments=deployed,
        consumers=consumers,
        summary=summary,
    )


@dataclass
class _Entry:
    cv_id: int
    version: str
    created_at: datetime
    component: str
    key: str
    owner: str | None
    package_id: int
    purl: str
    package: str
    ecosystem: str | None
    installed: str | None
    occurrences: list[tuple[int, str, str]] = field(default_factory=list)
    """(document, ref, dependency) of each occurrence in the current SBOM."""
    digests: dict[int, str] = field(default_factory=dict)
    """document -> its digest."""


def _entries(rows: Sequence[Any]) -> dict[tuple[int, int], _Entry]:
    entries: dict[tuple[int, int], _Entry] = {}
    for (
        cv_id,
        package_id,
        version,
        created_at,
        component,
        key,
        owner,
        purl,
        package,
        ecosystem,
        installed,
        document_id,
        ref,
        dependency,
        digest,
    ) in rows:
        entry = entries.get((cv_id, package_id))
        if entry is None:
            entry = entries[(cv_id, package_id)] = _Entry(
                cv_id,
                version,
                created_at,
                component,
                key,
                owner,
                package_id,
                purl,
                package,
                ecosystem,
                installed,
            )
        entry.occurrences.append((document_id, ref, dependency))
        entry.digests[document_id] = digest
    return entries


def _vulnerabilities(rows: Sequence[Any]) -> dict[tuple[int, int], list[Vulnerability]]:
    out: dict[tuple[int, int], list[Vulnerability]] = defaultdict(list)
    for cv_id, pkg_id, vuln, severity, score, fixed, state in rows:
        out[(cv_id, pkg_id)].append(Vulnerability(vuln, severity, score, fixed, state))
    for items in out.values():
        items.sort(
            key=lambda v: (-(v.score or 0.0), -SEVERITY_RANK.get(v.severity, 0), v.vulnerability)
        )
    return out


PATHS_KEPT = 100_000
"""Dependency paths kept per engine (a few hundred bytes each)."""

_paths_by_engine: WeakKeyDictionary[Any, dict[tuple[int, str, str], list[str]]] = (
    WeakKeyDictionary()
)


def _known_paths(
    conn: Any, entries: dict[tuple[int, int], _Entry], walk: Callable[[], Sequence[Any]]
) -> dict[tuple[int, str], list[str]]:
    """(document, ref) -> shortest dependency path, for every occurrence of ``entries``.

    A stored SBOM never changes (a new upload is a new document), so a path found once is
    kept, by document, digest and ref. The SBOM walk is most of a big blast radius (~0.15 ms
    per affected version on SQLite); an advisory asked about again, or one that hits the same
    documents, skips it. ``walk`` runs the walk when any path is not known yet."""
    kept = _paths_by_engine.setdefault(conn.engine, {})
    keys = {
        (doc, ref): (doc, e.digests[doc], ref)
        for e in entries.values()
        for doc, ref, _ in e.occurrences
    }
    known = {target: kept.get(key) for target, key in keys.items()}
    if all(path is not None for path in known.values()):  # (another thread may clear kept)
        return {target: list(path or ()) for target, path in known.items()}
    paths = _dependency_paths(walk(), set(keys))
    if len(kept) + len(keys) > PATHS_KEPT:
        kept.clear()
    for target, key in keys.items():
        kept[key] = list(paths.get(target, ()))
    return paths


def _dependency_paths(
    rows: Sequence[Any], targets: set[tuple[int, str]]
) -> dict[tuple[int, str], list[str]]:
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
    out: dict[tuple[int, str], list[str]] = {}
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
            out[(doc, ref)] = [labels.get((doc, r), r) for r in reversed(chain)]
    return out


def _label(ref: str, purl: str | None, name: str | None, version: str | None) -> str:
    if purl:
        return purl
    if name:
        return f"{name}@{version}" if version else name
    return ref


def _applications(
    rows: Sequence[Any], entries: dict[tuple[int, int], _Entry]
) -> list[AppVersionHit]:
    names = {cv: f"{e.component}@{e.version}" for (cv, _), e in entries.items()}
    grouped: dict[tuple[str, str, int, int], set[str]] = defaultdict(set)
    for app, version, seq, top, cv_id in rows:
        grouped[(app, version, seq, top)].add(names[cv_id])
    found = [
        AppVersionHit(app, version, seq, seq == top, sorted(members))
        for (app, version, seq, top), members in grouped.items()
    ]
    found.sort(key=lambda a: (a.application, -a.seq))
    return found


def _components(
    entries: dict[tuple[int, int], _Entry],
    vulns: dict[tuple[int, int], list[Vulnerability]],
    paths: dict[tuple[int, str], list[str]],
    running: Sequence[tuple[str, bool, int, datetime]],
) -> list[AffectedComponent]:
    envs: dict[int, set[str]] = defaultdict(set)
    for env, _, cv_id, _ in running:
        envs[cv_id].add(env)
    order = {"root": 0, "direct": 1, "transitive": 2, "unknown": 3}
    out = []
    for key, e in entries.items():
        best: tuple[int, int, str] | None = None
        best_path: list[str] = []
        best_kind = "unknown"
        for doc, ref, kind in e.occurrences:
            path = paths.get((doc, ref), [])
            rank = (len(path) if path else 1 << 30, order.get(kind, 3), ref)
            if best is None or rank < best:
                best, best_path, best_kind = rank, path, kind
        if best_kind == "root" and not best_path:
            best_path = [e.purl]
        found = vulns.get(key, [])
        out.append(
            AffectedComponent(
                component=e.component,
                key=e.key,
                owner=e.owner,
                version=e.version,
                purl=e.purl,
                package=e.package,
                ecosystem=e.ecosystem,
                installed=e.installed,
                dependency=best_kind,
                path=best_path,
                vulnerabilities=found,
                upgrade_to=clearing_upgrade(e.ecosystem, [v.fixed_version for v in found]),
                environments=sorted(envs.get(e.cv_id, ())),
            )
        )
    created = {(e.key, e.version): e.created_at for e in entries.values()}
    out.sort(key=lambda c: (c.component, created[(c.key, c.version)], c.version, c.purl))
    return out


def clearing_upgrade(ecosystem: str | None, fixes: Iterable[str | None]) -> str | None:
    """The smallest version that clears every one of several vulnerabilities: the highest of
    their smallest fixes, in the ecosystem's order. None when one has no fix, or none given."""
    distinct = set(fixes)
    if not distinct or None in distinct:
        return None
    known = sorted(f for f in distinct if f is not None)
    if len(known) == 1:
        return known[0]
    key = _sort_key_of(ecosystem)
    if key is not None:
        try:
            return str(max(known, key=key))
        except ValueError:
            pass
    return max(known)


def _advisories(
    session: Session,
    vulns: dict[tuple[int, int], list[Vulnerability]],
    entries: dict[tuple[int, int], _Entry],
    vulnerability: str | None,
) -> list[AdvisoryView]:
    """The queried vulnerability (even when nothing is hit), or every vulnerability that
    affects a hit package, each with the fix of every affected package version."""
    fixes: dict[str, dict[str, str | None]] = defaultdict(dict)
    if vulnerability is not None:
        fixes[vulnerability] = {}
    for key, items in vulns.items():
        for v in items:
            fixes[v.vulnerability][entries[key].purl] = v.fixed_version
    names = sorted(fixes)
    records: dict[str, list[Any]] = defaultdict(list)
    for start in range(0, len(names), CHUNK):
        for row in session.execute(
            select(
                Advisory.vulnerability,
                Advisory.osv_id,
                Advisory.aliases,
                Advisory.summary,
                Advisory.severity,
                Advisory.severity_score,
                Advisory.withdrawn,
            ).where(Advisory.vulnerability.in_(names[start : start + CHUNK]))
        ):
            records[row[0]].append(row)
    views = [_advisory_view(name, records[name], fixes[name]) for name in names]
    views.sort(
        key=lambda a: (-(a.score or 0.0), -SEVERITY_RANK.get(a.severity, 0), a.vulnerability)
    )
    return views


def _advisory_view(name: str, rows: list[Any], fixes: dict[str, str | None]) -> AdvisoryView:
    rows = sorted(rows, key=lambda r: (r[6] is not None, r[1]))
    aliases = sorted({a for r in rows for a in [r[1], *(r[2] or [])]})
    severity = max((r[4] for r in rows), key=lambda s: SEVERITY_RANK.get(s, 0), default=None)
    scores = [r[5] for r in rows if r[5] is not None]
    return AdvisoryView(
        vulnerability=name,
        ids=[r[1] for r in rows],
        aliases=aliases,
        summary=next((r[3] for r in rows if r[3]), None),
        severity=severity,
        score=max(scores) if scores else None,
        withdrawn=bool(rows) and all(r[6] is not None for r in rows),
        fixes=[PackageFix(purl, fix) for purl, fix in sorted(fixes.items())],
    )


@dataclass(frozen=True)
class _ApiGraph:
    """Who calls whom: provider key -> its ``(api key, consumer key)`` links, each list in
    the order the walk visits them (consumer name, then the link), and every consumer's name
    and owner."""

    links: dict[str, list[tuple[str, str]]]
    names: dict[str, str]
    owners: dict[str, str | None]
    api_names: dict[str, str]


_api_graphs: WeakKeyDictionary[Any, tuple[tuple[Any, ...], _ApiGraph]] = WeakKeyDictionary()
"""Per engine: the API graph and the catalog fingerprint it was read at."""


def _fingerprint_statement() -> Any:
    """What changes whenever API links or component names can: relations and components are
    counted and their newest ids taken, and every catalog import stamps the entities it
    touches (links change only there). One statement, under a millisecond on a 5,000-service
    estate, against ~30 ms to read the links again."""
    return select(
        select(func.count()).select_from(Relation).scalar_subquery(),
        select(func.max(Relation.id)).scalar_subquery(),
        select(func.count()).select_from(Component).scalar_subquery(),
        select(func.max(Component.id)).scalar_subquery(),
        select(func.max(Entity.updated_at)).scalar_subquery(),
    )


@cache
def _graph_statements() -> tuple[Any, Any]:
    provides, consumes = aliased(Relation), aliased(Relation)
    links = (
        select(
            provides.source_key,
            provides.target_key,
            consumes.source_key,
            Component.name,
            Component.owner,
        )
        .join(
            consumes,
            and_(consumes.target_key == provides.target_key, consumes.type == "consumesApi"),
        )
        .outerjoin(Component, Component.key == consumes.source_key)
        .where(provides.type == "providesApi")
    )
    return _fingerprint_statement(), links


def api_graph(session: Session) -> _ApiGraph:
    """The estate's API links, read once per catalog change and kept per engine.

    Links change only when the catalog does, while every blast radius walks them; walking
    them in memory takes a few ms where the recursive SQL walk took ~100 ms once most of a
    5,000-service estate was reached. The fingerprint is read in the caller's transaction,
    so an uncommitted change is seen (and a rolled-back one forgotten) like any query."""
    fingerprint_statement, links_statement = _graph_statements()
    conn = session.connection()
    fingerprint = tuple(conn.execute(fingerprint_statement).one())
    engine = conn.engine
    cached = _api_graphs.get(engine)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    names: dict[str, str] = {}
    owners: dict[str, str | None] = {}
    api_names: dict[str, str] = {}
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for provider, api, consumer, name, owner in conn.execute(links_statement):
        found[provider].add((api, consumer))
        names[consumer] = name or split_key(consumer)[2]
        owners[consumer] = owner
        if api not in api_names:
            api_names[api] = split_key(api)[2]
    links = {
        provider: sorted(pairs, key=lambda link: (names[link[1]], link))
        for provider, pairs in found.items()
    }
    graph = _ApiGraph(links, names, owners, api_names)
    _api_graphs[engine] = (fingerprint, graph)
    return graph


def _consumers(
    graph: _ApiGraph, components: list[AffectedComponent], limit: int | None
) -> tuple[list[Consumer], int]:
    """Every component that reaches an affected one over "consumes the API it provides"
    links, transitively, by its shortest path; affected components are not listed again.
    Returns the first ``limit`` of them (by depth, then name) and how many there are.

    Breadth-first from the affected components in name order, each provider's links in
    consumer-name order, so the path found is the same on every run; the walk keeps one
    back-link per component and spells out only the paths it returns."""
    names = graph.names | {c.key: c.component for c in components}
    sources = sorted({c.key for c in components}, key=lambda k: (names[k], k))
    depth = dict.fromkeys(sources, 0)
    came_from: dict[str, tuple[str, str]] = {}
    links = graph.links
    queue = deque(sources)
    while queue:
        current = queue.popleft()
        here = depth[current] + 1
        for api, consumer in links.get(current, ()):
            if consumer not in depth:
                depth[consumer] = here
                came_from[consumer] = (current, api)
                queue.append(consumer)
    reached = sorted(came_from, key=lambda k: (depth[k], names[k], k))
    out = []
    for key in reached if limit is None else reached[:limit]:
        path = [names[key]]
        node = key
        while node in came_from:
            node, api = came_from[node]
            path += [graph.api_names[api], names[node]]
        path.reverse()
        out.append(Consumer(names[key], key, graph.owners[key], depth[key], path[0], path))
    return out, len(reached)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
