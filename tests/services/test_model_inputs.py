"""What a threat model is computed from, checked against what the code really reads.

``threat_models.MODEL_INPUTS`` names the tables whose data revision keys the freshness kept
across transactions: a table read while refreshing models but missing from the list would let
a change to it go unseen. The demo organisation (surveys, platforms, deployments, Kubernetes
facts, SBOMs, scans) exercises every read."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, select

from meshward.demo.load import load_demo
from meshward.services import model_facts
from meshward.services import threat_models as tm
from meshward.services.verification import verification_states
from meshward.store.db import Store
from meshward.store.models import ComponentVersion

_READ = re.compile(r"\b(?:FROM|JOIN)\s+\"?(\w+)", re.IGNORECASE)


def test_refresh_reads_only_declared_inputs(store: Store) -> None:
    with store.session() as s:
        load_demo(s)
    read: set[str] = set()

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            read.update(t.lower() for t in _READ.findall(statement))

    with store.session() as s:
        ids = list(s.scalars(select(ComponentVersion.id)))
        model_facts._SBOM_FACTS.clear()  # what SBOMs say is kept per document: read it again
        event.listen(store.engine, "before_cursor_execute", record)
        try:
            tm.refresh(s, ids)
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
        verification_states(s, ids)  # not an input: computed afresh on every read
    outputs = {"model_threats", "model_states", "control_tasks", "kb_entries", "data_revision"}
    assert {"surveys", "platform_members", "deployments", "occurrences", "scans"} <= read
    assert read - outputs <= set(tm.MODEL_INPUTS), sorted(read - outputs - set(tm.MODEL_INPUTS))
