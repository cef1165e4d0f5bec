"""meshward's demo application ``webshop`` in OWASP pytm (docs/threat-modelling-vs-peers.md).

The elements come from the bundled demo (src/meshward/demo): the webshop system of the commerce
domain (web-frontend, product-catalog, cart, search, recommendation), the APIs it consumes from
other domains (checkout-api of payments, auth-api of identity), the datastores its SBOMs reveal
(pgx -> PostgreSQL, StackExchange.Redis and redis-py -> Redis, the Elasticsearch client) and the
trust boundaries the catalog implies (the internet, and one boundary per business domain inside
the production cluster). ``ANSWERS`` holds the survey answers assumed for each service; every
pytm attribute set below follows from them, so meshward and pytm judge the same facts.

Usage (pytm's own command line, plus one option of ours):

    python docs/peers/pytm_demo.py --list           # pytm's threat library
    python docs/peers/pytm_demo.py --json out.json  # every finding as JSON
    python docs/peers/pytm_demo.py --dfd            # Graphviz data-flow diagram
    python docs/peers/pytm_demo.py --summary        # counts used in the comparison doc
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from pytm import (
    TM,
    Actor,
    Boundary,
    Classification,
    Data,
    Dataflow,
    Datastore,
    DatastoreType,
    Lifetime,
    Process,
    Server,
    TLSVersion,
)

# The survey answers a team would give for each service (meshward's survey question ids).
ANSWERS: dict[str, dict[str, Any]] = {
    "web-frontend": {
        "exposure": "internet",
        "data_classes": ["personal", "credentials"],
        "user_auth": "oidc",
        "sessions": True,
        "mfa": False,
        "service_auth": "none",
        "propagates_identity": False,
        "authz_location": "code",
        "protocols": ["https"],
        "credentials": "env_static",
        "rate_limited": False,
        "features": ["renders_html", "templates"],
        "runtime": "kubernetes",
        "signed_images": False,
        "zone": "dmz",
    },
    "product-catalog": {
        "exposure": "internal",
        "data_classes": ["public"],
        "stores_data": True,
        "encrypted_at_rest": True,
        "user_auth": "none",
        "service_auth": "network",
        "authz_location": "none",
        "protocols": ["grpc_plaintext"],
        "credentials": "env_static",
        "features": ["sql"],
        "runtime": "kubernetes",
        "signed_images": False,
        "zone": "core",
    },
    "cart": {
        "exposure": "internal",
        "data_classes": ["personal"],
        "stores_data": True,
        "encrypted_at_rest": False,
        "user_auth": "none",
        "service_auth": "jwt",
        "propagates_identity": False,
        "authz_location": "code",
        "protocols": ["grpc_tls"],
        "credentials": "vault_dynamic",
        "features": [],
        "runtime": "kubernetes",
        "signed_images": False,
        "zone": "core",
    },
    "search": {
        "exposure": "internal",
        "data_classes": ["public"],
        "stores_data": True,
        "encrypted_at_rest": True,
        "user_auth": "none",
        "service_auth": "network",
        "propagates_identity": False,
        "authz_location": "none",
        "protocols": ["http"],
        "credentials": "env_static",
        "features": ["search_queries"],
        "runtime": "kubernetes",
        "signed_images": False,
        "zone": "core",
    },
    "recommendation": {
        "exposure": "internal",
        "data_classes": ["personal"],
        "stores_data": True,
        "encrypted_at_rest": False,
        "user_auth": "none",
        "service_auth": "network",
        "propagates_identity": False,
        "authz_location": "none",
        "protocols": ["grpc_plaintext"],
        "credentials": "env_static",
        "features": [],
        "runtime": "kubernetes",
        "signed_images": False,
        "zone": "core",
    },
}

PLAINTEXT = {"http", "grpc_plaintext", "messaging_plaintext"}


def build() -> TM:
    """The pytm model; every control set here is one the survey answers above confirm."""
    tm = TM(
        "Acme webshop",
        description="meshward demo application 'webshop' (commerce domain) and the APIs it calls",
    )
    tm.isOrdered = True

    internet = Boundary("Internet")
    commerce = Boundary("commerce domain (prod cluster)")
    payments = Boundary("payments domain (prod cluster)")
    identity = Boundary("identity domain (prod cluster)")

    customer = Actor("Customer browser", inBoundary=internet)
    customer.maxClassification = Classification.SECRET
    customer.controls.authenticatesDestination = True  # browsers verify the certificate
    customer.controls.checksDestinationRevocation = True

    frontend = Server("web-frontend", inBoundary=commerce, OS="linux", port=443)
    frontend.maxClassification = Classification.SECRET
    frontend.minTLSVersion = TLSVersion.TLSv12
    frontend.controls.providesIntegrity = True
    frontend.controls.authenticatesDestination = True  # verifies certificates of TLS upstreams
    frontend.controls.checksDestinationRevocation = True
    frontend.protocol = "HTTPS"
    frontend.usesSessionTokens = True
    frontend.implementsAPI = False
    frontend.usesEnvironmentVariables = True
    frontend.processesPersonalData = True
    frontend.controls.isEncrypted = True  # HTTPS at the edge (answer: protocols [https])
    frontend.controls.implementsAuthenticationScheme = True  # OIDC through auth
    frontend.controls.authenticatesSource = False
    frontend.controls.usesMFA = False
    frontend.controls.disablesiFrames = True  # helmet in its package.json sets frame-ancestors

    def service(name: str, port: int, protocol: str, level: Classification) -> Process:
        answers = ANSWERS[name]
        proc = Process(name, inBoundary=commerce)
        proc.maxClassification = level
        personal = level >= Classification.RESTRICTED
        proc.port = port
        proc.protocol = protocol
        proc.implementsAPI = True
        proc.usesEnvironmentVariables = answers["credentials"] == "env_static"
        proc.processesPersonalData = personal
        proc.controls.isEncrypted = not PLAINTEXT & set(answers["protocols"])
        proc.controls.providesIntegrity = proc.controls.isEncrypted
        proc.controls.authenticatesDestination = True
        proc.controls.checksDestinationRevocation = True
        if proc.controls.isEncrypted:
            proc.minTLSVersion = TLSVersion.TLSv12
        proc.controls.authenticatesSource = answers["service_auth"] in {"mtls", "jwt"}
        proc.controls.implementsAuthenticationScheme = answers["service_auth"] != "none"
        proc.controls.hasAccessControl = answers["authz_location"] != "none"
        proc.controls.usesParameterizedInput = False  # not confirmed by the survey
        return proc

    catalog = service("product-catalog", 50051, "gRPC", Classification.PUBLIC)
    cart = service("cart", 50052, "gRPC", Classification.SECRET)  # validates the user's JWT
    search = service("search", 8080, "HTTP", Classification.PUBLIC)
    recommendation = service("recommendation", 50053, "gRPC", Classification.RESTRICTED)

    # other domains' services: their links are part of the webshop, their insides are not
    checkout = Process("checkout", inBoundary=payments, inScope=False)
    checkout.protocol = "gRPC"
    auth = Process("auth", inBoundary=identity, inScope=False)
    auth.protocol = "HTTPS"
    for other in (checkout, auth):
        other.maxClassification = Classification.SECRET
        other.minTLSVersion = TLSVersion.TLSv12
        other.controls.isEncrypted = other.controls.providesIntegrity = True

    def store(name: str, kind: DatastoreType, owner: str, sql: bool, pii: bool) -> Datastore:
        db = Datastore(name, inBoundary=commerce, type=kind)
        db.maxClassification = Classification.RESTRICTED if pii else Classification.PUBLIC
        db.isSQL = sql
        db.storesPII = pii
        db.storesSensitiveData = pii
        db.isShared = False
        db.hasWriteAccess = True
        db.controls.isEncryptedAtRest = bool(ANSWERS[owner].get("encrypted_at_rest"))
        db.controls.isEncrypted = False  # client connections without TLS inside the cluster
        db.protocol = {DatastoreType.SQL: "PostgreSQL"}.get(
            kind, "RESP" if "Redis" in name else "HTTP"
        )
        return db

    catalog_db = store("catalog PostgreSQL", DatastoreType.SQL, "product-catalog", True, False)
    cart_redis = store("cart Redis", DatastoreType.UNKNOWN, "cart", False, True)
    search_index = store("search Elasticsearch", DatastoreType.UNKNOWN, "search", False, False)
    reco_redis = store("recommendation Redis", DatastoreType.UNKNOWN, "recommendation", False, True)

    products = Data("product data", classification=Classification.PUBLIC)
    basket = Data("cart contents", classification=Classification.RESTRICTED, isPII=True)
    session = Data(
        "session cookie",
        classification=Classification.SECRET,
        isCredentials=True,
        credentialsLife=Lifetime.SHORT,
    )
    tokens = Data(
        "OIDC tokens",
        classification=Classification.SECRET,
        isCredentials=True,
        isPII=True,
        credentialsLife=Lifetime.SHORT,
    )
    profile = Data("browsing history", classification=Classification.RESTRICTED, isPII=True)
    query = Data("search query", classification=Classification.PUBLIC)
    order = Data("order", classification=Classification.RESTRICTED, isPII=True)

    def flow(src: Any, dst: Any, name: str, protocol: str, data: list[Data]) -> Dataflow:
        df = Dataflow(src, dst, name)
        df.protocol = protocol
        df.data = data
        df.maxClassification = max(d.classification for d in data)
        owner = ANSWERS.get(getattr(dst, "name", ""), {})
        # pytm's check() overwrites protocol and isEncrypted from the sink and the destination
        # checks from the source, so those are set on the elements above, not here
        if protocol in {"HTTPS", "gRPC/TLS"}:
            df.tlsVersion = TLSVersion.TLSv13
        caller_proof = owner.get("service_auth") in {"mtls", "jwt"} or dst is frontend
        df.controls.authenticatesSource = caller_proof
        df.controls.implementsAuthenticationScheme = caller_proof
        df.controls.authorizesSource = owner.get("authz_location") not in {None, "none"}
        return df

    flow(customer, frontend, "browse and buy", "HTTPS", [session, query, basket, order])
    flow(frontend, customer, "pages", "HTTPS", [products, basket, session]).isResponse = True
    flow(frontend, catalog, "catalog-api", "gRPC", [products])
    flow(frontend, cart, "cart-api", "gRPC/TLS", [basket, tokens])
    flow(frontend, search, "search-api", "HTTP", [query])
    flow(frontend, recommendation, "recommendation-api", "gRPC", [profile])
    flow(frontend, checkout, "checkout-api", "gRPC/TLS", [order, basket, tokens])
    flow(frontend, auth, "auth-api", "HTTPS", [tokens])
    flow(cart, catalog, "catalog-api (cart)", "gRPC", [products])
    flow(search, catalog, "catalog-api (search)", "gRPC", [products])
    flow(recommendation, catalog, "catalog-api (recommendation)", "gRPC", [products])
    flow(catalog, catalog_db, "SQL", "PostgreSQL", [products])
    flow(cart, cart_redis, "cache", "RESP", [basket])
    flow(search, search_index, "index queries", "HTTP", [query, products])
    flow(recommendation, reco_redis, "features", "RESP", [profile])
    return tm


def summary(tm: TM) -> None:
    """Counts by threat, by element kind and for data flows, as quoted in the comparison doc."""
    tm.resolve()
    findings = tm.findings
    print(f"findings: {len(findings)}")
    by_kind = Counter(type(f.element).__name__ for f in findings)
    print("by element kind:", dict(sorted(by_kind.items())))
    by_threat = Counter(f"{f.threat_id} {f.description}" for f in findings)
    print(f"distinct threat classes: {len(by_threat)}")
    for threat, count in sorted(by_threat.items()):
        print(f"  {count:3d}  {threat}")
    print("data-flow findings:")
    for f in findings:
        if type(f.element).__name__ == "Dataflow":
            print(f"  {f.threat_id:6s} {f.element.name}: {f.description}")


if __name__ == "__main__":
    model = build()
    if "--summary" in sys.argv[1:]:
        model.check()
        summary(model)
    else:
        model.process()
