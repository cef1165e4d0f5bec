"""Risk weights of findings: the one place that says how much a finding matters.

The model, its factors and a worked example are in docs/risk.md; the constants below are the
numbers that document quotes. A finding's weight is

    base (severity) x exposure (internet, production) x exploitation (KEV, EPSS) x reach

and 0 for a finding settled by analysis or no longer matched. The finding-level part (base x
exploitation) is a SQL expression, so roll-ups sum it per component version in one aggregate
query; the service-level part (exposure x reach) depends only on the catalog graph and the
deployments and is computed once per call, for every component at the same time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Float, Text

from meshward.store import revision
from meshward.store.models import (
    Component,
    ComponentVersion,
    Deployment,
    Environment,
    EpssScore,
    Finding,
    KevEntry,
    Relation,
)
from meshward.store.types import utcnow

SETTLED = ("not_affected", "false_positive", "fixed")
"""Analysis states that take a finding out of the risk (and out of the roll-up counts)."""

SEVERITY_SCORE = {"critical": 9.5, "high": 7.5, "medium": 5.0, "low": 2.5, "none": 0.0}
"""The CVSS score a severity label stands for when a finding has no score of its own: the
middle of the label's CVSS band (critical 9.0-10.0, high 7.0-8.9, ...)."""
UNKNOWN_SCORE = 5.0
"""Neither score nor label: counted as a medium, since nobody has shown it is minor."""

INTERNET_FACING_TAG = "internet-facing"
INTERNET_FACING = 2.0
"""Exposure factor of a component tagged ``internet-facing``."""
INTERNET_REACHABLE = 1.5
"""Exposure factor of a component an internet-facing one calls, directly or transitively."""
PRODUCTION = 1.5
"""Exposure factor of a component version that runs in a production environment now."""

KEV_FACTOR = 3.0
"""Exploitation factor of a vulnerability in CISA's KEV catalog (exploited in the wild)."""
EPSS_FACTOR = 2.0
"""Without KEV, the exploitation factor is 1 + EPSS_FACTOR x EPSS probability (1 to 3)."""

REACH_FACTOR = 0.5
"""Reach factor is 1 + REACH_FACTOR x log2(1 + transitive consumers)."""


# ---------------------------------------------------------------- finding-level (SQL)


def open_finding() -> ColumnElement[bool]:
    """A finding that counts: still matched and not settled by analysis."""
    return and_(Finding.active.is_(True), Finding.state.not_in(SETTLED))


def base_weight_sql() -> ColumnElement[Any]:
    """score^2 / 10: 9.8 -> 9.6, 7.5 -> 5.6, 5.0 -> 2.5, 2.5 -> 0.6."""
    label_score = case(
        *((Finding.severity == label, literal(s)) for label, s in SEVERITY_SCORE.items()),
        else_=literal(UNKNOWN_SCORE),
    )
    score = func.coalesce(cast(Finding.severity_score, Float), label_score)
    return score * score / 10.0


def exploitation_sql(kev: Any, epss: Any) -> ColumnElement[Any]:
    """Given ``kev`` and ``epss`` outer-joined on the finding's vulnerability."""
    return case(
        (kev.cve.is_not(None), literal(KEV_FACTOR)),
        else_=1.0 + EPSS_FACTOR * func.coalesce(cast(epss.score, Float), 0.0),
    )


def base_weight(score: float | None, severity: str | None) -> float:
    """The Python twin of ``base_weight_sql`` (for explanations and documents)."""
    s = score if score is not None else SEVERITY_SCORE.get(severity or "", UNKNOWN_SCORE)
    return s * s / 10.0


def exploitation(in_kev: bool, epss: float | None) -> float:
    return KEV_FACTOR if in_kev else 1.0 + EPSS_FACTOR * (epss or 0.0)


def reach(consumers: int) -> float:
    return 1.0 + REACH_FACTOR * math.log2(1 + consumers)


# ---------------------------------------------------------------- service-level (graph)


@dataclass
class ServiceGraph:
    """Per component: how many components consume it (transitively over API links) and
    whether it is internet-facing or reachable from an internet-facing component."""

    consumers: dict[int, int] = field(default_factory=dict)
    internet: dict[int, str] = field(default_factory=dict)
    """``facing`` or ``reachable``; absent means neither."""

    def internet_factor(self, component_id: int) -> float:
        kind = self.internet.get(component_id)
        if kind == "facing":
            return INTERNET_FACING
        return INTERNET_REACHABLE if kind == "reachable" else 1.0

    def reach_factor(self, component_id: int) -> float:
        return reach(self.consumers.get(component_id, 0))


def consumer_edges(session: Session) -> list[tuple[int, int]]:
    """(provider component id, consumer component id) for every "consumes API of" link."""
    consumes = Relation.__table__.alias("consumes")
    provides = Relation.__table__.alias("provides")
    provider = Component.__table__.alias("provider")
    consumer = Component.__table__.alias("consumer")
    rows = session.execute(
        select(provider.c.id, consumer.c.id)
        .select_from(consumes)
        .join(
            provides,
            and_(
                provides.c.target_key == consumes.c.target_key,
                provides.c.type == "providesApi",
            ),
        )
        .join(consumer, consumer.c.key == consumes.c.source_key)
        .join(provider, provider.c.key == provides.c.source_key)
        .where(consumes.c.type == "consumesApi", provider.c.id != consumer.c.id)
        .distinct()
    ).all()
    return [(p, c) for p, c in rows]


def internet_facing_components(session: Session) -> set[int]:
    """Components tagged ``internet-facing`` (tags are a JSON list: narrow in SQL, confirm in
    Python so a tag that merely contains the words does not count)."""
    rows = session.execute(
        select(Component.id, Component.tags).where(
            cast(Component.tags, Text).like(f"%{INTERNET_FACING_TAG}%")
        )
    ).all()
    return {cid for cid, tags in rows if isinstance(tags, list) and INTERNET_FACING_TAG in tags}


GRAPH_INPUTS = ("components", "relations")
"""Tables the service graph is computed from (API links, internet-facing tags)."""
_GRAPH: revision.Kept[ServiceGraph] = revision.Kept(GRAPH_INPUTS)


def service_graph(session: Session) -> ServiceGraph:
    """The estate's service graph, kept per engine while the revision of its inputs stands
    (reading every link of a large estate is most of a roll-up's or a diff's time)."""
    return _GRAPH.get(session, lambda: read_service_graph(session))


def read_service_graph(session: Session) -> ServiceGraph:
    """Transitive consumers of every component, in one query and O(links) set operations.

    A recursive CTE would materialise the closure (consumer pairs), which on a 5,000-service
    estate with 20,000 links can run to millions of rows; here the links are read once and
    each strongly connected component's consumer set is a Python int bitset, built from its
    successors' (Tarjan emits successors first)."""
    edges = consumer_edges(session)
    facing = internet_facing_components(session)
    graph = ServiceGraph(internet={c: "facing" for c in facing})
    if not edges:
        return graph
    succ: dict[int, list[int]] = defaultdict(list)
    for p, c in edges:
        succ[p].append(c)
    nodes = sorted({n for e in edges for n in e})
    bit = {n: 1 << i for i, n in enumerate(nodes)}
    facing_mask = 0
    for n in nodes:
        if n in facing:
            facing_mask |= bit[n]
    scc_of: dict[int, int] = {}
    scc_reach: list[int] = []
    for scc in _strongly_connected(nodes, succ):
        idx = len(scc_reach)
        members = set(scc)
        mask = 0
        cyclic = len(scc) > 1
        for n in scc:
            scc_of[n] = idx
        for n in scc:
            for w in succ.get(n, ()):
                if w in members:
                    cyclic = True
                else:
                    mask |= bit[w] | scc_reach[scc_of[w]]
        if cyclic:
            for n in scc:
                mask |= bit[n]
        scc_reach.append(mask)
    for n in nodes:
        mask = scc_reach[scc_of[n]] & ~bit[n]
        graph.consumers[n] = mask.bit_count()
        if n not in facing and mask & facing_mask:
            graph.internet[n] = "reachable"
    return graph


def _strongly_connected(nodes: list[int], succ: dict[int, list[int]]) -> list[list[int]]:
    """Tarjan's algorithm without recursion; components come out successors first."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            children = succ.get(v, [])
            recurse = False
            while i < len(children):
                w = children[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                scc: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.append(w)
                    if w == v:
                        break
                out.append(scc)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def production_versions(session: Session) -> set[int]:
    """Component versions running in a production environment now."""
    now = utcnow()
    return set(
        session.scalars(
            select(Deployment.component_version_id)
            .join(Environment, Environment.id == Deployment.environment_id)
            .where(
                Environment.production.is_(True),
                Deployment.started_at <= now,
                or_(Deployment.ended_at.is_(None), Deployment.ended_at > now),
            )
            .distinct()
        )
    )


@dataclass
class RiskContext:
    """The service-level factors of the whole estate, computed once per roll-up."""

    graph: ServiceGraph
    production: set[int]

    @classmethod
    def load(cls, session: Session) -> RiskContext:
        return cls(service_graph(session), production_versions(session))

    def exposure(self, component_id: int, component_version_id: int) -> float:
        prod = PRODUCTION if component_version_id in self.production else 1.0
        return self.graph.internet_factor(component_id) * prod

    def service_factor(self, component_id: int, component_version_id: int) -> float:
        """exposure x reach: what every finding of this component version is multiplied by."""
        return self.exposure(component_id, component_version_id) * self.graph.reach_factor(
            component_id
        )


# ---------------------------------------------------------------- per finding


@dataclass
class FindingRisk:
    """Every factor of one finding's weight, as docs/risk.md names them."""

    finding_id: int
    counted: bool
    base: float
    in_kev: bool
    epss: float | None
    exploitation: float
    internet: str | None
    production: bool
    internet_factor: float
    production_factor: float
    consumers: int
    reach: float
    weight: float


def finding_risks(
    session: Session, finding_ids: Iterable[int], ctx: RiskContext | None = None
) -> dict[int, FindingRisk]:
    """finding id -> its factors and weight, in one query per 500 findings (``ctx``: the
    service-level factors when the caller already has them)."""
    ids = sorted(set(finding_ids))
    if not ids:
        return {}
    ctx = ctx if ctx is not None else RiskContext.load(session)
    out: dict[int, FindingRisk] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                Finding.id,
                Finding.severity_score,
                Finding.severity,
                Finding.active,
                Finding.state,
                Finding.component_version_id,
                ComponentVersion.component_id,
                KevEntry.cve,
                EpssScore.score,
            )
            .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
            .outerjoin(KevEntry, KevEntry.cve == Finding.vulnerability)
            .outerjoin(EpssScore, EpssScore.cve == Finding.vulnerability)
            .where(Finding.id.in_(ids[start : start + 500]))
        ).all()
        for fid, score, severity, active, state, cv_id, comp_id, kev, epss in rows:
            counted = bool(active) and state not in SETTLED
            base = base_weight(score, severity)
            expl = exploitation(kev is not None, epss)
            prod = cv_id in ctx.production
            consumers = ctx.graph.consumers.get(comp_id, 0)
            weight = (
                base * expl * ctx.exposure(comp_id, cv_id) * reach(consumers) if counted else 0.0
            )
            out[fid] = FindingRisk(
                finding_id=fid,
                counted=counted,
                base=base,
                in_kev=kev is not None,
                epss=epss,
                exploitation=expl,
                internet=ctx.graph.internet.get(comp_id),
                production=prod,
                internet_factor=ctx.graph.internet_factor(comp_id),
                production_factor=PRODUCTION if prod else 1.0,
                consumers=consumers,
                reach=reach(consumers),
                weight=weight,
            )
    return out


def finding_weights(
    session: Session, finding_ids: list[int], ctx: RiskContext | None = None
) -> dict[int, float]:
    """finding id -> risk weight (0 for findings settled by analysis or no longer active)."""
    return {fid: r.weight for fid, r in finding_risks(session, finding_ids, ctx).items()}
