"""Verification tables (DESIGN.md: Scan / ScanResult): what security tests found, and the
verification state of each control that follows from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshward.store.models import Base
from meshward.store.types import utcnow


class Scan(Base):
    """One uploaded report of one tool for one component version."""

    __tablename__ = "scans"
    __table_args__ = (
        UniqueConstraint("component_version_id", "tool", "digest"),
        Index("ix_scans_cv_tool", "component_version_id", "tool"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE")
    )
    tool: Mapped[str] = mapped_column(String(100))
    tool_version: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    """sast, dast, sca, secrets, manual."""
    format: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(1000))
    policy: Mapped[str] = mapped_column(String(10), default="replace")
    """``replace``: this scan supersedes the tool's earlier scans of the version; ``merge``:
    its results add to them (a tool run per module)."""
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by: Mapped[str | None] = mapped_column(String(200))
    result_count: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """new / present / gone / suppressed / unmapped counts."""


class ScanResult(Base):
    """A result of a scan, with its stable fingerprint and the controls it maps to.
    ``lifecycle``: new (first seen), present (seen in the tool's previous scan), gone (in the
    previous scan, not in this one: kept as a row of this scan so history reads)."""

    __tablename__ = "scan_results"
    __table_args__ = (
        Index("ix_scan_results_scan", "scan_id"),
        Index("ix_scan_results_cv_fp", "component_version_id", "fingerprint"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"))
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE")
    )
    tool: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(500))
    rule_name: Mapped[str | None] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str | None] = mapped_column(Text)
    cwes: Mapped[list[str]] = mapped_column(default=list)
    location: Mapped[dict[str, Any]] = mapped_column(default=dict)
    suppressed: Mapped[bool] = mapped_column(default=False)
    suppression: Mapped[dict[str, Any]] = mapped_column(default=dict)
    controls: Mapped[list[str]] = mapped_column(default=list)
    """Controls it proves failed (by rule id pattern, else by CWE)."""
    unmapped: Mapped[bool] = mapped_column(default=False)
    """No KB control matches it: it lands in the "review unmapped findings" control."""
    lifecycle: Mapped[str] = mapped_column(String(10), default="new")


class ManualTest(Base):
    """A tester's pass or fail for a control, with notes; it counts as evidence until it
    expires."""

    __tablename__ = "manual_tests"
    __table_args__ = (Index("ix_manual_tests_cv_control", "component_version_id", "control_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE")
    )
    control_key: Mapped[str] = mapped_column(String(80))
    passed: Mapped[bool] = mapped_column()
    notes: Mapped[str | None] = mapped_column(Text)
    tester: Mapped[str] = mapped_column(String(200))
    tested_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class ControlVerification(Base):
    """The verification state of a control for a component version, kept apart from the
    task's implementation status, with the evidence behind it."""

    __tablename__ = "control_verifications"
    __table_args__ = (UniqueConstraint("component_version_id", "control_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    component_version_id: Mapped[int] = mapped_column(
        ForeignKey("component_versions.id", ondelete="CASCADE"), index=True
    )
    control_key: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    """verified, partially_verified, failed, unverified."""
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
