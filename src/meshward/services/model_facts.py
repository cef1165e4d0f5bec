"""The facts KB rules read, gathered for many component versions at once (set-based).

``gather`` builds, per component version: the catalog facts, the SBOM facts (``kb.inference``),
the graph facts (API links, current deployments, runtime facts from Kubernetes, platforms), the
survey as resolved (answers, inherited, prefilled, implied, defaults; hidden questions
dropped), and then the facts that need every service's survey (trust zones, data classes).
Link facts pair each component version with the representative version (the newest) of the
component at the other end of each API link.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from meshward.kb.conditions import FactValue, holds
from meshward.kb.facts import PEER_HIDDEN
from meshward.kb.inference import SbomFacts
from meshward.kb.loader import KnowledgeBase
from meshward.kb.schema import Question
from meshward.store.models import (
    Api,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Environment,
    Occurrence,
    Package,
    Relation,
    SbomDocument,
)
from meshward.store.threat_models import Platform, PlatformMember, RuntimeFact, Survey

PLAINTEXT_PROTOCOLS = frozenset({"http", "grpc_plaintext", "messaging_plaintext"})
SENSITIVE_DATA = frozenset({"personal", "payment", "health", "credentials", "confidential"})


@dataclass
class SurveyState:
    """The survey as rules see it, and where each answer came from."""

    answers: dict[str, FactValue] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    """answered, inherited, prefilled, implied or default."""
    shown: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)


@dataclass
class ServiceFacts:
    cv_id: int
    component_id: int
    component_key: str
    component_name: str
    version: str
    domain_id: int | None
    facts: dict[str, FactValue]
    survey: SurveyState
    environments: dict[int, str] = field(default_factory=dict)
    namespaces: dict[int, str] = field(default_factory=dict)
    clusters: dict[int, str] = field(default_factory=dict)
    platforms: dict[str, int] = field(default_factory=dict)
    """capability -> id of the platform that gives it."""
    stored: dict[str, Any] = field(default_factory=dict)
    inherited_from: int | None = None
    """The earlier version whose answers this one starts from (it has none of its own yet)."""


@dataclass(frozen=True)
class LinkFacts:
    consumer_component_id: int
    provider_component_id: int
    api_key: str
    facts: dict[str, FactValue]


@dataclass
class Gathered:
    services: dict[int, ServiceFacts]
    """By component version id: those asked for and each linked component's newest version."""
    links: list[LinkFacts]
    representative: dict[int, int]
    """component id -> its newest component version id."""
    documents: dict[int, int] = field(default_factory=dict)
    """component version id -> the current SBOM document its facts were read from."""


def resolve_survey(
    kb: KnowledgeBase,
    base: dict[str, FactValue],
    stored: dict[str, Any],
    inherited: frozenset[str] = frozenset(),
) -> SurveyState:
    """Answers first, then implications of what is known, prefills from facts, defaults;
    questions whose ``shown_when`` fails are dropped (and never required). ``inherited`` names
    the stored answers that still hold the predecessor version's value."""
    implied: dict[str, FactValue] = {}
    state = _resolve_pass(kb, base, stored, implied, inherited)
    known = {**base, **{f"survey.{k}": v for k, v in state.answers.items()}}
    for question in kb.questions.values():
        for implication in question.implies:
            if not holds(implication.when, known):
                continue
            for target, value in implication.set.items():
                if isinstance(value, list):
                    before = implied.get(target, [])
                    merged = sorted(set(before if isinstance(before, list) else []) | set(value))
                    implied[target] = merged
                else:
                    implied[target] = value
    return _resolve_pass(kb, base, stored, implied, inherited) if implied else state


def _resolve_pass(
    kb: KnowledgeBase,
    base: dict[str, FactValue],
    stored: dict[str, Any],
    implied: dict[str, FactValue],
    inherited: frozenset[str],
) -> SurveyState:
    state = SurveyState()
    facts = dict(base)
    for qid, question in kb.questions.items():
        if question.shown_when is not None and not holds(question.shown_when, facts):
            continue
        state.shown.append(qid)
        value: FactValue | None = None
        source = ""
        if qid in stored:
            value, source = stored[qid], "inherited" if qid in inherited else "answered"
        else:
            prefilled = _prefill(question, base)
            if qid in implied:
                value, source = implied[qid], "implied"
                if question.type == "multi" and isinstance(prefilled, list):
                    merged = set(prefilled) | set(value if isinstance(value, list) else [])
                    value = sorted(merged)
            elif prefilled is not None:
                value, source = prefilled, "prefilled"
            elif question.default is not None:
                value, source = question.default, "default"
        if value is None:
            state.unanswered.append(qid)
            continue
        state.answers[qid] = value
        state.provenance[qid] = source
        facts[f"survey.{qid}"] = value
    return state


def _prefill(question: Question, base: dict[str, FactValue]) -> FactValue | None:
    """What a fact says about a question (see ``Question.prefill``); None when it says nothing."""
    if question.prefill is None or question.prefill not in base:
        return None
    fact = base[question.prefill]
    options = {o.value for o in question.options}
    marker = question.prefill_value
    if marker is not None:
        present = fact is True or (isinstance(fact, list) and marker in fact)
        if question.type == "bool":
            return True if present else None
        return marker if present and question.type == "single" else None
    if question.type == "bool":
        if isinstance(fact, list):
            return bool(fact) or None
        if isinstance(fact, bool):
            return fact
        if isinstance(fact, int):
            return fact > 0
        return None
    if question.type == "multi" and isinstance(fact, list):
        picked = sorted(v for v in fact if v in options)
        return picked or None
    if question.type == "single" and isinstance(fact, str) and fact in options:
        return fact
    return None


@dataclass(frozen=True)
class _Link:
    consumer: int
    provider: int
    api: str
    api_type: str | None
    deprecated: bool


def gather(session: Session, kb: KnowledgeBase, cv_ids: Iterable[int] | None = None) -> Gathered:
    """Facts for ``cv_ids`` (None: every component version), reading only their neighbourhood:
    the versions asked for, the newest version of their components and of every component
    linked to them, and the trust zones one link further out. Facts come out the same whether a
    version is gathered alone or with the whole estate."""
    if cv_ids is None:
        wanted_components: set[int] | None = None
        wanted: set[int] = set()
    else:
        wanted = set(cv_ids)
        wanted_components = set()
        for chunk in _chunks(sorted(wanted)):
            wanted_components |= set(
                session.scalars(
                    select(ComponentVersion.component_id).where(ComponentVersion.id.in_(chunk))
                )
            )
    components, raw_links = _neighbourhood(session, wanted_components)
    by_key = {row.key: comp for comp, row in components.items()}
    links = [
        _Link(by_key[c], by_key[p], api, api_type, (lifecycle or "").lower() == "deprecated")
        for c, p, api, api_type, lifecycle in raw_links
        if c in by_key and p in by_key and c != p
    ]
    representative: dict[int, int] = {}
    for chunk in _chunks(sorted(components)):
        for comp, cv in session.execute(
            select(ComponentVersion.component_id, func.max(ComponentVersion.id))
            .where(ComponentVersion.component_id.in_(chunk))
            .group_by(ComponentVersion.component_id)
        ):
            representative[comp] = cv
    partners: dict[int, set[int]] = defaultdict(set)
    outgoing: dict[int, set[int]] = defaultdict(set)
    incoming: dict[int, set[int]] = defaultdict(set)
    consumers: dict[int, int] = defaultdict(int)
    providers: dict[int, int] = defaultdict(int)
    for link in links:
        partners[link.consumer].add(link.provider)
        partners[link.provider].add(link.consumer)
        outgoing[link.consumer].add(link.provider)
        incoming[link.provider].add(link.consumer)
        providers[link.consumer] += 1
        consumers[link.provider] += 1

    if wanted_components is None:
        wanted = set(
            session.scalars(
                select(ComponentVersion.id).where(ComponentVersion.component_id.in_(representative))
            )
        )
        scope = set(representative)
    else:
        scope = wanted_components | {p for comp in wanted_components for p in partners[comp]}
    ids = sorted(wanted | {representative[c] for c in scope if c in representative})
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += session.execute(
            select(
                ComponentVersion.id, ComponentVersion.component_id, ComponentVersion.version
            ).where(ComponentVersion.id.in_(chunk))
        ).all()

    sbom, documents = _sbom_facts(session, ids)
    deployed = _deployments(session, ids)
    runtime = _runtime_facts(session, {row.component_id for row in rows})
    surveys, origins = _surveys(session, ids)
    predecessors = _predecessor_surveys(session, ids, surveys)

    services: dict[int, ServiceFacts] = {}
    for row in rows:
        comp = components[row.component_id]
        envs = deployed.get(row.id, {})
        seen = runtime.get(row.component_id, {})
        base: dict[str, FactValue] = {
            "component.type": comp.kind or "service",
            "component.domain": comp.path or "",
            "sbom.present": False,
            "graph.internet_facing": any(bool(v) for v in seen.get("internet_facing", {}).values()),
            "graph.consumer_count": consumers[row.component_id],
            "graph.provider_count": providers[row.component_id],
            "graph.environments": sorted({name for name, _prod in envs.values()}),
            "graph.runs_in_prod": any(prod for _name, prod in envs.values()),
        }
        if comp.lifecycle:
            base["component.lifecycle"] = comp.lifecycle
        if row.id in sbom:
            base.update(sbom[row.id].as_facts())
        stored = surveys.get(row.id)
        inherited_from = None
        if stored is None and row.id in predecessors:
            inherited_from, stored = predecessors[row.id]
        services[row.id] = ServiceFacts(
            cv_id=row.id,
            component_id=row.component_id,
            component_key=comp.key,
            component_name=comp.name,
            version=row.version,
            domain_id=comp.domain_id,
            facts=base,
            survey=SurveyState(),
            environments={env: name for env, (name, _prod) in envs.items()},
            namespaces={env: str(v) for env, v in seen.get("namespace", {}).items() if v},
            clusters={env: str(v) for env, v in seen.get("cluster", {}).items() if v},
            stored=dict(stored or {}),
            inherited_from=inherited_from,
        )

    shared_stores = _shared_resources(session, {row.component_id for row in rows}, components)
    inherited_keys = _inherited_keys(session, services, origins)
    _platforms(session, services)
    for svc in services.values():
        svc.facts["graph.platforms"] = sorted(svc.platforms)
        svc.survey = resolve_survey(
            kb, svc.facts, svc.stored, inherited_keys.get(svc.cv_id, frozenset())
        )
        for qid, value in svc.survey.answers.items():
            svc.facts[f"survey.{qid}"] = value
        data = svc.survey.answers.get("data_classes", [])
        data_list = data if isinstance(data, list) else []
        stores = bool(svc.survey.answers.get("stores_data"))
        svc.facts["graph.stores_personal_data"] = stores and "personal" in data_list
        svc.facts["graph.stores_payment_data"] = stores and "payment" in data_list
        svc.facts["graph.shares_datastore_across_domains"] = bool(
            svc.survey.answers.get("datastore_shared")
        ) or (svc.component_id in shared_stores)
        if svc.survey.answers.get("exposure") == "internet":
            svc.facts["graph.internet_facing"] = True

    by_component = {c: services[v] for c, v in representative.items() if v in services}
    zones = {c: _zone_of(svc) for c, svc in by_component.items()}
    for svc in services.values():
        mine = zones.get(svc.component_id)
        calls = {zones.get(p) for p in outgoing[svc.component_id]}
        called = {zones.get(p) for p in incoming[svc.component_id]}
        svc.facts["graph.consumes_cross_zone"] = bool(mine) and any(z and z != mine for z in calls)
        svc.facts["graph.consumed_cross_zone"] = bool(mine) and any(z and z != mine for z in called)
    link_facts = [
        LinkFacts(
            link.consumer,
            link.provider,
            link.api,
            _link_facts(
                by_component[link.consumer],
                by_component[link.provider],
                link.api_type,
                link.deprecated,
            ),
        )
        for link in links
        if link.consumer in by_component
        and link.provider in by_component
        and (link.consumer in scope or link.provider in scope)
    ]
    return Gathered(services, link_facts, representative, documents)


def _neighbourhood(session: Session, wanted: set[int] | None) -> tuple[dict[int, Any], list[Any]]:
    """Components and API links to read: everything, or the wanted components, their link
    partners. A partner's own other links are not read: link rules do not see them
    (``facts.PEER_HIDDEN``), so a version's facts do not depend on how far the read went."""
    columns = (
        Component.id,
        Component.key,
        Component.name,
        Component.kind,
        Component.lifecycle,
        Component.domain_id,
        Domain.path,
    )
    base = select(*columns).outerjoin(Domain, Domain.id == Component.domain_id)
    if wanted is None:
        return {row.id: row for row in session.execute(base)}, link_rows(session, None)

    def load(ids: set[int] | None = None, keys: set[str] | None = None) -> dict[int, Any]:
        out: dict[int, Any] = {}
        values = sorted(ids) if ids is not None else sorted(keys or ())
        column = Component.id if ids is not None else Component.key
        for start in range(0, len(values), 400):
            for row in session.execute(base.where(column.in_(values[start : start + 400]))):
                out[row.id] = row
        return out

    components = load(ids=wanted)
    links = link_rows(session, {row.key for row in components.values()})
    partner_keys = {k for c, p, *_ in links for k in (c, p)} - {
        row.key for row in components.values()
    }
    components.update(load(keys=partner_keys))
    return components, links


def _shared_resources(
    session: Session, component_ids: set[int], components: dict[int, Any]
) -> set[int]:
    """Components that depend on a catalog Resource (a database, a bucket, a queue) that a
    component of another domain depends on too: Backstage ``dependsOn`` to ``resource:``."""
    keys = {components[c].key: c for c in component_ids if c in components}
    if not keys:
        return set()
    mine: dict[str, set[int]] = defaultdict(set)
    for start in range(0, len(keys), 400):
        chunk = sorted(keys)[start : start + 400]
        for source, target in session.execute(
            select(Relation.source_key, Relation.target_key).where(
                Relation.type == "dependsOn",
                Relation.source_key.in_(chunk),
                Relation.target_key.like("resource:%"),
            )
        ):
            mine[target].add(keys[source])
    if not mine:
        return set()
    domains_of: dict[str, set[int | None]] = defaultdict(set)
    for target, domain in session.execute(
        select(Relation.target_key, Component.domain_id)
        .join(Component, Component.key == Relation.source_key)
        .where(Relation.type == "dependsOn", Relation.target_key.in_(sorted(mine)))
    ):
        domains_of[target].add(domain)
    return {c for target, comps in mine.items() if len(domains_of[target]) > 1 for c in comps}


def _zone_of(svc: ServiceFacts) -> str | None:
    """A survey's trust zone as compared everywhere: trimmed, lower-cased, None when empty."""
    zone = svc.survey.answers.get("zone")
    return zone.strip().lower() or None if isinstance(zone, str) else None


def _link_facts(
    consumer: ServiceFacts, provider: ServiceFacts, api_type: str | None, deprecated: bool
) -> dict[str, FactValue]:
    common_envs = set(consumer.environments) & set(provider.environments)
    crosses_env = bool(consumer.environments and provider.environments and not common_envs)
    crosses_ns = any(
        consumer.namespaces.get(env)
        and provider.namespaces.get(env)
        and consumer.namespaces[env] != provider.namespaces[env]
        for env in common_envs
    )
    crosses_cluster = any(
        consumer.clusters.get(env)
        and provider.clusters.get(env)
        and consumer.clusters[env] != provider.clusters[env]
        for env in common_envs
    )
    zone_a, zone_b = _zone_of(consumer), _zone_of(provider)
    crosses_zone = bool(zone_a and zone_b and zone_a != zone_b)
    protocols = provider.survey.answers.get("protocols", [])
    protocol_list = protocols if isinstance(protocols, list) else []
    mtls = "mtls" in provider.platforms or provider.survey.answers.get("service_auth") == "mtls"
    plaintext = bool(PLAINTEXT_PROTOCOLS & set(protocol_list)) and "mtls" not in provider.platforms
    facts: dict[str, FactValue] = {
        "link.api_type": (api_type or "unknown").lower(),
        "link.crosses_environment": crosses_env,
        "link.crosses_namespace": bool(crosses_ns),
        "link.crosses_cluster": bool(crosses_cluster),
        "link.crosses_zone": crosses_zone,
        "link.crosses_domain": consumer.domain_id != provider.domain_id,
        "link.plaintext": plaintext,
        "link.mutual_auth": mtls,
        "link.asynchronous": (api_type or "").lower() == "asyncapi",
        "link.provider_deprecated": deprecated,
    }
    facts["link.crosses_trust_boundary"] = bool(
        crosses_env or crosses_ns or crosses_cluster or crosses_zone
    )
    for prefix, svc in (("consumer.", consumer), ("provider.", provider)):
        for path, value in svc.facts.items():
            if path not in PEER_HIDDEN:
                facts[prefix + path] = value
    return facts


def api_links(
    session: Session, comp_key_to_id: dict[str, int], touching: set[str] | None = None
) -> list[tuple[int, int, str, str | None, bool]]:
    """(consumer component, provider component, api key, api type, deprecated) per link;
    ``touching``: only links with one of these component keys at either end."""
    out = []
    for consumer, provider, api, api_type, lifecycle in link_rows(session, touching):
        if consumer in comp_key_to_id and provider in comp_key_to_id:
            deprecated = (lifecycle or "").lower() == "deprecated"
            out.append(
                (comp_key_to_id[consumer], comp_key_to_id[provider], api, api_type, deprecated)
            )
    return out


def link_rows(session: Session, touching: set[str] | None) -> list[Any]:
    consumes = Relation.__table__.alias("consumes")
    provides = Relation.__table__.alias("provides")
    query = (
        select(
            consumes.c.source_key,
            provides.c.source_key,
            consumes.c.target_key,
            Api.type,
            Api.lifecycle,
        )
        .join(
            provides,
            and_(provides.c.target_key == consumes.c.target_key, provides.c.type == "providesApi"),
        )
        .outerjoin(Api, Api.key == consumes.c.target_key)
        .where(consumes.c.type == "consumesApi")
        .order_by(consumes.c.source_key, provides.c.source_key, consumes.c.target_key)
    )
    if touching is None:
        return list(session.execute(query).all())
    rows: dict[tuple[str, str, str], Any] = {}
    keys = sorted(touching)
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        for row in session.execute(
            query.where(or_(consumes.c.source_key.in_(chunk), provides.c.source_key.in_(chunk)))
        ):
            rows[(row[0], row[1], row[2])] = row
    return [rows[k] for k in sorted(rows)]


def _chunks(ids: list[int], size: int = 900) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


_SBOM_FACTS: dict[tuple[int, str, Any], SbomFacts] = {}
"""(document id, digest, upload time) -> what its packages say. A stored document never
changes, so what was inferred once holds for the life of the process; the digest and upload
time make the key unique across databases too (bounded by ``_SBOM_FACTS_MAX``)."""
_SBOM_FACTS_MAX = 50_000


def current_documents(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """component version id -> its current SBOM document id (versions without one left out)."""
    return {cv: key[0] for cv, key in _documents(session, sorted(set(ids))).items()}


def _documents(session: Session, ids: list[int]) -> dict[int, tuple[int, str, Any]]:
    documents: dict[int, tuple[int, str, Any]] = {}
    for chunk in _chunks(ids):
        for cv_id, doc_id, digest, uploaded in session.execute(
            select(
                SbomDocument.component_version_id,
                SbomDocument.id,
                SbomDocument.digest,
                SbomDocument.uploaded_at,
            ).where(SbomDocument.current.is_(True), SbomDocument.component_version_id.in_(chunk))
        ):
            documents[cv_id] = (doc_id, digest, uploaded)
    return documents


def _sbom_facts(session: Session, ids: list[int]) -> tuple[dict[int, SbomFacts], dict[int, int]]:
    """What each version's current SBOM says, and which document that is."""
    documents = _documents(session, ids)
    unseen = {key[0]: key for key in documents.values() if key not in _SBOM_FACTS}
    if len(_SBOM_FACTS) + len(unseen) > _SBOM_FACTS_MAX:
        _SBOM_FACTS.clear()
        unseen = {key[0]: key for key in documents.values()}
    for chunk in _chunks(sorted(unseen)):
        read = {doc: SbomFacts() for doc in chunk}
        for doc_id, ecosystem, name in session.execute(
            select(Occurrence.document_id, Package.ecosystem, Package.name)
            .join(Package, Package.id == Occurrence.package_id)
            .where(Occurrence.document_id.in_(chunk), Occurrence.dependency != "root")
            .distinct()
        ):
            read[doc_id].add(ecosystem, name)
        _SBOM_FACTS.update({unseen[doc]: facts for doc, facts in read.items()})
    facts = {cv: _SBOM_FACTS[key] for cv, key in documents.items()}
    return facts, {cv: key[0] for cv, key in documents.items()}


def _deployments(session: Session, ids: list[int]) -> dict[int, dict[int, tuple[str, bool]]]:
    """cv id -> {environment id: (name, production)} for what runs now."""
    out: dict[int, dict[int, tuple[str, bool]]] = defaultdict(dict)
    for chunk in _chunks(ids):
        rows = session.execute(
            select(
                Deployment.component_version_id,
                Environment.id,
                Environment.name,
                Environment.production,
            )
            .join(Environment, Environment.id == Deployment.environment_id)
            .where(Deployment.ended_at.is_(None), Deployment.component_version_id.in_(chunk))
        ).all()
        for cv_id, env_id, name, prod in rows:
            out[cv_id][env_id] = (name, bool(prod))
    return out


def _runtime_facts(
    session: Session, component_ids: set[int]
) -> dict[int, dict[str, dict[int, Any]]]:
    """component id -> fact key -> environment id -> value (what Kubernetes imports saw)."""
    keys = ("namespace", "cluster", "internet_facing")
    out: dict[int, dict[str, dict[int, Any]]] = defaultdict(lambda: defaultdict(dict))
    for chunk in _chunks(sorted(component_ids)):
        rows = session.execute(
            select(
                RuntimeFact.component_id,
                RuntimeFact.environment_id,
                RuntimeFact.key,
                RuntimeFact.value,
            ).where(RuntimeFact.component_id.in_(chunk), RuntimeFact.key.in_(keys))
        ).all()
        for comp, env, key, value in rows:
            out[comp][key][env] = value
    return out


def _surveys(session: Session, ids: list[int]) -> tuple[dict[int, dict[str, Any]], dict[int, int]]:
    """Stored answers per version, and the version each was first inherited from."""
    answers: dict[int, dict[str, Any]] = {}
    origins: dict[int, int] = {}
    for chunk in _chunks(ids):
        for cv_id, stored, origin in session.execute(
            select(Survey.component_version_id, Survey.answers, Survey.inherited_from_id).where(
                Survey.component_version_id.in_(chunk)
            )
        ):
            answers[cv_id] = dict(stored or {})
            if origin is not None:
                origins[cv_id] = origin
    return answers, origins


def _inherited_keys(
    session: Session, services: dict[int, ServiceFacts], origins: dict[int, int]
) -> dict[int, frozenset[str]]:
    """Answers that still equal those of the version they were inherited from."""
    out: dict[int, frozenset[str]] = {}
    for svc in services.values():
        if svc.inherited_from is not None:  # nothing stored yet: everything is inherited
            out[svc.cv_id] = frozenset(svc.stored)
    wanted = {cv: origin for cv, origin in origins.items() if cv in services}
    if wanted:
        earlier, _ = _surveys(session, sorted(set(wanted.values())))
        for cv, origin in wanted.items():
            before = earlier.get(origin, {})
            out[cv] = frozenset(k for k, v in services[cv].stored.items() if before.get(k) == v)
    return out


def _predecessor_surveys(
    session: Session, ids: list[int], surveys: dict[int, dict[str, Any]]
) -> dict[int, tuple[int, dict[str, Any]]]:
    """For versions without answers: the answers of the newest earlier version that has some."""
    missing = [i for i in ids if i not in surveys]
    if not missing:
        return {}
    out: dict[int, tuple[int, dict[str, Any]]] = {}
    for chunk in _chunks(missing):
        earlier = aliased(ComponentVersion)
        rows = session.execute(
            select(ComponentVersion.id, Survey.component_version_id, Survey.answers)
            .join(earlier, earlier.component_id == ComponentVersion.component_id)
            .join(Survey, Survey.component_version_id == earlier.id)
            .where(ComponentVersion.id.in_(chunk), earlier.id < ComponentVersion.id)
            .order_by(ComponentVersion.id, earlier.id)
        ).all()
        for cv, origin, answers in rows:
            out[cv] = (origin, dict(answers or {}))  # ordered: the newest earlier one wins
    return out


def predecessor_of(session: Session, cv: ComponentVersion) -> int | None:
    return session.scalar(
        select(ComponentVersion.id)
        .where(ComponentVersion.component_id == cv.component_id, ComponentVersion.id < cv.id)
        .order_by(ComponentVersion.id.desc())
        .limit(1)
    )


def _platforms(session: Session, services: dict[int, ServiceFacts]) -> None:
    """Which platform gives each capability to each service: explicit members, or everything
    deployed now in the platform's environment (and namespace, when known)."""
    platforms = session.execute(
        select(
            Platform.id, Platform.capabilities, Platform.environment_id, Platform.namespace
        ).order_by(Platform.id)
    ).all()
    if not platforms:
        return
    members: dict[int, set[int]] = defaultdict(set)
    for pid, comp in session.execute(
        select(PlatformMember.platform_id, PlatformMember.component_id)
    ):
        members[pid].add(comp)
    for svc in services.values():
        for pid, capabilities, env_id, namespace in platforms:
            covered = svc.component_id in members[pid]
            if not covered and not members[pid]:
                if env_id is None:
                    covered = namespace is None
                elif env_id in svc.environments:
                    covered = namespace is None or svc.namespaces.get(env_id) == namespace
            if covered:
                for capability in capabilities or []:
                    svc.platforms.setdefault(capability, pid)
