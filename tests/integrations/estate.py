"""A small estate for integration tests: web (Flask, SQL) and payments, owned by two teams,
on a small KB of our own (fixtures/kb), web deployed in prod."""

from __future__ import annotations

from pathlib import Path

from meshward.kb.loader import load_kb
from meshward.services import catalog
from meshward.services import threat_models as tm
from meshward.services.catalog_import import import_catalog
from meshward.services.sboms import store_sbom
from meshward.store.db import Store
from tests.services.test_threat_models import sbom, t

FIXTURES = Path(__file__).with_name("fixtures")
__all__ = ["FIXTURES", "sbom", "seed", "t"]


def seed(store: Store) -> None:
    with store.session() as s:
        import_catalog(s, [FIXTURES / "catalog.yaml"])
        tm.install_kb(s, load_kb(FIXTURES / "kb", overlay=False))
        catalog.add_component_version(s, "web", "1.0", created_at=t("2024-01-01"))
        catalog.add_component_version(s, "payments", "1.0", created_at=t("2024-01-01"))
        store_sbom(s, "web", "1.0", sbom(["pkg:pypi/flask@3.0.0"]), "d1", None)
        store_sbom(s, "payments", "1.0", sbom(["pkg:pypi/psycopg@3.1.0"]), "d2", None)
        catalog.record_deployment(s, "prod", "web", "1.0", t("2024-02-01"))
        tm.answer_survey(s, "web", "1.0", {"features": ["sql"]})
