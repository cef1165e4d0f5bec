"""The store: SQLAlchemy 2 typed mappings of the domain model (see DESIGN.md, "the nouns").

Links between catalog entities (ownership, "part of", "provides API", "consumes API",
"depends on") live in one table, ``relations``, keyed by entity reference strings such as
``component:default/cart``. A reference to an entity not imported yet is simply a key with no
row behind it: it resolves by itself when that entity arrives, as in Backstage.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from meshward.store.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime,
        date: Date,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Domain(Base):
    """A node of the domain tree; ``path`` is the dotted path from the root (``acme.payments``)."""

    __tablename__ = "domains"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(300))


class Entity(Base):
    """Every catalog entity as imported (Backstage documents, also Group, User, Resource)."""

    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    namespace: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str | None] = mapped_column(String(1000))
    digest: Mapped[str] = mapped_column(String(64))
    """sha256 of the entity's normalised content: re-importing the same content is a no-op."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Relation(Base):
    __tablename__ = "relations"
    __table_args__ = (
        UniqueConstraint("source_key", "type", "target_key"),
        Index("ix_relations_target", "target_key", "type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(40))
    target_key: Mapped[str] = mapped_column(String(300))


class Component(Base):
    __tablename__ = "components"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40), default="service")
    """service, website, library, job (others kept as written)."""
    title: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(300))
    lifecycle: Mapped[str | None] = mapped_column(String(40))
    repository: Mapped[str | None] = mapped_column(String(1000))
    tags: Mapped[list[str]] = mapped_column(default=list)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("domains.id", ondelete="SET NULL"), index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), index=True
    )
    versions: Mapped[list[ComponentVersion]] = relationship(back_populates="component")


class ComponentVersion(Base):
    __tablename__ = "component_versions"
    __table_args__ = (UniqueConstraint("component_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(200))
    image_ref: Mapped[str | None] = mapped_column(String(1000))
    image_digest: Mapped[str | None] = mapped_column(String(200), index=True)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    component: Mapped[Component] = relationship(back_populates="versions")


class Api(Base):
    __tablename__ = "apis"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str | None] = mapped_column(String(40))
    lifecycle: Mapped[str | None] = mapped_column(String(40))
    owner: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"text": ...}`` or an unresolved substitution such as ``{"$text": "https://..."}``."""


class Application(Base):
    """A logical application (Backstage System)."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(300))
    domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("domains.id", ondelete="SET NULL"), index=True
    )


class ApplicationVersion(Base):
    """A set of component versions. Each new version is its base plus a recorded delta."""

    __tablename__ = "application_versions"
    __table_args__ = (UniqueConstraint("application_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column()
    """1, 2, 3 ... in order of creation; the latest version has the highest."""
    base_id: Mapped[int | None] = mapped_column(
        ForeignKey("application_versions.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplicationVersionMember(Base):
    __tablename__ = "application_version_members"
    __table_args__ = (UniqueConstraint("application_version_id", "component_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_version_id: Mapped[int] = mapped_column(
        ForeignKey("application_versions.id", ondelete="CASCADE")
    )
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), index=True
    )


class ApplicationVersionChange(Base):
    """The delta from the base version: ``added``, ``replaced`` or ``removed``."""

    __tablename__ = "application_version_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_version_id: Mapped[int] = mapped_column(
        ForeignKey("application_versions.id", ondelete="CASCADE"), index=True
    )
    change: Mapped[str] = mapped_column(String(20))
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    from_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("component_versions.id", ondelete="SET NULL")
    )
    to_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("component_versions.id", ondelete="SET NULL")
    )


class Environment(Base):
    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(300))
    production: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(Text)


class Deployment(Base):
    """Component version ``component_version_id`` ran in ``environment_id`` over
    [started_at, ended_at). Intervals of one component in one environment never overlap."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_env_component", "environment_id", "component_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


# ---------------------------------------------------------------- SBOMs


class SbomDocument(Base):
    """One uploaded bill of materials. A component version has at most one current document;
    replaced ones stay as history (``current`` false) with their occurrences."""

    __tablename__ = "sbom_documents"
    __table_args__ = (
        Index("ix_sbom_documents_cv_current", "component_version_id", "current"),
        UniqueConstraint("component_version_id", "digest"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE")
    )
    digest: Mapped[str] = mapped_column(String(64), index=True)
    """sha256 of the uploaded bytes: the same file again is a no-op."""
    format: Mapped[str] = mapped_column(String(20))
    spec_version: Mapped[str] = mapped_column(String(20))
    encoding: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(1000))
    name: Mapped[str | None] = mapped_column(String(500))
    serial: Mapped[str | None] = mapped_column(String(200))
    created: Mapped[str | None] = mapped_column(String(40))
    tools: Mapped[list[str]] = mapped_column(default=list)
    package_count: Mapped[int] = mapped_column(default=0)
    unmatchable_count: Mapped[int] = mapped_column(default=0)
    current: Mapped[bool] = mapped_column(default=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Package(Base):
    """A distinct package version, by canonical purl. Matching evaluates each one once."""

    __tablename__ = "packages"
    __table_args__ = (Index("ix_packages_ecosystem_name", "ecosystem", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    purl: Mapped[str] = mapped_column(String(2000), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    ecosystem: Mapped[str | None] = mapped_column(String(40))
    """OSV ecosystem name (``PyPI``, ``Debian`` ...), None when no ecosystem applies."""
    name: Mapped[str] = mapped_column(String(500))
    """The name as the ecosystem's advisories spell it, normalised (``group:artifact`` for
    Maven, PEP 503 for PyPI ...)."""
    version: Mapped[str | None] = mapped_column(String(200))


class Occurrence(Base):
    """A package's presence in one SBOM document of a component version."""

    __tablename__ = "occurrences"
    __table_args__ = (
        Index("ix_occurrences_cv_package", "component_version_id", "package_id"),
        Index("ix_occurrences_document_ref", "document_id", "ref"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("sbom_documents.id", ondelete="CASCADE"))
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE")
    )
    package_id: Mapped[int | None] = mapped_column(
        ForeignKey("packages.id", ondelete="SET NULL"), index=True
    )
    ref: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(500))
    version: Mapped[str | None] = mapped_column(String(200))
    purl: Mapped[str | None] = mapped_column(String(2000))
    cpe: Mapped[str | None] = mapped_column(String(1000))
    licenses: Mapped[list[str]] = mapped_column(default=list)
    hashes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scope: Mapped[str | None] = mapped_column(String(20))
    supplier: Mapped[str | None] = mapped_column(String(500))
    type: Mapped[str | None] = mapped_column(String(40))
    dependency: Mapped[str] = mapped_column(String(12))
    """``root`` (the described subject), ``direct``, ``transitive`` or ``unknown``."""
    parent_ref: Mapped[str | None] = mapped_column(String(1000))
    path_parent_ref: Mapped[str | None] = mapped_column(String(1000))
    """The node before this one on its shortest dependency path from a root, found at ingest
    (``sboms.path_parents``) so that a blast radius reads one short chain per package
    instead of walking every ancestor edge: ``""`` for a root, the package's own ref when no
    root reaches it, None when not known (stored before this column, or a path through a
    node that is not a package): then the blast radius walks the edges."""


class SbomDependency(Base):
    """Edge of a document's dependency graph: ``from_ref`` depends on ``to_ref``."""

    __tablename__ = "sbom_dependencies"
    __table_args__ = (Index("ix_sbom_dependencies_document_to", "document_id", "to_ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("sbom_documents.id", ondelete="CASCADE"))
    from_ref: Mapped[str] = mapped_column(String(1000))
    to_ref: Mapped[str] = mapped_column(String(1000))


# ---------------------------------------------------------------- advisories and findings


class Advisory(Base):
    """An OSV record, kept whole in ``raw``; the other columns are what queries need."""

    __tablename__ = "advisories"
    id: Mapped[int] = mapped_column(primary_key=True)
    osv_id: Mapped[str] = mapped_column(String(200), unique=True)
    vulnerability: Mapped[str] = mapped_column(String(200), index=True)
    """The vulnerability this record describes, shared by records that alias each other
    (PYSEC, GHSA and CVE of one flaw): its CVE id when it has one, else the least id."""
    modified: Mapped[datetime | None] = mapped_column()
    published: Mapped[datetime | None] = mapped_column()
    withdrawn: Mapped[datetime | None] = mapped_column()
    summary: Mapped[str | None] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(default=list)
    severity_score: Mapped[float | None] = mapped_column()
    severity: Mapped[str | None] = mapped_column(String(20))
    """critical, high, medium, low, none — from CVSS when there is a vector, else the
    database's own label."""
    severity_vector: Mapped[str | None] = mapped_column(String(300))
    digest: Mapped[str] = mapped_column(String(64))
    """sha256 of the record as stored: importing the same record again is a no-op."""
    raw: Mapped[dict[str, Any]] = mapped_column()
    source: Mapped[str | None] = mapped_column(String(1000))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdvisoryAlias(Base):
    """Every name an advisory goes by (its id, CVE, GHSA ...), for lookup by any of them."""

    __tablename__ = "advisory_aliases"
    __table_args__ = (
        UniqueConstraint("alias", "advisory_id"),
        Index("ix_advisory_aliases_alias_upper", func.upper(text("alias"))),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    advisory_id: Mapped[int] = mapped_column(
        ForeignKey("advisories.id", ondelete="CASCADE"), index=True
    )


class AffectedPackage(Base):
    """One ``affected[]`` entry, indexed by (ecosystem, normalised name) for matching."""

    __tablename__ = "affected_packages"
    __table_args__ = (Index("ix_affected_ecosystem_name", "ecosystem", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    advisory_id: Mapped[int] = mapped_column(
        ForeignKey("advisories.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column()
    """Index in the record's ``affected`` list."""
    ecosystem: Mapped[str] = mapped_column(String(60))
    """Base OSV ecosystem (``Debian``), the release suffix is in ``ecosystem_release``."""
    ecosystem_release: Mapped[str | None] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(500))


class Finding(Base):
    """A vulnerability x package in a component version; the advisories that alias each other
    make one finding. The row outlives re-matching, so people's analysis survives: a match
    that goes away only turns ``active`` off."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("component_version_id", "package_id", "vulnerability"),
        Index("ix_findings_vulnerability", "vulnerability", "active"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE")
    )
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    vulnerability: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(20))
    severity_score: Mapped[float | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    fixed_version: Mapped[str | None] = mapped_column(String(200))
    """The smallest version that clears this advisory, when the advisory names one."""
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(20), default="open")
    """open, in_triage, exploitable, not_affected, false_positive, fixed."""
    justification: Mapped[str | None] = mapped_column(String(60))
    """For not_affected: the CycloneDX/OpenVEX justification (code_not_present ...)."""
    detail: Mapped[str | None] = mapped_column(Text)
    analysed_by: Mapped[str | None] = mapped_column(String(200))
    analysed_at: Mapped[datetime | None] = mapped_column()
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("triage_rules.id", ondelete="SET NULL"), index=True
    )
    """The triage rule that set the analysis, while it does."""
    document_id: Mapped[int | None] = mapped_column()
    """The SBOM document ``dependency`` and ``path`` were read from: the version's current
    one when last matched (compared with it, never joined: not a foreign key)."""
    dependency: Mapped[str | None] = mapped_column(String(12))
    """How the package comes in there (``root``, ``direct``, ``transitive``, ``unknown``);
    NULL where the matcher has not placed it (findings from before migration 0011)."""
    path: Mapped[list[str] | None] = mapped_column()
    """Its shortest dependency path there, root first (``services.placement``)."""


class FindingEvent(Base):
    """The feed: a finding appeared (``new``), went away (``resolved``), came back
    (``reopened``), or someone analysed it (``analysis``). For notifications and for
    "time to know" metrics."""

    __tablename__ = "finding_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(20))
    justification: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str | None] = mapped_column(Text)


class TriageRule(Base):
    """A decision made once for many findings: this vulnerability (in this package, in this
    version range) is in this state across the estate, a domain, an application or a
    component, until ``expires_at``. Applies to current and future findings; lapses by itself."""

    __tablename__ = "triage_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    """``estate``, ``domain``, ``application`` or ``component``."""
    scope_id: Mapped[int | None] = mapped_column()
    vulnerability: Mapped[str] = mapped_column(String(200), index=True)
    package: Mapped[str | None] = mapped_column(String(500))
    """Package name as its ecosystem spells it (``log4j-core`` or ``org.apache...:log4j-core``)."""
    version_range: Mapped[str | None] = mapped_column(String(200))
    """``>=2.0,<2.15`` in the package's own version order; None for every version."""
    state: Mapped[str] = mapped_column(String(20))
    justification: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()


class SlaPolicy(Base):
    """Days to fix by severity; a row with no domain is the estate default, a domain's row
    overrides it for its subtree."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("domain_id", "severity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column()


# ---------------------------------------------------------------- exploitation evidence, risk


class KevEntry(Base):
    """A vulnerability in CISA's Known Exploited Vulnerabilities catalog: exploited in the
    wild. The table holds one catalog release at a time (``catalog_version``)."""

    __tablename__ = "kev_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    cve: Mapped[str] = mapped_column(String(40), unique=True)
    vendor: Mapped[str | None] = mapped_column(String(300))
    product: Mapped[str | None] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(500))
    date_added: Mapped[date] = mapped_column()
    due_date: Mapped[date | None] = mapped_column()
    ransomware: Mapped[bool] = mapped_column(default=False)
    """``knownRansomwareCampaignUse`` is ``Known``."""
    catalog_version: Mapped[str] = mapped_column(String(40))
    released: Mapped[datetime | None] = mapped_column()
    """``dateReleased`` of the catalog this entry came from."""


class EpssScore(Base):
    """FIRST's EPSS: the probability that a CVE is exploited in the next 30 days. The table
    holds one day's scores at a time (``score_date``)."""

    __tablename__ = "epss_scores"
    id: Mapped[int] = mapped_column(primary_key=True)
    cve: Mapped[str] = mapped_column(String(40), unique=True)
    score: Mapped[float] = mapped_column()
    percentile: Mapped[float] = mapped_column()
    score_date: Mapped[date | None] = mapped_column()
    model_version: Mapped[str | None] = mapped_column(String(60))


class RiskSnapshot(Base):
    """The roll-up of one application (its latest version) or one domain (its subtree) on one
    day, kept so trends can be plotted."""

    __tablename__ = "risk_snapshots"
    __table_args__ = (
        UniqueConstraint("day", "scope", "scope_id"),
        Index("ix_risk_snapshots_scope_day", "scope", "scope_id", "day"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    scope: Mapped[str] = mapped_column(String(20))
    """``application`` or ``domain``."""
    scope_id: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(1000))
    """Application name or domain path, as it was that day."""
    version: Mapped[str | None] = mapped_column(String(100))
    """The application version rolled up; None for a domain."""
    findings: Mapped[int] = mapped_column(default=0)
    critical: Mapped[int] = mapped_column(default=0)
    high: Mapped[int] = mapped_column(default=0)
    medium: Mapped[int] = mapped_column(default=0)
    low: Mapped[int] = mapped_column(default=0)
    vulnerabilities: Mapped[int] = mapped_column(default=0)
    services: Mapped[int] = mapped_column(default=0)
    fixable: Mapped[int] = mapped_column(default=0)
    kev: Mapped[int] = mapped_column(default=0)
    risk_score: Mapped[float] = mapped_column(default=0.0)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataRevision(Base):
    """A table's change counter: every committed change to it moves it on (``store.revision``);
    a table never changed has no row."""

    __tablename__ = "data_revision"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
