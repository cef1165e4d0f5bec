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

Everything is set-based: a fixed number of queries whatever the size of the answer (in
chunks of ``CHUNK`` where a list is bound). A query reads its hits (component version x
package: an advisory's active findings, or the occurrences of a package in current SBOMs);
what it needs to know of the estate's component versions, deployments and application
versions changes only when those tables do, and is kept per engine and revision of the
tables it is read from (``store.revision``; ``_Catalog``): read once (on the second call at
a revision), it turns the hits into the answer's rows, running versions and application
versions without a query each. The answer is counted in full, but a page of it
(``limit``/``offset``) spells out only its own rows: their placements, vulnerabilities and
upgrades are built for the page alone; the application versions and running deployments can
be cut the same way (``application_limit``, ``environment_limit``).

Dependency paths (``services.placement``): the matcher stores with each finding where its
package sits in the version's current SBOM (dependency kind and shortest path), so an
advisory's hits bring their paths with them. A purl or name query, and findings matched
before migration 0011, place their hits from the occurrences' stored chains; what is found
is kept by document (a stored SBOM never changes). The API walk runs in memory over the
estate's API links, read once per revision of the links (``api_graph``): every blast radius
walks them, while they change only on catalog import; a walk and the consumers it lists are
kept for the next call from the same affected components. The tests check it against the
set-based walk, a recursive CTE over ``relations`` (``tests/services/test_impact_walk.py``).
"""

from __future__ import annotations

import heapq
import re
from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import DateTime, Text, and_, bindparam, cast, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from meshward.ecosystems.purls import coordinates
from meshward.ecosystems.registry import UnknownEcosystem, get_ecosystem
from meshward.errors import MeshwardError, NotFoundError
from meshward.formats.sbom.common import gc_paused
from meshward.services import catalog, placement
from meshward.services.advisories import find_advisory
from meshward.services.refs import split_key
from meshward.store import revision
from meshward.store.models import (
    Advisory,
    AdvisoryAlias,
    Application,
    ApplicationVersion,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Environment,
    Finding,
    Occurrence,
    Package,
    Relation,
    SbomDocument,
)
from meshward.store.types import utcnow

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
    page: ResultPage | None = None
    """Set when the affected versions were asked for a page at a time."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form as plain values; ``page`` only when paged."""
        data: dict[str, Any] = orjson.loads(orjson.dumps(self.json_fields()))
        return data

    def json_fields(self) -> dict[str, Any]:
        """The JSON form's top level, with the lists' dataclasses left as they are, for a
        writer that reads dataclasses natively (orjson): the API and the CLI write an answer
        of thousands of versions in one pass instead of making it into dicts first."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.page is None:
            del data["page"]
        return data


@dataclass
class ResultPage:
    """Which slice of the affected versions (``components``) an answer holds; the summary
    and every other list still cover the whole blast radius."""

    offset: int
    limit: int
    total: int
    """Rows of ``components`` in the whole answer (a version hit by two packages: two)."""
    next_offset: int | None

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


def _resolve(session: Session, query: str, counters: Mapping[str, int]) -> _Target:
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
    ids = _named_packages(session, text.lower(), counters)
    if not ids:
        if _ADVISORY_ID.match(text):
            raise NotFoundError(f"no advisory {text!r} (by id or alias), and no package named so")
        raise NotFoundError(
            f"nothing matches {text!r}: no advisory has this id or alias, and no SBOM holds "
            "a package of this name"
        )
    return _Target("package", package_ids=ids, package=PackageQuery(ecosystem=None, name=text))


def _named_packages(session: Session, name: str, counters: Mapping[str, int]) -> tuple[int, ...]:
    """The packages a bare (lower-case) name matches: by the whole name (as given, or with
    runs of ``-_.`` as one ``-``), or as the part after a ``:`` or ``/``.

    The database's ``lower`` and ``LIKE`` decide, as they always did; once the package
    names are kept (``_PackageNames``) they are asked only about the packages whose
    case-folded names could match, instead of scanning every package name (~13 ms on
    32,000)."""
    lname = func.lower(Package.name)
    names = {name, re.sub(r"[-_.]+", "-", name)}
    matches = or_(
        lname.in_(sorted(names)),
        lname.like("%:" + _like_escape(name), escape="\\"),
        lname.like("%/" + _like_escape(name), escape="\\"),
    )
    index = _NAMES.settled(session, lambda: _read_package_names(session.connection()), counters)
    if index is None:
        return tuple(sorted(session.scalars(select(Package.id).where(matches)).all()))
    folded = name.casefold()
    candidates = {p for n in names for p in index.whole.get(n.casefold(), ())}
    if ":" in folded or "/" in folded:  # the part after the last separator is not enough
        for whole, found in index.whole.items():
            if whole.endswith((":" + folded, "/" + folded)):
                candidates.update(found)
    else:
        candidates.update(index.after_colon.get(folded, ()))
        candidates.update(index.after_slash.get(folded, ()))
    listed = sorted(candidates)
    ids: list[int] = []
    for start in range(0, len(listed), CHUNK):
        part = listed[start : start + CHUNK]
        ids += session.scalars(select(Package.id).where(Package.id.in_(part), matches)).all()
    return tuple(sorted(ids))


# ---------------------------------------------------------------- the statements
#
# Built once with bound parameters, so a call costs neither statement construction nor
# compilation (SQLAlchemy caches the compiled form). What a query reads every time is its
# hits (and, for a package, their findings); what changes only with committed writes (the
# component versions, deployments, application versions: ``_Catalog``) is read once per
# data revision and kept per engine.


@dataclass(frozen=True)
class _Statements:
    hits: Any
    """One row per hit (component version x package): ``(version id, package id)`` and, for
    an advisory, its finding (vulnerability, severity, score, fix, state) and the placement
    the matcher stored with it (dependency kind, path as JSON text; NULL for findings from
    before migration 0011, placed by ``_placements`` instead). An active finding means the
    version's current SBOM holds the package (the matcher keeps it so)."""
    vulnerabilities: Any
    """The active findings of the hits (package queries: an advisory's rows carry theirs)."""


@cache
def _statements(kind: str) -> _Statements:
    hits_query: Any
    if kind == "advisory":
        hits_query = select(
            Finding.component_version_id.label("cv"),
            Finding.package_id.label("pkg"),
            Finding.vulnerability,
            Finding.severity,
            Finding.severity_score,
            Finding.fixed_version,
            Finding.state,
            Finding.dependency,
            cast(Finding.path, Text),  # decoded by orjson, for the rows shown only
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
    hits = hits_query.subquery("hits")
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
    return _Statements(hits_query, vulnerabilities)


@cache
def _package_statement() -> Any:
    """Some packages, by id: (id, purl, name, ecosystem, version)."""
    return select(Package.id, Package.purl, Package.name, Package.ecosystem, Package.version).where(
        Package.id.in_(bindparam("ids", expanding=True))
    )


@cache
def _catalog_statements(restricted: bool) -> tuple[Any, Any, Any, Any]:
    """What ``_Catalog`` is read from: component versions, deployments, application-version
    members and application versions; ``restricted`` to some component versions (bound as
    ``versions``) and application versions (``app_versions``), or the estate's."""
    versions = select(
        ComponentVersion.id,
        ComponentVersion.version,
        type_coerce(ComponentVersion.created_at, DateTime()),  # naive UTC: sorted only
        Component.name,
        Component.key,
        Component.owner,
    ).join(Component, Component.id == ComponentVersion.component_id)
    deployments = select(
        Deployment.component_version_id,
        Deployment.environment_id,
        Environment.name,
        Environment.production,
        type_coerce(Deployment.started_at, DateTime()),  # naive UTC (see _iso)
        type_coerce(Deployment.ended_at, DateTime()),
    ).join(Environment, Environment.id == Deployment.environment_id)
    members = select(
        ApplicationVersionMember.component_version_id,
        ApplicationVersionMember.application_version_id,
    )
    newest = aliased(ApplicationVersion)
    app_versions = select(
        ApplicationVersion.id,
        Application.name,
        ApplicationVersion.version,
        ApplicationVersion.seq,
        select(func.max(newest.seq))
        .where(newest.application_id == ApplicationVersion.application_id)
        .scalar_subquery(),
    ).join(Application, Application.id == ApplicationVersion.application_id)
    if restricted:
        some: Any = bindparam("versions", expanding=True)
        versions = versions.where(ComponentVersion.id.in_(some))
        deployments = deployments.where(Deployment.component_version_id.in_(some))
        members = members.where(ApplicationVersionMember.component_version_id.in_(some))
        app_versions = app_versions.where(
            ApplicationVersion.id.in_(bindparam("app_versions", expanding=True))
        )
    return versions, deployments, members, app_versions


_Live = tuple[datetime, datetime | None, dict[int, list[int]], dict[int, list[str]]]
"""What runs across the estate from a start or end of a deployment to the next one (None: no
next): component version -> its places in ``_Catalog.running``, and -> the names of the
environments it runs in, sorted (shared by every answer: never changed)."""


@dataclass
class _Catalog:
    """What a blast radius needs to know of the estate's component versions, deployments and
    application versions, with the answer's orders worked out once. It changes only when
    data does: the estate's is kept per engine and revision of ``CATALOG_INPUTS``
    (``_kept``); a transaction that has written them reads the part its hits need
    (``_read_catalog``)."""

    versions: dict[int, tuple[str, str, str | None, str]]
    """Component version -> (component name, key, owner, version)."""
    order: dict[int, int]
    """Component version -> its place in the answer's order (component name, then age, then
    version); versions equal on all three share a place."""
    deployments: dict[int, list[tuple[int, datetime, datetime | None, int]]]
    """Component version -> its deployments: (environment id, start, end or None, naive UTC,
    place in ``running``)."""
    running: list[RunningVersion]
    """Every deployment as the answer lists it, in the answer's order: production first, then
    environment, component, version, since. Made once and shared by every answer (so never
    changed: plain dataclasses, since orjson writes them ~8x faster than slotted ones and
    frozen ones are ~4x slower to make)."""
    memberships: dict[int, list[int]]
    """Component version -> the places in ``app_versions`` of the application versions that
    hold it."""
    app_versions: list[tuple[str, str, int, bool]]
    """(application, version, seq, latest), in the answer's order: application, newest first.
    Application versions alike in all of (application, version, seq, newest seq) share one."""
    live: _Live | None = field(default=None, compare=False)
    """What runs now across the estate, kept for the stretch of time it holds for
    (``_running_at``): set on the estate's kept catalog only."""
    labels: dict[int, str] = field(default_factory=dict, compare=False)
    """Component version -> ``component@version``."""


def _read_catalog(conn: Any, versions: Sequence[int] | None) -> _Catalog:
    """The estate's ``_Catalog`` (``versions`` None), or the part about some versions."""
    versions_q, deployments_q, members_q, app_versions_q = _catalog_statements(versions is not None)

    def read(statement: Any, name: str, ids: Sequence[int] | None) -> Sequence[Any]:
        if ids is None:
            return conn.execute(statement).all()  # type: ignore[no-any-return]
        rows: list[Any] = []
        for start in range(0, len(ids), CHUNK):
            rows += conn.execute(statement, {name: list(ids[start : start + CHUNK])}).all()
        return rows

    info: dict[int, tuple[str, str, str | None, str]] = {}
    labels: dict[int, str] = {}
    keyed: list[tuple[tuple[str, datetime, str], int]] = []
    shared: dict[Any, Any] = {}  # one copy of each name, key and owner (~a third less memory)
    for cv, version, created, name, key, owner in read(versions_q, "versions", versions):
        name, key, owner = shared.setdefault((name, key, owner), (name, key, owner))
        info[cv] = (name, key, owner, version)
        labels[cv] = f"{name}@{version}"
        keyed.append(((name, created, version), cv))
    keyed.sort(key=itemgetter(0))
    order: dict[int, int] = {}
    place, last = -1, None
    for sort_key, cv in keyed:
        if sort_key != last:
            place, last = place + 1, sort_key
        order[cv] = place

    listed_deployments = []
    for cv, env_id, env, production, started, ended in read(deployments_q, "versions", versions):
        name, _, _, version = info[cv]
        env = shared.setdefault(env, env)
        listed_deployments.append(
            ((not production, env, name, version, started), cv, env_id, ended)
        )
    listed_deployments.sort(key=itemgetter(0))
    running: list[RunningVersion] = []
    deployments: dict[int, list[tuple[int, datetime, datetime | None, int]]] = defaultdict(list)
    for place, ((elsewhere, env, name, version, started), cv, env_id, ended) in enumerate(
        listed_deployments
    ):
        running.append(RunningVersion(env, not elsewhere, name, version, _iso(started)))
        deployments[cv].append((env_id, started, ended, place))

    members = read(members_q, "versions", versions)
    wanted = None if versions is None else sorted({av for _, av in members})
    alike: dict[int, tuple[str, str, int, int]] = {
        av: (app, version, seq, top)
        for av, app, version, seq, top in read(app_versions_q, "app_versions", wanted)
    }
    listed = sorted(set(alike.values()), key=lambda a: (a[0], -a[2], a[1], a[3]))
    place_of = {a: n for n, a in enumerate(listed)}
    memberships: dict[int, list[int]] = defaultdict(list)
    for cv, av in members:
        memberships[cv].append(place_of[alike[av]])
    return _Catalog(
        versions=info,
        order=order,
        deployments=dict(deployments),
        running=running,
        memberships=dict(memberships),
        app_versions=[(app, version, seq, seq == top) for app, version, seq, top in listed],
        labels=labels,
    )


def _kept_catalog(conn: Any) -> _Catalog:
    """The estate's catalog, as it is kept: with what runs now worked out."""
    known = _read_catalog(conn, None)
    known.live = _live(known, utcnow().replace(tzinfo=None))
    return known


CATALOG_INPUTS = (
    "application_version_members",
    "application_versions",
    "applications",
    "component_versions",
    "components",
    "deployments",
    "environments",
)
"""Tables ``_Catalog`` is read from: a committed write to any of them reads it again."""
NAME_INPUTS = ("packages",)
GRAPH_INPUTS = ("components", "relations")
"""Tables the API graph is read from."""

_CATALOG: revision.Kept[_Catalog] = revision.Kept(CATALOG_INPUTS)
"""The estate's ``_Catalog`` per engine, read whole on the second call at a revision (a
5,000-service estate's: ~100 ms, against ~15 ms for the part a large answer needs)."""
_NAMES: revision.Kept[_PackageNames] = revision.Kept(NAME_INPUTS)
"""The package names per engine, likewise."""


@dataclass(frozen=True)
class _PackageNames:
    """Package ids by case-folded name, and by the part of the name after its last ``:``
    or ``/`` (where a bare name matches a Maven artifact or a Go module path)."""

    whole: dict[str, list[int]]
    after_colon: dict[str, list[int]]
    after_slash: dict[str, list[int]]


def _read_package_names(conn: Any) -> _PackageNames:
    whole: dict[str, list[int]] = defaultdict(list)
    after_colon: dict[str, list[int]] = defaultdict(list)
    after_slash: dict[str, list[int]] = defaultdict(list)
    for pkg, name in conn.execute(select(Package.id, Package.name)).all():
        folded = name.casefold()
        whole[folded].append(pkg)
        if ":" in folded:
            after_colon[folded.rsplit(":", 1)[1]].append(pkg)
        if "/" in folded:
            after_slash[folded.rsplit("/", 1)[1]].append(pkg)
    return _PackageNames(dict(whole), dict(after_colon), dict(after_slash))


def _running_at(
    known: _Catalog, versions: Iterable[int], now: datetime, environment: int | None
) -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    """Component version -> the places in ``known.running`` of its deployments running at
    ``now`` (naive UTC), in ``environment`` if given; versions that run nowhere are left out.
    And component version -> the names of those deployments' environments, sorted (for the
    whole estate where kept: look up, do not iterate).

    Without an environment, the estate's answer is worked out once for the stretch of time
    in which no deployment starts or ends (``_Catalog.live``) and looked up after that."""
    if environment is None and known.live is not None:
        start, end, running, names = known.live
        if end is not None and now >= end:  # time has moved past a start or an end
            known.live = _live(known, now)
            start, end, running, names = known.live
        if start <= now:
            return {cv: running[cv] for cv in versions if cv in running}, names
    out: dict[int, list[int]] = {}
    deployments = known.deployments
    for cv in versions:
        held = deployments.get(cv)
        if held:
            here = [
                place
                for env_id, started, ended, place in held
                if started <= now
                and (ended is None or ended > now)
                and (environment is None or env_id == environment)
            ]
            if here:
                out[cv] = here
    return out, _environment_names(known, out)


def _environment_names(known: _Catalog, running: dict[int, list[int]]) -> dict[int, list[str]]:
    """Component version -> the names of the environments of its ``running`` places, sorted."""
    listed = known.running
    return {cv: sorted({listed[p].environment for p in places}) for cv, places in running.items()}


def _live(known: _Catalog, now: datetime) -> _Live:
    """What runs at ``now`` in the whole estate, and the stretch of time it holds for: from
    the last start or end at or before ``now`` to the next one after (None: no next)."""
    start, end = datetime.min, None
    running: dict[int, list[int]] = {}
    for cv, held in known.deployments.items():
        here = []
        for _, started, ended, place in held:
            for moment in (started, ended):
                if moment is None:
                    continue
                if moment <= now:
                    start = max(start, moment)
                elif end is None or moment < end:
                    end = moment
            if started <= now and (ended is None or ended > now):
                here.append(place)
        if here:
            running[cv] = here
    return start, end, running, _environment_names(known, running)


# ---------------------------------------------------------------- the walk


def blast_radius(
    session: Session,
    query: str,
    *,
    environment: str | None = None,
    at: datetime | None = None,
    consumer_limit: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    visible: Collection[str] | None = None,
    application_limit: int | None = None,
    environment_limit: int | None = None,
) -> BlastRadius:
    """Who is hit by ``query`` (an advisory id or alias, a purl, a purl with a version or a
    range, or a bare package name), now or at ``at``.

    With ``environment``, the answer is the blast radius *in* that environment: only the
    affected component versions that run there (at ``at``), and what follows from them.
    Findings count whatever their analysis state (each carries its ``state``); a finding
    that re-matching turned off (``active`` false) does not.

    ``consumer_limit`` lists only the nearest consumers (by depth, then name); the summary
    still counts them all. A shared platform service is called, transitively, by most of
    an estate: thousands of consumers nobody reads one by one. ``limit`` and ``offset`` page
    the affected versions the same way (``page`` says where the next page starts): the
    answer is counted in full, but dependency paths, vulnerabilities and upgrades are spelled
    out for the page only, which is most of a large answer's cost. ``application_limit`` and
    ``environment_limit`` list only the first application versions and running deployments
    (in the answer's order; the summary counts them all): a large answer holds a thousand
    of each.

    ``visible`` (component keys) is a scoped caller's view: what it may not see is left out
    *before* anything is counted or cut, so totals and pages hold for that caller; consumers
    are still walked from every affected component, and only the visible ones are listed."""
    if offset < 0 or (limit is not None and limit < 1):
        raise MeshwardError("a page needs a limit of at least 1 and an offset of at least 0")
    if min(application_limit or 0, environment_limit or 0) < 0:
        raise MeshwardError("list at least 0 application versions and running deployments")
    lists = _Lists(consumer_limit, application_limit, environment_limit)
    with gc_paused():  # tens of thousands of small objects, no cycles
        return _blast_radius(session, query, environment, at, lists, limit, offset, visible)


@dataclass(frozen=True)
class _Lists:
    """How many consumers, application versions and running deployments to list (None: all)."""

    consumers: int | None
    applications: int | None
    environments: int | None


def _blast_radius(
    session: Session,
    query: str,
    environment: str | None,
    at: datetime | None,
    lists: _Lists,
    limit: int | None,
    offset: int,
    visible: Collection[str] | None,
) -> BlastRadius:
    now = at or utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    moment = now.astimezone(UTC).replace(tzinfo=None)  # as deployments are stored
    session.flush()  # the statements run on the connection, past the ORM's autoflush
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        _custom_plans(conn)
    counters = revision.read_counters(session)  # one read for every kept value below
    kept = _CATALOG.settled(session, lambda: _kept_catalog(conn), counters)
    target = _resolve(session, query, counters)
    env_id = catalog.get_environment(session, environment).id if environment else None
    statements = _statements("advisory" if target.kind == "advisory" else "package")
    params: dict[str, Any] = {}
    if target.kind == "advisory":
        params["vulnerability"] = target.vulnerability
    else:
        params["package_ids"] = list(target.package_ids)

    def run(statement: Any, values: dict[str, Any] = params) -> Sequence[Any]:
        return conn.execute(statement, values).all()  # type: ignore[no-any-return]

    rows = run(statements.hits)
    hit = {r[0] for r in rows}
    known = kept
    if known is None or not hit <= known.versions.keys():
        # a transaction that has written reads its own; so does one that sees a version
        # committed after the revision it read (a read-committed race)
        known = _read_catalog(conn, sorted(hit))
    live, environment_names = _running_at(known, hit, moment, env_id)
    if env_id is not None:  # the blast radius *in* an environment: what runs there now
        rows = [r for r in rows if r[0] in live]
        hit = set(live)
    info = known.versions
    sources = {info[cv][1]: info[cv][0] for cv in hit}
    entries: _Hits = {(r[0], r[1]): r for r in rows}
    versions = hit
    if visible is not None:
        entries = {k: r for k, r in entries.items() if info[k[0]][1] in visible}
        versions = {cv for cv, _ in entries}
        live = {cv: places for cv, places in live.items() if cv in versions}
    packages = _packages(run, sorted({pkg for _, pkg in entries}))

    order = known.order
    # the answer's order: component, then version age, then version, then purl
    ordered = ((order[cv], packages[pkg][0], cv, pkg) for cv, pkg in entries)
    # only a page is put in order
    picked = sorted(ordered) if limit is None else heapq.nsmallest(offset + limit, ordered)
    shown: list[tuple[int, int]] = [row[2:] for row in picked[offset:]]
    held: Callable[[tuple[int, int]], tuple[Any, ...]]
    found_in: Callable[[tuple[Any, ...]], Sequence[tuple[Any, ...]]]
    placements: dict[tuple[int, int], placement.Placement]
    if target.kind == "advisory":  # each row carries its one finding and its placement
        held = lambda key: entries[key][1:7]  # noqa: E731  (package, its finding)
        found_in = lambda held: (held[1:],)  # noqa: E731
        fixes: Iterable[tuple[str, str | None, str]] = (  # thousands of rows, a few packages
            (name, fixed, packages[pkg][0])
            for name, fixed, pkg in dict.fromkeys(map(itemgetter(2, 5, 1), entries.values()))
        )
        placements = _stored_placements(session, entries, shown, counters)
    else:
        vulns = _vulnerabilities(
            r for r in run(statements.vulnerabilities) if (r[0], r[1]) in entries
        )
        held = lambda key: (key[1], *vulns.get(key, ()))  # noqa: E731
        found_in = itemgetter(slice(1, None))
        fixes = (
            (name, fixed, packages[key[1]][0])
            for key, found in vulns.items()
            for name, _, _, fixed, _ in found
        )
        placements = _placements(session, shown, counters)
    components = _components(shown, known, packages, placements, held, found_in, environment_names)
    advisories = _advisories(session, fixes, target.vulnerability)
    graph = api_graph(session, counters)
    consumers, consumer_count = _consumers(graph, sources, lists.consumers, visible)

    running = sorted(chain.from_iterable(live.values()))
    runs = [known.running[p] for p in running]
    deployed = runs if lists.environments is None else runs[: lists.environments]
    apps, app_versions = _applications(versions, known, lists.applications)
    page = None
    if limit is not None or offset:
        end = offset + len(shown)
        page = ResultPage(
            offset,
            len(shown) if limit is None else limit,
            len(entries),
            end if end < len(entries) else None,
        )
    summary = {
        "components": len(sources) if visible is None else len({info[cv][1] for cv in versions}),
        "component_versions": len(versions),
        "applications": len({known.app_versions[place][0] for place in app_versions}),
        "application_versions": len(app_versions),
        "environments": len({r.environment for r in runs}),
        "running": len({(r.environment, r.component, r.version) for r in runs}),
        "consumers": consumer_count,
    }
    return BlastRadius(
        query=query,
        kind=target.kind,
        vulnerability=target.vulnerability,
        package=target.package,
        environment=environment,
        at=_iso(now),
        packages=sorted({purl for purl, *_ in packages.values()}),
        advisories=advisories,
        components=components,
        applications=apps,
        environments=deployed,
        consumers=consumers,
        summary=summary,
        page=page,
    )


def _custom_plans(conn: Any) -> None:
    """Plan each statement for its own values until the transaction ends (PostgreSQL).

    psycopg prepares a statement it has run five times, and PostgreSQL then plans it once
    for any values: for the lists bound here (``IN`` 500 versions, 4 packages) that generic
    plan reads ~8x more (the occurrences of a 500-version chunk: 5 ms planned for the values,
    47 ms generic). A ``SET LOCAL`` is undone with the transaction and writes no data."""
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


_Hits = dict[tuple[int, int], Any]
"""(component version, package) -> its hit row: (version, package) and, for an advisory,
its finding (vulnerability, severity, score, fix, state). Rows are kept as they come (a
blast radius can hold thousands; an object per row was a fair part of its cost)."""

_PackageInfo = tuple[str, str, str | None, str | None]
"""(purl, name, ecosystem, version) of a package."""


def _packages(
    run: Callable[[Any, dict[str, Any]], Sequence[Any]], ids: list[int]
) -> dict[int, _PackageInfo]:
    out: dict[int, _PackageInfo] = {}
    for start in range(0, len(ids), CHUNK):
        for pkg, *columns in run(_package_statement(), {"ids": ids[start : start + CHUNK]}):
            out[pkg] = tuple(columns)  # type: ignore[assignment]
    return out


_Vulns = dict[tuple[int, int], list[tuple[str, str | None, float | None, str | None, str]]]
"""(component version, package) -> its findings: (vulnerability, severity, score, fix,
state), made into ``Vulnerability`` objects for the rows shown only."""


def _vulnerabilities(rows: Iterable[Any]) -> _Vulns:
    out: _Vulns = defaultdict(list)
    for cv_id, pkg_id, *finding in rows:
        out[(cv_id, pkg_id)].append(tuple(finding))  # type: ignore[arg-type]
    return out


PLACEMENTS_KEPT = 100_000
"""Placements kept per engine (a few hundred bytes each)."""

_placements_by_engine: WeakKeyDictionary[Any, dict[tuple[int, str, int], placement.Placement]] = (
    WeakKeyDictionary()
)
"""(document, digest, package) -> its placement. A stored SBOM never changes (a new upload is
a new document), so a placement found once holds for good; the digest guards against a
document id used again after a delete."""

DOCUMENT_INPUTS = ("sbom_documents",)
"""What ``_DOCUMENTS`` is read from: every SBOM upload moves it."""

_DOCUMENTS: revision.Kept[dict[int, tuple[int, str]]] = revision.Kept(DOCUMENT_INPUTS)
"""Component version -> (its current SBOM document, that document's digest), per engine:
read whole on the second call at a revision (~20,000 rows), the part a query needs before."""


@cache
def _documents_statement(restricted: bool) -> Any:
    statement = select(
        SbomDocument.component_version_id, SbomDocument.id, SbomDocument.digest
    ).where(SbomDocument.current.is_(True))
    if restricted:
        some: Any = bindparam("versions", expanding=True)
        statement = statement.where(SbomDocument.component_version_id.in_(some))
    return statement


def _read_documents(conn: Any, versions: Sequence[int] | None) -> dict[int, tuple[int, str]]:
    """Component version -> (current document, digest): the estate's (``versions`` None) or
    some versions'."""
    statement = _documents_statement(versions is not None)
    if versions is None:
        return {cv: (doc, digest) for cv, doc, digest in conn.execute(statement)}
    out: dict[int, tuple[int, str]] = {}
    for start in range(0, len(versions), CHUNK):
        part = list(versions[start : start + CHUNK])
        out.update(
            (cv, (doc, digest)) for cv, doc, digest in conn.execute(statement, {"versions": part})
        )
    return out


def _stored_placements(
    session: Session,
    entries: _Hits,
    shown: Sequence[tuple[int, int]],
    counters: Mapping[str, int],
) -> dict[tuple[int, int], placement.Placement]:
    """The placements an advisory's findings carry (the matcher's); findings matched before
    migration 0011 have none, and are placed like a package query's hits."""
    out: dict[tuple[int, int], placement.Placement] = {}
    unplaced = []
    for key in shown:
        row = entries[key]
        if row[7] is None:
            unplaced.append(key)
        else:
            out[key] = (row[7], orjson.loads(row[8]))
    if unplaced:
        out.update(_placements(session, unplaced, counters))
    return out


def _placements(
    session: Session, shown: Sequence[tuple[int, int]], counters: Mapping[str, int]
) -> dict[tuple[int, int], placement.Placement]:
    """(component version, package) -> the package's placement in the version's current
    SBOM, for each hit shown. Kept by document (``_placements_by_engine``): a call reads the
    occurrences, and their paths, only of the hits whose document it has not placed yet."""
    conn = session.connection()
    wanted = {cv for cv, _ in shown}
    documents = _DOCUMENTS.settled(session, lambda: _read_documents(conn, None), counters)
    if documents is None or not wanted <= documents.keys():
        documents = _read_documents(conn, sorted(wanted))
    kept = _placements_by_engine.setdefault(conn.engine, {})
    out: dict[tuple[int, int], placement.Placement] = {}
    missing: list[tuple[int, int]] = []
    for key in shown:
        doc = documents.get(key[0])
        placed = None if doc is None else kept.get((*doc, key[1]))
        if placed is None:
            missing.append(key)
        else:
            out[key] = placed
    if missing:
        found = placement.place(conn, missing)
        if len(kept) + len(found) > PLACEMENTS_KEPT:
            kept.clear()
        for key, (doc_id, digest, placed) in found.items():
            kept[(doc_id, digest, key[1])] = out[key] = placed
    return out


def _applications(
    versions: Iterable[int], known: _Catalog, limit: int | None
) -> tuple[list[AppVersionHit], Collection[int]]:
    """The application versions that hold some of ``versions``, in the answer's order, each
    with the ones it holds (``component@version``, sorted): the first ``limit`` of them, and
    the places (in ``known.app_versions``) of all of them."""
    grouped: dict[int, list[int]] = defaultdict(list)
    memberships = known.memberships
    for cv in versions:
        for place in memberships.get(cv, ()):
            grouped[place].append(cv)
    places = sorted(grouped) if limit is None else heapq.nsmallest(limit, grouped)
    labels = known.labels
    listed = []
    for place in places:
        held = grouped[place]  # mostly one
        members = [labels[held[0]]] if len(held) == 1 else sorted({labels[cv] for cv in held})
        listed.append(AppVersionHit(*known.app_versions[place], members))  # type: ignore[misc]
    return listed, grouped.keys()


def _components(
    shown: Iterable[tuple[int, int]],
    known: _Catalog,
    packages: dict[int, _PackageInfo],
    placements: dict[tuple[int, int], placement.Placement],
    held: Callable[[tuple[int, int]], tuple[Any, ...]],
    found_in: Callable[[tuple[Any, ...]], Sequence[tuple[Any, ...]]],
    environment_names: dict[int, list[str]],
) -> list[AffectedComponent]:
    """The answer's rows for these hits, in their order: each with its placement, its
    vulnerabilities (highest score first, then severity, then name), the upgrade that clears
    them and where its version runs (``environment_names``).

    What rows share is worked out once: for a package and what is found in it (``held``: the
    package and its findings, as ``found_in`` reads them), the ``Vulnerability`` objects and
    the upgrade. Rows share those lists (an answer is never changed)."""
    judged: dict[tuple[Any, ...], tuple[list[Vulnerability], str | None]] = {}
    info = known.versions
    out = []
    for key in shown:
        cv, pkg = key
        name, component, owner, version = info[cv]
        environments = environment_names.get(cv, [])
        purl, package, ecosystem, installed = packages[pkg]
        kind, path = placements.get(key, placement.UNPLACED)
        if kind == "root" and not path:
            path = (purl,)
        what = held(key)
        verdict = judged.get(what)
        if verdict is None:
            verdict = judged[what] = _judge(ecosystem, found_in(what))
        out.append(
            AffectedComponent(
                name,
                component,
                owner,
                version,
                purl,
                package,
                ecosystem,
                installed,
                kind,
                list(path),
                verdict[0],
                verdict[1],
                environments,
            )
        )
    return out


def _judge(
    ecosystem: str | None, findings: Sequence[tuple[Any, ...]]
) -> tuple[list[Vulnerability], str | None]:
    """A package's findings as the answer lists them (highest score first, then severity,
    then name) and the smallest upgrade that clears them all."""
    found = [Vulnerability(*f) for f in findings]
    found.sort(
        key=lambda v: (-(v.score or 0.0), -SEVERITY_RANK.get(v.severity, 0), v.vulnerability)
    )
    return found, clearing_upgrade(ecosystem, [v.fixed_version for v in found])


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
    found: Iterable[tuple[str, str | None, str]],
    vulnerability: str | None,
) -> list[AdvisoryView]:
    """The queried vulnerability (even when nothing is hit), or every vulnerability that
    affects a hit package (``found``: vulnerability, fix, purl), each with the fix of every
    affected package version."""
    fixes: dict[str, dict[str, str | None]] = defaultdict(dict)
    if vulnerability is not None:
        fixes[vulnerability] = {}
    for name, fixed, purl in found:
        fixes[name][purl] = fixed
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
    """Who calls whom, with every component numbered in (name, key) order: the walk's and the
    listing's order, so a level is put in order by sorting numbers. Walked by number, the
    graph is a few compact lists (the walk over the string-keyed dicts it was read into took
    ~2.5x as long on the 5,000-service estate, most of it waiting on memory)."""

    keys: list[str]
    """Number -> component key."""
    ids: dict[str, int]
    names: list[str]
    owners: list[str | None]
    starts: array[int]
    """Provider ``n``'s consumers are ``consumers[starts[n]:starts[n + 1]]``, in walk order."""
    consumers: array[int]
    apis: list[str]
    """Beside ``consumers``: the name of the API each calls its provider over (the first,
    when several)."""
    walks: dict[frozenset[tuple[str, str]], _Walk] = field(default_factory=dict, compare=False)
    """The last ``WALKS_KEPT`` walks, by their sources: a query asked again, or paged
    through, walks the same graph from the same components."""


@dataclass
class _Walk:
    """A breadth-first walk from some affected components: the consumers reached at each
    depth, in listing order (numbers: name, then key), and each one's caller on its path."""

    levels: list[list[int]]
    came_from: dict[int, tuple[int, str]]
    """Consumer -> (its caller on its path, the API it calls it over)."""
    listed: list[Consumer] | None = None
    """Every consumer, made once when an answer first lists them all (every answer from this
    walk shares them and their paths, which are never changed)."""


WALKS_KEPT = 32
LISTINGS_KEPT = 8
"""Walks that keep their whole consumer list (the latest ones): ~1.2 MB for the p95 answer's
4,395 consumers on the 5,000-service estate, so ~10 MB at most per process."""


_API_GRAPH: revision.Kept[_ApiGraph] = revision.Kept(GRAPH_INPUTS)
"""The API graph, per engine."""


@cache
def _links_statements() -> tuple[Any, Any]:
    """The API links (who provides and who consumes which API) and every component's name
    and owner: two plain scans, joined in memory (the join in SQL took twice as long)."""
    links = select(Relation.source_key, Relation.type, Relation.target_key).where(
        Relation.type.in_(("providesApi", "consumesApi"))
    )
    return links, select(Component.key, Component.name, Component.owner)


def api_graph(session: Session, counters: Mapping[str, int] | None = None) -> _ApiGraph:
    """The estate's API links, read once per revision of ``GRAPH_INPUTS`` and kept per
    engine.

    Links change only with the catalog, while every blast radius walks them; walking them in
    memory takes a few ms where the recursive SQL walk took ~100 ms once most of a
    5,000-service estate was reached. A transaction that has written the links or components
    (``revision.current`` None) reads its own and keeps nothing: its uncommitted changes are
    seen, and forgotten with it. Kept only if no commit landed while it was read."""
    session.flush()
    return _API_GRAPH.get(session, lambda: _read_api_graph(session.connection()), counters)


def _read_api_graph(conn: Any) -> _ApiGraph:
    links_statement, components_statement = _links_statements()
    providers: dict[str, list[str]] = defaultdict(list)
    calls: list[tuple[str, str]] = []
    for source, kind, api in conn.execute(links_statement).all():
        if kind == "providesApi":
            providers[api].append(source)
        else:
            calls.append((source, api))
    components = {
        key: (name, owner) for key, name, owner in conn.execute(components_statement).all()
    }
    via: dict[tuple[str, str], str] = {}
    for consumer, api in calls:
        for provider in providers.get(api, ()):
            if (provider, consumer) not in via or api < via[(provider, consumer)]:
                via[(provider, consumer)] = api
    names = {key: name for key, (name, _) in components.items()}
    for key in {key for link in via for key in link} - names.keys():  # a link to no component
        names[key] = ""
    for key, name in names.items():
        names[key] = name or split_key(key)[2]
    keys = sorted(names, key=lambda k: (names[k], k))
    ids = {key: n for n, key in enumerate(keys)}
    api_names = {api: split_key(api)[2] for api in set(via.values())}
    called: list[list[tuple[int, str]]] = [[] for _ in keys]
    for (provider, consumer), api in via.items():
        called[ids[provider]].append((ids[consumer], api_names[api]))
    starts, consumers, apis = array("i", [0]), array("i"), []
    for links in called:
        for number, api_name in sorted(links):
            consumers.append(number)
            apis.append(api_name)
        starts.append(len(consumers))
    return _ApiGraph(
        keys,
        ids,
        [names[key] for key in keys],
        [components.get(key, (None, None))[1] for key in keys],
        starts,
        consumers,
        apis,
    )


def _walk(graph: _ApiGraph, sources: dict[str, str], listing: bool) -> _Walk:
    """Breadth-first from ``sources`` in name order, each provider's consumers in name
    order, so the path found is the same on every run; one back-link per component (the
    caller and the API). ``listing``: make every consumer on the way (``_Walk.listed``)."""
    walk = graph.walks.get(key := frozenset(sources.items()))
    if walk is None:
        if len(graph.walks) >= WALKS_KEPT:
            graph.walks.pop(next(iter(graph.walks)), None)
        walk = graph.walks[key] = _walked(graph, sources, listing)
    elif listing and walk.listed is None:
        walk.listed = _listed(graph, sources, walk, None, None)[0]
    if listing:
        others = [w for w in graph.walks.values() if w.listed is not None and w is not walk]
        for older in others[: max(len(others) - LISTINGS_KEPT + 1, 0)]:  # oldest first
            older.listed = None
    return walk


def _walked(graph: _ApiGraph, sources: dict[str, str], listing: bool) -> _Walk:
    keys, names, owners = graph.keys, graph.names, graph.owners
    starts, consumers, apis = graph.starts, graph.consumers, graph.apis
    level = sorted(graph.ids[key] for key in sources if key in graph.ids)
    seen = bytearray(len(keys))
    for node in level:
        seen[node] = 1
    came_from: dict[int, tuple[int, str]] = {}
    levels: list[list[int]] = []
    paths = {node: [sources[keys[node]]] for node in level} if listing else {}
    listed: list[Consumer] = []
    while level:
        reached: list[int] = []
        for current in level:
            start, end = starts[current], starts[current + 1]
            for at, consumer in enumerate(consumers[start:end], start):
                if not seen[consumer]:
                    seen[consumer] = 1
                    came_from[consumer] = (current, apis[at])
                    reached.append(consumer)
        if not reached:
            break
        levels.append(sorted(reached))  # the next level is walked in the order it was found
        if listing:  # each consumer's path is its caller's plus one hop
            depth = len(levels)
            for consumer in levels[-1]:
                caller, api = came_from[consumer]
                head = paths[caller]
                name = names[consumer]
                path = paths[consumer] = [*head, api, name]
                listed.append(
                    Consumer(name, keys[consumer], owners[consumer], depth, head[0], path)
                )
        level = reached
    return _Walk(levels, came_from, listed if listing else None)


def _consumers(
    graph: _ApiGraph,
    sources: dict[str, str],
    limit: int | None,
    visible: Collection[str] | None = None,
) -> tuple[list[Consumer], int]:
    """Every component that reaches an affected one (``sources``: key -> name) over
    "consumes the API it provides" links, transitively, by its shortest path; affected
    components are not listed again, and with ``visible`` only those keys are listed and
    counted. Returns the first ``limit`` of them (by depth, then name) and how many there are.

    The whole list is made once per walk, on the way (``_Walk.listed``); a first page or a
    scoped caller's list spells out only the paths it shows (and their callers')."""
    walk = _walk(graph, sources, listing=limit is None and visible is None)
    if visible is None and walk.listed is not None:
        listed = walk.listed if limit is None else walk.listed[:limit]
        return list(listed), len(walk.listed)
    return _listed(graph, sources, walk, limit, visible)


def _listed(
    graph: _ApiGraph,
    sources: dict[str, str],
    walk: _Walk,
    limit: int | None,
    visible: Collection[str] | None,
) -> tuple[list[Consumer], int]:
    """The first ``limit`` consumers of a walk (of those ``visible``) and how many there are."""
    keys, names, owners, came_from = graph.keys, graph.names, graph.owners, walk.came_from
    paths = {graph.ids[key]: [name] for key, name in sources.items() if key in graph.ids}

    def path_to(node: int) -> list[str]:
        """Root first; a consumer's path is its caller's plus one hop, each built once."""
        up = [node]
        while up[-1] not in paths:
            up.append(came_from[up[-1]][0])
        for hop in reversed(up[:-1]):
            caller, api = came_from[hop]
            paths[hop] = [*paths[caller], api, names[hop]]
        return paths[node]

    count = 0
    out: list[Consumer] = []
    for depth, reached in enumerate(walk.levels, 1):
        if visible is not None:
            reached = [node for node in reached if keys[node] in visible]
        count += len(reached)
        room = len(reached) if limit is None else min(len(reached), limit - len(out))
        for node in reached[: max(room, 0)]:
            path = path_to(node)
            out.append(Consumer(names[node], keys[node], owners[node], depth, path[0], path))
    return out, count


def _iso(value: datetime) -> str:
    """``2026-08-15T14:00:00Z``, from an aware UTC moment or a naive UTC one as stored (read
    so where thousands are: the aware type's conversion was a tenth of a large answer)."""
    return value.isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat() + "Z"
