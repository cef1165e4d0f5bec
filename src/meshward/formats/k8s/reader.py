"""Manifests and ``kubectl get ... -o json`` output into a :class:`K8sRead`.

A path is a file or a directory (its ``.yaml``, ``.yml`` and ``.json`` files, sorted). A file
is JSON when it starts with ``{`` or ``[`` (kubectl's output; decoded by the hardened JSON
reader) and YAML otherwise (one or many documents, through ``safe_yaml``: no Python tags, no
alias bombs, bounded nesting). ``List`` objects (and typed lists such as ``DeploymentList``)
are unrolled. Files over ``Limits.max_bytes`` are refused before they are read. Any problem is
an InputError naming the file and the place, raised before anything is returned, so an import
either reads everything or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from meshward.errors import InputError
from meshward.formats.k8s.objects import K8sRead, read_object
from meshward.formats.safe_yaml import load_yaml_documents
from meshward.formats.sbom.common import load_json
from meshward.limits import Limits

SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_NAMESPACE = "default"


def read_manifests(
    paths: Sequence[Path],
    limits: Limits,
    *,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> K8sRead:
    """Every object of every file under ``paths``."""
    read = K8sRead()
    for file in manifest_files(paths):
        source = os.path.normpath(file)
        read_text(read_bytes(file, source, limits), source, limits, read, default_namespace)
    return read


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    """The files ``paths`` name: files as given, folders walked (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = _files_under(path)
            if not files:
                raise InputError(str(path), None, "no .yaml, .yml or .json file in this folder")
            found += files
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(str(path), None, "no such file or directory")
    return found


def read_text(
    data: bytes, source: str, limits: Limits, into: K8sRead, default_namespace: str
) -> None:
    """One file's bytes (already within the size limit) into ``into``."""
    if len(data) > limits.max_bytes:
        raise InputError(source, None, f"more than the limit of {limits.max_bytes} bytes")
    into.files.append(source)
    if data.lstrip()[:1] in (b"{", b"["):
        documents: list[tuple[str, Any]] = [("", load_json(data, source, limits))]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError(source, f"byte {error.start}", "not valid UTF-8 text") from None
        documents = [(f"document {n}", doc) for n, doc in load_yaml_documents(text, source, limits)]
    for place, document in documents:
        read_document(document, source, place, into, default_namespace)


def read_document(
    document: Any, source: str, place: str, into: K8sRead, default_namespace: str
) -> None:
    """One decoded document: an object, a ``List`` of them, or a bare JSON array."""
    if document is None:
        return
    if isinstance(document, list):
        _read_items(document, None, source, place or "", "[{i}]", into, default_namespace)
        return
    if not isinstance(document, Mapping):
        raise InputError(source, place or None, "expected a Kubernetes object (a mapping)")
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in document:
        items = document["items"]
        if not isinstance(items, list):
            raise InputError(source, _at(place, "items"), "expected a list")
        item_kind = kind[: -len("List")] or None  # DeploymentList items carry no kind
        _read_items(items, item_kind, source, place, "items[{i}]", into, default_namespace)
        return
    read_object(document, source, place or "object", default_namespace, into)


def _read_items(
    items: Iterable[Any],
    item_kind: str | None,
    source: str,
    place: str,
    pattern: str,
    into: K8sRead,
    default_namespace: str,
) -> None:
    for i, item in enumerate(items):
        where = _at(place, pattern.format(i=i))
        if not isinstance(item, Mapping):
            raise InputError(source, where, "expected a Kubernetes object (a mapping)")
        if item_kind and "kind" not in item:
            item = {**item, "kind": item_kind}
        read_object(item, source, where, default_namespace, into)


def _at(place: str, step: str) -> str:
    return f"{place}: {step}" if place else step


def read_bytes(path: Path, source: str, limits: Limits) -> bytes:
    """A file's bytes, refused over the size limit before it is read."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputError(
                source, None, f"{size} bytes, more than the limit of {limits.max_bytes}"
            )
        with path.open("rb") as handle:
            return handle.read(limits.max_bytes + 1)
    except OSError as error:
        raise InputError(source, None, f"cannot read: {error.strerror or error}") from None


def _files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, names in os.walk(directory):
        subfolders.sort()
        found += (Path(folder) / n for n in names if n.lower().endswith(SUFFIXES))
    return sorted(found)
