"""Backstage descriptors into the catalog, in bulk and idempotently.

The reader (``formats.backstage``) validates every file first, so a bad file raises before
anything is written; the writes then run in the caller's single transaction. Each entity keeps
a digest of its content: re-importing the same files writes nothing, a changed entity is
updated in place, and its relations are replaced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from meshward.formats.backstage import Entity as BackstageEntity
from meshward.formats.backstage import read_catalog
from meshward.services import catalog
from meshward.store import audit
from meshward.store.bulk import bulk_insert
from meshward.store.models import (
    Api,
    Application,
    Component,
    Domain,
    Entity,
    Environment,
    Relation,
)
from meshward.store.types import utcnow

T = TypeVar("T")
CHUNK = 500

COMPONENT_KINDS = {"service": "service", "website": "website", "library": "library"}
"""Backstage ``spec.type`` values we name the same; any other type is kept as written."""


@dataclass
class ImportReport:
    files: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "warnings": self.warnings,
        }


def import_catalog(session: Session, paths: Sequence[Path]) -> ImportReport:
    read = read_catalog(list(paths))
    report = store_entities(session, read.entities)
    report.files = len(read.files)
    report.warnings[:0] = read.warnings
    return report


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _digest(e: BackstageEntity) -> str:
    content = {
        "kind": e.kind,
        "apiVersion": e.api_version,
        "title": e.title,
        "description": e.description,
        "labels": e.labels,
        "annotations": e.annotations,
        "tags": e.tags,
        "links": e.links,
        "spec": e.spec,
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _entity_row(e: BackstageEntity, digest: str) -> dict[str, Any]:
    return {
        "key": e.ref.key,
        "kind": e.kind,
        "namespace": e.ref.namespace,
        "name": e.ref.name,
        "title": e.title,
        "description": e.description,
        "metadata_": {
            "labels": e.labels,
            "annotations": e.annotations,
            "tags": e.tags,
            "links": e.links,
            "apiVersion": e.api_version,
        },
        "spec": e.spec,
        "source": e.source,
        "digest": digest,
        "updated_at": utcnow(),
    }


def store_entities(session: Session, entities: Sequence[BackstageEntity]) -> ImportReport:
    report = ImportReport()
    existing: dict[str, tuple[int, str]] = {}
    keys = [e.ref.key for e in entities]
    for chunk in _chunks(keys):
        for row_id, key, digest in session.execute(
            select(Entity.id, Entity.key, Entity.digest).where(Entity.key.in_(chunk))
        ):
            existing[key] = (row_id, digest)

    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    touched: list[BackstageEntity] = []
    for e in entities:
        digest = _digest(e)
        row = _entity_row(e, digest)
        before = existing.get(e.ref.key)
        if before is None:
            fresh.append(row)
            report.created[e.kind] = report.created.get(e.kind, 0) + 1
        elif before[1] != digest:
            changed.append({"id": before[0], **row})
            report.updated[e.kind] = report.updated.get(e.kind, 0) + 1
        else:
            report.unchanged += 1
            continue
        touched.append(e)

    if fresh:
        _insert_rows(session, Entity, fresh)
    if changed:
        session.execute(update(Entity), changed)
    if touched:
        _replace_relations(session, touched)
        _upsert_typed(session, touched)
    resolve_links(session)
    report.warnings.extend(unresolved_references(session, keys))
    if report.changed:
        audit.record(
            session,
            "catalog.import",
            "catalog",
            None,
            after={"created": report.created, "updated": report.updated},
        )
    return report


def _replace_relations(session: Session, touched: Sequence[BackstageEntity]) -> None:
    for chunk in _chunks([e.ref.key for e in touched]):
        session.execute(delete(Relation).where(Relation.source_key.in_(chunk)))
    rows = {(e.ref.key, t, target.key): None for e in touched for t, target in e.relations}
    table = Relation.__table__
    bulk_insert(session, table, ("source_key", "type", "target_key"), list(rows))  # type: ignore[arg-type]


def _repository(annotations: dict[str, str]) -> str | None:
    if slug := annotations.get("github.com/project-slug"):
        return f"https://github.com/{slug}"
    for name in ("backstage.io/source-location", "backstage.io/managed-by-location"):
        location = annotations.get(name, "")
        if location.startswith("url:"):
            return location[4:]
    return None


def _owner(e: BackstageEntity) -> str | None:
    return next((t.key for rel, t in e.relations if rel == "ownedBy"), None)


def _typed_row(e: BackstageEntity) -> tuple[type[Any], dict[str, Any]] | None:
    spec, key, name = e.spec, e.ref.key, e.ref.name
    if e.kind == "Component":
        kind = str(spec.get("type", "service"))
        return Component, {
            "key": key,
            "name": name,
            "kind": COMPONENT_KINDS.get(kind, kind),
            "title": e.title,
            "description": e.description,
            "owner": _owner(e),
            "lifecycle": spec.get("lifecycle"),
            "repository": _repository(e.annotations),
            "tags": list(e.tags),
            "annotations": dict(e.annotations),
        }
    if e.kind == "API":
        definition = spec.get("definition")
        return Api, {
            "key": key,
            "name": name,
            "type": spec.get("type"),
            "lifecycle": spec.get("lifecycle"),
            "owner": _owner(e),
            "description": e.description,
            "definition": definition if isinstance(definition, dict) else {"text": definition},
        }
    if e.kind == "System":
        return Application, {
            "key": key,
            "name": name,
            "title": e.title,
            "description": e.description,
            "owner": _owner(e),
        }
    if e.kind == "Domain":
        return Domain, {
            "key": key,
            "name": name,
            "path": key,  # placeholder until resolve_links computes the dotted path
            "title": e.title,
            "description": e.description,
            "owner": _owner(e),
        }
    if e.kind == "Environment":
        lifecycle = str(spec.get("lifecycle", "")).lower()
        return Environment, {
            "name": name,
            "title": e.title,
            "description": e.description,
            "production": lifecycle == "production" or name.lower() in {"prod", "production"},
        }
    return None


def _upsert_typed(session: Session, touched: Iterable[BackstageEntity]) -> None:
    by_model: dict[type[Any], list[dict[str, Any]]] = {}
    for e in touched:
        typed = _typed_row(e)
        if typed is not None:
            by_model.setdefault(typed[0], []).append(typed[1])
    for model, rows in by_model.items():
        ident = model.name if model is Environment else model.key
        ident_name = "name" if model is Environment else "key"
        ids: dict[str, int] = {}
        for chunk in _chunks([r[ident_name] for r in rows]):
            ids.update(
                {k: i for i, k in session.execute(select(model.id, ident).where(ident.in_(chunk)))}
            )
        new = [r for r in rows if r[ident_name] not in ids]
        old = [{"id": ids[r[ident_name]], **r} for r in rows if r[ident_name] in ids]
        if model is Domain:  # keep the computed path of existing domains
            for r in old:
                del r["path"]
        if new:
            _insert_rows(session, model, new)
        if old:
            session.execute(update(model), old)


def _insert_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """New rows through the driver's bulk path (JSON columns dumped, times naive UTC): several
    times faster than ORM inserts for a 5,000-service estate."""
    columns = list(rows[0])
    table = model.__table__
    names = [model.__mapper__.attrs[c].columns[0].name for c in columns]

    def stored(value: Any) -> Any:
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    bulk_insert(session, table, names, [tuple(stored(r[c]) for c in columns) for r in rows])


def resolve_links(session: Session) -> None:
    """Set the foreign keys the tree needs from the ``partOf`` relations: a domain's parent
    and dotted path, an application's domain, a component's application and domain.

    Runs over the whole catalog on every import, so a reference that arrives later resolves."""
    part_of: dict[str, list[str]] = {}
    for source, target in session.execute(
        select(Relation.source_key, Relation.target_key).where(Relation.type == "partOf")
    ):
        part_of.setdefault(source, []).append(target)

    def first(key: str, kind: str) -> str | None:
        return next((t for t in part_of.get(key, []) if t.startswith(kind + ":")), None)

    domains = {d.key: d for d in session.scalars(select(Domain))}
    paths: dict[str, str] = {}

    def path_of(key: str, seen: frozenset[str] = frozenset()) -> str:
        if key not in paths:
            parent = first(key, "domain")
            own = domains[key].name.lower()
            if parent in domains and parent not in seen:
                paths[key] = path_of(parent, seen | {key}) + "." + own
            else:
                paths[key] = own
        return paths[key]

    for key, dom in domains.items():
        parent_key = first(key, "domain")
        parent_id = domains[parent_key].id if parent_key in domains else None
        path = path_of(key)
        if dom.parent_id != parent_id:
            dom.parent_id = parent_id
        if dom.path != path:
            dom.path = path
    domain_ids = {k: d.id for k, d in domains.items()}

    app_updates = []
    app_domain: dict[int, int | None] = {}
    app_ids: dict[str, int] = {}
    for app_id, app_key, app_domain_id in session.execute(
        select(Application.id, Application.key, Application.domain_id)
    ):
        app_domain_key = first(app_key, "domain")
        want = domain_ids.get(app_domain_key) if app_domain_key else None
        app_ids[app_key] = app_id
        app_domain[app_id] = want
        if want != app_domain_id:
            app_updates.append({"id": app_id, "domain_id": want})
    if app_updates:
        session.execute(update(Application), app_updates)

    comp_updates = []
    for comp_id, comp_key, comp_app_id, comp_domain_id in session.execute(
        select(Component.id, Component.key, Component.application_id, Component.domain_id)
    ):
        system = first(comp_key, "system")
        direct_domain = first(comp_key, "domain")
        want_app = app_ids.get(system) if system else None
        if want_app is None and system is None and comp_key not in part_of:
            want_app = comp_app_id  # set by hand, not by an import: leave it
        want_domain = (
            domain_ids.get(direct_domain)
            if direct_domain
            else app_domain.get(want_app)
            if want_app
            else comp_domain_id
        )
        if (want_app, want_domain) != (comp_app_id, comp_domain_id):
            comp_updates.append(
                {"id": comp_id, "application_id": want_app, "domain_id": want_domain}
            )
    if comp_updates:
        session.execute(update(Component), comp_updates)
    session.flush()


def unresolved_references(session: Session, keys: Sequence[str]) -> list[str]:
    """References from these entities to entities not (yet) in the catalog."""
    relations = [
        row
        for chunk in _chunks(list(keys))
        for row in session.execute(
            select(Relation.source_key, Relation.type, Relation.target_key)
            .where(Relation.source_key.in_(chunk))
            .order_by(Relation.source_key, Relation.type)
        )
    ]
    known = catalog.known_keys(session, {target for _, _, target in relations})
    return [
        f"{source} {rel_type} {target}: not in the catalog yet"
        for source, rel_type, target in relations
        if target not in known
    ]


def import_catalog_text(session: Session, data: bytes, source: str) -> ImportReport:
    """Descriptors sent as one YAML body (the API): read like a file of that name."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="meshward-catalog-") as tmp:
        path = Path(tmp) / (Path(source).name or "catalog-info.yaml")
        path.write_bytes(data)
        return import_catalog(session, [path])
