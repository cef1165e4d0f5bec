"""The catalog: components and their versions, applications and their versions, environments
and deployments, the domain tree, and every entity's relations in both directions.

Services take a session and plain values and return plain values (dataclasses); the CLI,
API and web layers only format what they get here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from meshward.errors import ConflictError, MeshwardError, NotFoundError
from meshward.services.refs import entity_key, key_candidates
from meshward.store.models import (
    Api,
    Application,
    ApplicationVersion,
    ApplicationVersionChange,
    ApplicationVersionMember,
    Component,
    ComponentVersion,
    Deployment,
    Domain,
    Entity,
    Environment,
    Relation,
)
from meshward.store.types import utcnow

Keyed = TypeVar("Keyed", Component, Application, Api, Domain, Entity)

PRODUCTION_NAMES = frozenset({"prod", "production", "prd", "live"})


# ---------------------------------------------------------------- lookups by reference


def _by_ref(session: Session, model: type[Keyed], kind: str, ref: str) -> Keyed:
    """Find a keyed row by any reference form; a bare name must be unambiguous."""
    keys = key_candidates(ref, kind)
    if not keys:
        raise NotFoundError(f"{ref!r} is not a {kind} reference")
    row = session.scalars(select(model).where(model.key.in_(keys))).first()
    if row is not None:
        return row
    if ":" not in ref and "/" not in ref:
        rows = session.scalars(
            select(model).where(func.lower(model.name) == ref.strip().lower())
        ).all()
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            options = ", ".join(sorted(r.key for r in rows))
            raise ConflictError(f"{kind} {ref!r} is ambiguous: {options}")
    raise NotFoundError(f"no {kind} {ref!r}")


def get_component(session: Session, ref: str) -> Component:
    return _by_ref(session, Component, "component", ref)


def get_application(session: Session, ref: str) -> Application:
    return _by_ref(session, Application, "system", ref)


def get_domain(session: Session, ref: str) -> Domain:
    row = session.scalars(select(Domain).where(Domain.path == ref.strip().lower())).first()
    return row if row is not None else _by_ref(session, Domain, "domain", ref)


def get_component_version(session: Session, component: str, version: str) -> ComponentVersion:
    comp = get_component(session, component)
    cv = session.scalars(
        select(ComponentVersion).where(
            ComponentVersion.component_id == comp.id, ComponentVersion.version == version
        )
    ).first()
    if cv is None:
        raise NotFoundError(f"component {comp.name} has no version {version!r}")
    return cv


# ---------------------------------------------------------------- components and versions


@dataclass
class ComponentVersionView:
    component: str
    version: str
    image: str | None
    digest: str | None
    commit: str | None
    created_at: str

    @classmethod
    def of(cls, comp: Component, cv: ComponentVersion) -> ComponentVersionView:
        return cls(
            comp.name, cv.version, cv.image_ref, cv.image_digest, cv.git_commit, _iso(cv.created_at)
        )


def create_component(
    session: Session,
    name: str,
    *,
    kind: str = "service",
    owner: str | None = None,
    domain: str | None = None,
    application: str | None = None,
    namespace: str = "default",
) -> Component:
    """A component made by hand rather than imported; idempotent on its key."""
    key = entity_key("component", name, namespace)
    comp = session.scalars(select(Component).where(Component.key == key)).first()
    if comp is None:
        comp = Component(key=key, name=name, kind=kind, owner=owner, tags=[], annotations={})
        session.add(comp)
    if domain:
        comp.domain_id = get_domain(session, domain).id
    if application:
        app = get_application(session, application)
        comp.application_id = app.id
        comp.domain_id = comp.domain_id or app.domain_id
    session.flush()
    return comp


def add_component_version(
    session: Session,
    component: str,
    version: str,
    *,
    image: str | None = None,
    digest: str | None = None,
    commit: str | None = None,
    created_at: datetime | None = None,
) -> tuple[ComponentVersion, bool]:
    """Create the version, or fill in what was given; returns (version, changed).

    Giving the same values again changes nothing. An image reference that carries its
    digest (``repo@sha256:...``) sets the digest too."""
    comp = get_component(session, component)
    if image and "@" in image and digest is None:
        digest = image.rsplit("@", 1)[1]
    cv = session.scalars(
        select(ComponentVersion).where(
            ComponentVersion.component_id == comp.id, ComponentVersion.version == version
        )
    ).first()
    if cv is None:
        cv = ComponentVersion(
            component_id=comp.id,
            version=version,
            image_ref=image,
            image_digest=digest,
            git_commit=commit,
            created_at=created_at or utcnow(),
        )
        session.add(cv)
        session.flush()
        return cv, True
    changed = False
    for attr, value in (("image_ref", image), ("image_digest", digest), ("git_commit", commit)):
        if value is not None and getattr(cv, attr) != value:
            setattr(cv, attr, value)
            changed = True
    return cv, changed


def list_component_versions(
    session: Session, component: str, *, offset: int = 0, limit: int | None = None
) -> list[ComponentVersionView]:
    comp = get_component(session, component)
    rows = session.scalars(
        _page(
            select(ComponentVersion)
            .where(ComponentVersion.component_id == comp.id)
            .order_by(ComponentVersion.created_at, ComponentVersion.id),
            offset,
            limit,
        )
    ).all()
    return [ComponentVersionView.of(comp, cv) for cv in rows]


@dataclass
class ComponentSummary:
    key: str
    name: str
    kind: str
    owner: str | None
    lifecycle: str | None
    domain: str | None
    application: str | None


def list_components(
    session: Session,
    *,
    domain_ids: set[int] | None = None,
    domain: str | None = None,
    application: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[ComponentSummary]:
    """Components by key; ``domain_ids`` (None: all) keeps what a caller may see, ``domain``
    a subtree, ``application`` one application's."""
    query = (
        select(Component, Domain.path, Application.name)
        .outerjoin(Domain, Domain.id == Component.domain_id)
        .outerjoin(Application, Application.id == Component.application_id)
        .order_by(Component.key)
    )
    if domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(domain_ids)))
    if domain:
        dom = get_domain(session, domain)
        query = query.where(or_(Domain.id == dom.id, Domain.path.like(dom.path + ".%")))
    if application:
        query = query.where(Component.application_id == get_application(session, application).id)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [
        ComponentSummary(c.key, c.name, c.kind, c.owner, c.lifecycle, path, app)
        for c, path, app in session.execute(query).all()
    ]


def _page(query: Any, offset: int, limit: int | None) -> Any:
    """One page of an ordered query, cut by the database rather than in memory."""
    query = query.offset(offset) if offset else query
    return query.limit(limit) if limit is not None else query


def list_domains(
    session: Session,
    *,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    query = select(Domain).order_by(Domain.path)
    if domain_ids is not None:
        query = query.where(Domain.id.in_(sorted(domain_ids)))
    return [
        {"key": d.key, "name": d.name, "path": d.path, "title": d.title, "owner": d.owner}
        for d in session.scalars(_page(query, offset, limit))
    ]


def list_applications(
    session: Session,
    *,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    query = (
        select(Application, Domain.path)
        .outerjoin(Domain, Domain.id == Application.domain_id)
        .order_by(Application.key)
    )
    if domain_ids is not None:
        query = query.where(Application.domain_id.in_(sorted(domain_ids)))
    return [
        {"key": a.key, "name": a.name, "title": a.title, "owner": a.owner, "domain": path}
        for a, path in session.execute(_page(query, offset, limit))
    ]


# ---------------------------------------------------------------- application versions


@dataclass
class MemberView:
    component: str
    version: str
    component_key: str


@dataclass
class ChangeView:
    change: str
    component: str
    from_version: str | None
    to_version: str | None


@dataclass
class AppVersionView:
    application: str
    version: str
    seq: int
    base: str | None
    note: str | None
    created_at: str
    members: list[MemberView] = field(default_factory=list)
    changes: list[ChangeView] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest_app_version(session: Session, app: Application) -> ApplicationVersion | None:
    return session.scalars(
        select(ApplicationVersion)
        .where(ApplicationVersion.application_id == app.id)
        .order_by(ApplicationVersion.seq.desc())
        .limit(1)
    ).first()


def _members(session: Session, app_version_id: int) -> dict[int, int]:
    """component id -> component version id."""
    rows = session.execute(
        select(
            ApplicationVersionMember.component_id, ApplicationVersionMember.component_version_id
        ).where(ApplicationVersionMember.application_version_id == app_version_id)
    ).all()
    return {c: v for c, v in rows}


def create_app_version(
    session: Session,
    application: str,
    changes: dict[str, str | None],
    *,
    label: str | None = None,
    note: str | None = None,
    created_at: datetime | None = None,
) -> tuple[AppVersionView, bool]:
    """A new application version: the latest one plus ``changes`` (component -> version, or
    None to remove it). Returns (view, created). When nothing would change, the latest version
    is returned and nothing is written, so re-running a pipeline step is harmless."""
    app = get_application(session, application)
    base = _latest_app_version(session, app)
    before = _members(session, base.id) if base else {}
    after = dict(before)
    for comp_ref, version in changes.items():
        comp = get_component(session, comp_ref)
        if version is None:
            if comp.id not in after:
                raise NotFoundError(f"{comp.name} is not part of {app.name}")
            del after[comp.id]
        else:
            after[comp.id] = get_component_version(session, comp.key, version).id
    if base is not None and after == before:
        if label is None or label == base.version:
            return app_version_view(session, app, base), False
        raise ConflictError(f"{app.name} {label}: no change from {base.version}")
    seq = (base.seq + 1) if base else 1
    label = label or str(seq)
    if session.scalars(
        select(ApplicationVersion.id).where(
            ApplicationVersion.application_id == app.id, ApplicationVersion.version == label
        )
    ).first():
        raise ConflictError(f"{app.name} already has a version {label!r}")
    av = ApplicationVersion(
        application_id=app.id,
        version=label,
        seq=seq,
        base_id=base.id if base else None,
        note=note,
        created_at=created_at or utcnow(),
    )
    session.add(av)
    session.flush()
    session.add_all(
        ApplicationVersionMember(
            application_version_id=av.id, component_id=c, component_version_id=v
        )
        for c, v in after.items()
    )
    for comp_id in sorted(set(before) | set(after)):
        old, new = before.get(comp_id), after.get(comp_id)
        if old == new:
            continue
        kind = "added" if old is None else "removed" if new is None else "replaced"
        session.add(
            ApplicationVersionChange(
                application_version_id=av.id,
                change=kind,
                component_id=comp_id,
                from_version_id=old,
                to_version_id=new,
            )
        )
    session.flush()
    return app_version_view(session, app, av), True


def app_version_view(session: Session, app: Application, av: ApplicationVersion) -> AppVersionView:
    base = session.get(ApplicationVersion, av.base_id) if av.base_id else None
    members = session.execute(
        select(Component.name, ComponentVersion.version, Component.key)
        .join(ApplicationVersionMember, ApplicationVersionMember.component_id == Component.id)
        .join(
            ComponentVersion,
            ComponentVersion.id == ApplicationVersionMember.component_version_id,
        )
        .where(ApplicationVersionMember.application_version_id == av.id)
        .order_by(Component.name)
    ).all()
    version_names = {
        cv_id: ver
        for cv_id, ver in session.execute(
            select(ComponentVersion.id, ComponentVersion.version).where(
                ComponentVersion.id.in_(
                    select(ApplicationVersionChange.from_version_id)
                    .where(ApplicationVersionChange.application_version_id == av.id)
                    .union(
                        select(ApplicationVersionChange.to_version_id).where(
                            ApplicationVersionChange.application_version_id == av.id
                        )
                    )
                )
            )
        ).all()
    }
    changes = session.execute(
        select(ApplicationVersionChange, Component.name)
        .join(Component, Component.id == ApplicationVersionChange.component_id)
        .where(ApplicationVersionChange.application_version_id == av.id)
        .order_by(Component.name)
    ).all()
    return AppVersionView(
        application=app.name,
        version=av.version,
        seq=av.seq,
        base=base.version if base else None,
        note=av.note,
        created_at=_iso(av.created_at),
        members=[MemberView(n, v, k) for n, v, k in members],
        changes=[
            ChangeView(
                ch.change,
                name,
                version_names.get(ch.from_version_id) if ch.from_version_id else None,
                version_names.get(ch.to_version_id) if ch.to_version_id else None,
            )
            for ch, name in changes
        ],
    )


def get_app_version(
    session: Session, application: str, version: str | None = None
) -> AppVersionView:
    app = get_application(session, application)
    if version is None:
        av = _latest_app_version(session, app)
        if av is None:
            raise NotFoundError(f"{app.name} has no versions yet")
    else:
        av = session.scalars(
            select(ApplicationVersion).where(
                ApplicationVersion.application_id == app.id,
                ApplicationVersion.version == version,
            )
        ).first()
        if av is None:
            raise NotFoundError(f"{app.name} has no version {version!r}")
    return app_version_view(session, app, av)


def list_app_versions(
    session: Session, application: str, *, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    app = get_application(session, application)
    counts = (
        select(
            ApplicationVersionMember.application_version_id.label("av"),
            func.count().label("n"),
        )
        .group_by(ApplicationVersionMember.application_version_id)
        .subquery()
    )
    rows = session.execute(
        _page(
            select(ApplicationVersion, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.av == ApplicationVersion.id)
            .where(ApplicationVersion.application_id == app.id)
            .order_by(ApplicationVersion.seq),
            offset,
            limit,
        )
    ).all()
    return [
        {
            "application": app.name,
            "version": av.version,
            "seq": av.seq,
            "components": n,
            "note": av.note,
            "created_at": _iso(av.created_at),
        }
        for av, n in rows
    ]


# ---------------------------------------------------------------- environments, deployments


def ensure_environment(
    session: Session, name: str, *, production: bool | None = None, title: str | None = None
) -> Environment:
    env = session.scalars(select(Environment).where(Environment.name == name)).first()
    if env is None:
        env = Environment(
            name=name,
            title=title,
            production=name.lower() in PRODUCTION_NAMES if production is None else production,
        )
        session.add(env)
        session.flush()
    elif production is not None and env.production != production:
        env.production = production
    return env


def get_environment(session: Session, name: str) -> Environment:
    env = session.scalars(select(Environment).where(Environment.name == name)).first()
    if env is None:
        raise NotFoundError(f"no environment {name!r}")
    return env


@dataclass
class DeploymentView:
    environment: str
    component: str
    version: str
    since: str
    until: str | None
    production: bool


def record_deployment(
    session: Session, environment: str, component: str, version: str, at: datetime | None = None
) -> tuple[DeploymentView, bool]:
    """``component`` at ``version`` runs in ``environment`` from ``at`` (default now).

    Keeps the environment's history a sequence of non-overlapping intervals, even when a
    deployment is recorded late (back-filled): the interval covering ``at`` is cut there, and
    the new one lasts until the next recorded deployment. Recording what already runs at that
    moment changes nothing."""
    at = at or utcnow()
    env = ensure_environment(session, environment)
    cv = get_component_version(session, component, version)
    comp_id = cv.component_id
    covering = session.scalars(
        select(Deployment).where(
            Deployment.environment_id == env.id,
            Deployment.component_id == comp_id,
            Deployment.started_at <= at,
            or_(Deployment.ended_at.is_(None), Deployment.ended_at > at),
        )
    ).first()
    if covering is not None and covering.component_version_id == cv.id:
        return _deployment_view(session, covering), False
    following = session.scalars(
        select(Deployment)
        .where(
            Deployment.environment_id == env.id,
            Deployment.component_id == comp_id,
            Deployment.started_at > at,
        )
        .order_by(Deployment.started_at)
        .limit(1)
    ).first()
    if covering is not None:
        if covering.started_at == at:
            session.delete(covering)  # replaced at the very same instant
        else:
            covering.ended_at = at
    dep = Deployment(
        environment_id=env.id,
        component_id=comp_id,
        component_version_id=cv.id,
        started_at=at,
        ended_at=following.started_at if following else None,
    )
    session.add(dep)
    session.flush()
    return _deployment_view(session, dep), True


def end_deployment(
    session: Session, environment: str, component: str, at: datetime | None = None
) -> bool:
    """The component stops running in the environment at ``at``. False if it was not running."""
    at = at or utcnow()
    env = get_environment(session, environment)
    comp = get_component(session, component)
    covering = session.scalars(
        select(Deployment).where(
            Deployment.environment_id == env.id,
            Deployment.component_id == comp.id,
            Deployment.started_at <= at,
            or_(Deployment.ended_at.is_(None), Deployment.ended_at > at),
        )
    ).first()
    if covering is None:
        return False
    covering.ended_at = at
    return True


def _deployment_view(session: Session, dep: Deployment) -> DeploymentView:
    env = session.get(Environment, dep.environment_id)
    cv = session.get(ComponentVersion, dep.component_version_id)
    assert env is not None and cv is not None
    return DeploymentView(
        env.name,
        cv.component.name,
        cv.version,
        _iso(dep.started_at),
        _iso(dep.ended_at) if dep.ended_at else None,
        env.production,
    )


def list_deployments(
    session: Session,
    environment: str | None = None,
    *,
    at: datetime | None = None,
    history: bool = False,
    component: str | None = None,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[DeploymentView]:
    """What runs now (default), what ran at ``at``, or the whole history; ``domain_ids``
    (None: all) keeps the components a caller may see."""
    query = (
        select(
            Environment.name,
            Component.name,
            ComponentVersion.version,
            Deployment.started_at,
            Deployment.ended_at,
            Environment.production,
        )
        .join(Environment, Environment.id == Deployment.environment_id)
        .join(ComponentVersion, ComponentVersion.id == Deployment.component_version_id)
        .join(Component, Component.id == Deployment.component_id)
    )
    if environment is not None:
        query = query.where(Environment.id == get_environment(session, environment).id)
    if component is not None:
        query = query.where(Component.id == get_component(session, component).id)
    if domain_ids is not None:
        query = query.where(Component.domain_id.in_(sorted(domain_ids)))
    if not history:
        moment = at or utcnow()
        query = query.where(
            Deployment.started_at <= moment,
            or_(Deployment.ended_at.is_(None), Deployment.ended_at > moment),
        )
    query = query.order_by(Environment.name, Component.name, Deployment.started_at, Deployment.id)
    return [
        DeploymentView(e, c, v, _iso(s), _iso(u) if u else None, p)
        for e, c, v, s, u, p in session.execute(_page(query, offset, limit)).all()
    ]


def list_environments(
    session: Session, *, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    running = (
        select(Deployment.environment_id, func.count().label("n"))
        .where(Deployment.ended_at.is_(None))
        .group_by(Deployment.environment_id)
        .subquery()
    )
    rows = session.execute(
        _page(
            select(Environment, func.coalesce(running.c.n, 0))
            .outerjoin(running, running.c.environment_id == Environment.id)
            .order_by(Environment.name),
            offset,
            limit,
        )
    ).all()
    return [
        {"name": e.name, "title": e.title, "production": e.production, "running": n}
        for e, n in rows
    ]


# ---------------------------------------------------------------- the tree and entity views


def catalog_tree(session: Session, *, domain_ids: set[int] | None = None) -> dict[str, Any]:
    """Domains (nested by path) -> applications -> components; plus what has no domain.
    ``domain_ids`` (None: all) keeps what a caller may see; a visible domain whose parent is
    hidden becomes a root."""
    domain_query = select(Domain).order_by(Domain.path)
    app_query = select(Application).order_by(Application.name)
    comp_query = select(
        Component.name,
        Component.kind,
        Component.owner,
        Component.lifecycle,
        Component.domain_id,
        Component.application_id,
    ).order_by(Component.name)
    if domain_ids is not None:
        ids = sorted(domain_ids)
        domain_query = domain_query.where(Domain.id.in_(ids))
        app_query = app_query.where(Application.domain_id.in_(ids))
        comp_query = comp_query.where(Component.domain_id.in_(ids))
    domains = session.scalars(domain_query).all()
    apps = session.scalars(app_query).all()
    comps = session.execute(comp_query).all()
    by_app: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    loose: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for name, kind, owner, lifecycle, domain_id, app_id in comps:
        entry = {"name": name, "kind": kind, "owner": owner, "lifecycle": lifecycle}
        if app_id is not None:
            by_app[app_id].append(entry)
        else:
            loose[domain_id].append(entry)
    apps_by_domain: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for app in apps:
        apps_by_domain[app.domain_id].append(
            {"name": app.name, "owner": app.owner, "components": by_app.get(app.id, [])}
        )
    nodes: dict[int, dict[str, Any]] = {
        d.id: {
            "name": d.name,
            "path": d.path,
            "owner": d.owner,
            "domains": [],
            "applications": apps_by_domain.get(d.id, []),
            "components": loose.get(d.id, []),
        }
        for d in domains
    }
    roots: list[dict[str, Any]] = []
    for d in domains:
        parent = nodes.get(d.parent_id) if d.parent_id else None
        (parent["domains"] if parent else roots).append(nodes[d.id])
    return {
        "domains": roots,
        "applications": apps_by_domain.get(None, []),
        "components": loose.get(None, []),
    }


ENTITY_MODELS: dict[str, type[Component] | type[Application] | type[Api] | type[Domain]] = {
    "component": Component,
    "system": Application,
    "api": Api,
    "domain": Domain,
}


def resolve_entity_key(session: Session, ref: str) -> str:
    """Any reference (``cart``, ``api:cart``, ``group:default/team-a``) to a stored key."""
    ref = ref.strip()
    if ":" in ref:
        kind = ref.split(":", 1)[0].lower()
        candidates = key_candidates(ref, kind)
        found = session.scalars(select(Entity.key).where(Entity.key.in_(candidates))).first()
        if found:
            return found
        model = ENTITY_MODELS.get(kind)
        if model is not None:
            return str(_by_ref(session, model, kind, ref).key)  # type: ignore[type-var]
        raise NotFoundError(f"no entity {ref!r}")
    namespace, _, name = ref.rpartition("/")
    query = select(Entity.key).where(func.lower(Entity.name) == name.lower())
    if namespace:
        query = query.where(func.lower(Entity.namespace) == namespace.lower())
    keys: set[str] = set(session.scalars(query).all())
    for model in (Component, Application, Api, Domain):
        keys.update(
            session.scalars(select(model.key).where(func.lower(model.name) == name.lower())).all()
        )
    if namespace:
        keys = {k for k in keys if k.split(":", 1)[1].startswith(namespace.lower() + "/")}
    if len(keys) == 1:
        return keys.pop()
    if not keys:
        raise NotFoundError(f"no entity {ref!r}")
    raise ConflictError(f"{ref!r} is ambiguous: {', '.join(sorted(keys))}")


def show_entity(session: Session, ref: str) -> dict[str, Any]:
    """One entity with every relation, outgoing and incoming, and whether each target exists."""
    key = resolve_entity_key(session, ref)
    entity = session.scalars(select(Entity).where(Entity.key == key)).first()
    kind = key.split(":", 1)[0]
    view: dict[str, Any] = {"ref": key, "kind": kind}
    if entity is not None:
        view.update(
            kind=entity.kind,
            name=entity.name,
            namespace=entity.namespace,
            title=entity.title,
            description=entity.description,
            spec=entity.spec,
            source=entity.source,
        )
    outgoing = session.execute(
        select(Relation.type, Relation.target_key)
        .where(Relation.source_key == key)
        .order_by(Relation.type, Relation.target_key)
    ).all()
    incoming = session.execute(
        select(Relation.type, Relation.source_key)
        .where(Relation.target_key == key)
        .order_by(Relation.type, Relation.source_key)
    ).all()
    known = known_keys(session, {k for _, k in outgoing})
    view["relations"] = [{"type": t, "target": k, "resolved": k in known} for t, k in outgoing] + [
        {"type": INVERSE.get(t, f"{t} (from)"), "target": k, "resolved": True} for t, k in incoming
    ]
    if kind == "component":
        comp = session.scalars(select(Component).where(Component.key == key)).one()
        view["component"] = {
            "name": comp.name,
            "kind": comp.kind,
            "owner": comp.owner,
            "lifecycle": comp.lifecycle,
            "repository": comp.repository,
            "tags": comp.tags,
            "domain": _domain_path(session, comp.domain_id),
            "application": _name_of(session, Application, comp.application_id),
        }
        view["versions"] = [asdict(v) for v in list_component_versions(session, key)]
        view["deployments"] = [asdict(d) for d in list_deployments(session, component=key)]
    elif kind == "system":
        app = session.scalars(select(Application).where(Application.key == key)).one()
        view["application"] = {
            "name": app.name,
            "owner": app.owner,
            "domain": _domain_path(session, app.domain_id),
        }
        view["versions"] = list_app_versions(session, key)
    elif kind == "domain":
        dom = session.scalars(select(Domain).where(Domain.key == key)).one()
        view["domain"] = {"name": dom.name, "path": dom.path, "owner": dom.owner}
    return view


def entity_domain_path(session: Session, key: str) -> str | None:
    """The domain an entity belongs to, which decides who may see it: a component's or an
    application's domain, a domain itself; None for the rest (APIs, groups, users)."""
    kind = key.split(":", 1)[0]
    if kind == "component":
        return session.scalar(
            select(Domain.path)
            .join(Component, Component.domain_id == Domain.id)
            .where(Component.key == key)
        )
    if kind == "system":
        return session.scalar(
            select(Domain.path)
            .join(Application, Application.domain_id == Domain.id)
            .where(Application.key == key)
        )
    if kind == "domain":
        return session.scalar(select(Domain.path).where(Domain.key == key))
    return None


INVERSE = {
    "ownedBy": "ownerOf",
    "partOf": "hasPart",
    "providesApi": "apiProvidedBy",
    "consumesApi": "apiConsumedBy",
    "dependsOn": "dependencyOf",
    "subcomponentOf": "hasSubcomponent",
    "memberOf": "hasMember",
    "childOf": "parentOf",
}


def known_keys(session: Session, keys: set[str]) -> set[str]:
    """Which of these keys name a stored entity (only these, not the whole catalog)."""
    wanted = sorted(keys)
    found: set[str] = set()
    for model in (Entity, Component, Application, Api, Domain):
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.update(session.scalars(select(model.key).where(model.key.in_(chunk))).all())
    return found


def _domain_path(session: Session, domain_id: int | None) -> str | None:
    if domain_id is None:
        return None
    dom = session.get(Domain, domain_id)
    return dom.path if dom else None


def _name_of(session: Session, model: type[Application], row_id: int | None) -> str | None:
    if row_id is None:
        return None
    row = session.get(model, row_id)
    return row.name if row else None


@dataclass
class ApiLinkView:
    consumer: str
    api: str
    provider: str | None


def api_links(
    session: Session,
    *,
    domain_ids: set[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[ApiLinkView]:
    """ "Component A consumes the API that B provides": the runtime links of the estate;
    ``domain_ids`` (None: all) keeps the links whose consumer a caller may see."""
    consumes = Relation.__table__.alias("consumes")
    provides = Relation.__table__.alias("provides")
    query = (
        select(consumes.c.source_key, consumes.c.target_key, provides.c.source_key)
        .outerjoin(
            provides,
            and_(
                provides.c.target_key == consumes.c.target_key,
                provides.c.type == "providesApi",
            ),
        )
        .where(consumes.c.type == "consumesApi")
        .order_by(consumes.c.source_key, consumes.c.target_key, provides.c.source_key)
    )
    if domain_ids is not None:
        visible = select(Component.key).where(Component.domain_id.in_(sorted(domain_ids)))
        query = query.where(consumes.c.source_key.in_(visible))
    rows = session.execute(_page(query, offset, limit)).all()
    return [ApiLinkView(c, a, p) for c, a, p in rows]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """ISO 8601 in, aware UTC out; a time without zone is taken as UTC."""
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise MeshwardError(f"not an ISO 8601 time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
