"""Reader of Backstage catalog descriptor files (``catalog-info.yaml``).

A pure format adapter: it reads files, validates them the way Backstage's own catalog does, and
returns plain values. It never touches the database and never goes on the network.

What it does, and why it does it that way:

* **Inputs.** ``read_catalog`` takes files and directories. A directory contributes every
  ``*.yaml`` / ``*.yml`` file under it (any file name, symlinked directories not followed), in
  sorted order so two runs give the same result. Each file holds one or more YAML documents;
  empty documents are skipped. A document with neither ``apiVersion`` nor ``kind`` (for example an
  OpenAPI file lying next to the descriptors that reference it) is not a catalog entity: it is
  skipped with a warning.
* **Locations.** ``Location`` entities are returned like every other entity, and their
  ``spec.target`` / ``spec.targets`` are followed when they name local files: relative targets
  are resolved against the Location file's directory, glob patterns are expanded (sorted). Each
  file is read once, however many Locations name it, so cycles end by themselves. A target of
  ``type: url`` or an ``http(s)://`` target is never fetched: it becomes a warning. A target that
  does not exist, or that resolves outside the directories of the paths given to
  ``read_catalog`` (``confine=True``, the default: a catalog file must not make us read
  ``/etc/...``), is also a warning and is not followed; Backstage itself reports such targets on
  the Location and goes on with the rest.
* **Substitutions.** ``$text`` / ``$json`` / ``$yaml`` placeholders in ``spec`` are kept exactly
  as written (``{'$text': './petstore.oas.yaml'}``), remote *and* relative-file ones: this
  reader never fetches or opens them. ``find_placeholders`` lists them for a caller that wants to.
* **Validation** follows Backstage's catalog-model: ``apiVersion`` ``backstage.io/v1alpha1`` or
  ``v1beta1``; the kinds Component, API, Resource, System, Domain, Group, User and Location
  (matched case-insensitively, normalised to that spelling, with a warning when written
  otherwise); ``Template`` skipped with a warning; any other kind an error (or a warning with
  ``unknown_kinds="warn"``, or kept with ``unknown_kinds="keep"``: then only the envelope and
  metadata are checked, ``kind`` is as written, ``spec`` as written and there are no relations);
  entity names 1-63 characters, ``[A-Za-z0-9]`` at both ends and
  ``[-_.A-Za-z0-9]`` between; namespaces DNS labels (``[a-z0-9]`` runs joined by ``-``, at most
  63: Backstage's rule, stricter than the name rule); label and annotation keys
  ``[dns-subdomain/]name``; label values empty or a valid name; annotation values strings; tags
  ``[a-z0-9:+#]`` runs joined by ``-``, at most 63; required spec fields per kind (see
  ``REQUIRED_SPEC``; an API of type ``mcp-server`` or ``ai-model-server`` needs ``remotes``
  instead of ``definition``, as in Backstage's own schemas).
* **Relations.** ``Entity.relations`` holds the outgoing relations that Backstage's
  ``BuiltinKindsEntityProcessor`` emits, with the same default kinds and the entity's own
  namespace as default namespace (see ``RELATION_RULES``). One name differs from Backstage, on
  purpose, so that ``partOf`` never points at a component: ``spec.subcomponentOf`` gives
  ``subcomponentOf`` (Backstage calls it ``partOf``). ``partOf`` comes from ``spec.system``
  (Component, API, Resource), ``spec.domain`` (System) and ``spec.subdomainOf`` (Domain, target a
  parent domain), as in Backstage. ``dependsOn`` / ``dependencyOf`` have no default kind: a
  target without ``kind:`` is an error, as in Backstage. A target of an unexpected kind (a
  Component in ``consumesApis``) is kept, as Backstage keeps it, with a warning.
* **Errors.** All problems of all files are collected; if there is any, ``read_catalog`` raises
  one ``CatalogErrors`` (an ``InputError``, so one line on the CLI) carrying every
  ``InputError`` in ``.errors`` and what could be read in ``.partial``. Each ``InputError`` has the
  file as ``source`` and, as ``place``, ``'line N'`` for YAML errors, ``'document N'`` before the
  entity is named, else ``'<kind>:<namespace>/<name> field <path>'``. Documents are numbered from 1.
  The same entity (kind, namespace and name compared case-insensitively) twice is an error
  naming both places.
* **Hostile YAML.** Only PyYAML's ``SafeConstructor`` builds objects, from libyaml's parser
  when available. Files larger than ``Limits.max_bytes`` are refused before reading. Nesting
  deeper than ``Limits.max_depth`` is refused while composing, which is done in Python on
  purpose: libyaml's C composer (``CSafeLoader``) recurses and crashed the interpreter on
  100,000 nested brackets. The price is speed: about 0.5 ms per small entity (2.4 s for 5,000
  in one file), twice plain ``CSafeLoader``. Anchors and aliases are allowed (merge keys are
  common) but a document whose aliases expand to more than ``MAX_ALIAS_EXPANSION`` extra nodes
  (billion laughs) or refer to themselves is refused before any Python object is built. Scalars
  are resolved closer to YAML 1.2, as Backstage's parser does: ``yes``/``no``/``on``/``off`` stay
  strings, dates stay strings, ``1:20`` stays a string. Duplicate mapping keys and the
  non-JSON tags ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``, ``!!timestamp`` are errors.
"""

from __future__ import annotations

import glob
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from meshward.errors import InputError
from meshward.formats.safe_yaml import MAX_ALIAS_EXPANSION, load_yaml_documents
from meshward.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "API_VERSIONS",
    "KINDS",
    "MAX_ALIAS_EXPANSION",
    "RELATION_RULES",
    "REQUIRED_SPEC",
    "CatalogErrors",
    "CatalogRead",
    "Entity",
    "EntityRef",
    "RelationRule",
    "find_placeholders",
    "parse_ref",
    "read_catalog",
]

API_VERSIONS = frozenset({"backstage.io/v1alpha1", "backstage.io/v1beta1"})
KINDS = (
    "Component",
    "API",
    "Resource",
    "System",
    "Domain",
    "Group",
    "User",
    "Location",
    "Environment",
)
"""Core kinds, plus ``Environment`` (Backstage's newer kind for SDLC environments)."""
_CANONICAL_KIND = {kind.lower(): kind for kind in KINDS}
PLACEHOLDER_KEYS = frozenset({"$text", "$json", "$yaml"})
_API_TYPES_WITH_REMOTES = frozenset({"mcp-server", "ai-model-server"})

_NAME_RE = re.compile(r"^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*$")
_KIND_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*$")
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_YAML_SUFFIXES = (".yaml", ".yml")


# --------------------------------------------------------------------------------------------
# Values returned


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A reference to an entity. Stored as written; compare with ``key`` (Backstage compares
    kind, namespace and name case-insensitively)."""

    kind: str
    """Lower-case (``component``, ``api``, ``group`` ...)."""
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


@dataclass(slots=True)
class Entity:
    kind: str
    """Canonical spelling: ``Component``, ``API``, ``System``, ``Domain``, ``Resource``,
    ``Group``, ``User`` or ``Location``."""
    ref: EntityRef
    api_version: str
    title: str | None
    description: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    tags: list[str]
    links: list[dict[str, str]]
    spec: dict[str, Any]
    """As written; ``$text``/``$json``/``$yaml`` placeholders left unresolved (never fetched,
    relative-file ones included)."""
    relations: list[tuple[str, EntityRef]]
    """Outgoing relations, e.g. ``('ownedBy', EntityRef('group', 'default', 'team-a'))``."""
    source: str
    """The file the entity was read from."""
    place: str
    """``'document N (kind:namespace/name)'``, N counted from 1 within the file."""


@dataclass(slots=True)
class CatalogRead:
    entities: list[Entity] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """``'<file>: <place>: <message>'`` for things skipped or suspicious but not wrong."""
    files: list[str] = field(default_factory=list)
    """Every file read, in the order read."""


class CatalogErrors(InputError):
    """Every problem found in a catalog read, raised once at the end.

    Being an ``InputError`` (about the first problem, with a count of the rest) it prints as one
    line; ``errors`` has them all and ``partial`` holds the entities that were valid.
    """

    def __init__(self, errors: list[InputError], partial: CatalogRead) -> None:
        if not errors:
            raise ValueError("CatalogErrors needs at least one error")
        self.errors = errors
        self.partial = partial
        first = errors[0]
        more = len(errors) - 1
        message = first.message + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")
        super().__init__(first.source, first.place, message)


@dataclass(frozen=True, slots=True)
class RelationRule:
    field: str
    """The spec field holding the reference(s)."""
    relation: str
    """The outgoing relation type recorded on the entity."""
    default_kind: str | None
    """Kind assumed when the reference names none; None: the reference must name one."""
    many: bool
    """A list of references (else a single string)."""
    expected_kinds: frozenset[str] | None = None
    """Target kinds that make sense; another kind is kept but warned about."""


_GROUP_OR_USER = frozenset({"group", "user"})
_OWNER = RelationRule("owner", "ownedBy", "group", False, _GROUP_OR_USER)
_SYSTEM = RelationRule("system", "partOf", "system", False, frozenset({"system"}))
_DEPENDS_ON = RelationRule("dependsOn", "dependsOn", None, True)
_DEPENDENCY_OF = RelationRule("dependencyOf", "dependencyOf", None, True)

RELATION_RULES: dict[str, tuple[RelationRule, ...]] = {
    "Component": (
        _OWNER,
        _SYSTEM,
        RelationRule(
            "subcomponentOf", "subcomponentOf", "component", False, frozenset({"component"})
        ),
        RelationRule("providesApis", "providesApi", "api", True, frozenset({"api"})),
        RelationRule("consumesApis", "consumesApi", "api", True, frozenset({"api"})),
        _DEPENDS_ON,
        _DEPENDENCY_OF,
    ),
    "API": (_OWNER, _SYSTEM),
    "Resource": (_OWNER, _SYSTEM, _DEPENDS_ON, _DEPENDENCY_OF),
    "System": (_OWNER, RelationRule("domain", "partOf", "domain", False, frozenset({"domain"}))),
    "Domain": (
        _OWNER,
        RelationRule("subdomainOf", "partOf", "domain", False, frozenset({"domain"})),
    ),
    "Group": (
        RelationRule("parent", "childOf", "group", False, frozenset({"group"})),
        RelationRule("children", "parentOf", "group", True, frozenset({"group"})),
        RelationRule("members", "hasMember", "user", True, frozenset({"user"})),
    ),
    "User": (RelationRule("memberOf", "memberOf", "group", True, frozenset({"group"})),),
    "Location": (),
    "Environment": (),
}
"""Per kind, the spec fields that hold entity references and the relation each gives."""

REQUIRED_SPEC: dict[str, tuple[str, ...]] = {
    "Component": ("type", "lifecycle", "owner"),
    "API": ("type", "lifecycle", "owner"),  # plus definition, or remotes for AI/MCP servers
    "Resource": ("type", "owner"),
    "System": ("owner",),
    "Domain": ("owner",),
    "Group": ("type",),  # plus children (a list, may be empty)
    "User": (),
    "Location": (),  # plus target or targets
    "Environment": (),
}
"""Per kind, the spec fields that must be non-empty strings."""


# --------------------------------------------------------------------------------------------
# References


def _ref_error(source: str, place: str, ref: object, why: str) -> InputError:
    return InputError(source, place, f"entity reference {ref!r} {why}")


def parse_ref(
    ref: str | dict[str, Any],
    *,
    default_kind: str | None,
    default_namespace: str,
    source: str,
    place: str,
) -> EntityRef:
    """Parse ``[<kind>:][<namespace>/]<name>`` or ``{kind, namespace, name}`` as Backstage does.

    Unlike Backstage, the parts are also checked against the naming rules: a reference that no
    valid entity could answer to is a mistake the user should hear about.
    """
    kind: object
    namespace: object
    name: object
    if isinstance(ref, str):
        colon = ref.find(":")
        slash = ref.find("/")
        if slash != -1 and slash < colon:
            colon = -1
        kind = ref[:colon] if colon != -1 else None
        namespace = ref[colon + 1 : slash] if slash != -1 else None
        name = ref[max(colon + 1, slash + 1) :]
        if kind == "" or namespace == "" or name == "":
            raise _ref_error(source, place, ref, "is not of the form [<kind>:][<namespace>/]<name>")
    elif isinstance(ref, dict):
        kind, namespace, name = ref.get("kind"), ref.get("namespace"), ref.get("name")
        for part, value in (("kind", kind), ("namespace", namespace), ("name", name)):
            if value is not None and not (isinstance(value, str) and value):
                raise _ref_error(source, place, ref, f"has a {part} that is not a non-empty string")
        if name is None:
            raise _ref_error(source, place, ref, "has no name")
    else:
        raise _ref_error(source, place, ref, "is neither a string nor a mapping")
    if kind is None:
        kind = default_kind
    if namespace is None:
        namespace = default_namespace
    if not isinstance(kind, str) or not kind:
        raise _ref_error(
            source, place, ref, 'has no kind (it must start with "component:", "resource:" ...)'
        )
    assert isinstance(namespace, str) and isinstance(name, str)
    if not _KIND_RE.match(kind) or len(kind) > 63:
        raise _ref_error(source, place, ref, f"has an invalid kind {kind!r}")
    if not _is_namespace(namespace):
        raise _ref_error(source, place, ref, f"has an invalid namespace {namespace!r}")
    if not _is_name(name):
        raise _ref_error(source, place, ref, f"has an invalid name {name!r}")
    return EntityRef(kind.lower(), namespace, name)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _NAME_RE.match(value) is not None


def _is_namespace(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _DNS_LABEL_RE.match(value) is not None


def _is_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(_is_namespace(part) for part in value.split("."))


def _is_prefixed_key(value: object) -> bool:
    """``[<dns subdomain>/]<name>``: the rule for label and annotation keys."""
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return _is_name(parts[0])
    return len(parts) == 2 and _is_dns_subdomain(parts[0]) and _is_name(parts[1])


def _is_tag(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _TAG_RE.match(value) is not None


def find_placeholders(value: Any, path: str = "spec") -> Iterator[tuple[str, str, Any]]:
    """Yield ``(path, directive, argument)`` for every ``$text``/``$json``/``$yaml`` left in
    ``value``, e.g. ``('spec.definition', '$text', './api.yaml')``. Nothing is resolved."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key in PLACEHOLDER_KEYS:
                yield path, key, argument
                return
        for key, item in value.items():
            yield from find_placeholders(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find_placeholders(item, f"{path}[{index}]")


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(slots=True)
class _Seen:
    source: str
    place: str


class _CatalogReader:
    def __init__(
        self,
        limits: Limits,
        unknown_kinds: Literal["error", "warn", "keep"],
        confine: bool,
    ) -> None:
        self.limits = limits
        self.unknown_kinds = unknown_kinds
        self.confine = confine
        self.roots: list[Path] = []
        self.read = CatalogRead()
        self.errors: list[InputError] = []
        self.done: set[Path] = set()
        self.by_key: dict[str, _Seen] = {}
        self.pending: deque[Path] = deque()
        """Files named by Location targets, read after the current one (no recursion)."""

    # -- plumbing

    def warn(self, source: str, place: str | None, message: str) -> None:
        self.read.warnings.append(
            f"{source}: {place}: {message}" if place else f"{source}: {message}"
        )

    def add_path(self, path: Path) -> None:
        source = os.path.normpath(path)
        if path.is_dir():
            for found in _yaml_files_under(path):
                self.read_file(found)
                self.drain()
        elif path.is_file():
            self.read_file(path)
            self.drain()
        else:
            self.errors.append(InputError(source, None, "no such file or directory"))

    def drain(self) -> None:
        while self.pending:
            self.read_file(self.pending.popleft())

    def inside_roots(self, resolved: Path) -> bool:
        return not self.confine or any(resolved.is_relative_to(root) for root in self.roots)

    def read_file(self, path: Path) -> None:
        resolved = path.resolve()
        if resolved in self.done:
            return
        self.done.add(resolved)
        source = os.path.normpath(path)
        self.read.files.append(source)
        try:
            size = resolved.stat().st_size
            if size > self.limits.max_bytes:
                raise InputError(
                    source, None, f"{size} bytes, more than the limit of {self.limits.max_bytes}"
                )
            with resolved.open("rb") as handle:
                raw = handle.read(self.limits.max_bytes + 1)
            if len(raw) > self.limits.max_bytes:
                raise InputError(
                    source, None, f"more than the limit of {self.limits.max_bytes} bytes"
                )
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise InputError(source, f"byte {error.start}", "not valid UTF-8 text") from None
            documents = load_yaml_documents(text, source, self.limits)
        except InputError as error:
            self.errors.append(error)
            return
        except OSError as error:
            self.errors.append(InputError(source, None, f"cannot read: {error.strerror}"))
            return
        locations: list[Entity] = []
        for number, document in documents:
            entity = self.entity_from_document(document, source, number)
            if entity is None:
                continue
            seen = self.by_key.get(entity.ref.key)
            if seen is not None:
                self.errors.append(
                    InputError(
                        source,
                        entity.place,
                        f"entity {entity.ref} is defined twice: also in {seen.source} {seen.place}",
                    )
                )
                continue
            self.by_key[entity.ref.key] = _Seen(source, entity.place)
            self.read.entities.append(entity)
            if entity.kind == "Location":
                locations.append(entity)
        for location in locations:
            self.follow_location(location, path)

    # -- Locations

    def follow_location(self, location: Entity, path: Path) -> None:
        source, place = location.source, location.place
        spec = location.spec
        targets: list[str] = []
        if isinstance(spec.get("target"), str):
            targets.append(spec["target"])
        if isinstance(spec.get("targets"), list):
            targets += [t for t in spec["targets"] if isinstance(t, str)]
        kind = spec.get("type", "file")
        if kind != "file":
            for target in targets:
                if kind == "url":
                    self.warn(source, place, f"target {target!r} of type url not fetched")
                else:
                    self.warn(source, place, f"target {target!r} of type {kind!r} not supported")
            return
        base = path.parent
        for target in targets:
            if _SCHEME_RE.match(target):
                self.warn(source, place, f"target {target!r} is a URL: not fetched")
                continue
            if any(ch in target for ch in "*?["):
                matches = _glob(base, target)
                if not matches:
                    self.warn(source, place, f"target {target!r} matches no file")
                for match in matches:
                    self.follow_target(match, target, source, place)
            else:
                self.follow_target(base / target, target, source, place)

    def follow_target(self, candidate: Path, target: str, source: str, place: str) -> None:
        if not candidate.exists():
            self.warn(source, place, f"target {target!r} not found: {os.path.normpath(candidate)}")
        elif not candidate.is_file():
            self.warn(source, place, f"target {target!r} is not a file: not followed")
        elif not self.inside_roots(candidate.resolve()):
            self.warn(
                source, place, f"target {target!r} lies outside the catalog roots: not followed"
            )
        else:
            self.pending.append(Path(os.path.normpath(candidate)))

    # -- Entities

    def entity_from_document(self, document: Any, source: str, number: int) -> Entity | None:
        doc_place = f"document {number}"
        if document is None:  # an empty document
            return None
        if not isinstance(document, dict):
            self.errors.append(
                InputError(source, doc_place, "not a mapping, so not a catalog entity")
            )
            return None
        if "apiVersion" not in document and "kind" not in document:
            self.warn(source, doc_place, "no apiVersion and no kind: not a catalog entity, skipped")
            return None
        raw_kind = document.get("kind")
        if not isinstance(raw_kind, str) or not raw_kind:
            self.errors.append(InputError(source, f"{doc_place} field kind", "kind is missing"))
            return None
        if raw_kind.lower() == "template":
            self.warn(source, doc_place, "a scaffolder Template: ignored")
            return None
        kind = _CANONICAL_KIND.get(raw_kind.lower())
        if kind is None and self.unknown_kinds == "keep":
            if not _KIND_RE.match(raw_kind) or len(raw_kind) > 63:
                self.errors.append(
                    InputError(source, f"{doc_place} field kind", f"invalid kind {raw_kind!r}")
                )
                return None
            return _EntityBuilder(self, raw_kind, document, source, doc_place).build()
        if kind is None:
            message = f"kind {raw_kind!r} is not a core Backstage kind ({', '.join(KINDS)})"
            if self.unknown_kinds == "warn":
                self.warn(source, doc_place, message + ": skipped")
            else:
                self.errors.append(InputError(source, f"{doc_place} field kind", message))
            return None
        if kind != raw_kind:
            self.warn(source, doc_place, f"kind {raw_kind!r} read as {kind!r}")
        return _EntityBuilder(self, kind, document, source, doc_place).build()


def _yaml_files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, names in os.walk(directory):
        subfolders.sort()
        found += (Path(folder) / n for n in names if n.lower().endswith(_YAML_SUFFIXES))
    return sorted(found)


def _glob(base: Path, pattern: str) -> list[Path]:
    """Files matching a glob relative to ``base`` (or absolute); ``**`` is understood."""
    matches = glob.glob(os.path.join(base, pattern), recursive=True)
    return sorted(Path(os.path.normpath(m)) for m in matches if os.path.isfile(m))


class _EntityBuilder:
    """Validates one document of a known kind and builds its Entity (or records errors)."""

    def __init__(
        self, reader: _CatalogReader, kind: str, document: dict[str, Any], source: str, place: str
    ) -> None:
        self.reader = reader
        self.kind = kind
        self.document = document
        self.source = source
        self.place = place  # 'document N' until the entity is named
        self.failed = False

    def error(self, field_path: str, message: str) -> None:
        self.failed = True
        self.reader.errors.append(
            InputError(self.source, f"{self.place} field {field_path}", message)
        )

    def warn(self, message: str) -> None:
        self.reader.warn(self.source, self.place, message)

    def string(self, value: Any, field_path: str, *, required: bool) -> str | None:
        if value is None:
            if required:
                self.error(field_path, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(field_path, f"must be a non-empty string, not {value!r}")
            return None
        return value

    def build(self) -> Entity | None:
        doc = self.document
        metadata = doc.get("metadata")
        if not isinstance(metadata, dict):
            self.error("metadata", "is required and must be a mapping")
            return None
        name = metadata.get("name")
        namespace = metadata.get("namespace", "default")
        if name is None:
            self.error("metadata.name", "is required")
            return None
        if not isinstance(name, str) or not _is_name(name):
            self.error(
                "metadata.name",
                f"{name!r} is not a valid name (1-63 characters, [A-Za-z0-9] at both ends, "
                "[-_.A-Za-z0-9] between)",
            )
            return None
        if not isinstance(namespace, str) or not _is_namespace(namespace):
            self.error(
                "metadata.namespace",
                f"{namespace!r} is not a valid namespace (1-63 characters, [a-z0-9] runs joined "
                "by '-')",
            )
            return None
        ref = EntityRef(self.kind.lower(), namespace, name)
        entity_place = f"{self.place} ({ref})"
        self.place = str(ref)

        api_version = doc.get("apiVersion")
        if self.kind not in _CANONICAL_KIND.values():  # a kept non-core kind: any apiVersion
            self.string(api_version, "apiVersion", required=True)
        elif api_version not in API_VERSIONS:
            self.error(
                "apiVersion", f"{api_version!r} is not one of {', '.join(sorted(API_VERSIONS))}"
            )
        title = self.string(metadata.get("title"), "metadata.title", required=False)
        description = metadata.get("description")
        if description is not None and not isinstance(description, str):
            self.error("metadata.description", "must be a string")
            description = None
        labels = self.key_values(metadata.get("labels"), "metadata.labels", label=True)
        annotations = self.key_values(
            metadata.get("annotations"), "metadata.annotations", label=False
        )
        tags = self.tags(metadata.get("tags"))
        links = self.links(metadata.get("links"))

        spec = doc.get("spec")
        if not isinstance(spec, dict):
            self.error("spec", "is required and must be a mapping")
            return None
        self.check_spec(spec)
        relations = self.relations(spec, namespace)
        if self.failed:
            return None
        return Entity(
            kind=self.kind,
            ref=ref,
            api_version=str(api_version),
            title=title,
            description=description,
            labels=labels,
            annotations=annotations,
            tags=tags,
            links=links,
            spec=spec,
            relations=relations,
            source=self.source,
            place=entity_place,
        )

    def key_values(self, value: Any, field_path: str, *, label: bool) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(field_path, "must be a mapping")
            return {}
        result: dict[str, str] = {}
        for key, item in value.items():
            if not _is_prefixed_key(key):
                self.error(
                    f"{field_path}.{key}",
                    "key must be [<dns-subdomain>/]<name>, the name 1-63 characters of "
                    "[-_.A-Za-z0-9] starting and ending alphanumeric",
                )
                continue
            if not isinstance(item, str):
                self.error(f"{field_path}.{key}", f"value must be a string, not {item!r}")
                continue
            if label and item != "" and not _is_name(item):
                self.error(
                    f"{field_path}.{key}",
                    f"label value {item!r} must be empty or 1-63 characters of [-_.A-Za-z0-9] "
                    "starting and ending alphanumeric",
                )
                continue
            result[key] = item
        return result

    def tags(self, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error("metadata.tags", "must be a list")
            return []
        tags: list[str] = []
        for index, tag in enumerate(value):
            if not _is_tag(tag):
                self.error(
                    f"metadata.tags[{index}]",
                    f"{tag!r} is not a valid tag (1-63 characters, [a-z0-9:+#] runs joined by '-')",
                )
            else:
                tags.append(tag)
        return tags

    def links(self, value: Any) -> list[dict[str, str]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error("metadata.links", "must be a list")
            return []
        links: list[dict[str, str]] = []
        for index, link in enumerate(value):
            path = f"metadata.links[{index}]"
            if not isinstance(link, dict):
                self.error(path, "must be a mapping with a url")
                continue
            if self.string(link.get("url"), f"{path}.url", required=True) is None:
                continue
            clean: dict[str, str] = {}
            for key, item in link.items():
                if isinstance(item, str):
                    clean[str(key)] = item
                elif key in ("title", "icon", "type"):
                    self.error(f"{path}.{key}", "must be a string")
            links.append(clean)
        return links

    def check_spec(self, spec: dict[str, Any]) -> None:
        for name in REQUIRED_SPEC.get(self.kind, ()):
            self.string(spec.get(name), f"spec.{name}", required=True)
        if self.kind == "API":
            if spec.get("type") in _API_TYPES_WITH_REMOTES:
                remotes = spec.get("remotes")
                if not isinstance(remotes, list) or not remotes:
                    self.error("spec.remotes", "is required (a non-empty list) for this API type")
            else:
                self.definition(spec.get("definition"))
        elif self.kind == "Group":
            children = spec.get("children")
            if not isinstance(children, list):
                self.error("spec.children", "is required and must be a list (it may be empty)")
        elif self.kind == "Location":
            target, targets = spec.get("target"), spec.get("targets")
            if target is None and targets is None:
                self.error("spec", "a Location needs target or targets")
            if target is not None:
                self.string(target, "spec.target", required=True)
            if targets is not None:
                if not isinstance(targets, list):
                    self.error("spec.targets", "must be a list of strings")
                else:
                    for index, item in enumerate(targets):
                        self.string(item, f"spec.targets[{index}]", required=True)
            if "type" in spec:
                self.string(spec["type"], "spec.type", required=True)
        for path, directive, argument in find_placeholders(spec):
            if not isinstance(argument, str) or not argument:
                self.error(path, f"{directive} needs a non-empty string, not {argument!r}")

    def definition(self, value: Any) -> None:
        if value is None:
            self.error("spec.definition", "is required")
        elif isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in PLACEHOLDER_KEYS:
                self.error("spec.definition", "must be a string or one of $text, $json, $yaml")
        elif not isinstance(value, str) or not value.strip():
            self.error("spec.definition", "must be a non-empty string")

    def relations(self, spec: dict[str, Any], namespace: str) -> list[tuple[str, EntityRef]]:
        relations: list[tuple[str, EntityRef]] = []
        for rule in RELATION_RULES.get(self.kind, ()):
            value = spec.get(rule.field)
            if value is None:
                continue
            path = f"spec.{rule.field}"
            items: list[tuple[str, Any]]
            if rule.many:
                if not isinstance(value, list):
                    self.error(path, "must be a list of entity references")
                    continue
                items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
            else:
                items = [(path, value)]
            for item_path, item in items:
                if not isinstance(item, str | dict):
                    self.error(item_path, f"{item!r} is not an entity reference")
                    continue
                try:
                    target = parse_ref(
                        item,
                        default_kind=rule.default_kind,
                        default_namespace=namespace,
                        source=self.source,
                        place=f"{self.place} field {item_path}",
                    )
                except InputError as error:
                    self.failed = True
                    self.reader.errors.append(error)
                    continue
                if rule.expected_kinds is not None and target.kind not in rule.expected_kinds:
                    self.warn(
                        f"{item_path} names {target}, a {target.kind}, where "
                        f"{' or '.join(sorted(rule.expected_kinds))} was expected"
                    )
                relations.append((rule.relation, target))
        return relations


def read_catalog(
    paths: Iterable[Path | str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    unknown_kinds: Literal["error", "warn", "keep"] = "error",
    confine: bool = True,
) -> CatalogRead:
    """Read Backstage descriptor files and directories, following local Location targets.

    Raises ``CatalogErrors`` (an ``InputError``) listing every problem if there is any.
    ``unknown_kinds="warn"`` skips entities of non-core kinds (e.g. ``Environment``) with a
    warning instead; ``"keep"`` returns them too, with envelope and metadata checked, their spec
    as written and no relations. ``confine=False`` lets Location targets leave the given
    directories.
    """
    reader = _CatalogReader(limits, unknown_kinds, confine)
    given = [Path(p) for p in paths]
    # Register every root first so that a Location in the first path may name a file in a later one.
    for path in given:
        if path.is_dir():
            reader.roots.append(path.resolve())
        elif path.is_file():
            reader.roots.append(path.resolve().parent)
    for path in given:
        reader.add_path(path)
    if reader.errors:
        raise CatalogErrors(reader.errors, reader.read)
    return reader.read
