"""Local files for a central meshward: catalog descriptors and OSV records are read here
(Locations followed, archives streamed, errors named with the file and place) and posted in
batches that stay under the API's body limit. The server stores them as it would a local
import, and the reports of the batches add up to the report a local import prints."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from meshward.cli.remote import BATCH_BYTES, RemoteClient, revive
from meshward.formats.backstage import Entity, read_catalog
from meshward.formats.osv import Advisory, iter_advisories
from meshward.limits import Limits
from meshward.services.advisories import AdvisoryImportReport
from meshward.services.catalog_import import ImportReport


def _batches(items: Iterable[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for item in items:
        if batch and size + len(item) > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item) + 8
    if batch:
        yield batch


def _descriptor(e: Entity) -> bytes:
    """The entity as a descriptor again, as JSON (which is YAML): its spec as written, so
    the server derives the same relations."""
    metadata: dict[str, Any] = {"name": e.ref.name, "namespace": e.ref.namespace}
    for name, value in (
        ("title", e.title),
        ("description", e.description),
        ("labels", e.labels),
        ("annotations", e.annotations),
        ("tags", e.tags),
        ("links", e.links),
    ):
        if value:
            metadata[name] = value
    doc = {"apiVersion": e.api_version, "kind": e.kind, "metadata": metadata, "spec": e.spec}
    return orjson.dumps(doc)


def import_catalog_remote(remote: RemoteClient, paths: list[Path]) -> ImportReport:
    read = read_catalog(paths)
    docs = (_descriptor(e) for e in read.entities if e.kind != "Location")
    total = ImportReport(files=len(read.files), warnings=list(read.warnings))
    for batch in _batches(docs):
        body = b"\n---\n".join(batch)
        part = remote.request(
            "POST", "/catalog/import", content=body, headers={"Content-Type": "application/yaml"}
        )
        for kind, n in part["created"].items():
            total.created[kind] = total.created.get(kind, 0) + n
        for kind, n in part["updated"].items():
            total.updated[kind] = total.updated.get(kind, 0) + n
        total.unchanged += part["unchanged"]
        total.warnings += [w for w in part["warnings"] if w not in total.warnings]
    return total


def import_advisories_remote(
    remote: RemoteClient,
    paths: Iterable[Path],
    limits: Limits,
    on_record: Callable[[Advisory], None] | None = None,
) -> AdvisoryImportReport:
    def records() -> Iterator[bytes]:
        for path in paths:
            for adv in iter_advisories(path, limits):
                if on_record is not None:
                    on_record(adv)
                yield orjson.dumps(adv.raw)

    total = AdvisoryImportReport()
    for batch in _batches(records()):
        body = b"[" + b",".join(batch) + b"]"
        part = revive(
            AdvisoryImportReport,
            remote.request(
                "POST", "/advisories", content=body, headers={"Content-Type": "application/json"}
            ),
        )
        for name in ("read", "created", "updated", "unchanged", "withdrawn"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        for name in ("new", "reopened", "resolved", "active"):
            setattr(
                total.matching, name, getattr(total.matching, name) + getattr(part.matching, name)
            )
    return total
