"""meshward's own threat model of the demo ``webshop``, from the same answers as pytm_demo.py.

Loads the bundled demo into a throw-away SQLite database, answers the survey of each webshop
service with ``pytm_demo.ANSWERS`` and prints what the rule engine finds, in the shape of the
tables in docs/threat-modelling-vs-peers.md:

    python docs/peers/meshward_demo.py
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from pytm_demo import ANSWERS

from meshward.demo.load import load_demo
from meshward.services import threat_models
from meshward.store.db import Store, make_engine, upgrade

# the webshop's latest application version (estate.yaml, 2026.10)
LATEST = {
    "web-frontend": "3.2.0",
    "product-catalog": "1.9.0",
    "cart": "2.1.0",
    "search": "4.3.1",
    "recommendation": "1.0.0",
}


def short(ref: str | None) -> str:
    return (ref or "").rsplit("/", 1)[-1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'meshward.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        store = Store(url)
        with store.session() as session:
            load_demo(session)
            for component, version in LATEST.items():
                threat_models.answer_survey(session, component, version, ANSWERS[component])
            rows = threat_models.list_threats(session, application="webshop")
        store.dispose()

    services: dict[str, list[str]] = defaultdict(list)
    links: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        if row["role"] == "service":
            services[short(row["component"])].append(row["threat"])
        elif row["role"] == "consumer":
            links[(short(row["component"]), short(row["peer"]))].add(row["threat"])
        else:
            links[(short(row["peer"]), short(row["component"]))].add(row["threat"])
    link_total = sum(len(v) for v in links.values())
    classes = {row["threat"] for row in rows}
    print(f"service findings: {sum(len(v) for v in services.values())}")
    print(f"link findings: {link_total} on {len(links)} links")
    print(f"distinct threats: {len(classes)}")
    print("\n| service | threats | count |\n|---|---|---|")
    for name in LATEST:
        found = sorted(services.get(name, []))
        print(f"| {name} | {', '.join(found)} | {len(found)} |")
    print("\n| link (consumer -> provider) | threats |\n|---|---|")
    for (consumer, provider), found in sorted(links.items()):
        print(f"| {consumer} -> {provider} | {', '.join(sorted(found))} |")


if __name__ == "__main__":
    main()
