"""The application graph draws its members and a bounded ring of outside neighbours."""

from __future__ import annotations

from sqlalchemy.orm import Session

from meshward.services import catalog, views
from meshward.services.catalog_import import import_catalog_text

CALLERS = views.OUTSIDE_DRAWN + 5


def _descriptors() -> bytes:
    docs = [
        """apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: shop}
spec: {owner: team-a}
""",
        """apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: cart-api}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: x}
""",
        """apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: auth-api}
spec: {type: openapi, lifecycle: production, owner: team-b, definition: x}
""",
        """apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: cart}
spec: {type: service, lifecycle: production, owner: team-a, system: shop,
       providesApis: [cart-api], consumesApis: [auth-api]}
""",
        """apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: auth}
spec: {type: service, lifecycle: production, owner: team-b, providesApis: [auth-api]}
""",
    ]
    docs += [
        f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: caller-{n:03d}}}
spec: {{type: service, lifecycle: production, owner: team-c, consumesApis: [cart-api]}}
"""
        for n in range(CALLERS)
    ]
    return "---\n".join(docs).encode()


def test_outside_neighbours_are_bounded_and_the_rest_counted(session: Session) -> None:
    import_catalog_text(session, _descriptors(), "catalog.yaml")
    catalog.add_component_version(session, "cart", "1.0")
    app = catalog.get_application(session, "shop")
    catalog.create_app_version(session, "shop", {"cart": "1.0"})
    av = catalog._latest_app_version(session, app)
    assert av is not None
    graph = views.application_graph(session, av.id, None)
    names = [n.name for n in graph.nodes]
    assert names[0] == "cart" and graph.nodes[0].member
    # the service cart calls comes first, then its callers by name, up to OUTSIDE_DRAWN
    assert names[1:] == ["auth"] + [f"caller-{n:03d}" for n in range(views.OUTSIDE_DRAWN - 1)]
    assert graph.hidden == {"component:default/cart": CALLERS - (views.OUTSIDE_DRAWN - 1)}
    drawn = {n.key for n in graph.nodes}
    assert all(e.consumer in drawn and e.provider in drawn for e in graph.edges)
    assert len(graph.edges) == views.OUTSIDE_DRAWN  # cart -> auth, 39 callers -> cart
    assert app.name == "shop"
