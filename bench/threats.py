"""Threat models at estate scale: evaluating every model, reading one, listing an application's
controls, and propagating a KB update, on bench/impact.py's synthetic estate.

    python bench/threats.py                                  # 5,000 services, SQLite, temp dir
    python bench/threats.py --services 1000
    python bench/threats.py --db sqlite:///bench/out/threats.db --reuse

Each service gets survey answers from one of six realistic profiles (a public website, an
internal API with a database, a payment service, an event consumer, a batch job, an identity
provider) on its first version; later versions inherit them. A mesh in prod gives mTLS and
authorisation policies. Timings are medians of several runs where a single call is measured.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from impact import build_estate

from meshward.kb.loader import load_kb
from meshward.services import threat_models as tm
from meshward.services.threat_risk import application_risk
from meshward.store.bulk import bulk_insert
from meshward.store.db import Store
from meshward.store.models import Application, Component, ComponentVersion
from meshward.store.threat_models import ControlTask, ModelThreat, Survey
from meshward.store.types import utcnow

PROFILES: list[dict[str, Any]] = [
    {
        "exposure": "internet",
        "data_classes": ["personal"],
        "user_auth": "oidc",
        "sessions": True,
        "mfa": False,
        "service_auth": "none",
        "authz_location": "code",
        "protocols": ["https"],
        "credentials": "env_static",
        "rate_limited": False,
        "features": ["renders_html"],
        "runtime": "kubernetes",
        "signed_images": False,
        "zone": "dmz",
    },
    {
        "exposure": "internal",
        "data_classes": ["confidential"],
        "stores_data": True,
        "encrypted_at_rest": True,
        "user_auth": "none",
        "service_auth": "jwt",
        "propagates_identity": True,
        "authz_location": "code",
        "protocols": ["grpc_tls"],
        "credentials": "vault_dynamic",
        "features": ["sql"],
        "runtime": "kubernetes",
        "signed_images": True,
        "zone": "core",
    },
    {
        "exposure": "internal",
        "data_classes": ["payment", "personal"],
        "stores_data": True,
        "encrypted_at_rest": True,
        "user_auth": "none",
        "service_auth": "mtls",
        "authz_location": "mesh",
        "protocols": ["https"],
        "credentials": "workload_identity",
        "features": ["payments", "sql"],
        "runtime": "kubernetes",
        "signed_images": True,
        "zone": "pci",
        "compliance": ["pci-dss"],
    },
    {
        "exposure": "internal",
        "data_classes": ["personal"],
        "stores_data": False,
        "user_auth": "none",
        "service_auth": "none",
        "authz_location": "none",
        "protocols": ["messaging_plaintext"],
        "credentials": "env_static",
        "features": ["sends_email", "deserializes"],
        "runtime": "kubernetes",
        "zone": "core",
    },
    {
        "exposure": "internal",
        "data_classes": ["confidential"],
        "stores_data": True,
        "encrypted_at_rest": False,
        "datastore_shared": True,
        "user_auth": "none",
        "service_auth": "network",
        "authz_location": "none",
        "protocols": ["http"],
        "credentials": "env_static",
        "features": ["runs_commands", "file_paths"],
        "runtime": "kubernetes",
        "zone": "core",
    },
    {
        "exposure": "internet",
        "data_classes": ["personal", "credentials"],
        "stores_data": True,
        "encrypted_at_rest": True,
        "user_auth": "password",
        "sessions": True,
        "mfa": True,
        "service_auth": "mtls",
        "authz_location": "code",
        "protocols": ["https"],
        "credentials": "vault_dynamic",
        "rate_limited": True,
        "features": ["renders_html", "redirects", "admin_interface"],
        "runtime": "kubernetes",
        "signed_images": True,
        "zone": "dmz",
    },
]


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _answer_surveys(store: Store, rng: random.Random) -> int:
    """Answers on each component's first version, written in bulk (a survey import)."""
    with store.session() as s:
        first = s.execute(
            select(ComponentVersion.component_id, func.min(ComponentVersion.id)).group_by(
                ComponentVersion.component_id
            )
        ).all()
        now = utcnow().replace(tzinfo=None)
        rows = [
            (cv, orjson.dumps(rng.choice(PROFILES)).decode(), None, "bench", now)
            for _comp, cv in first
        ]
        bulk_insert(
            s,
            Survey.__table__,
            (
                "component_version_id",
                "answers",
                "inherited_from_id",
                "updated_by",
                "updated_at",
            ),
            rows,
        )
        tm.declare_platform(s, "mesh-prod", ["mtls", "authz_policy"], environment="prod")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--reuse", action="store_true", help="keep an estate already in --db")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tmp = None
    url = args.db
    if url is None:
        tmp = tempfile.mkdtemp(prefix="meshward-threats-")
        url = f"sqlite:///{tmp}/threats.db"
    store = Store(url)
    rng = random.Random(7)
    rows: list[tuple[str, str]] = []
    try:
        with store.session() as s:
            empty = not s.scalar(select(func.count()).select_from(Component))
        if empty or not args.reuse:
            print(f"building a {args.services}-service estate ...", flush=True)
            build_estate(store, args.services)
            with store.session() as s:
                tm.install_kb(s, load_kb(overlay=False))
            rows.append(("surveys answered (bulk)", f"{_answer_surveys(store, rng):,}"))

        with store.session() as s:
            seconds = _timed(lambda: tm.refresh(s))
            threats = s.scalar(select(func.count()).select_from(ModelThreat))
            tasks = s.scalar(select(func.count()).select_from(ControlTask))
            versions = s.scalar(select(func.count()).select_from(ComponentVersion))
        rows.append(("refresh every model (first evaluation)", f"{seconds:.2f} s"))
        rows.append(
            ("  component versions / threats / tasks", f"{versions:,} / {threats:,} / {tasks:,}")
        )
        with store.session() as s:
            rows.append(
                ("refresh every model (nothing changed)", f"{_timed(lambda: tm.refresh(s)):.2f} s")
            )

        with store.session() as s:
            sample = s.execute(
                select(Component.key, ComponentVersion.version)
                .join(ComponentVersion, ComponentVersion.component_id == Component.id)
                .order_by(func.random())
                .limit(args.repeat)
            ).all()
            times = [_timed(lambda k=k, v=v: tm.threat_model(s, k, v)) for k, v in sample]
            rows.append(
                (
                    "one component version's model, median / max",
                    f"{statistics.median(times) * 1000:.0f} / {max(times) * 1000:.0f} ms",
                )
            )
            apps = s.scalars(select(Application.key).order_by(func.random()).limit(5)).all()
            times = [_timed(lambda a=a: tm.list_controls(s, application=a)) for a in apps]
            rows.append(
                ("an application's controls, median", f"{statistics.median(times) * 1000:.0f} ms")
            )
            times = [_timed(lambda a=a: application_risk(s, a)) for a in apps]
            rows.append(
                (
                    "an application's threat risk, median",
                    f"{statistics.median(times) * 1000:.0f} ms",
                )
            )

        shipped = load_kb(overlay=False)
        changed = tempfile.mkdtemp(prefix="meshward-kb-")
        try:
            root = Path(changed) / "kb"
            shutil.copytree(Path(__file__).resolve().parents[1] / "src/meshward/kb/content", root)
            version = f"{shipped.version}.bench"
            (root / "kb.yaml").write_text(
                f'version: "{version}"\nchangelog:\n'
                f'  - {{version: "{version}", date: "{date.today()}", changes: [bench]}}\n'
            )
            platform_controls = root / "controls" / "platform.yaml"
            text = platform_controls.read_text()
            start = text.index("- id: C-PATCH-SLA")
            end = text.index("\n- id:", start + 5)
            platform_controls.write_text(text[:start] + text[end + 1 :])
            updated = load_kb(root, overlay=False)
            with store.session() as s:
                started = time.perf_counter()
                report = tm.install_kb(s, updated)
                seconds = time.perf_counter() - started
            rows.append(("KB update: retire a control, re-evaluate all", f"{seconds:.2f} s"))
            rows.append(
                (
                    "  services touched / tasks retired / decisions kept",
                    f"{report.services_touched:,} / {report.tasks_retired:,} / "
                    f"{report.decisions_kept:,}",
                )
            )
        finally:
            shutil.rmtree(changed, ignore_errors=True)
    finally:
        store.dispose()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\nthreat models, {args.services:,} services, {url.split(':', 1)[0]}, "
        f"{platform.machine()} {platform.python_version()}"
    )
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
