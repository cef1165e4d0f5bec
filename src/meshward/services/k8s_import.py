"""Kubernetes in: what runs in an environment, and what its mesh and policies give it.

``import_k8s`` takes a parsed :class:`K8sRead` (manifests, ``kubectl get -o json`` or a live
cluster) and, in the caller's one transaction:

1. maps each container image to a component version: by image digest (a version that
   recorded that digest), by the Backstage Kubernetes plugin's convention (a workload labelled
   or annotated ``backstage.io/kubernetes-id: X`` belongs to the component annotated with the
   same id, or to the one whose ``backstage.io/kubernetes-label-selector`` selects it), or by
   the mapping rules; a missing version of a known component is created;
2. records the deployments in the environment through the catalog's own deployment
   functions, after one set-based comparison with what runs there now, and ends the
   deployments of the components this source showed before and no longer shows;
3. replaces this source's runtime facts (namespace, workload, exposure, mTLS, policies,
   security context) and the capabilities of the platforms it derives (Istio mTLS and
   authorisation, default-deny network policies), so a downgrade takes a capability away.

Unmapped images are reported with the reason. The same import again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from meshward.errors import ConflictError, MeshwardError
from meshward.formats.k8s.mesh import (
    ROOT_NAMESPACE,
    MeshFacts,
    PlatformGrant,
    mesh_facts,
    platform_grants,
)
from meshward.formats.k8s.objects import Container, K8sRead, LabelSelector, Requirement, Workload
from meshward.formats.k8s.rules import MappingRules, match_rules, version_for
from meshward.services import catalog
from meshward.services.refs import key_candidates
from meshward.store import audit
from meshward.store.models import Component, ComponentVersion, Deployment, Environment
from meshward.store.threat_models import Platform, RuntimeFact

KUBERNETES_ID = "backstage.io/kubernetes-id"
LABEL_SELECTOR = "backstage.io/kubernetes-label-selector"
BACKSTAGE_NAMESPACE = "backstage.io/kubernetes-namespace"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
MESH_SIDECARS = frozenset({"istio-proxy", "istio-init", "istio-validation", "linkerd-proxy"})
"""Containers a mesh injects: not the service, never mapped, counted."""
FACT_KEYS = (
    "namespace",
    "cluster",
    "workload",
    "service_account",
    "services",
    "image",
    "internet_facing",
    "ingress",
    "mtls_mode",
    "mtls_port_modes",
    "authorization_policies",
    "network_isolated",
    "network_policies",
    "destination_tls",
    "security_context",
)
"""The runtime facts one import writes per component (``cluster`` only when named,
``mtls_port_modes`` only when a port differs)."""


@dataclass
class ImportResult:
    environment: str
    source: str
    dry_run: bool = False
    workloads: int = 0
    containers: int = 0
    sidecars: int = 0
    mapped: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[dict[str, Any]] = field(default_factory=list)
    versions_created: list[dict[str, Any]] = field(default_factory=list)
    deployments_started: list[dict[str, Any]] = field(default_factory=list)
    deployments_unchanged: int = 0
    deployments_ended: list[dict[str, Any]] = field(default_factory=list)
    platforms: list[dict[str, Any]] = field(default_factory=list)
    facts_written: int = 0
    facts_removed: int = 0
    warnings: list[str] = field(default_factory=list)
    affected_domains: set[int | None] = field(default_factory=set)
    """Domains of every component the import touched (None: one without a domain, or a
    mesh-wide platform): what the API checks the caller's role against."""

    @property
    def changed(self) -> bool:
        return bool(
            self.versions_created
            or self.deployments_started
            or self.deployments_ended
            or self.platforms
            or self.facts_written
            or self.facts_removed
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("affected_domains")
        data["changed"] = self.changed
        return data


@dataclass(frozen=True, slots=True)
class _Comp:
    id: int
    key: str
    name: str
    domain_id: int | None
    annotations: Mapping[str, Any]


@dataclass
class _Choice:
    """The version of one component this import found, and where."""

    comp: _Comp
    version: str
    workload: Workload
    container: Container
    how: str


class _Catalog:
    """The components, loaded once: lookups by reference, Backstage id and label selector."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(
            select(
                Component.id,
                Component.key,
                Component.name,
                Component.domain_id,
                Component.annotations,
            )
        ).all()
        self.all = [_Comp(i, k, n, d, a or {}) for i, k, n, d, a in rows]
        self.by_key = {c.key: c for c in self.all}
        self.by_name: dict[str, list[_Comp]] = defaultdict(list)
        self.by_kubernetes_id: dict[str, list[_Comp]] = defaultdict(list)
        self.selectors: list[tuple[_Comp, LabelSelector]] = []
        for c in self.all:
            self.by_name[c.name.lower()].append(c)
            kid = c.annotations.get(KUBERNETES_ID)
            if isinstance(kid, str) and kid:
                self.by_kubernetes_id[kid].append(c)
            selector = c.annotations.get(LABEL_SELECTOR)
            if isinstance(selector, str) and (parsed := parse_label_selector(selector)):
                self.selectors.append((c, parsed))

    def resolve(self, ref: str) -> tuple[_Comp | None, str | None]:
        """The component a rule names, or (None, why)."""
        for key in key_candidates(ref, "component"):
            if key in self.by_key:
                return self.by_key[key], None
        if ":" not in ref and "/" not in ref:
            found = self.by_name.get(ref.strip().lower(), [])
            if len(found) == 1:
                return found[0], None
            if found:
                return None, f"component {ref!r} is ambiguous: {', '.join(c.key for c in found)}"
        return None, f"no component {ref!r} in the catalog"

    def backstage(self, w: Workload) -> list[_Comp]:
        """Components that claim the workload the way Backstage's Kubernetes plugin does."""
        found: list[_Comp] = []
        for source in (w.labels, w.annotations, w.pod_labels):
            kid = source.get(KUBERNETES_ID)
            if kid:
                found += self.by_kubernetes_id.get(kid, [])
        labels = {**w.pod_labels, **w.labels}
        found += [c for c, sel in self.selectors if sel.matches(labels)]
        unique = {c.id: c for c in found}.values()
        return [
            c for c in unique if c.annotations.get(BACKSTAGE_NAMESPACE) in (None, "", w.namespace)
        ]


def parse_label_selector(text: str) -> LabelSelector | None:
    """Backstage's ``kubernetes-label-selector`` (``app=cart,tier!=db``): equality-based
    requirements; None when it holds something else (set-based syntax is not read)."""
    labels: list[tuple[str, str]] = []
    expressions: list[Requirement] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "!=" in part:
            key, _, value = part.partition("!=")
            expressions.append(Requirement(key.strip(), "NotIn", (value.strip(),)))
        elif "=" in part:
            key, _, value = part.replace("==", "=").partition("=")
            labels.append((key.strip(), value.strip()))
        else:
            return None
    if not labels and not expressions:
        return None
    return LabelSelector(tuple(sorted(labels)), tuple(expressions))


def _json(value: Any) -> Any:
    """As the JSON column gives it back: tuples become lists, keys strings."""
    return orjson.loads(orjson.dumps(value))


def platform_name(grant: PlatformGrant, environment: str, cluster: str | None) -> str:
    name = f"{grant.provider}:{environment}"
    if cluster:
        name += f"@{cluster}"
    return f"{name}/{grant.namespace}" if grant.namespace else name


def _main_container(w: Workload) -> Container:
    wanted = w.pod_annotations.get(DEFAULT_CONTAINER) or w.annotations.get(DEFAULT_CONTAINER)
    apps = [c for c in w.app_containers if c.name not in MESH_SIDECARS]
    return next((c for c in apps if c.name == wanted), apps[0] if apps else w.app_containers[0])


def _facts_of(choice: _Choice, facts: MeshFacts, cluster: str | None) -> dict[str, Any]:
    w, c, sc = choice.workload, choice.container, choice.container.security
    values: dict[str, Any] = {
        "namespace": w.namespace,
        "workload": f"{w.kind}/{w.name}",
        "service_account": w.service_account,
        "services": list(facts.services),
        "image": c.image,
        "internet_facing": facts.internet_facing,
        "ingress": [asdict(e) for e in facts.exposures],
        "mtls_mode": facts.mtls_mode,
        "authorization_policies": list(facts.authorization_policies),
        "network_isolated": facts.network_isolated,
        "network_policies": list(facts.network_policies),
        "destination_tls": list(facts.destination_tls),
        "security_context": {**asdict(sc), "host_network": w.host_network},
    }
    if facts.mtls_port_modes:
        values["mtls_port_modes"] = {str(p): m for p, m in facts.mtls_port_modes}
    if cluster:
        values["cluster"] = cluster
    return {k: _json(v) for k, v in values.items()}


def import_k8s(
    session: Session,
    read: K8sRead,
    environment: str,
    mapping_rules: MappingRules | None,
    *,
    source: str,
    now: datetime,
    cluster: str | None = None,
    prune: bool = True,
    dry_run: bool = False,
    root_namespace: str = ROOT_NAMESPACE,
) -> ImportResult:
    """Record what ``read`` shows as running in ``environment`` at ``now``, in the caller's
    transaction: an error leaves the caller to roll everything back.

    ``dry_run`` does all the work in a savepoint and rolls it back, so the result says
    exactly what an import would change."""

    def run() -> ImportResult:
        return _import(
            session,
            read,
            environment,
            mapping_rules or MappingRules(),
            source=source,
            now=now,
            cluster=cluster,
            prune=prune,
            root_namespace=root_namespace,
        )

    if not dry_run:
        return run()
    savepoint = session.begin_nested()
    try:
        result = run()
    finally:
        savepoint.rollback()
    result.dry_run = True
    return result


def _import(
    session: Session,
    read: K8sRead,
    environment: str,
    rules: MappingRules,
    *,
    source: str,
    now: datetime,
    cluster: str | None,
    prune: bool,
    root_namespace: str,
) -> ImportResult:
    if not read.workloads and prune:
        raise MeshwardError(
            f"{', '.join(read.files) or 'the input'}: no workload found; refused, since pruning "
            "would end every deployment this source recorded (--no-prune imports it anyway)"
        )
    result = ImportResult(environment, source, workloads=len(read.workloads))
    result.warnings += read.warnings
    env = catalog.ensure_environment(session, environment)
    comps = _Catalog(session)
    meshed = mesh_facts(read, root_namespace=root_namespace)
    choices, seen = _map_images(session, read, comps, rules, result)
    chosen = _choose(choices, result)
    _create_versions(session, chosen, result)
    _record_deployments(session, env, chosen, seen, source, now, prune, result)
    facts = {c.comp.id: _facts_of(c, meshed[c.workload.ref], cluster) for c in chosen.values()}
    _replace_facts(session, env, facts, source, now, prune, result)
    grants = platform_grants(read, meshed, root_namespace=root_namespace)
    _replace_platforms(session, env, grants, cluster, source, result)
    result.affected_domains |= {c.comp.domain_id for c in chosen.values()}
    if result.changed:
        audit.record(
            session,
            "k8s.import",
            "environment",
            env.name,
            after={
                "source": source,
                "started": len(result.deployments_started),
                "ended": len(result.deployments_ended),
                "versions_created": len(result.versions_created),
                "platforms": [p["name"] for p in result.platforms],
                "facts_written": result.facts_written,
                "facts_removed": result.facts_removed,
            },
        )
    return result


def _map_images(
    session: Session,
    read: K8sRead,
    comps: _Catalog,
    rules: MappingRules,
    result: ImportResult,
) -> tuple[list[_Choice], set[int]]:
    """Every container's component version, or why not. Returns the choices and the ids of
    every component identified (even without a version: those are never pruned)."""
    digests = {c.ref.digest for w in read.workloads for c in w.containers if c.ref and c.ref.digest}
    by_digest: dict[str, tuple[int, str]] = {}
    if digests:
        for cv in session.scalars(
            select(ComponentVersion)
            .where(ComponentVersion.image_digest.in_(sorted(digests)))
            .order_by(ComponentVersion.id)
        ):
            by_digest.setdefault(cv.image_digest or "", (cv.component_id, cv.version))
    by_id = {c.id: c for c in comps.all}
    choices: list[_Choice] = []
    seen: set[int] = set()
    for w in read.workloads:
        main = _main_container(w)
        claimed = comps.backstage(w)
        for c in w.containers:
            if c.name in MESH_SIDECARS:
                result.sidecars += 1
                continue
            result.containers += 1
            where = {"workload": w.ref, "container": c.name, "image": c.image}
            if c.ref is None:
                result.unmapped.append({**where, "reason": f"invalid image: {c.image_problem}"})
                continue
            if c.ref.digest and c.ref.digest in by_digest:
                comp_id, known = by_digest[c.ref.digest]
                choices.append(_Choice(by_id[comp_id], known, w, c, "digest"))
                continue
            comp: _Comp | None = None
            version: str | None = None
            why: str | None = None
            how = "rule"
            if c is main and len(claimed) > 1:
                why = "claimed by several components: " + ", ".join(x.key for x in claimed)
            elif c is main and claimed:
                comp, how = claimed[0], "backstage"
                version, why = version_for(w, c)
            elif (match := match_rules(rules, w, c)) is not None:
                comp, why = comps.resolve(match.component)
                version = match.version
                why = why or match.why_no_version
                how = f"rule {match.rule}"
            else:
                why = "no rule, Backstage annotation or known digest matches"
            if comp is not None:
                seen.add(comp.id)
            if comp is None or version is None:
                result.unmapped.append({**where, "reason": why or "no version"})
                continue
            choices.append(_Choice(comp, version, w, c, how))
    return choices, seen


def _choose(choices: list[_Choice], result: ImportResult) -> dict[int, _Choice]:
    """One version per component: an environment runs one version of a component at a time.
    Several different ones (a canary) are reported; the first workload in name order wins."""
    by_comp: dict[int, list[_Choice]] = defaultdict(list)
    for choice in choices:
        by_comp[choice.comp.id].append(choice)
        result.mapped.append(
            {
                "workload": choice.workload.ref,
                "container": choice.container.name,
                "image": choice.container.image,
                "component": choice.comp.name,
                "version": choice.version,
                "by": choice.how,
            }
        )
    chosen: dict[int, _Choice] = {}
    for comp_id, found in by_comp.items():
        found.sort(key=lambda c: (c.workload.ref, c.container.init, c.container.name))
        chosen[comp_id] = found[0]
        versions = sorted({c.version for c in found})
        if len(versions) > 1:
            result.warnings.append(
                f"component {found[0].comp.name} runs as versions {', '.join(versions)}: "
                f"recorded {found[0].version} (from {found[0].workload.ref})"
            )
    return chosen


def _create_versions(session: Session, chosen: Mapping[int, _Choice], result: ImportResult) -> None:
    if not chosen:
        return
    existing = {
        (comp_id, version)
        for comp_id, version in session.execute(
            select(ComponentVersion.component_id, ComponentVersion.version).where(
                ComponentVersion.component_id.in_(sorted(chosen)),
                ComponentVersion.version.in_(sorted({c.version for c in chosen.values()})),
            )
        )
    }
    fresh = [c for c in chosen.values() if (c.comp.id, c.version) not in existing]
    for c in fresh:
        ref = c.container.ref
        session.add(
            ComponentVersion(
                component_id=c.comp.id,
                version=c.version,
                image_ref=str(ref) if ref else c.container.image,
                image_digest=ref.digest if ref else None,
            )
        )
        result.versions_created.append(
            {"component": c.comp.name, "version": c.version, "image": c.container.image}
        )
    if fresh:
        session.flush()


def _running(
    session: Session, env: Environment, now: datetime
) -> dict[int, tuple[Deployment, str]]:
    """Component id -> (the deployment running at ``now``, its version)."""
    rows = session.execute(
        select(Deployment, ComponentVersion.version)
        .join(ComponentVersion, ComponentVersion.id == Deployment.component_version_id)
        .where(
            Deployment.environment_id == env.id,
            Deployment.started_at <= now,
            or_(Deployment.ended_at.is_(None), Deployment.ended_at > now),
        )
    ).all()
    return {dep.component_id: (dep, version) for dep, version in rows}


def _record_deployments(
    session: Session,
    env: Environment,
    chosen: Mapping[int, _Choice],
    seen: set[int],
    source: str,
    now: datetime,
    prune: bool,
    result: ImportResult,
) -> None:
    """One comparison with what runs at ``now``, then only the differences are written.

    The common case (nothing recorded after ``now``) cuts the running interval at ``now``
    and opens the new one, as ``catalog.record_deployment`` does, for every component in one
    flush; a component with a deployment recorded after ``now`` (a late import) goes
    through ``catalog.record_deployment`` itself, which keeps the history non-overlapping."""
    running = _running(session, env, now)
    later = set(
        session.scalars(
            select(Deployment.component_id)
            .where(Deployment.environment_id == env.id, Deployment.started_at > now)
            .distinct()
        )
    )
    versions = {
        (comp_id, version): cv_id
        for cv_id, comp_id, version in session.execute(
            select(ComponentVersion.id, ComponentVersion.component_id, ComponentVersion.version)
            .where(ComponentVersion.component_id.in_(sorted(chosen)))
            .where(ComponentVersion.version.in_(sorted({c.version for c in chosen.values()})))
        )
    }
    for comp_id, choice in sorted(chosen.items(), key=lambda item: item[1].comp.name):
        dep, before = running.get(comp_id, (None, None))
        if before == choice.version:
            result.deployments_unchanged += 1
            continue
        if comp_id in later:
            catalog.record_deployment(session, env.name, choice.comp.key, choice.version, now)
        else:
            if dep is not None and dep.started_at == now:
                session.delete(dep)  # replaced at the very same instant
            elif dep is not None:
                dep.ended_at = now
            session.add(
                Deployment(
                    environment_id=env.id,
                    component_id=comp_id,
                    component_version_id=versions[(comp_id, choice.version)],
                    started_at=now,
                )
            )
        result.deployments_started.append(
            {
                "component": choice.comp.name,
                "version": choice.version,
                "previous": before,
                "workload": choice.workload.ref,
            }
        )
    if prune:
        shown_before = set(
            session.scalars(
                select(RuntimeFact.component_id)
                .where(RuntimeFact.environment_id == env.id, RuntimeFact.source == source)
                .distinct()
            )
        )
        gone = shown_before - seen - set(chosen)
        for comp in sorted(_components(session, gone & set(running)), key=lambda c: c.name):
            dep, version = running[comp.id]
            dep.ended_at = now
            result.deployments_ended.append({"component": comp.name, "version": version})
            result.affected_domains.add(comp.domain_id)
    session.flush()


def _components(session: Session, ids: Iterable[int]) -> list[Component]:
    wanted = sorted(ids)
    return (
        list(session.scalars(select(Component).where(Component.id.in_(wanted)))) if wanted else []
    )


def _replace_facts(
    session: Session,
    env: Environment,
    facts: Mapping[int, Mapping[str, Any]],
    source: str,
    now: datetime,
    prune: bool,
    result: ImportResult,
) -> None:
    """This source's facts become exactly ``facts`` (without ``prune``, the facts of the
    components it does not show stay, as their deployments do); a fact another source holds for a
    component this import shows is taken over (the newest observation wins)."""
    conditions = [RuntimeFact.source == source]
    if facts:
        conditions.append(RuntimeFact.component_id.in_(sorted(facts)))
    rows = session.execute(
        select(
            RuntimeFact.id,
            RuntimeFact.component_id,
            RuntimeFact.key,
            RuntimeFact.value,
            RuntimeFact.source,
        ).where(RuntimeFact.environment_id == env.id, or_(*conditions))
    ).all()
    existing = {(comp_id, key): (row_id, value, src) for row_id, comp_id, key, value, src in rows}
    updates: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for comp_id, values in facts.items():
        for key, value in values.items():
            old = existing.pop((comp_id, key), None)
            if old is None:
                fresh.append(
                    {
                        "component_id": comp_id,
                        "environment_id": env.id,
                        "key": key,
                        "value": value,
                        "source": source,
                        "observed_at": now,
                    }
                )
            elif old[1] != value or old[2] != source:
                updates.append({"id": old[0], "value": value, "source": source, "observed_at": now})
    stale = [
        row_id
        for (comp_id, _), (row_id, _, src) in existing.items()
        if src == source and (prune or comp_id in facts)
    ]
    if stale:
        session.execute(delete(RuntimeFact).where(RuntimeFact.id.in_(stale)))
    if updates:
        session.execute(update(RuntimeFact), updates)
    if fresh:
        session.execute(insert(RuntimeFact), fresh)
    result.facts_written = len(fresh) + len(updates)
    result.facts_removed = len(stale)


def _replace_platforms(
    session: Session,
    env: Environment,
    grants: list[PlatformGrant],
    cluster: str | None,
    source: str,
    result: ImportResult,
) -> None:
    """Platforms this source derives in this environment get exactly the capabilities the
    mesh gives now. A platform that gives nothing any more keeps its row with no capability,
    so the control tasks it satisfied still say which platform it was."""
    wanted = {platform_name(g, env.name, cluster): g for g in grants}
    rows = {
        p.name: p
        for p in session.scalars(
            select(Platform).where(
                or_(
                    Platform.name.in_(sorted(wanted)),
                    (Platform.environment_id == env.id) & (Platform.source == source),
                )
            )
        )
    }
    for name, grant in sorted(wanted.items()):
        row = rows.get(name)
        caps = list(grant.capabilities)
        description = "From " + ", ".join(grant.evidence)
        if row is not None and (row.source != source or row.environment_id != env.id):
            raise ConflictError(
                f"platform {name!r} exists already from {row.source}: rename one of them"
            )
        if row is None:
            session.add(
                Platform(
                    name=name,
                    capabilities=caps,
                    environment_id=env.id,
                    namespace=grant.namespace,
                    source=source,
                    description=description,
                )
            )
            result.platforms.append({"name": name, "before": [], "after": caps})
        elif sorted(row.capabilities) != caps:
            result.platforms.append(
                {"name": name, "before": sorted(row.capabilities), "after": caps}
            )
            row.capabilities = caps
            row.description = description
        if grant.namespace is None:
            result.affected_domains.add(None)
    for name, row in sorted(rows.items()):
        if name not in wanted and row.capabilities:
            result.platforms.append({"name": name, "before": sorted(row.capabilities), "after": []})
            row.capabilities = []
            if row.namespace is None:
                result.affected_domains.add(None)
    session.flush()
