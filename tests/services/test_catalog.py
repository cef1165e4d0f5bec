from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from meshward.errors import ConflictError, NotFoundError
from meshward.services import catalog
from meshward.store.models import Application


def t(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@pytest.fixture
def shop(session: Session) -> Session:
    session.add(Application(key="system:default/shop", name="shop"))
    session.flush()
    for name in ("cart", "checkout", "search"):
        catalog.create_component(session, name, application="shop")
        for v in ("1.0", "1.1", "2.0"):
            catalog.add_component_version(session, name, v, created_at=t(1))
    return session


def test_component_version_is_idempotent_and_fills_in(shop: Session) -> None:
    cv, changed = catalog.add_component_version(shop, "cart", "1.0")
    assert not changed
    cv, changed = catalog.add_component_version(
        shop, "cart", "1.0", image="reg/cart:1.0@sha256:abc", commit="deadbeef"
    )
    assert changed and cv.image_digest == "sha256:abc" and cv.git_commit == "deadbeef"
    _, changed = catalog.add_component_version(
        shop, "component:default/cart", "1.0", commit="deadbeef"
    )
    assert not changed


def test_unknown_component_is_a_clear_error(shop: Session) -> None:
    with pytest.raises(NotFoundError, match="no component 'nope'"):
        catalog.add_component_version(shop, "nope", "1")


def test_application_versions_record_base_plus_delta(shop: Session) -> None:
    v1, created = catalog.create_app_version(shop, "shop", {"cart": "1.0", "checkout": "1.0"})
    assert created and v1.version == "1" and v1.base is None
    assert {(c.change, c.component, c.to_version) for c in v1.changes} == {
        ("added", "cart", "1.0"),
        ("added", "checkout", "1.0"),
    }
    v2, _ = catalog.create_app_version(shop, "shop", {"cart": "1.1", "search": "2.0"}, note="x")
    assert v2.base == "1"
    assert [(m.component, m.version) for m in v2.members] == [
        ("cart", "1.1"),
        ("checkout", "1.0"),
        ("search", "2.0"),
    ]
    assert {(c.change, c.component, c.from_version, c.to_version) for c in v2.changes} == {
        ("replaced", "cart", "1.0", "1.1"),
        ("added", "search", None, "2.0"),
    }
    v3, _ = catalog.create_app_version(shop, "shop", {"checkout": None}, label="2026.10")
    assert [m.component for m in v3.members] == ["cart", "search"]
    assert [(c.change, c.component) for c in v3.changes] == [("removed", "checkout")]
    # old versions stay readable, unchanged
    again = catalog.get_app_version(shop, "shop", "1")
    assert [(m.component, m.version) for m in again.members] == [
        ("cart", "1.0"),
        ("checkout", "1.0"),
    ]
    assert catalog.get_app_version(shop, "shop").version == "2026.10"
    assert [r["version"] for r in catalog.list_app_versions(shop, "shop")] == ["1", "2", "2026.10"]


def test_application_version_without_change_is_a_no_op(shop: Session) -> None:
    catalog.create_app_version(shop, "shop", {"cart": "1.0"})
    view, created = catalog.create_app_version(shop, "shop", {"cart": "1.0"})
    assert not created and view.version == "1"
    assert len(catalog.list_app_versions(shop, "shop")) == 1
    with pytest.raises(ConflictError):
        catalog.create_app_version(shop, "shop", {"cart": "1.0"}, label="9")
    with pytest.raises(NotFoundError):
        catalog.create_app_version(shop, "shop", {"cart": "7.7"})


def test_what_ran_in_prod_at_time_t_across_redeploys(shop: Session) -> None:
    catalog.ensure_environment(shop, "prod")
    catalog.record_deployment(shop, "prod", "cart", "1.0", t(1))
    catalog.record_deployment(shop, "prod", "checkout", "1.0", t(2))
    catalog.record_deployment(shop, "prod", "cart", "1.1", t(5))
    catalog.record_deployment(shop, "prod", "cart", "1.0", t(8))  # rollback
    catalog.record_deployment(shop, "prod", "cart", "2.0", t(10))

    def at(day: int, hour: int = 12) -> dict[str, str]:
        return {
            d.component: d.version for d in catalog.list_deployments(shop, "prod", at=t(day, hour))
        }

    assert at(1, 11) == {}
    assert at(1) == {"cart": "1.0"}
    assert at(4) == {"cart": "1.0", "checkout": "1.0"}
    assert at(5) == {"cart": "1.1", "checkout": "1.0"}
    assert at(9) == {"cart": "1.0", "checkout": "1.0"}
    assert at(11) == {"cart": "2.0", "checkout": "1.0"}
    assert {d.component: d.version for d in catalog.list_deployments(shop, "prod")} == at(11)
    history = catalog.list_deployments(shop, "prod", history=True, component="cart")
    assert [(d.version, d.since[:10], (d.until or "")[:10]) for d in history] == [
        ("1.0", "2026-10-01", "2026-10-05"),
        ("1.1", "2026-10-05", "2026-10-08"),
        ("1.0", "2026-10-08", "2026-10-10"),
        ("2.0", "2026-10-10", ""),
    ]


def test_backfilled_deployment_fits_between_existing_ones(shop: Session) -> None:
    catalog.record_deployment(shop, "prod", "cart", "1.0", t(1))
    catalog.record_deployment(shop, "prod", "cart", "2.0", t(10))
    catalog.record_deployment(shop, "prod", "cart", "1.1", t(5))  # recorded late
    history = catalog.list_deployments(shop, "prod", history=True)
    assert [(d.version, d.since[:10], (d.until or "")[:10]) for d in history] == [
        ("1.0", "2026-10-01", "2026-10-05"),
        ("1.1", "2026-10-05", "2026-10-10"),
        ("2.0", "2026-10-10", ""),
    ]
    _, changed = catalog.record_deployment(shop, "prod", "cart", "1.1", t(6))
    assert not changed
    assert catalog.end_deployment(shop, "prod", "cart", t(12))
    assert catalog.list_deployments(shop, "prod") == []
    assert catalog.ensure_environment(shop, "prod").production


def test_environment_names_decide_production_unless_told(session: Session) -> None:
    assert catalog.ensure_environment(session, "production").production
    assert not catalog.ensure_environment(session, "staging").production
    assert catalog.ensure_environment(session, "eu-live-1", production=True).production
