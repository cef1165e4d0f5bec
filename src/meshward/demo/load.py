"""The bundled Acme demo organisation: a Backstage catalog plus builds, application versions
and deployment history. Later capabilities (SBOMs, advisories, surveys, scans) add their own
files beside these and one step each to ``load_demo``."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from meshward.services import advisories, catalog, sboms
from meshward.services import threat_models as tm
from meshward.services.catalog_import import import_catalog

DEMO = files("meshward.demo")


def _estate() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO.joinpath("estate.yaml").read_text("utf-8"))
    return data


def load_demo(session: Session) -> str:
    """Load (or refresh) the demo; loading it twice changes nothing the second time."""
    with as_file(DEMO.joinpath("catalog")) as catalog_dir:
        report = import_catalog(session, [Path(catalog_dir) / "all.yaml"])
    estate = _estate()
    new_versions = 0
    for component, builds in estate["component_versions"].items():
        for b in builds:
            _, changed = catalog.add_component_version(
                session,
                component,
                str(b["version"]),
                image=b.get("image"),
                commit=b.get("commit"),
                created_at=catalog.parse_time(str(b["created"])),
            )
            new_versions += changed
    new_app_versions = 0
    for application, versions in estate["application_versions"].items():
        for v in versions:
            existing = {r["version"] for r in catalog.list_app_versions(session, application)}
            if str(v["version"]) in existing:
                continue
            catalog.create_app_version(
                session,
                application,
                {c: str(ver) for c, ver in v["set"].items()},
                label=str(v["version"]),
                note=v.get("note"),
                created_at=catalog.parse_time(str(v["at"])),
            )
            new_app_versions += 1
    new_deployments = 0
    for d in estate["deployments"]:
        _, changed = catalog.record_deployment(
            session, d["env"], d["component"], str(d["version"]), catalog.parse_time(str(d["at"]))
        )
        new_deployments += changed
    new_sboms = 0
    with as_file(DEMO.joinpath("manifests")) as manifests:
        for component, builds in estate["component_versions"].items():
            for b in builds:
                folder = Path(manifests) / component / str(b["version"])
                result, _ = sboms.sbom_from_manifest_paths(
                    session, component, str(b["version"]), [folder]
                )
                new_sboms += result.changed
    with as_file(DEMO.joinpath("advisories")) as folder:
        matched = advisories.import_advisories(session, [Path(folder)])
    threat_summary = _load_threat_models(session, estate)
    created = sum(report.created.values())
    return (
        f"demo organisation: {created} catalog entities created, {report.unchanged} unchanged; "
        f"{new_versions} component versions, {new_app_versions} application versions, "
        f"{new_deployments} deployments, {new_sboms} SBOMs from manifests recorded; "
        f"{matched.created} advisories imported, {matched.matching.new} new findings; "
        f"{threat_summary}"
    )


def _load_threat_models(session: Session, estate: dict[str, Any]) -> str:
    """Survey answers on each component's first build (later builds inherit them), the shared
    platforms, then every model evaluated against the KB in force."""
    data: dict[str, Any] = yaml.safe_load(DEMO.joinpath("threat_models.yaml").read_text("utf-8"))
    tm.current_kb(session)
    answered = 0
    for component, answers in data["surveys"].items():
        first = str(estate["component_versions"][component][0]["version"])
        current = tm.stored_answers(session, component, first)
        if current != answers:
            tm.answer_survey(session, component, first, answers, source="demo surveys")
            answered += 1
    known = {p["name"]: p for p in tm.list_platforms(session)}
    for platform in data["platforms"]:
        have = known.get(platform["name"])
        wanted = {
            "capabilities": sorted(platform["capabilities"]),
            "environment": platform.get("environment"),
            "members": sorted(f"component:default/{m}" for m in platform.get("members", [])),
        }
        if have is None or {k: have[k] for k in wanted} != wanted:
            tm.declare_platform(
                session,
                platform["name"],
                platform["capabilities"],
                environment=platform.get("environment"),
                members=platform.get("members"),
                description=platform.get("description"),
            )
    for decision in data.get("decisions", []):
        tm.set_control(
            session,
            decision["component"],
            str(decision["version"]),
            decision["control"],
            status=decision.get("status"),
            reason=decision.get("reason"),
            assignee=decision.get("assignee"),
        )
    result = tm.refresh(session)
    threats = tm.count_active(session)
    return (
        f"{answered} surveys answered, {len(data['platforms'])} platforms; "
        f"threat models: {threats['threats']} threats, {threats['tasks']} control tasks "
        f"across {result.versions} component versions"
    )
